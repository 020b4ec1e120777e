/* The service runtime: consume -> one transaction -> outbox -> publish -> commit. */
#include "motcua/service.h"
#include "motcua/topics.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "motcua/clock.h"
#include "motcua/error.h"
#include "motcua/fault.h"
#include "motcua/http.h"
#include "motcua/jsonutil.h"
#include "motcua/kafka.h"
#include "motcua/log.h"
#include "motcua/metrics.h"
#include "motcua/outbox.h"
#include "motcua/pg.h"

#define RELAY_MAX 1000
#define RELAY_ROUNDS 10 /* relay batches per loop turn */
/* A dead letter stays well under the broker's 1 MB message limit: at most
 * 384 KiB of the original as base64 (512 KiB) and 256 KiB as JSON text. */
#define DEADLETTER_COPY_MAX (384 * 1024)
#define DEADLETTER_TEXT_MAX (256 * 1024)
#define BACKOFF_MAX_MS 5000
#define IDLE_RELAY_MS 1000   /* look for rows left by a crash this often */
#define GAUGES_EVERY_MS 5000 /* lag, outbox backlog and readiness gauges */
#define LAG_COMMITTED_TIMEOUT_MS 1000
#define PENDING_STMTS 8 /* kinds of rows one batch may hand to mc_service_write_rows */

/* One message of the batch, read before the transaction. */
struct item {
    struct mc_msg msg;
    char key[512];
    char reason[1024]; /* set: dead-lettered without reaching the handler */
    int fresh;         /* 0: its event was applied before (fast mode's inbox claim) */
};

/* Rows of one set-based statement kept for the end of a fast batch. */
struct pending_rows {
    const char *sql;
    json_t *rows;
    mc_rows_cb done; /* an upsert's: gets the result; NULL: every row must be written */
};

struct mc_service {
    const struct mc_service_def *def;
    const struct mc_config *cfg;
    uv_loop_t *loop;
    uv_timer_t timer;
    uv_signal_t sigterm, sigint;
    struct mc_http *http;
    PGconn *conn;
    rd_kafka_t *consumer;
    rd_kafka_t *producer;
    struct mc_clock *clock;
    void *state;
    char producer_name[64];
    char prefix_topic[256];

    /* The batch being applied; kept until its transaction commits. */
    rd_kafka_message_t **batch;
    struct item *items; /* batch[i] as read */
    int nbatch;
    int in_batch; /* inside a batch's transaction */
    int fast;     /* ... applied set-based (see "applying a batch") */
    struct pending_rows pending[PENDING_STMTS];
    int npending;
    struct mc_outbox_rows outbox_rows; /* events a fast batch emitted, written at its end */
    int holding;                       /* outside a batch: mc_service_hold_events */
    struct {
        struct mc_metric *metric;
        double v;
    } * counts; /* counter additions waiting for the batch's commit */
    int ncounts, capcounts;

    int joined;        /* consumer received an assignment (maybe empty) */
    int caught_up;     /* a poll after joining found nothing waiting */
    int stopping;      /* SIGTERM seen: drain */
    int own_signals;   /* mc_service_run handles SIGTERM/SIGINT (a process of its own) */
    int stopped;       /* drained */
    int backoff_ms;    /* current retry delay after a failure */
    uint64_t retry_at; /* loop time (ms) of the next attempt after a failure */
    uint64_t drain_deadline;
    uint64_t next_relay;  /* loop ms */
    uint64_t next_work;   /* loop ms */
    uint64_t next_prune;  /* loop ms */
    uint64_t next_gauges; /* loop ms */
    int outbox_dirty;
    int handles; /* timer, wake and signal handles initialised and not yet closed */
    /* librdkafka writes to wake_fd[1] when a message (or a tick) arrives
     * on an empty queue: the loop steps at once (the timer stays, for
     * what is left when a batch came full, and for periodic work). */
    int wake_fd[2];
    uv_poll_t wake;

    struct mc_metric *m_messages, *m_deadletters, *m_duplicates, *m_batches, *m_batch_seconds,
        *m_published, *m_parked, *m_failures, *m_ready, *m_pruned, *m_fallbacks, *m_lag,
        *m_outbox_backlog, *m_outbox_age;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- Kafka group membership ---------------------------------------------- */

static void drop_revoked(struct mc_service *svc, const rd_kafka_topic_partition_list_t *parts)
{
    int kept = 0;
    for (int i = 0; i < svc->nbatch; i++) {
        rd_kafka_message_t *m = svc->batch[i];
        if (rd_kafka_topic_partition_list_find(parts, rd_kafka_topic_name(m->rkt), m->partition) !=
            NULL)
            rd_kafka_message_destroy(m);
        else
            svc->batch[kept++] = m;
    }
    svc->nbatch = kept;
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t kerr,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    struct mc_service *svc = rd_kafka_opaque(rk);
    /* The group's protocol is unknown (NULL) once the consumer is closing,
     * and a join that was under way can still hand out partitions then; the
     * configured assignor says which protocol it is. */
    const char *protocol = rd_kafka_rebalance_protocol(rk);
    int cooperative = protocol != NULL ? strcmp(protocol, "COOPERATIVE") == 0
                                       : strstr(svc->cfg->assignor, "cooperative") != NULL;
    char n[16];
    snprintf(n, sizeof n, "%d", parts->cnt);
    if (kerr == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        mc_log_kv(MC_LOG_INFO, "partitions assigned", "count", n, NULL);
        if (cooperative)
            rd_kafka_error_destroy(rd_kafka_incremental_assign(rk, parts));
        else
            rd_kafka_assign(rk, parts);
        svc->joined = 1;
    } else {
        mc_log_kv(MC_LOG_INFO, "partitions revoked", "count", n, NULL);
        /* A batch being gathered may hold messages of these partitions: their
         * new owner reads them again, so they must not be applied here. */
        drop_revoked(svc, parts);
        if (cooperative)
            rd_kafka_error_destroy(rd_kafka_incremental_unassign(rk, parts));
        else
            rd_kafka_assign(rk, NULL);
    }
}

/* ---- database connection ------------------------------------------------- */

static int ensure_db(struct mc_service *svc, char *err, size_t errlen)
{
    if (mc_pg_alive(svc->conn))
        return 0;
    PQfinish(svc->conn);
    svc->conn = mc_pg_connect(svc->cfg->pg_url, svc->producer_name, err, errlen);
    if (svc->conn == NULL)
        return MC_EDB;
    /* A batch's statements run once per batch over growing tables. */
    if (!svc->def->generic_plans && mc_pg_plan_each_execution(svc->conn, err, errlen) != 0)
        return MC_EDB;
    mc_log_kv(MC_LOG_INFO, "connected to PostgreSQL", NULL);
    if (svc->def->listen_channel) {
        char sql[128];
        snprintf(sql, sizeof sql, "LISTEN %s", svc->def->listen_channel);
        if (mc_pg_exec(svc->conn, sql, 0, NULL, err, errlen) != 0)
            return MC_EDB;
    }
    if (svc->state == NULL && svc->def->init_cb) {
        svc->state = svc->def->init_cb(svc, svc->conn, err, errlen);
        if (svc->state == NULL)
            return MC_EDB;
    }
    return 0;
}

/* ---- applying a batch ---------------------------------------------------- */
/*
 * A batch is applied set-based first ("fast"): no savepoints, the inbox
 * claimed for all its events in one statement, the events it emits and the
 * rows services hand to mc_service_write_rows kept in memory and written at
 * the end, one statement per kind. A message the handler refuses (or whose
 * data the database refuses) cannot be undone alone without a savepoint, so
 * the whole transaction is rolled back and the batch applied again one
 * message at a time ("safe"), each under its savepoint, with every write
 * immediate: the refused message gets its dead letter and the others are
 * applied. Counters added through mc_service_count move only at commit.
 */

static void free_batch(struct mc_service *svc)
{
    for (int i = 0; i < svc->nbatch; i++)
        rd_kafka_message_destroy(svc->batch[i]);
    svc->nbatch = 0;
}

static void poll_batch(struct mc_service *svc)
{
    while (svc->nbatch < svc->cfg->batch_max) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(svc->consumer, 0);
        if (m == NULL)
            break;
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                mc_log_kv(MC_LOG_WARN, "consumer error", "error", rd_kafka_message_errstr(m), NULL);
            rd_kafka_message_destroy(m);
            continue;
        }
        svc->batch[svc->nbatch++] = m;
    }
    if (svc->nbatch == 0 && svc->joined)
        svc->caught_up = 1;
}

static int savepoint(PGconn *conn, const char *cmd, char *err, size_t errlen)
{
    return mc_pg_exec(conn, cmd, 0, NULL, err, errlen);
}

/* SQLSTATE classes 22 (data exception) and 23 (integrity constraint) mean
 * the statement can never succeed with this message; anything else (lost
 * connection, deadlock, shutdown) is worth retrying. */
static int poison_sqlstate(const char *state)
{
    return strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0;
}

/* A person's account of why bytes are not JSON: the byte offset for
 * invalid UTF-8 and NUL characters (what a portal can look for), else
 * Jansson's text with line and column. */
static void describe_json_error(const json_error_t *jerr, char *reason, size_t len)
{
    switch (json_error_code(jerr)) {
    case json_error_invalid_utf8:
        snprintf(reason, len, "not JSON: invalid UTF-8 at byte %d", jerr->position);
        break;
    case json_error_null_character:
        snprintf(reason, len, "not JSON: a NUL character (\\u0000) near byte %d", jerr->position);
        break;
    default:
        snprintf(reason, len, "not JSON: %s (line %d, column %d)", jerr->text, jerr->line,
                 jerr->column);
    }
}

/* Reads m into it: the message as handlers see it, or the reason it goes
 * to the dead letters without reaching the handler. */
static void parse_item(struct mc_service *svc, rd_kafka_message_t *m, struct item *it)
{
    json_error_t jerr;
    const char *topic = rd_kafka_topic_name(m->rkt);
    size_t plen = strlen(svc->cfg->topic_prefix), at;
    int max;

    memset(&it->msg, 0, sizeof it->msg);
    it->reason[0] = '\0';
    it->fresh = 1;
    it->msg.topic = strncmp(topic, svc->cfg->topic_prefix, plen) == 0 ? topic + plen : topic;
    it->msg.partition = m->partition;
    it->msg.offset = m->offset;
    it->msg.payload = m->payload;
    it->msg.len = m->len;
    if (m->key) {
        snprintf(it->key, sizeof it->key, "%.*s", (int)(m->key_len < 511 ? m->key_len : 511),
                 (const char *)m->key);
        it->msg.key = it->key;
    }
    max = mc_topic_max_bytes(svc->cfg, it->msg.topic);
    if (m->len > (size_t)max) {
        snprintf(it->reason, sizeof it->reason,
                 "message of %zu bytes (%zu KB) over the limit of %d bytes (%d KB); its bytes "
                 "stay on the topic at this offset",
                 m->len, (m->len + 1023) / 1024, max, max / 1024);
        /* Copying it into the dead letter could exceed the broker's limit. */
        it->msg.payload = NULL;
        it->msg.len = 0;
    } else if (m->payload == NULL || m->len == 0) {
        snprintf(it->reason, sizeof it->reason, "not JSON: empty message");
    } else if (!mc_json_depth_ok(m->payload, m->len, MC_JSON_MAX_DEPTH, &at)) {
        snprintf(it->reason, sizeof it->reason,
                 "JSON nested deeper than %d levels (at byte %zu); not parsed", MC_JSON_MAX_DEPTH,
                 at);
    } else if ((it->msg.doc = json_loadb(m->payload, m->len, JSON_REJECT_DUPLICATES, &jerr)) ==
               NULL) {
        describe_json_error(&jerr, it->reason, sizeof it->reason);
    } else if (!json_is_object(it->msg.doc)) {
        snprintf(it->reason, sizeof it->reason, "not a JSON object");
        json_decref(it->msg.doc);
        it->msg.doc = NULL;
    }
}

static void free_items(struct mc_service *svc)
{
    for (int i = 0; i < svc->nbatch; i++) {
        json_decref(svc->items[i].msg.doc);
        svc->items[i].msg.doc = NULL;
    }
}

/* Forgets what the batch kept for its end: rows, events and counts. */
static void discard_pending(struct mc_service *svc)
{
    for (int i = 0; i < svc->npending; i++)
        json_decref(svc->pending[i].rows);
    svc->npending = 0;
    mc_outbox_rows_clear(&svc->outbox_rows);
    svc->ncounts = 0;
}

int mc_service_set_based(const struct mc_service *svc)
{
    return svc != NULL && svc->in_batch && svc->fast;
}

void mc_service_count(struct mc_service *svc, struct mc_metric *metric, double v)
{
    if (svc == NULL || !svc->in_batch) {
        mc_metric_add(metric, v);
        return;
    }
    if (svc->ncounts == svc->capcounts) {
        svc->capcounts = svc->capcounts ? 2 * svc->capcounts : 64;
        svc->counts = mc_xrealloc(svc->counts, (size_t)svc->capcounts * sizeof *svc->counts);
    }
    svc->counts[svc->ncounts].metric = metric;
    svc->counts[svc->ncounts++].v = v;
}

/* Keeps row for sql's statement at the end of a fast batch; 1 when kept. */
static int keep_row(struct mc_service *svc, const char *sql, json_t *row, mc_rows_cb done)
{
    struct pending_rows *p = NULL;

    if (!svc->in_batch || !svc->fast)
        return 0;
    for (int i = 0; i < svc->npending && p == NULL; i++)
        if (svc->pending[i].sql == sql)
            p = &svc->pending[i];
    if (p == NULL) {
        assert(svc->npending < PENDING_STMTS);
        p = &svc->pending[svc->npending++];
        p->sql = sql;
        p->rows = json_array();
        p->done = done;
    }
    assert(p->done == done);
    json_array_append_new(p->rows, row);
    return 1;
}

int mc_service_write_rows(struct mc_service *svc, PGconn *conn, const char *sql, json_t *row,
                          char *err, size_t errlen)
{
    if (keep_row(svc, sql, row, NULL))
        return 1;
    return mc_pg_write_row(conn, sql, row, err, errlen);
}

int mc_service_upsert_rows(struct mc_service *svc, PGconn *conn, const char *sql, json_t *row,
                           mc_rows_cb done, char *err, size_t errlen)
{
    PGresult *res;
    int rc;

    if (keep_row(svc, sql, row, done))
        return 0;
    if ((res = mc_pg_query_row(conn, sql, row, err, errlen)) == NULL)
        return MC_EDB;
    rc = done(svc, conn, res, err, errlen, svc->state);
    PQclear(res);
    return rc;
}

/* Writes the rows and events the batch kept, one statement each. Returns
 * 0, MC_ECONFLICT when a statement skipped rows (a conflict another
 * instance's copy settled first: the safe mode sorts it out) or MC_EDB. */
static int flush_pending(struct mc_service *svc, char *err, size_t errlen)
{
    for (int i = 0; i < svc->npending; i++) {
        struct pending_rows *p = &svc->pending[i];
        char *text = json_dumps(p->rows, JSON_COMPACT);
        PGresult *res = mc_pg_query(svc->conn, p->sql, 1, (const char *const *)&text, err, errlen);
        size_t wrote;
        free(text);
        if (res == NULL)
            return MC_EDB;
        if (p->done != NULL) {
            int rc = p->done(svc, svc->conn, res, err, errlen, svc->state);
            PQclear(res);
            if (rc != 0)
                return rc;
            continue;
        }
        wrote = (size_t)atoll(PQcmdTuples(res));
        PQclear(res);
        if (wrote != json_array_size(p->rows))
            return mc_err(err, errlen, MC_ECONFLICT, "%zu of %zu rows written", wrote,
                          json_array_size(p->rows));
    }
    return mc_outbox_rows_write(svc->conn, svc->def->schema, &svc->outbox_rows, err, errlen);
}

/* Dead-letters msg with reason and lets the service answer its sender. */
static int deadletter(struct mc_service *svc, const struct mc_msg *msg, const char *reason,
                      char *err, size_t errlen)
{
    int rc;
    if ((rc = mc_service_deadletter(svc, svc->conn, msg, reason, err, errlen)) < 0)
        return rc;
    if (rc == 1) {
        /* Dead-lettered before, with its callback's effects. */
        mc_service_count(svc, svc->m_duplicates, 1);
        return 0;
    }
    mc_service_count(svc, svc->m_deadletters, 1);
    if (svc->def->deadletter_cb == NULL)
        return 0;
    return svc->def->deadletter_cb(svc, svc->conn, msg, reason, err, errlen, svc->state);
}

/* Fast mode: claims the inbox for every enveloped event of the batch in one
 * statement; an event applied before, or seen earlier in the batch, is
 * marked not fresh. Returns 0 or MC_EDB (a malformed id fails the claim:
 * the safe mode then judges each message alone). */
static int claim_inbox(struct mc_service *svc, char *err, size_t errlen)
{
    json_t *ids = json_array();
    int *which = mc_xmalloc((size_t)(svc->nbatch > 0 ? svc->nbatch : 1) * sizeof *which);
    int n = 0, rc = 0;
    char sql[640], *text;
    PGresult *res;

    for (int i = 0; i < svc->nbatch; i++) {
        struct item *it = &svc->items[i];
        const json_t *id = it->msg.doc ? json_object_get(it->msg.doc, "event_id") : NULL;
        if (it->reason[0] || !json_is_string(id))
            continue;
        json_array_append(ids, (json_t *)id);
        which[n++] = i;
        it->fresh = 0; /* until the claim says otherwise */
    }
    if (n == 0)
        goto out;
    snprintf(sql, sizeof sql,
             "WITH ids AS (SELECT id, i FROM jsonb_array_elements_text($1::jsonb) "
             "WITH ORDINALITY AS t(id, i)), "
             "ins AS (INSERT INTO %s.inbox (event_id) SELECT DISTINCT id::uuid FROM ids "
             "ON CONFLICT DO NOTHING RETURNING event_id) "
             "SELECT DISTINCT ON (ins.event_id) ids.i FROM ids JOIN ins "
             "ON ins.event_id = ids.id::uuid ORDER BY ins.event_id, ids.i",
             svc->def->schema);
    text = json_dumps(ids, JSON_COMPACT);
    res = mc_pg_query(svc->conn, sql, 1, (const char *const *)&text, err, errlen);
    free(text);
    if (res == NULL) {
        rc = MC_EDB;
        goto out;
    }
    for (int r = 0; r < PQntuples(res); r++) {
        int i = atoi(PQgetvalue(res, r, 0)) - 1;
        if (i >= 0 && i < n)
            svc->items[which[i]].fresh = 1;
    }
    PQclear(res);
out:
    json_decref(ids);
    free(which);
    return rc;
}

/* Fast mode, one message: no savepoint. Returns 0, MC_EINVAL when the
 * batch must be applied again in safe mode, or an infrastructure error. */
static int apply_fast(struct mc_service *svc, struct item *it, char *err, size_t errlen)
{
    char reason[1024];
    int rc;
    if (it->reason[0])
        return deadletter(svc, &it->msg, it->reason, err, errlen);
    if (!it->fresh) {
        mc_service_count(svc, svc->m_duplicates, 1);
        return 0;
    }
    reason[0] = '\0';
    rc = svc->def->handle_cb(svc, svc->conn, &it->msg, reason, sizeof reason, svc->state);
    if (rc == 0) {
        mc_service_count(svc, svc->m_messages, 1);
        return 0;
    }
    snprintf(err, errlen, "%s", reason);
    if (mc_pg_alive(svc->conn) &&
        (rc == MC_EINVAL || (rc == MC_EDB && poison_sqlstate(mc_pg_last_sqlstate()))))
        return MC_EINVAL;
    return rc == MC_EINVAL ? MC_EDB : rc;
}

/* Safe mode, one message under its savepoint, every write immediate.
 * Returns 0 (applied, duplicate or dead-lettered) or an infrastructure
 * error. */
static int apply_safe(struct mc_service *svc, struct item *it, char *err, size_t errlen)
{
    struct mc_msg *msg = &it->msg;
    char reason[1024];
    json_t *event_id;
    int rc;

    if (it->reason[0])
        return deadletter(svc, msg, it->reason, err, errlen);
    reason[0] = '\0';
    if ((rc = savepoint(svc->conn, "SAVEPOINT msg", err, errlen)) != 0)
        return rc;
    event_id = json_object_get(msg->doc, "event_id");
    if (svc->def->use_inbox && json_is_string(event_id)) {
        rc = mc_inbox_claim(svc->conn, svc->def->schema, json_string_value(event_id), reason,
                            sizeof reason);
        if (rc < 0) {
            /* A malformed id (not a uuid) is the message's fault. */
            if (mc_pg_alive(svc->conn) && strcmp(mc_pg_last_sqlstate(), "22P02") == 0) {
                snprintf(reason, sizeof reason, "event_id is not a uuid");
                rc = MC_EINVAL;
            }
            goto judged;
        }
        if (rc == 0) {
            mc_service_count(svc, svc->m_duplicates, 1);
            return savepoint(svc->conn, "RELEASE SAVEPOINT msg", err, errlen);
        }
    }
    rc = svc->def->handle_cb(svc, svc->conn, msg, reason, sizeof reason, svc->state);
judged:
    if (rc == 0) {
        mc_service_count(svc, svc->m_messages, 1);
        return savepoint(svc->conn, "RELEASE SAVEPOINT msg", err, errlen);
    }
    if (rc == MC_EINVAL && mc_pg_alive(svc->conn)) {
        if ((rc = savepoint(svc->conn, "ROLLBACK TO SAVEPOINT msg", err, errlen)) == 0)
            rc = deadletter(svc, msg, reason, err, errlen);
        return rc;
    }
    if (rc == MC_EDB && mc_pg_alive(svc->conn) && poison_sqlstate(mc_pg_last_sqlstate())) {
        /* The database refused this message's data (a constraint or a value
         * out of range): retrying cannot help, so it must not block the
         * partition. */
        char why[1200];
        snprintf(why, sizeof why, "the database refused the message: %s", reason);
        if ((rc = savepoint(svc->conn, "ROLLBACK TO SAVEPOINT msg", err, errlen)) == 0)
            rc = deadletter(svc, msg, why, err, errlen);
        return rc;
    }
    snprintf(err, errlen, "%s", reason);
    return rc == MC_EINVAL ? MC_EDB : rc;
}

static void store_offsets(struct mc_service *svc)
{
    rd_kafka_topic_partition_list_t *offs = rd_kafka_topic_partition_list_new(svc->nbatch);
    rd_kafka_resp_err_t kerr;
    for (int i = 0; i < svc->nbatch; i++) {
        rd_kafka_message_t *m = svc->batch[i];
        rd_kafka_topic_partition_t *p =
            rd_kafka_topic_partition_list_find(offs, rd_kafka_topic_name(m->rkt), m->partition);
        if (p == NULL)
            p = rd_kafka_topic_partition_list_add(offs, rd_kafka_topic_name(m->rkt), m->partition);
        if (m->offset + 1 > p->offset)
            p->offset = m->offset + 1;
    }
    kerr = rd_kafka_offsets_store(svc->consumer, offs);
    if (kerr)
        /* The partition moved to another member meanwhile: it will redeliver
         * and the inbox makes that harmless. */
        mc_log_kv(MC_LOG_WARN, "offsets not stored", "error", rd_kafka_err2str(kerr), NULL);
    rd_kafka_topic_partition_list_destroy(offs);
}

/* One attempt at the whole batch in one transaction, fast or safe. Returns
 * 0 (committed), MC_EINVAL (fast mode only: apply it again in safe mode)
 * or an infrastructure error (rolled back). */
static int attempt_batch(struct mc_service *svc, int fast, char *err, size_t errlen)
{
    int rc;
    char e2[256];

    svc->fast = fast;
    svc->in_batch = 1;
    for (int i = 0; i < svc->nbatch; i++)
        svc->items[i].fresh = 1;
    if ((rc = mc_pg_exec(svc->conn, "BEGIN", 0, NULL, err, errlen)) != 0)
        goto done;
    if (fast && svc->def->use_inbox && (rc = claim_inbox(svc, err, errlen)) != 0) {
        if (mc_pg_alive(svc->conn) && poison_sqlstate(mc_pg_last_sqlstate()))
            rc = MC_EINVAL;
        goto done;
    }
    if (svc->def->batch_cb) {
        const struct mc_msg *msgs[svc->nbatch > 0 ? svc->nbatch : 1];
        int n = 0;
        for (int i = 0; i < svc->nbatch; i++)
            if (svc->items[i].reason[0] == '\0' && svc->items[i].fresh)
                msgs[n++] = &svc->items[i].msg;
        if ((rc = svc->def->batch_cb(svc, svc->conn, msgs, n, err, errlen, svc->state)) != 0)
            goto done;
    }
    for (int i = 0; i < svc->nbatch && rc == 0; i++)
        rc = fast ? apply_fast(svc, &svc->items[i], err, errlen)
                  : apply_safe(svc, &svc->items[i], err, errlen);
    if (rc == 0 && fast) {
        rc = flush_pending(svc, err, errlen);
        if (rc == MC_ECONFLICT ||
            (rc == MC_EDB && mc_pg_alive(svc->conn) && poison_sqlstate(mc_pg_last_sqlstate())))
            rc = MC_EINVAL;
    }
    if (rc == 0)
        rc = mc_pg_exec(svc->conn, "COMMIT", 0, NULL, err, errlen);
done:
    /* Only a ROLLBACK that answered proves nothing was kept: a connection
     * lost during COMMIT may have committed. */
    if (rc != 0 && mc_pg_alive(svc->conn) &&
        mc_pg_exec(svc->conn, "ROLLBACK", 0, NULL, e2, sizeof e2) == 0 && svc->def->rollback_cb &&
        svc->state)
        svc->def->rollback_cb(svc->state);
    if (rc == 0)
        for (int i = 0; i < svc->ncounts; i++)
            mc_metric_add(svc->counts[i].metric, svc->counts[i].v);
    if (rc == 0 && svc->def->commit_cb)
        svc->def->commit_cb(svc, svc->state);
    discard_pending(svc);
    svc->in_batch = 0;
    svc->fast = 0;
    return rc;
}

static int apply_batch(struct mc_service *svc, char *err, size_t errlen)
{
    uint64_t t0 = now_ms();
    int rc;
    for (int i = 0; i < svc->nbatch; i++)
        parse_item(svc, svc->batch[i], &svc->items[i]);
    rc = attempt_batch(svc, 1, err, errlen);
    if (rc == MC_EINVAL) {
        char n[16];
        snprintf(n, sizeof n, "%d", svc->nbatch);
        /* err may quote the message: the dead letter will carry it. */
        mc_log_kv(MC_LOG_INFO, "a message failed set-based; applying the batch one by one",
                  "messages", n, NULL);
        mc_metric_add(svc->m_fallbacks, 1);
        rc = attempt_batch(svc, 0, err, errlen);
    }
    free_items(svc);
    if (rc != 0)
        return rc;
    MC_FAULT_POINT(MC_FAULT_BATCH_COMMITTED);
    store_offsets(svc);
    mc_metric_add(svc->m_batches, 1);
    mc_metric_observe(svc->m_batch_seconds, (double)(now_ms() - t0) / 1000.0);
    svc->outbox_dirty = 1;
    return 0;
}

/* ---- one cycle ----------------------------------------------------------- */

static void fail(struct mc_service *svc, const char *what, const char *err)
{
    mc_metric_add(svc->m_failures, 1);
    svc->backoff_ms = svc->backoff_ms ? svc->backoff_ms * 2 : 100;
    if (svc->backoff_ms > BACKOFF_MAX_MS)
        svc->backoff_ms = BACKOFF_MAX_MS;
    svc->retry_at = now_ms() + (uint64_t)svc->backoff_ms;
    mc_log_kv(MC_LOG_ERROR, what, "error", err, NULL);
}

static int relay(struct mc_service *svc, char *err, size_t errlen)
{
    struct mc_relay_result r;
    int rc;
    int rounds = 0;
    /* Bounded, so HTTP and signals are served during a large backlog. */
    do {
        rc =
            mc_outbox_relay(svc->conn, svc->producer, svc->def->schema, RELAY_MAX, &r, err, errlen);
        mc_metric_add(svc->m_published, r.published);
        mc_metric_add(svc->m_parked, r.parked);
    } while (rc == 0 && r.more && ++rounds < RELAY_ROUNDS);
    if (rc == 0)
        svc->outbox_dirty = r.more;
    svc->next_relay = now_ms() + IDLE_RELAY_MS;
    return rc;
}

/* The gauges operators alert on (deploy/prometheus/alerts.yml): readiness,
 * consumer lag per assigned partition (the partition's high watermark, as
 * last fetched, minus this consumer's position: off by at most the batch
 * being applied), the outbox's backlog and the age of its oldest row. */
/* The outbox's backlog and the age of its oldest row (after count(*)). */
#define BACKLOG_REST(X) X(OB_AGE, "age", "coalesce(extract(epoch FROM now() - min(created_at)), 0)")
enum { OB_BACKLOG, BACKLOG_REST(MC_PG_COL_ENUM) OB_COUNT };

static void update_gauges(struct mc_service *svc)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    char sql[256], err[256], labels[512];
    PGresult *res;

    mc_metric_set(svc->m_ready, mc_service_ready(svc));
    mc_metric_vec_clear(svc->m_lag);
    if (rd_kafka_assignment(svc->consumer, &parts) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        int unknown = 0;
        rd_kafka_position(svc->consumer, parts);
        for (int i = 0; i < parts->cnt; i++)
            unknown += parts->elems[i].offset < 0;
        /* A partition this process consumed nothing from yet (a stuck
         * one, too): where the group stands, from the broker. */
        if (unknown > 0) {
            rd_kafka_topic_partition_list_t *committed = rd_kafka_topic_partition_list_copy(parts);
            if (rd_kafka_committed(svc->consumer, committed, LAG_COMMITTED_TIMEOUT_MS) ==
                RD_KAFKA_RESP_ERR_NO_ERROR)
                for (int i = 0; i < parts->cnt; i++)
                    if (parts->elems[i].offset < 0)
                        parts->elems[i].offset = committed->elems[i].offset;
            rd_kafka_topic_partition_list_destroy(committed);
        }
        for (int i = 0; i < parts->cnt; i++) {
            const rd_kafka_topic_partition_t *p = &parts->elems[i];
            int64_t lo, hi;
            if (rd_kafka_get_watermark_offsets(svc->consumer, p->topic, p->partition, &lo, &hi) !=
                    RD_KAFKA_RESP_ERR_NO_ERROR ||
                hi < 0)
                continue; /* nothing fetched yet: no figure rather than a wrong one */
            snprintf(labels, sizeof labels, "topic=\"%s\",partition=\"%d\"", p->topic,
                     (int)p->partition);
            /* No position and no commit: everything kept is to be read. */
            mc_metric_vec_set(svc->m_lag, labels,
                              (double)(p->offset >= 0 ? (hi > p->offset ? hi - p->offset : 0)
                                                      : (lo >= 0 ? hi - lo : hi)));
        }
        rd_kafka_topic_partition_list_destroy(parts);
    }
    if (!mc_pg_alive(svc->conn))
        return;
    snprintf(sql, sizeof sql,
             "SELECT count(*) AS backlog" BACKLOG_REST(MC_PG_COL_SQL) " FROM %s.outbox",
             svc->def->schema);
    if ((res = mc_pg_query(svc->conn, sql, 0, NULL, err, sizeof err)) != NULL) {
        mc_metric_set(svc->m_outbox_backlog, strtod(PQgetvalue(res, 0, OB_BACKLOG), NULL));
        mc_metric_set(svc->m_outbox_age, strtod(PQgetvalue(res, 0, OB_AGE), NULL));
        PQclear(res);
    }
}

/* Drains pending NOTIFYs; returns 1 if there was any. */
static int take_notifications(PGconn *conn)
{
    PGnotify *n;
    int any = 0;
    PQconsumeInput(conn);
    while ((n = PQnotifies(conn)) != NULL) {
        any = 1;
        PQfreemem(n);
    }
    return any;
}

int mc_service_step(struct mc_service *svc, int *processed)
{
    char err[1024];
    int rc;
    uint64_t t = now_ms();

    *processed = 0;
    if (t >= svc->next_gauges) { /* also while failing: ready drops to 0 */
        svc->next_gauges = t + GAUGES_EVERY_MS;
        update_gauges(svc);
    }
    if (svc->retry_at && t < svc->retry_at)
        return 0;
    if ((rc = ensure_db(svc, err, sizeof err)) != 0) {
        fail(svc, "database unavailable", err);
        return rc;
    }
    if (svc->clock && mc_clock_poll(svc->clock))
        svc->next_work = 0; /* time moved: look for due work now */
    if (svc->def->listen_channel && take_notifications(svc->conn))
        svc->next_work = 0;
    if (svc->nbatch == 0 && !svc->stopping)
        poll_batch(svc);
    if (svc->nbatch > 0) {
        if ((rc = apply_batch(svc, err, sizeof err)) != 0) {
            fail(svc, "batch failed; it will be retried", err);
            return rc;
        }
        *processed = svc->nbatch;
        free_batch(svc);
    }
    /* Periodic work runs before the relay, so a relay that keeps failing
     * (broker down) does not also stop the deadline sweep. */
    if (svc->def->work_cb && (*processed > 0 || t >= svc->next_work)) {
        int64_t next_ms = 1000;
        if ((rc = svc->def->work_cb(svc, svc->conn, &next_ms, svc->state)) != 0) {
            fail(svc, "periodic work failed; it will be retried", "see previous lines");
            return rc;
        }
        svc->next_work = now_ms() + (uint64_t)(next_ms > 0 ? next_ms : 0);
    }
    if (t >= svc->next_prune && !svc->stopping) {
        long long pruned = 0;
        svc->next_prune = t + (uint64_t)svc->cfg->prune_interval_s * 1000;
        if ((rc = mc_service_prune(svc, &pruned, err, sizeof err)) != 0)
            /* Retention can wait for the next interval; delivery cannot. */
            mc_log_kv(MC_LOG_ERROR, "retention failed; tried again later", "error", err, NULL);
    }
    if (svc->outbox_dirty || t >= svc->next_relay) {
        if ((rc = relay(svc, err, sizeof err)) != 0) {
            fail(svc, "outbox relay failed; it will be retried", err);
            return rc;
        }
    }
    svc->backoff_ms = 0;
    svc->retry_at = 0;
    return 0;
}

/* ---- the loop ------------------------------------------------------------ */

static void close_cb(uv_handle_t *h)
{
    (void)h;
}

static void close_handles(struct mc_service *svc)
{
    if (svc->handles) {
        uv_timer_stop(&svc->timer);
        uv_close((uv_handle_t *)&svc->timer, close_cb);
        uv_poll_stop(&svc->wake);
        uv_close((uv_handle_t *)&svc->wake, close_cb);
        if (svc->own_signals) {
            /* Closing the handles restores the default action, which would
             * kill the process if another SIGTERM came during the cleanup
             * that follows (librdkafka's destroy takes a while): it is
             * stopping already, so they are ignored from then on. Held back
             * meanwhile in this thread, else one arriving between the close
             * and the SIG_IGN kills it; one held back is discarded by the
             * SIG_IGN. The kernel could still hand one to another thread
             * that does not block them: librdkafka's threads block all
             * signals, but a name lookup libcurl left running in a thread of
             * its own (the sender, after a timeout) does not. */
            sigset_t stop, before;
            sigemptyset(&stop);
            sigaddset(&stop, SIGTERM);
            sigaddset(&stop, SIGINT);
            pthread_sigmask(SIG_BLOCK, &stop, &before);
            uv_close((uv_handle_t *)&svc->sigterm, close_cb);
            uv_close((uv_handle_t *)&svc->sigint, close_cb);
            signal(SIGTERM, SIG_IGN);
            signal(SIGINT, SIG_IGN);
            pthread_sigmask(SIG_SETMASK, &before, NULL);
        } else {
            uv_close((uv_handle_t *)&svc->sigterm, close_cb);
            uv_close((uv_handle_t *)&svc->sigint, close_cb);
        }
        svc->handles = 0;
    }
    mc_http_stop(svc->http);
    svc->http = NULL;
}

static void finish_drain(struct mc_service *svc)
{
    char n[16];
    snprintf(n, sizeof n, "%d", svc->nbatch);
    if (svc->nbatch)
        mc_log_kv(MC_LOG_WARN, "stopping with an unapplied batch; it will be redelivered",
                  "messages", n, NULL);
    free_batch(svc);
    /* Commits the stored offsets and leaves the group. */
    rd_kafka_consumer_close(svc->consumer);
    rd_kafka_flush(svc->producer, 5000);
    svc->stopped = 1;
    close_handles(svc);
    mc_log_kv(MC_LOG_INFO, "drained and stopped", NULL);
}

/* Steps while batches come full (yielding to HTTP now and then), and ends
 * a drain. */
static void run_steps(struct mc_service *svc)
{
    int processed, rounds = 0;
    /* Keep going while batches come full, but yield to HTTP now and then. */
    do {
        if (mc_service_step(svc, &processed) != 0)
            break;
    } while (processed >= svc->cfg->batch_max && ++rounds < 20);
    if (svc->stopping && !svc->stopped &&
        ((svc->nbatch == 0 && !svc->outbox_dirty) || now_ms() >= svc->drain_deadline))
        finish_drain(svc);
}

static void timer_cb(uv_timer_t *timer)
{
    run_steps(timer->data);
}

/* A message or a tick arrived: empties the pipe and steps now. */
static void wake_cb(uv_poll_t *poll, int status, int events)
{
    struct mc_service *svc = poll->data;
    char buf[64];
    (void)status;
    (void)events;
    while (read(svc->wake_fd[0], buf, sizeof buf) > 0)
        ;
    if (!svc->stopped)
        run_steps(svc);
}

static void signal_cb(uv_signal_t *sig, int signum)
{
    struct mc_service *svc = sig->data;
    /* Said once: a supervisor may send it again and again while it drains. */
    if (!svc->stopping)
        mc_log_kv(MC_LOG_INFO, signum == SIGTERM ? "SIGTERM: draining" : "SIGINT: draining", NULL);
    mc_service_stop(svc);
}

void mc_service_stop(struct mc_service *svc)
{
    if (svc->stopping)
        return;
    svc->stopping = 1;
    svc->drain_deadline = now_ms() + (uint64_t)svc->cfg->drain_timeout_s * 1000;
    svc->outbox_dirty = 1; /* one last relay */
}

static int ready_cb(char *why, size_t whylen, void *opaque)
{
    struct mc_service *svc = opaque;
    if (svc->stopping) {
        snprintf(why, whylen, "draining");
        return 0;
    }
    if (!mc_pg_alive(svc->conn) || svc->state == NULL) {
        snprintf(why, whylen, "database not reachable");
        return 0;
    }
    if (!svc->joined) {
        snprintf(why, whylen, "not yet a member of consumer group %s", svc->cfg->group_id);
        return 0;
    }
    if (!svc->caught_up) {
        snprintf(why, whylen, "catching up with the backlog");
        return 0;
    }
    if (svc->retry_at) {
        snprintf(why, whylen, "retrying after a failure");
        return 0;
    }
    return 1;
}

static int app_cb(struct mc_http_req *req, void *opaque)
{
    struct mc_service *svc = opaque;
    return svc->def->http_cb(svc, req, svc->state);
}

int mc_service_ready(const struct mc_service *svc)
{
    char why[128];
    return ready_cb(why, sizeof why, (void *)svc);
}

int mc_service_run(struct mc_service *svc)
{
    uv_timer_start(&svc->timer, timer_cb, 0, (uint64_t)svc->cfg->batch_wait_ms);
    uv_poll_start(&svc->wake, UV_READABLE, wake_cb);
    uv_signal_start(&svc->sigterm, signal_cb, SIGTERM);
    uv_signal_start(&svc->sigint, signal_cb, SIGINT);
    svc->own_signals = 1;
    uv_run(svc->loop, UV_RUN_DEFAULT);
    return svc->stopped ? 0 : 1;
}

static void write_port_file(const char *path, int port)
{
    char tmp[1024];
    FILE *f;
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if ((f = fopen(tmp, "w")) == NULL) {
        mc_log_kv(MC_LOG_ERROR, "cannot write MOTCUA_HTTP_PORT_FILE", "path", path, NULL);
        return;
    }
    fprintf(f, "%d\n", port);
    fclose(f);
    rename(tmp, path);
}

struct mc_service *mc_service_new(const struct mc_service_def *def, const struct mc_config *cfg,
                                  uv_loop_t *loop, char *err, size_t errlen)
{
    struct mc_service *svc = mc_xcalloc(1, sizeof *svc);
    static const double batch_bounds[] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5};

    svc->def = def;
    svc->cfg = cfg;
    svc->loop = loop;
    svc->wake_fd[0] = svc->wake_fd[1] = -1;
    svc->batch = mc_xcalloc((size_t)cfg->batch_max, sizeof *svc->batch);
    svc->items = mc_xcalloc((size_t)cfg->batch_max, sizeof *svc->items);
    snprintf(svc->producer_name, sizeof svc->producer_name, "motcua-%s", def->name);
    svc->m_messages = mc_metrics_counter(def->name, "messages_total", "messages applied");
    svc->m_deadletters = mc_metrics_counter(def->name, "deadletters_total",
                                            "messages sent to the dead-letter topic");
    svc->m_duplicates = mc_metrics_counter(def->name, "duplicates_total",
                                           "redelivered events skipped by the inbox");
    svc->m_batches = mc_metrics_counter(def->name, "batches_total", "batches committed");
    svc->m_batch_seconds =
        mc_metrics_histogram(def->name, "batch_seconds", "time to apply and commit one batch",
                             batch_bounds, sizeof batch_bounds / sizeof batch_bounds[0]);
    svc->m_published =
        mc_metrics_counter(def->name, "outbox_published_total", "events published from the outbox");
    svc->m_parked = mc_metrics_counter(def->name, "outbox_parked_total",
                                       "outbox rows the broker refused for good, parked for "
                                       "operators (motcua outbox)");
    svc->m_pruned = mc_metrics_counter(def->name, "pruned_total",
                                       "rows removed by the retention (MOTCUA_RETAIN_*)");
    svc->m_failures = mc_metrics_counter(def->name, "failures_total",
                                         "failed attempts (database or broker), retried");
    svc->m_ready = mc_metrics_gauge(def->name, "ready",
                                    "1 when /readyz answers 200 (database reachable, consumer "
                                    "joined and caught up), else 0");
    svc->m_lag = mc_metrics_gauge_vec(def->name, "consumer_lag",
                                      "messages of each assigned partition not yet consumed "
                                      "(high watermark minus position)");
    svc->m_outbox_backlog = mc_metrics_gauge(def->name, "outbox_backlog",
                                             "events written to the outbox, not yet published");
    svc->m_outbox_age = mc_metrics_gauge(def->name, "outbox_oldest_seconds",
                                         "age of the oldest unpublished outbox event (0: none)");
    svc->m_fallbacks =
        mc_metrics_counter(def->name, "batches_one_by_one_total",
                           "batches applied again one message at a time after a message failed "
                           "set-based (a dead letter or a conflict)");

    /* The database may be down at start: the loop keeps retrying. */
    if (ensure_db(svc, err, errlen) != 0)
        mc_log_kv(MC_LOG_WARN, "database not reachable at start; retrying", "error", err, NULL);

    svc->producer = mc_kafka_producer_new(cfg, mc_outbox_dr_cb, svc, err, errlen);
    if (svc->producer == NULL)
        goto fail;
    svc->consumer = mc_kafka_consumer_new(cfg, NULL, rebalance_cb, svc, err, errlen);
    if (svc->consumer == NULL)
        goto fail;
    if (mc_kafka_subscribe(svc->consumer, cfg, def->topics, err, errlen) != 0)
        goto fail;
    if (def->use_clock && (svc->clock = mc_clock_new(cfg, err, errlen)) == NULL)
        goto fail;
    if (pipe2(svc->wake_fd, O_NONBLOCK | O_CLOEXEC) != 0) {
        mc_err(err, errlen, MC_EIO, "pipe: %s", strerror(errno));
        goto fail;
    }
    mc_kafka_wake_fd(svc->consumer, svc->wake_fd[1]);
    if (svc->clock)
        mc_clock_wake_fd(svc->clock, svc->wake_fd[1]);

    svc->handles = 1;
    uv_timer_init(loop, &svc->timer);
    svc->timer.data = svc;
    uv_poll_init(loop, &svc->wake, svc->wake_fd[0]);
    svc->wake.data = svc;
    uv_signal_init(loop, &svc->sigterm);
    svc->sigterm.data = svc;
    uv_signal_init(loop, &svc->sigint);
    svc->sigint.data = svc;
    svc->http = mc_http_start(loop, cfg->http_addr, cfg->http_port, ready_cb, svc, err, errlen);
    if (svc->http == NULL)
        goto fail;
    if (def->http_cb)
        mc_http_set_app(svc->http, app_cb, svc);
    if (cfg->http_port_file && cfg->http_port_file[0])
        write_port_file(cfg->http_port_file, mc_http_port(svc->http));
    {
        char port[16];
        snprintf(port, sizeof port, "%d", mc_http_port(svc->http));
        mc_log_kv(MC_LOG_INFO, "started", "http_port", port, "group", cfg->group_id, NULL);
    }
    return svc;
fail:
    mc_service_free(svc);
    return NULL;
}

void mc_service_free(struct mc_service *svc)
{
    if (svc == NULL)
        return;
    if (svc->handles || svc->http) {
        close_handles(svc);
        uv_run(svc->loop, UV_RUN_NOWAIT); /* runs the close callbacks */
    }
    free_batch(svc);
    free(svc->batch);
    free(svc->items);
    discard_pending(svc);
    mc_outbox_rows_free(&svc->outbox_rows);
    free(svc->counts);
    if (svc->consumer) {
        if (!svc->stopped)
            rd_kafka_consumer_close(svc->consumer);
        rd_kafka_destroy(svc->consumer);
    }
    if (svc->producer) {
        rd_kafka_flush(svc->producer, 5000);
        rd_kafka_destroy(svc->producer);
    }
    mc_clock_free(svc->clock);
    /* After the consumers that wrote to it are gone. */
    for (int i = 0; i < 2; i++)
        if (svc->wake_fd[i] >= 0)
            close(svc->wake_fd[i]);
    if (svc->state && svc->def->fini_cb)
        svc->def->fini_cb(svc->state);
    PQfinish(svc->conn);
    free(svc);
}

int mc_service_emit(struct mc_service *svc, PGconn *conn, const char *topic, const char *key,
                    const char *type, const char *dossier_code, mc_instant occurred_at,
                    json_t *data, const char *id_seed, char *err, size_t errlen)
{
    char name[256];
    json_t *ev = mc_event_new(type, svc->producer_name, dossier_code, occurred_at, data);
    int rc = 0;
    mc_topic_name(svc->cfg, topic, name, sizeof name);
    assert(id_seed != NULL);
    if (ev == NULL)
        return mc_err(err, errlen, MC_EDB, "cannot build a %s event", type);
    if ((svc->in_batch && svc->fast) || svc->holding)
        rc = mc_outbox_rows_add(&svc->outbox_rows, name, key, ev, id_seed, err, errlen);
    else
        rc = mc_outbox_add(conn, svc->def->schema, name, key, ev, id_seed, NULL, err, errlen);
    json_decref(ev);
    if (rc == 0)
        svc->outbox_dirty = 1;
    return rc;
}

void mc_service_hold_events(struct mc_service *svc)
{
    assert(!svc->in_batch);
    mc_outbox_rows_clear(&svc->outbox_rows);
    svc->holding = 1;
}

int mc_service_write_events(struct mc_service *svc, PGconn *conn, char *err, size_t errlen)
{
    int rc = mc_outbox_rows_write(conn, svc->def->schema, &svc->outbox_rows, err, errlen);
    mc_outbox_rows_clear(&svc->outbox_rows);
    svc->holding = 0;
    return rc;
}

void mc_service_drop_events(struct mc_service *svc)
{
    mc_outbox_rows_clear(&svc->outbox_rows);
    svc->holding = 0;
}

/* Base64 of the original bytes, so a dead letter keeps them exactly. */
static char *base64(const unsigned char *p, size_t n)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = mc_xmalloc(4 * ((n + 2) / 3) + 1), *o = out;
    size_t i;
    for (i = 0; i + 2 < n; i += 3) {
        *o++ = tbl[p[i] >> 2];
        *o++ = tbl[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
        *o++ = tbl[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)];
        *o++ = tbl[p[i + 2] & 63];
    }
    if (i < n) {
        *o++ = tbl[p[i] >> 2];
        if (i + 1 < n) {
            *o++ = tbl[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
            *o++ = tbl[(p[i + 1] & 15) << 2];
        } else {
            *o++ = tbl[(p[i] & 3) << 4];
            *o++ = '=';
        }
        *o++ = '=';
    }
    *o = '\0';
    return out;
}

/* 1 if s has the form of a dossier code (<agency>-<yyMMdd>-<nnnn>). */
static int is_dossier_code(const char *s)
{
    const char *dash1, *dash2;
    size_t agency;
    if (s == NULL || (dash2 = strrchr(s, '-')) == NULL || dash2 - s < 8)
        return 0;
    dash1 = dash2 - 7;
    agency = (size_t)(dash1 - s);
    if (*dash1 != '-' || agency < 1 || agency > 40 ||
        strspn(s, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                  "abcdefghijklmnopqrstuvwxyz.") != agency)
        return 0;
    if (strspn(dash1 + 1, "0123456789") != 6)
        return 0;
    return strlen(dash2 + 1) >= 4 && strlen(dash2 + 1) <= 6 &&
           strspn(dash2 + 1, "0123456789") == strlen(dash2 + 1);
}

/* The text copy of an original, or NULL: only for valid UTF-8 without NUL
 * (PostgreSQL's jsonb refuses \u0000) whose JSON form stays within
 * DEADLETTER_TEXT_MAX (control bytes grow sixfold as \u00XX escapes). */
static json_t *original_text(const struct mc_msg *msg)
{
    json_t *text;
    char *dumped;
    size_t len;
    if (msg->payload == NULL || msg->len > DEADLETTER_TEXT_MAX ||
        memchr(msg->payload, 0, msg->len) != NULL)
        return NULL;
    /* json_stringn returns NULL unless the bytes are valid UTF-8. */
    if ((text = json_stringn(msg->payload, msg->len)) == NULL)
        return NULL;
    dumped = json_dumps(text, JSON_ENCODE_ANY | JSON_COMPACT);
    len = dumped ? strlen(dumped) : SIZE_MAX;
    free(dumped);
    if (len > DEADLETTER_TEXT_MAX) {
        json_decref(text);
        return NULL;
    }
    return text;
}

int mc_service_deadletter(struct mc_service *svc, PGconn *conn, const struct mc_msg *msg,
                          const char *reason, char *err, size_t errlen)
{
    char seed[512], topic[256], where[320], inbox_sql[128], *full_reason = NULL;
    const char *event_id, *params[1];
    const struct mc_topic_spec *spec;
    json_t *data = json_object(), *text, *key;
    PGresult *res;
    int fresh;
    const char *code =
        msg->doc ? json_string_value(json_object_get(msg->doc, "dossier_code")) : NULL;
    size_t copied = msg->payload ? msg->len : 0;
    char *b64;
    int rc;

    /* The dead letter must always fit the broker's limit (1 MB by
     * default): the byte copy is cut to DEADLETTER_COPY_MAX and says so. */
    if (copied > DEADLETTER_COPY_MAX) {
        copied = DEADLETTER_COPY_MAX;
        if (asprintf(&full_reason, "%s; the copy holds the first %zu of %zu bytes", reason, copied,
                     msg->len) < 0)
            full_reason = NULL;
    }
    b64 = base64((const unsigned char *)msg->payload, copied);

    snprintf(inbox_sql, sizeof inbox_sql,
             "INSERT INTO %s.inbox (event_id) VALUES (md5($1)::uuid) ON CONFLICT DO NOTHING",
             svc->def->schema);
    /* The full topic name, so an operator can replay the message there. */
    mc_topic_name(svc->cfg, msg->topic, topic, sizeof topic);
    snprintf(where, sizeof where, "%s/%d/%lld", topic, (int)msg->partition, (long long)msg->offset);
    json_object_set_new(data, "consumer", json_string(svc->producer_name));
    json_object_set_new(data, "topic", json_string(topic));
    json_object_set_new(data, "partition", json_integer(msg->partition));
    /* The key, so `motcua deadletter replay` sends the message as it came
     * (null: none, or not UTF-8). */
    key = msg->key ? json_string(msg->key) : NULL;
    json_object_set_new(data, "key", key ? key : json_null());
    json_object_set_new(data, "offset", json_integer(msg->offset));
    json_object_set_new(data, "reason", json_string(full_reason ? full_reason : reason));
    spec = mc_topic_find(msg->topic);
    json_object_set_new(data, "personal_data", json_boolean(spec == NULL || spec->personal_data));
    free(full_reason);
    text = original_text(msg);
    json_object_set_new(data, "original_text", text ? text : json_null());
    json_object_set_new(data, "original_base64", json_string(b64));
    free(b64);
    event_id = msg->doc ? json_string_value(json_object_get(msg->doc, "event_id")) : NULL;
    snprintf(seed, sizeof seed, "deadletter/%s/%s%s%.64s", svc->producer_name, where,
             event_id ? "/" : "", event_id ? event_id : "");
    /* Once per message: a redelivery after the commit finds the dead
     * letter's own id in the inbox. */
    params[0] = seed;
    if ((res = mc_pg_query(conn, inbox_sql, 1, params, err, errlen)) == NULL) {
        json_decref(data);
        return MC_EDB;
    }
    fresh = strcmp(PQcmdTuples(res), "1") == 0;
    PQclear(res);
    if (!fresh) {
        json_decref(data);
        mc_log_kv(MC_LOG_INFO, "dead letter sent before; delivered again", "from", where, NULL);
        return 1;
    }
    /* The reason may quote the message (a parser's "near '...'"), so the
     * log names only where it was read; the dead letter has the rest. */
    mc_log_kv(MC_LOG_WARN, "dead letter", "from", where, NULL);
    /* Only a well-formed dossier code goes in the envelope; the key falls
     * back to where the message was read. */
    rc = mc_service_emit(svc, conn, "deadletter", msg->key ? msg->key : where, "deadletter",
                         is_dossier_code(code) ? code : NULL, mc_time_now(), data, seed, err,
                         errlen);
    return rc;
}

int mc_service_delete_chunks(PGconn *conn, const char *sql, int nparams, const char **params,
                             long long *deleted, char *err, size_t errlen)
{
    const char *p[8];
    int n;
    assert(nparams >= 1 && nparams <= 8);
    memcpy(p, params, (size_t)nparams * sizeof *p);
    p[0] = "10000";
    do {
        PGresult *res = mc_pg_query(conn, sql, nparams, p, err, errlen);
        if (res == NULL)
            return MC_EDB;
        n = atoi(PQcmdTuples(res));
        PQclear(res);
        *deleted += n;
    } while (n == 10000);
    return 0;
}

int mc_service_expire_parked(struct mc_service *svc, PGconn *conn, const char *select_sql,
                             const char *delete_sql, const char *topic, const char *what,
                             long long *pruned, char *err, size_t errlen)
{
    static const char *const names[] = {"id",          "dossier_code", "payload", "read_partition",
                                        "read_offset", "days_waited"};
    enum { PK_ID, PK_CODE, PK_PAYLOAD, PK_PARTITION, PK_OFFSET, PK_DAYS, PK_COUNT };
    char days[16];
    const char *params[1] = {days};
    int n, col[PK_COUNT];
    snprintf(days, sizeof days, "%d", svc->cfg->retain_parked_days);
    do {
        PGresult *res;
        int rc = mc_pg_exec(conn, "BEGIN", 0, NULL, err, errlen);
        if (rc != 0)
            return rc;
        if ((res = mc_pg_query(conn, select_sql, 1, params, err, errlen)) == NULL)
            goto fail;
        if (mc_pg_columns(res, names, PK_COUNT, col, err, errlen) != 0) {
            PQclear(res);
            goto fail;
        }
        n = PQntuples(res);
        for (int i = 0; i < n; i++) {
            struct mc_msg msg;
            char reason[512], key[256];
            const char *id[1] = {PQgetvalue(res, i, col[PK_ID])};
            const char *payload = PQgetvalue(res, i, col[PK_PAYLOAD]);
            int known =
                !PQgetisnull(res, i, col[PK_PARTITION]) && !PQgetisnull(res, i, col[PK_OFFSET]);
            memset(&msg, 0, sizeof msg);
            snprintf(key, sizeof key, "%s", PQgetvalue(res, i, col[PK_CODE]));
            msg.topic = topic;
            msg.key = key;
            msg.partition = known ? atoi(PQgetvalue(res, i, col[PK_PARTITION])) : 0;
            msg.offset = known ? atoll(PQgetvalue(res, i, col[PK_OFFSET])) : 0;
            msg.payload = payload;
            msg.len = strlen(payload);
            msg.doc = json_loads(payload, 0, NULL);
            snprintf(reason, sizeof reason,
                     "%s parked %s days waiting for dossier %s, which never arrived "
                     "(MOTCUA_RETAIN_PARKED_DAYS=%s)%s",
                     what, PQgetvalue(res, i, col[PK_DAYS]), key, days,
                     known ? "" : "; where it was read was not recorded (partition and offset 0)");
            rc = mc_service_deadletter(svc, conn, &msg, reason, err, errlen);
            json_decref(msg.doc);
            if (rc == 0)
                mc_metric_add(svc->m_deadletters, 1);
            if (rc < 0 || mc_pg_exec(conn, delete_sql, 1, id, err, errlen) != 0) {
                PQclear(res);
                goto fail;
            }
        }
        PQclear(res);
        if (mc_pg_exec(conn, "COMMIT", 0, NULL, err, errlen) != 0)
            return MC_EDB;
        *pruned += n;
    } while (n == 100);
    return 0;
fail : {
    char e2[128];
    mc_pg_exec(conn, "ROLLBACK", 0, NULL, e2, sizeof e2);
    return MC_EDB;
}
}

int mc_service_prune(struct mc_service *svc, long long *pruned, char *err, size_t errlen)
{
    char sql[512], days[16];
    const char *params[2] = {NULL, days};
    int rc = 0;
    *pruned = 0;
    if (svc->conn == NULL || !mc_pg_alive(svc->conn))
        return mc_err(err, errlen, MC_EDB, "database not reachable");
    if (svc->def->use_inbox) {
        snprintf(days, sizeof days, "%d", svc->cfg->retain_inbox_days);
        snprintf(sql, sizeof sql,
                 "DELETE FROM %s.inbox WHERE event_id IN (SELECT event_id FROM %s.inbox WHERE "
                 "applied_at < now() - make_interval(days => $2::int) LIMIT $1::int)",
                 svc->def->schema, svc->def->schema);
        rc = mc_service_delete_chunks(svc->conn, sql, 2, params, pruned, err, errlen);
    }
    if (rc == 0 && svc->def->prune_cb)
        rc = svc->def->prune_cb(svc, svc->conn, pruned, err, errlen, svc->state);
    svc->outbox_dirty = 1; /* expired parked rows left dead letters */
    mc_metric_add(svc->m_pruned, (uint64_t)*pruned);
    if (*pruned > 0) {
        char count[32];
        snprintf(count, sizeof count, "%lld", *pruned);
        mc_log_kv(MC_LOG_INFO, "retention applied", "rows", count, NULL);
    }
    return rc;
}

const struct mc_config *mc_service_config(const struct mc_service *svc)
{
    return svc->cfg;
}

int mc_service_now(const struct mc_service *svc, mc_instant *now)
{
    if (svc->clock == NULL) {
        *now = mc_time_now();
        return 0;
    }
    return mc_clock_now(svc->clock, now);
}

struct mc_http *mc_service_http(const struct mc_service *svc)
{
    return svc->http;
}

int mc_service_http_port(const struct mc_service *svc)
{
    return svc->http ? mc_http_port(svc->http) : -1;
}

void mc_service_tune_malloc(void)
{
    mallopt(M_MXFAST, 0);
}

int mc_service_main(int argc, char **argv, const struct mc_service_def *def)
{
    struct mc_config cfg;
    struct mc_service *svc;
    uv_loop_t loop;
    char err[1024];
    int rc;

    mc_service_tune_malloc();
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("motcua-%s: the %s service of motcua.\n\n", def->name, def->name);
            mc_config_usage(stdout, argv[0]);
            return 0;
        }
        /* --config FILE: the same as MOTCUA_CONFIG_FILE=FILE (it wins). */
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            setenv("MOTCUA_CONFIG_FILE", argv[++i], 1);
            continue;
        }
        if (strncmp(argv[i], "--config=", 9) == 0) {
            setenv("MOTCUA_CONFIG_FILE", argv[i] + 9, 1);
            continue;
        }
        fprintf(stderr, "%s: unknown argument %s (try --help)\n", argv[0], argv[i]);
        return 2;
    }
    mc_log_init(def->name);
    if (mc_config_load(&cfg, def->name, err, sizeof err) != 0) {
        mc_log_kv(MC_LOG_ERROR, "bad configuration", "error", err, NULL);
        return 2;
    }
    if (mc_fault_init(err, sizeof err) != 0) {
        mc_log_kv(MC_LOG_ERROR, "bad configuration", "error", err, NULL);
        mc_config_free(&cfg);
        return 2;
    }
    uv_loop_init(&loop);
    svc = mc_service_new(def, &cfg, &loop, err, sizeof err);
    if (svc == NULL) {
        mc_log_kv(MC_LOG_ERROR, "cannot start", "error", err, NULL);
        mc_config_free(&cfg);
        uv_loop_close(&loop);
        return 1;
    }
    rc = mc_service_run(svc);
    mc_service_free(svc);
    uv_run(&loop, UV_RUN_NOWAIT);
    uv_loop_close(&loop);
    mc_config_free(&cfg);
    return rc;
}
