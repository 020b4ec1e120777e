/* The delivery rules of docs/architecture.md: event envelopes, the inbox (each input
 * event applied once) and the outbox (events written in the same transaction
 * as the state change, published after commit, deleted after delivery). Each
 * service schema has tables <schema>.inbox and <schema>.outbox (migrations). */
#ifndef MOTCUA_OUTBOX_H
#define MOTCUA_OUTBOX_H

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <libpq-fe.h>

#include "motcua/timeutil.h"

#define MC_EVENT_ID_LEN 37 /* uuid text + NUL */

/* A new envelope {type, occurred_at, producer, dossier_code, data}; the
 * event_id is added by mc_outbox_add. Steals data; dossier_code may be NULL
 * (JSON null). Caller owns the result. */
json_t *mc_event_new(const char *type, const char *producer, const char *dossier_code,
                     mc_instant occurred_at, json_t *data);

/* The event id of the event made from id_seed: md5(id_seed) as a uuid, so
 * the same logical event computed again carries the same id. */
void mc_event_id(const char *seed, char id[MC_EVENT_ID_LEN]);

/* Events kept for one outbox statement: the topics, keys and payloads as
 * PostgreSQL array literals ("{...}" once written). Zero-initialise. */
struct mc_outbox_text {
    char *p;
    size_t len, cap;
};
struct mc_outbox_rows {
    struct mc_outbox_text topics, keys, payloads;
    int n;
};

/* Keeps event (borrowed; it gains its event_id, from id_seed) for topic
 * and key (NULL: none). Returns 0 or MC_EINVAL. */
int mc_outbox_rows_add(struct mc_outbox_rows *rows, const char *topic, const char *key,
                       json_t *event, const char *id_seed, char *err, size_t errlen);
/* Writes the kept events to schema's outbox in one statement, in the order
 * kept, inside the caller's transaction, and forgets them. 0 or MC_EDB. */
int mc_outbox_rows_write(PGconn *conn, const char *schema, struct mc_outbox_rows *rows, char *err,
                         size_t errlen);
void mc_outbox_rows_clear(struct mc_outbox_rows *rows);
void mc_outbox_rows_free(struct mc_outbox_rows *rows);

/* Writes event to schema's outbox for topic/key inside the caller's
 * transaction, with its event_id (mc_event_id of id_seed; event, borrowed,
 * gains it). Writes the id to event_id (MC_EVENT_ID_LEN) when not NULL.
 * Returns 0 or an error code. */
int mc_outbox_add(PGconn *conn, const char *schema, const char *topic, const char *key,
                  json_t *event, const char *id_seed, char *event_id, char *err, size_t errlen);

/* Records event_id in schema's inbox. Returns 1 if it was new, 0 if it had
 * been applied before, MC_EDB on error. */
int mc_inbox_claim(PGconn *conn, const char *schema, const char *event_id, char *err,
                   size_t errlen);

/* The delivery-report callback every outbox producer must be created with
 * (mc_kafka_producer_new(cfg, mc_outbox_dr_cb, NULL, ...)). */
void mc_outbox_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque);

/* What one relay round did. */
struct mc_relay_result {
    int published; /* rows delivered and deleted */
    int parked;    /* rows the broker refuses for good, moved to outbox_parked */
    int more;      /* 1 when rows remain beyond this round */
};

/* Publishes up to max outbox rows of schema in id order with rk, waits for
 * their delivery reports, deletes the delivered rows, in its own
 * transaction. Only one relay per schema runs at a time (advisory lock), so
 * events keep their order. A row the broker refuses for good (too large,
 * invalid) is moved to schema.outbox_parked with the error, so it never
 * blocks the rows after it; operators list, retry or drop parked rows
 * (`motcua outbox`). Returns 0, MC_EDB or MC_EKAFKA (undelivered rows stay
 * for the next round). */
int mc_outbox_relay(PGconn *conn, rd_kafka_t *rk, const char *schema, int max,
                    struct mc_relay_result *result, char *err, size_t errlen);

#endif
