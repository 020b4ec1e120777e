/* Event envelopes, inbox and outbox relay (docs/architecture.md "Delivery"). */
#include "motcua/outbox.h"

#include <assert.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "motcua/error.h"
#include "motcua/fault.h"
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

void mc_event_id(const char *seed, char id[MC_EVENT_ID_LEN])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    char *p = id;
    if (!EVP_Digest(seed, strlen(seed), md, &len, EVP_md5(), NULL) || len != 16)
        abort(); /* MD5 is in every OpenSSL build motcua runs on */
    for (unsigned int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        p += snprintf(p, 3, "%02x", md[i]);
    }
}

/* ---- rows kept for one statement ----------------------------------------- */

static void reserve(struct mc_outbox_text *b, size_t more)
{
    if (b->len + more >= b->cap) {
        b->cap = (b->len + more) * 2;
        if ((b->p = realloc(b->p, b->cap)) == NULL)
            abort();
    }
}

/* Appends s to b as an element of a PostgreSQL array literal ("...",
 * with " and \ escaped), or NULL; the literal's "{" first. */
static void append_element(struct mc_outbox_text *b, const char *s)
{
    char sep = b->len == 0 ? '{' : ',';
    reserve(b, (s ? 2 * strlen(s) + 3 : 5) + 1);
    b->p[b->len++] = sep;
    if (s == NULL) {
        memcpy(b->p + b->len, "NULL", 4);
        b->len += 4;
    } else {
        b->p[b->len++] = '"';
        for (; *s; s++) {
            if (*s == '"' || *s == '\\')
                b->p[b->len++] = '\\';
            b->p[b->len++] = *s;
        }
        b->p[b->len++] = '"';
    }
    b->p[b->len] = '\0';
}

int mc_outbox_rows_add(struct mc_outbox_rows *rows, const char *topic, const char *key,
                       json_t *event, const char *id_seed, char *err, size_t errlen)
{
    char id[MC_EVENT_ID_LEN], *payload;
    mc_event_id(id_seed, id);
    if (json_object_set_new(event, "event_id", json_string(id)) != 0 ||
        (payload = json_dumps(event, JSON_COMPACT)) == NULL)
        return mc_err(err, errlen, MC_EINVAL, "event cannot be serialised");
    append_element(&rows->topics, topic);
    append_element(&rows->keys, key);
    append_element(&rows->payloads, payload);
    free(payload);
    rows->n++;
    return 0;
}

int mc_outbox_rows_write(PGconn *conn, const char *schema, struct mc_outbox_rows *rows, char *err,
                         size_t errlen)
{
    char sql[512];
    const char *params[3];
    int rc;
    if (rows->n == 0)
        return 0;
    /* The events as text (json keeps it as it is: no jsonb to build on the
     * way in, nor to print on the relay's way out), in the order emitted. */
    snprintf(sql, sizeof sql,
             "INSERT INTO %s.outbox (topic, key, payload) SELECT t, k, p::json FROM "
             "unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS u(t, k, p, i) "
             "ORDER BY i",
             schema);
    {
        struct mc_outbox_text *lits[3] = {&rows->topics, &rows->keys, &rows->payloads};
        for (int i = 0; i < 3; i++) { /* the literals' "}" */
            reserve(lits[i], 2);
            lits[i]->p[lits[i]->len++] = '}';
            lits[i]->p[lits[i]->len] = '\0';
            params[i] = lits[i]->p;
        }
    }
    rc = mc_pg_exec(conn, sql, 3, params, err, errlen);
    mc_outbox_rows_clear(rows);
    return rc;
}

void mc_outbox_rows_clear(struct mc_outbox_rows *rows)
{
    rows->topics.len = rows->keys.len = rows->payloads.len = 0;
    rows->n = 0;
}

void mc_outbox_rows_free(struct mc_outbox_rows *rows)
{
    free(rows->topics.p);
    free(rows->keys.p);
    free(rows->payloads.p);
    memset(rows, 0, sizeof *rows);
}

int mc_outbox_add(PGconn *conn, const char *schema, const char *topic, const char *key,
                  json_t *event, const char *id_seed, char *event_id, char *err, size_t errlen)
{
    struct mc_outbox_rows rows = {.n = 0};
    int rc = mc_outbox_rows_add(&rows, topic, key, event, id_seed, err, errlen);
    if (rc == 0)
        rc = mc_outbox_rows_write(conn, schema, &rows, err, errlen);
    if (rc == 0 && event_id) /* the id rows_add gave the event */
        snprintf(event_id, MC_EVENT_ID_LEN, "%s",
                 json_string_value(json_object_get(event, "event_id")));
    mc_outbox_rows_free(&rows);
    return rc;
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

/* What became of one outbox row in a relay round. */
struct row_status {
    int state;               /* 0 pending, 1 delivered, -1 failed */
    rd_kafka_resp_err_t err; /* why it failed */
};

/* Each produced message carries a pointer to its row's struct row_status. */
void mc_outbox_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    struct row_status *status = msg->_private;
    (void)rk;
    (void)opaque;
    if (status == NULL)
        return;
    status->state = msg->err ? -1 : 1;
    status->err = msg->err;
    if (msg->err)
        mc_log_kv(MC_LOG_WARN, "outbox delivery failed", "topic", rd_kafka_topic_name(msg->rkt),
                  "error", rd_kafka_err2str(msg->err), NULL);
}

/* 1 for errors no retry can mend: the broker will refuse this message
 * however often it is sent. Missing topics, authorisation and broker
 * outages are not among them: an operator can mend those, and the row
 * must then go out in its turn. */
static int refused_for_good(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
        return 1;
    default:
        return 0;
    }
}

/* Moves the rows listed in ids ("{1,2}") to schema.outbox_parked with the
 * error, in the relay's transaction. */
static int park_rows(PGconn *conn, const char *schema, const char *ids, const char *errors,
                     char *err, size_t errlen)
{
    char sql[640];
    const char *p[2] = {ids, errors};
    snprintf(sql, sizeof sql,
             "WITH gone AS (DELETE FROM %s.outbox WHERE id = ANY($1::bigint[]) "
             "RETURNING id, topic, key, payload, created_at) "
             "INSERT INTO %s.outbox_parked (id, topic, key, payload, created_at, error) "
             "SELECT g.id, g.topic, g.key, g.payload, g.created_at, e.error FROM gone g "
             "JOIN unnest($1::bigint[], $2::text[]) AS e(id, error) ON e.id = g.id",
             schema, schema);
    return mc_pg_exec(conn, sql, 2, p, err, errlen);
}

/* A PostgreSQL array literal built element by element: "{1,2}" or
 * "{"text","more"}". */
struct pg_array {
    char *text;
    size_t len, cap;
    int n;
};

static void pg_array_add(struct pg_array *a, const char *v, int quote)
{
    size_t need = a->len + 2 * strlen(v) + 5;
    if (need > a->cap) {
        a->cap = need * 2;
        a->text = mc_xrealloc(a->text, a->cap);
    }
    a->text[a->len++] = a->n++ ? ',' : '{';
    if (quote)
        a->text[a->len++] = '"';
    for (; *v; v++) {
        if (quote && (*v == '"' || *v == '\\'))
            a->text[a->len++] = '\\';
        a->text[a->len++] = *v;
    }
    if (quote)
        a->text[a->len++] = '"';
    a->text[a->len] = '\0';
}

/* Adds the run of ids lo..hi to the arrays of firsts and lasts. */
static void add_run(struct pg_array *lows, struct pg_array *highs, long long lo, long long hi)
{
    char v[24];
    snprintf(v, sizeof v, "%lld", lo);
    pg_array_add(lows, v, 0);
    snprintf(v, sizeof v, "%lld", hi);
    pg_array_add(highs, v, 0);
}

/* The literal, closed; a holds at least one element. Owned by a; free with
 * free(a->text). */
static const char *pg_array_close(struct pg_array *a)
{
    assert(a->n > 0 && a->len + 2 <= a->cap);
    a->text[a->len++] = '}';
    a->text[a->len] = '\0';
    return a->text;
}

/* The outbox rows a relay round reads, after their id. */
#define RELAY_REST(X)                                                                              \
    X(RL_TOPIC, "topic", "topic")                                                                  \
    X(RL_KEY, "key", "key")                                                                        \
    X(RL_PAYLOAD, "payload", "payload::text")
enum { RL_ID, RELAY_REST(MC_PG_COL_ENUM) RL_COUNT };

int mc_outbox_relay(PGconn *conn, rd_kafka_t *rk, const char *schema, int max,
                    struct mc_relay_result *result, char *err, size_t errlen)
{
    char sql[512], limit[16];
    const char *params[1] = {limit};
    PGresult *res = NULL;
    struct row_status *status = NULL;
    /* The rows delivered as runs of consecutive ids, first and last. */
    struct pg_array lows = {0}, highs = {0}, parked = {0}, reasons = {0};
    int rc = 0, n = 0, locked, pending = 0, delivered = 0, in_run = 0;
    long long run_lo = 0, run_hi = 0;

    memset(result, 0, sizeof *result);
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
             "SELECT id" RELAY_REST(MC_PG_COL_SQL) " FROM %s.outbox ORDER BY id LIMIT $1", schema);
    if ((res = mc_pg_query(conn, sql, 1, params, err, errlen)) == NULL) {
        rc = MC_EDB;
        goto out;
    }
    n = PQntuples(res);
    if (n > max) {
        result->more = 1;
        n = max;
    }
    if (n == 0)
        goto out;
    status = mc_xcalloc((size_t)n, sizeof *status);
    for (int i = 0; i < n; i++) {
        const char *key = mc_pg_value(res, i, RL_KEY);
        const char *payload = PQgetvalue(res, i, RL_PAYLOAD);
        rd_kafka_resp_err_t kerr;
        kerr = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(PQgetvalue(res, i, RL_TOPIC)),
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
            status[i].state = -1;
            status[i].err = kerr;
            mc_log_kv(MC_LOG_WARN, "outbox produce failed", "topic", PQgetvalue(res, i, RL_TOPIC),
                      "error", rd_kafka_err2str(kerr), NULL);
        }
    }
    /* Bounded wait: the loop may block here for at most this long. */
    if (rd_kafka_flush(rk, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        /* Purged messages get their (failed) reports now, so no report can
         * arrive after status is freed; their rows stay for the next run. */
        rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_flush(rk, 5000);
    }

    for (int i = 0; i < n; i++) {
        if (status[i].state == 1) {
            long long id = atoll(PQgetvalue(res, i, RL_ID));
            if (in_run && id == run_hi + 1) {
                run_hi = id;
            } else {
                if (in_run)
                    add_run(&lows, &highs, run_lo, run_hi);
                run_lo = run_hi = id;
                in_run = 1;
            }
            delivered++;
            continue;
        }
        if (in_run) {
            /* A row not delivered ends the run: no range may span it. */
            add_run(&lows, &highs, run_lo, run_hi);
            in_run = 0;
        }
        if (status[i].state == -1 && refused_for_good(status[i].err)) {
            char why[160];
            snprintf(why, sizeof why, "%s (%d bytes)", rd_kafka_err2str(status[i].err),
                     PQgetlength(res, i, RL_PAYLOAD));
            pg_array_add(&parked, PQgetvalue(res, i, RL_ID), 0);
            pg_array_add(&reasons, why, 1);
            mc_log_kv(MC_LOG_ERROR, "outbox row refused for good: parked", "schema", schema, "id",
                      PQgetvalue(res, i, RL_ID), "topic", PQgetvalue(res, i, RL_TOPIC), "error",
                      why, NULL);
        } else {
            pending++;
            if (rc == 0 && status[i].state == -1)
                rc = mc_err(err, errlen, MC_EKAFKA, "produce to %s: %s",
                            PQgetvalue(res, i, RL_TOPIC), rd_kafka_err2str(status[i].err));
        }
    }
    if (in_run)
        add_run(&lows, &highs, run_lo, run_hi);
    if (pending > 0 && rc == 0)
        rc = mc_err(err, errlen, MC_EKAFKA, "%d of %d outbox events not delivered yet", pending, n);
    if (delivered > 0) {
        MC_FAULT_POINT(MC_FAULT_RELAY_PRODUCED);
        const char *p[2] = {pg_array_close(&lows), pg_array_close(&highs)};
        int drc;
        /* By ranges: usually one. A list of ids compared with every row
         * (id = ANY) cost PostgreSQL rows x ids comparisons when the plan,
         * made for the usual near-empty outbox, scanned it. */
        snprintf(sql, sizeof sql,
                 "DELETE FROM %s.outbox o USING unnest($1::bigint[], $2::bigint[]) AS r(lo, hi) "
                 "WHERE o.id BETWEEN r.lo AND r.hi",
                 schema);
        if ((drc = mc_pg_exec(conn, sql, 2, p, err, errlen)) != 0)
            rc = drc;
        else
            result->published = delivered;
    }
    if (parked.n > 0) {
        int prc =
            park_rows(conn, schema, pg_array_close(&parked), pg_array_close(&reasons), err, errlen);
        if (prc != 0)
            rc = prc;
        else
            result->parked = parked.n;
    }
out:
    PQclear(res);
    free(status);
    free(lows.text);
    free(highs.text);
    free(parked.text);
    free(reasons.text);
    if (rc == MC_EDB || !mc_pg_alive(conn)) {
        char e2[128];
        mc_pg_exec(conn, "ROLLBACK", 0, NULL, e2, sizeof e2);
        /* Rows whose delivery was reported will be published again; consumers
         * dedupe by event_id. */
        result->published = result->parked = 0;
        return rc ? rc : MC_EDB;
    }
    {
        int crc = mc_pg_exec(conn, "COMMIT", 0, NULL, err, errlen);
        return rc ? rc : crc;
    }
}
