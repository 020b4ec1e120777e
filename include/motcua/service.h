/* The shared service runtime: one libuv loop that polls Kafka in batches,
 * applies each batch in ONE PostgreSQL transaction, set-based first (one
 * inbox claim, one statement per kind of row, one outbox insert for the
 * whole batch) and one message at a time under savepoints when a message
 * fails, dedupes enveloped events through the inbox, stores offsets only
 * after commit, relays the outbox, serves /livez /readyz /metrics, runs
 * periodic work, and drains on SIGTERM. Services only add behaviour. */
#ifndef MOTCUA_SERVICE_H
#define MOTCUA_SERVICE_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "motcua/config.h"
#include "motcua/timeutil.h"

struct mc_service;
struct mc_http;
struct mc_http_req;

/* One consumed message, valid during the handler call. */
struct mc_msg {
    const char *topic; /* logical topic name, prefix stripped ("dossier.updates") */
    int32_t partition;
    int64_t offset;
    const char *key;     /* NUL-terminated copy of the key, or NULL */
    const char *payload; /* raw bytes, not NUL-terminated */
    size_t len;
    json_t *doc; /* the parsed JSON (borrowed; never NULL for handlers) */
};

/* Applies one message inside the batch transaction. Returns 0 when applied;
 * MC_EINVAL when the message itself is bad (err says why: the runtime
 * applies the batch again one message at a time, rolls back to the
 * message's savepoint and writes a dead letter); anything else is an
 * infrastructure failure: the batch is rolled back and retried. A handler
 * may run twice for a message (set-based, then one by one; or a retried
 * batch): its effects go through the transaction, its counters through
 * mc_service_count. */
typedef int (*mc_handle_cb)(struct mc_service *svc, PGconn *conn, const struct mc_msg *msg,
                            char *err, size_t errlen, void *state);

/* Periodic work outside consumed batches (the deadline sweep). Manages its
 * own transactions. Sets *next_ms to when it wants to run again (it is also
 * run after every batch and clock advance). Returns 0 or an error (retried). */
typedef int (*mc_work_cb)(struct mc_service *svc, PGconn *conn, int64_t *next_ms, void *state);

struct mc_service_def {
    const char *name;          /* "intake": metrics prefix, logs, producer name */
    const char *schema;        /* PostgreSQL schema holding inbox and outbox */
    const char *const *topics; /* logical topics consumed, NULL-terminated */
    int use_inbox;             /* dedupe messages carrying "event_id" */
    int use_clock;             /* needs mc_service_now (MOTCUA_CLOCK) */
    /* Creates the service state after the database is reachable; NULL+err on failure. */
    void *(*init_cb)(struct mc_service *svc, PGconn *conn, char *err, size_t errlen);
    void (*fini_cb)(void *state);
    mc_handle_cb handle_cb;
    /* Optional: called in the batch transaction before the handlers with
     * the batch's readable, not yet applied messages, so the service can
     * look up what they need set-based (one query for the whole batch).
     * Called again if the batch is applied one by one. Returns 0 or an
     * infrastructure error. */
    int (*batch_cb)(struct mc_service *svc, PGconn *conn, const struct mc_msg *const *msgs, int n,
                    char *err, size_t errlen, void *state);
    /* Optional: the batch's transaction was surely rolled back (to be
     * applied again one by one, or retried): the service may take back what
     * it handed out for it (intake's dossier numbers). Not called when the
     * connection was lost: the batch may have committed. */
    void (*rollback_cb)(void *state);
    mc_work_cb work_cb; /* optional */
    /* Optional: the runtime LISTENs on this channel; a NOTIFY runs work_cb at
     * once (the deadline service is woken when an earlier fire time appears). */
    const char *listen_channel;
    /* 1: the batch connection keeps PostgreSQL's plan cache (plan_cache_mode
     * auto) instead of planning each execution. For the read side, whose
     * projection upserts by key: a fresh plan finds nothing better there,
     * and planning each statement made its backend the costliest of the
     * year's replay (59 s at 82af18b, 42 s with its plans kept). */
    int generic_plans;
    /* 1 for a service a deployment may leave out (the reference sender: a
     * city may deliver with senders of its own): `motcua status` needs no
     * look when its group never consumed. */
    int optional;
    /* Optional: called inside the batch transaction for every message the
     * runtime dead-letters (too large, not JSON, refused by the handler or
     * the database), after its dead letter, so the service can answer the
     * sender (intake answers the portal). msg->doc may be NULL; reason is
     * the dead letter's. Returns 0 or an infrastructure error (err says). */
    int (*deadletter_cb)(struct mc_service *svc, PGconn *conn, const struct mc_msg *msg,
                         const char *reason, char *err, size_t errlen, void *state);
    /* Optional: the service's own retention (docs/operations.md), run every
     * MOTCUA_PRUNE_INTERVAL_S after the runtime pruned the inbox. Manages
     * its own transactions, in chunks; adds the rows it removed to *pruned.
     * Returns 0 or an error (retried at the next interval). */
    int (*prune_cb)(struct mc_service *svc, PGconn *conn, long long *pruned, char *err,
                    size_t errlen, void *state);
    /* Optional: a batch committed; the service may announce what it
     * changed (the read side's event stream). */
    void (*commit_cb)(struct mc_service *svc, void *state);
    /* Optional: HTTP requests other than /livez, /readyz and /metrics (the
     * read side's API), answered as mc_http_app_cb answers them; state is
     * NULL until init_cb ran. Returns 0 when answered, -1 for a 404. */
    int (*http_cb)(struct mc_service *svc, struct mc_http_req *req, void *state);
};

/* Creates the runtime on loop (connects to PostgreSQL and Kafka, subscribes,
 * starts HTTP). cfg is borrowed and must outlive the service. */
struct mc_service *mc_service_new(const struct mc_service_def *def, const struct mc_config *cfg,
                                  uv_loop_t *loop, char *err, size_t errlen);
void mc_service_free(struct mc_service *svc);

/* Runs the loop until a stop (SIGTERM/SIGINT or mc_service_stop) has drained.
 * Returns 0 after a clean drain. */
int mc_service_run(struct mc_service *svc);
void mc_service_stop(struct mc_service *svc);

/* One cycle without the loop's timer (tests): poll a batch, apply it, relay
 * the outbox, run periodic work. *processed gets the messages applied. */
int mc_service_step(struct mc_service *svc, int *processed);

/* Turns glibc's fastbins off for the process (mallopt M_MXFAST 0):
 * mc_service_main calls it first. glibc keeps small freed blocks aside
 * and, whenever a block of 1 kB or more is asked for, merges them all
 * (malloc_consolidate); a service frees thousands of small JSON values a
 * batch and asks for long strings between them (an event's text, a
 * statement's parameter). In the year's profile the allocator took about
 * two thirds of the read side's CPU samples (4.9% of the machine's against
 * 7.1% for the process), malloc_consolidate first. Without fastbins a freed
 * block goes to the thread's cache or is merged at once. */
void mc_service_tune_malloc(void);

/* The whole main(): --help, config, logging, the loop. */
int mc_service_main(int argc, char **argv, const struct mc_service_def *def);

/* Writes an event to the outbox (inside the caller's transaction): envelope
 * {event_id, type, occurred_at, producer "motcua-<name>", dossier_code, data}
 * on topic (logical), event_id = md5(id_seed) as uuid. Steals data. */
int mc_service_emit(struct mc_service *svc, PGconn *conn, const char *topic, const char *key,
                    const char *type, const char *dossier_code, mc_instant occurred_at,
                    json_t *data, const char *id_seed, char *err, size_t errlen);

/* For periodic work that emits many events in one transaction (the
 * deadline sweep): after mc_service_hold_events, mc_service_emit keeps its
 * events; mc_service_write_events writes them to the outbox in one
 * statement, in emit order, inside the caller's transaction, and
 * mc_service_drop_events forgets them (the transaction rolled back). Both
 * end the holding. Not inside a batch. */
void mc_service_hold_events(struct mc_service *svc);
int mc_service_write_events(struct mc_service *svc, PGconn *conn, char *err, size_t errlen);
void mc_service_drop_events(struct mc_service *svc);

/* Writes row (a JSON object; stolen) with sql, a set-based statement whose
 * $1 is a JSON array of such objects (e.g. INSERT ... SELECT ... FROM
 * jsonb_to_recordset($1::jsonb) AS x(...) ON CONFLICT DO NOTHING; sql must
 * be a constant: it is compared by address). In a batch applied set-based
 * the row is kept and written with the batch's other rows for sql at its
 * end, and 1 is returned; should the statement then skip a row (a
 * conflict), the batch is applied again one by one. Otherwise the row is
 * written at once and the number of rows written (0 or 1) is returned.
 * Returns MC_EDB on error. Later messages of the same batch must not look
 * for the row in the database. */
int mc_service_write_rows(struct mc_service *svc, PGconn *conn, const char *sql, json_t *row,
                          char *err, size_t errlen);

/* What an upsert's RETURNING gave: called with its result inside the
 * transaction, with the service's state. Returns 0 or an error code (err
 * says why). */
typedef int (*mc_rows_cb)(struct mc_service *svc, PGconn *conn, PGresult *res, char *err,
                          size_t errlen, void *state);

/* Like mc_service_write_rows, for an upsert that folds the rows of one key
 * itself (sql yields at most one row per key, e.g. SELECT DISTINCT ON, so
 * that ON CONFLICT DO UPDATE meets each row once; the rows written are not
 * counted) and whose RETURNING the service reads: done gets its result,
 * at the batch's end with the batch's rows or at once with row. Returns 0
 * or an error code. */
int mc_service_upsert_rows(struct mc_service *svc, PGconn *conn, const char *sql, json_t *row,
                           mc_rows_cb done, char *err, size_t errlen);

/* 1 while a batch is applied set-based: mc_service_write_rows keeps rows
 * for the batch's end, so a handler whose later reads need a row at once
 * writes it itself. */
int mc_service_set_based(const struct mc_service *svc);

/* Adds v to counter metric when the batch being applied commits (at once
 * outside a batch), so a batch applied twice counts once. */
struct mc_metric;
void mc_service_count(struct mc_service *svc, struct mc_metric *metric, double v);

/* Writes a dead letter for msg with reason to <prefix>deadletter. Its event
 * id comes from where msg was read (and msg's own event_id, if any), and is
 * claimed in the service's inbox: a message delivered again after its dead
 * letter committed gets no second one. Returns 0 when written, 1 when it
 * was written before (nothing done), or an error code. */
int mc_service_deadletter(struct mc_service *svc, PGconn *conn, const struct mc_msg *msg,
                          const char *reason, char *err, size_t errlen);

const struct mc_config *mc_service_config(const struct mc_service *svc);
/* "Now" from the clock; MC_ENOTFOUND before the first tick in topic mode. */
int mc_service_now(const struct mc_service *svc, mc_instant *now);
/* The HTTP server (mc_http_broadcast). */
struct mc_http *mc_service_http(const struct mc_service *svc);
/* Bound HTTP port (tests). */
int mc_service_http_port(const struct mc_service *svc);
/* Applies the retention now: inbox rows older than MOTCUA_RETAIN_INBOX_DAYS,
 * then the service's prune_cb. *pruned gets the rows removed. Also run by
 * the loop every MOTCUA_PRUNE_INTERVAL_S. Returns 0 or an error. */
int mc_service_prune(struct mc_service *svc, long long *pruned, char *err, size_t errlen);

/* Deletes rows in chunks of at most 10,000, each chunk its own transaction,
 * with sql, a DELETE whose $1 is the chunk size and whose other parameters
 * are params[1..nparams-1]; adds the rows deleted to *deleted. For
 * prune_cb. Returns 0 or MC_EDB. */
int mc_service_delete_chunks(PGconn *conn, const char *sql, int nparams, const char **params,
                             long long *deleted, char *err, size_t errlen);

/* Expires parked rows for prune_cb: in transactions of up to 100 rows,
 * select_sql ($1: MOTCUA_RETAIN_PARKED_DAYS) returns each expired row
 * with columns named id, dossier_code, payload (text), read_partition,
 * read_offset and days_waited, FOR UPDATE SKIP LOCKED; each goes to the dead letters as
 * read from topic (logical), saying what waited for which dossier, and is
 * deleted with delete_sql ($1: id). Adds the rows to *pruned. */
int mc_service_expire_parked(struct mc_service *svc, PGconn *conn, const char *select_sql,
                             const char *delete_sql, const char *topic, const char *what,
                             long long *pruned, char *err, size_t errlen);

/* Ready: database reachable, consumer joined its group and caught up once. */
int mc_service_ready(const struct mc_service *svc);

#endif
