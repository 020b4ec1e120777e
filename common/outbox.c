/* Event envelopes, inbox and outbox relay (DESIGN.md "Delivery"). */
#include "motcua/outbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "motcua/error.h"
#include "motcua/log.h"
#include "motcua/pg.h"

json_t *mc_event_new(const char *type, const char *producer, const char *dossier_code,
                     mc_instant occurred_at, json_t *data)
{
    char ts[MC_RFC3339_LEN];
    json_t *ev = json_object();
    json_object_set_new(ev, "type", json_string(type));
    json_object_set_new(ev, "occurred_at", json_string(mc_time_format(occurred_at, ts)));
    json_object_set_new(ev, "producer", json_string(producer));
    json_object_set_new(ev, "dossier_code", dossier_code ? json_string(dossier_code) : json_null());
    json_object_set_new(ev, "data", data);
    return ev;
}

int mc_outbox_add(PGconn *conn, const char *schema, const char *topic, const char *key,
                  const json_t *event, const char *id_seed, char *event_id, char *err,
                  size_t errlen)
{
    char sql[512];
    char *payload = json_dumps(event, JSON_COMPACT);
    const char *params[4] = {topic, key, payload, id_seed};
    PGresult *res;
    if (payload == NULL)
        return mc_err(err, errlen, MC_EINVAL, "event cannot be serialised");
    snprintf(sql, sizeof sql,
             "INSERT INTO %s.outbox (topic, key, payload) "
             "VALUES ($1, $2, jsonb_set($3::jsonb, '{event_id}', "
             "to_jsonb(md5($4)::uuid::text))) RETURNING payload->>'event_id'",
             schema);
    res = mc_pg_query(conn, sql, 4, params, err, errlen);
    free(payload);
    if (res == NULL)
        return MC_EDB;
    if (event_id)
        snprintf(event_id, MC_EVENT_ID_LEN, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

int mc_inbox_claim(PGconn *conn, const char *schema, const char *event_id, char *err, size_t errlen)
{
    char sql[256];
    const char *params[1] = {event_id};
    PGresult *res;
    int fresh;
    snprintf(sql, sizeof sql, "INSERT INTO %s.inbox (event_id) VALUES ($1) ON CONFLICT DO NOTHING",
             schema);
    res = mc_pg_query(conn, sql, 1, params, err, errlen);
    if (res == NULL)
        return MC_EDB;
    fresh = strcmp(PQcmdTuples(res), "1") == 0;
    PQclear(res);
    return fresh;
}

/* Each produced message carries a pointer to its row's delivery status:
 * 0 pending, 1 delivered, -1 failed. */
void mc_outbox_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    int *status = msg->_private;
    if (status == NULL)
        return;
    *status = msg->err ? -1 : 1;
    if (msg->err)
        mc_log_kv(MC_LOG_WARN, "outbox delivery failed", "topic", rd_kafka_topic_name(msg->rkt),
                  "error", rd_kafka_err2str(msg->err), NULL);
}

int mc_outbox_relay(PGconn *conn, rd_kafka_t *rk, const char *schema, int max, int *published,
                    int *more, char *err, size_t errlen)
{
    char sql[512], limit[16];
    const char *params[1] = {limit};
    PGresult *res = NULL;
    int *status = NULL;
    int rc = 0, n = 0, delivered = 0, locked;
    char *ids = NULL;
    size_t ids_len = 0;

    *published = 0;
    *more = 0;
    if ((rc = mc_pg_exec(conn, "BEGIN", 0, NULL, err, errlen)) != 0)
        return rc;
    snprintf(sql, sizeof sql, "SELECT pg_try_advisory_xact_lock(hashtext('%s.outbox'))", schema);
    if ((res = mc_pg_query(conn, sql, 0, NULL, err, errlen)) == NULL) {
        rc = MC_EDB;
        goto out;
    }
    locked = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    res = NULL;
    if (!locked)
        goto out; /* another instance is relaying this schema */

    snprintf(limit, sizeof limit, "%d", max + 1);
    snprintf(sql, sizeof sql,
             "SELECT id, topic, key, payload::text FROM %s.outbox ORDER BY id LIMIT $1", schema);
    if ((res = mc_pg_query(conn, sql, 1, params, err, errlen)) == NULL) {
        rc = MC_EDB;
        goto out;
    }
    n = PQntuples(res);
    if (n > max) {
        *more = 1;
        n = max;
    }
    if (n == 0)
        goto out;
    status = mc_xcalloc((size_t)n, sizeof *status);
    for (int i = 0; i < n; i++) {
        const char *key = mc_pg_value(res, i, 2);
        const char *payload = PQgetvalue(res, i, 3);
        rd_kafka_resp_err_t kerr;
        kerr = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(PQgetvalue(res, i, 1)),
                                 RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
                                 RD_KAFKA_V_VALUE((void *)payload, strlen(payload)),
                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                 RD_KAFKA_V_OPAQUE(&status[i]), RD_KAFKA_V_END);
        if (kerr == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(rk, 100);
            i--;
            continue;
        }
        if (kerr) {
            status[i] = -1;
            rc = mc_err(err, errlen, MC_EKAFKA, "produce: %s", rd_kafka_err2str(kerr));
        }
    }
    /* Bounded wait: the loop may block here for at most this long. */
    if (rd_kafka_flush(rk, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        /* Purged messages get their (failed) reports now, so no report can
         * arrive after status is freed; their rows stay for the next run. */
        rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_flush(rk, 5000);
    }

    ids = mc_xmalloc((size_t)n * 24 + 3);
    ids[ids_len++] = '{';
    for (int i = 0; i < n; i++) {
        if (status[i] != 1)
            continue;
        ids_len +=
            (size_t)sprintf(ids + ids_len, "%s%s", delivered ? "," : "", PQgetvalue(res, i, 0));
        delivered++;
    }
    ids[ids_len++] = '}';
    ids[ids_len] = '\0';
    if (delivered < n && rc == 0)
        rc = mc_err(err, errlen, MC_EKAFKA, "%d of %d outbox events not delivered yet",
                    n - delivered, n);
    if (delivered > 0) {
        const char *p[1] = {ids};
        int drc;
        snprintf(sql, sizeof sql, "DELETE FROM %s.outbox WHERE id = ANY($1::bigint[])", schema);
        if ((drc = mc_pg_exec(conn, sql, 1, p, err, errlen)) != 0)
            rc = drc;
    }
    *published = delivered;
out:
    PQclear(res);
    free(status);
    free(ids);
    if (rc == MC_EDB || !mc_pg_alive(conn)) {
        char e2[128];
        mc_pg_exec(conn, "ROLLBACK", 0, NULL, e2, sizeof e2);
        /* Rows whose delivery was reported will be published again; consumers
         * dedupe by event_id. */
        return rc ? rc : MC_EDB;
    }
    {
        int crc = mc_pg_exec(conn, "COMMIT", 0, NULL, err, errlen);
        return rc ? rc : crc;
    }
}
