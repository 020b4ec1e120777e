/* `motcua replay --year Y`: the reference city's year played through the
 * running system on the topic clock. The submissions of the year (the
 * published totals of Hòa Bình city, 2020: 71,776 dossiers, 21,006 of
 * them online; times --scale) are generated over the year's days and
 * published day by day, a few days ahead of the clock; each day's
 * dossiers, once assigned, get their life at the units (sample.c); then
 * the clock walks the year three ticks a day, each tick preceded by the
 * units' updates made before it, so every warning, breach, reschedule,
 * apology letter and explanation fires at its simulated moment. */
#include "cli.h"
#include "sample.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "motcua/calendar.h"
#include "motcua/config.h"
#include "motcua/error.h"
#include "motcua/kafka.h"
#include "motcua/pg.h"
#include "motcua/timeutil.h"
#include "motcua/topics.h"

/* The reference city's published year (docs/domain.md, "The sample city"). */
#define YEAR_DOSSIERS 71776
#define YEAR_ONLINE 21006
#define LATE_SHARE 0.04       /* dossiers whose unit never answers */
#define LOOKAHEAD_DAYS 2      /* submissions are published this far ahead of the clock */
#define SETTLE_WORKING_DAYS 4 /* after the last due date: explanations due, escalations */
#define STALL_S 120           /* a wait that sees no progress this long fails */

/* A message to publish, serialised (a year of json_t trees would take
 * gigabytes at --scale 10). */
struct out_msg {
    mc_instant at;
    int serial; /* breaks ties: later plans after earlier ones */
    char *key, *value;
    char event_id[40]; /* updates: what the deadline service stores */
};

struct out_list {
    struct out_msg *items;
    int n;
};

static const int tick_minutes[] = {7 * 60 + 30, 12 * 60, 17 * 60 + 30}; /* local, each day */

struct replay {
    const struct mc_config *cfg;
    PGconn *conn;
    rd_kafka_t *rk;
    CURL *curl;          /* with --deadline-metrics: its /metrics, one connection */
    const char *metrics; /* that URL, or NULL: the clocks are asked in SQL */
    char t_submissions[256], t_updates[256], t_clock[256];
    int failures; /* deliveries the broker refused */
    long ticks, updates_published;
    long long updates_before; /* the deadline's updates_total when the replay began */
    /* Where the wall time went (seconds): publishing (to the broker's
     * acknowledgement), waiting for the services, and the rest. */
    double s_publish, s_assigned, s_stored, s_tick, s_swept;
};

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    struct replay *r = opaque;
    (void)rk;
    if (msg->err) {
        r->failures++;
        fprintf(stderr, "motcua replay: delivery failed: %s\n", rd_kafka_err2str(msg->err));
    }
}

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Publishes items [from, to) of l to topic and waits for their delivery. */
static int publish(struct replay *r, const char *topic, const struct out_list *l, int from, int to,
                   char *err, size_t errlen)
{
    double t0 = wall_s();
    for (int i = from; i < to; i++) {
        const struct out_msg *m = &l->items[i];
        rd_kafka_resp_err_t kerr;
        do {
            kerr = rd_kafka_producev(r->rk, RD_KAFKA_V_TOPIC(topic),
                                     RD_KAFKA_V_KEY(m->key, strlen(m->key)),
                                     RD_KAFKA_V_VALUE(m->value, strlen(m->value)),
                                     RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
            if (kerr == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                rd_kafka_poll(r->rk, 100);
        } while (kerr == RD_KAFKA_RESP_ERR__QUEUE_FULL);
        if (kerr)
            return mc_err(err, errlen, MC_EIO, "produce to %s: %s", topic, rd_kafka_err2str(kerr));
    }
    if (rd_kafka_flush(r->rk, 30000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return mc_err(err, errlen, MC_EIO, "%d messages to %s not delivered in 30 s",
                      rd_kafka_outq_len(r->rk), topic);
    r->s_publish += wall_s() - t0;
    if (r->failures)
        return mc_err(err, errlen, MC_EIO, "the broker refused %d messages", r->failures);
    return 0;
}

static int out_cmp(const void *a, const void *b)
{
    const struct out_msg *x = a, *y = b;
    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    return (x->serial > y->serial) - (x->serial < y->serial);
}

static void out_free(struct out_list *l, int from)
{
    for (int i = from; i < l->n; i++) {
        free(l->items[i].key);
        free(l->items[i].value);
    }
}

/* Appends the messages of list to l, serialised, and frees list. */
static void out_take(struct out_list *l, struct mc_sample_list *list, int *serial)
{
    l->items = realloc(l->items, (size_t)(l->n + list->n + 1) * sizeof *l->items);
    if (l->items == NULL)
        abort();
    for (int i = 0; i < list->n; i++) {
        struct out_msg *m = &l->items[l->n++];
        const char *id = json_string_value(json_object_get(list->items[i].doc, "event_id"));
        char keybuf[256];
        m->at = list->items[i].at;
        m->serial = (*serial)++;
        m->key = mc_xstrdup(mc_sample_key(&list->items[i], keybuf, sizeof keybuf));
        m->value = json_dumps(list->items[i].doc, JSON_COMPACT);
        snprintf(m->event_id, sizeof m->event_id, "%s", id ? id : "");
    }
    mc_sample_list_free(list);
}

/* A question wait_until asks: a count, an instant; -1 on error. */
struct question {
    long long (*ask)(struct replay *r, const struct question *q, char *err, size_t errlen);
    const char *sql;    /* for ask_sql: one integer */
    const char *metric; /* for ask_metric: its name on the deadline's /metrics */
    int n;
    const char *const *params;
};

/* The first value of sql's first row as an integer (-1 on error). */
static long long sql_int(struct replay *r, const char *sql, int n, const char *const *params,
                         char *err, size_t errlen)
{
    PGresult *res = mc_pg_query(r->conn, sql, n, params, err, errlen);
    long long v = -1;
    if (res != NULL && PQntuples(res) == 1 && mc_pg_value(res, 0, 0) != NULL)
        v = strtoll(mc_pg_value(res, 0, 0), NULL, 10);
    PQclear(res);
    return v;
}

static long long ask_sql(struct replay *r, const struct question *q, char *err, size_t errlen)
{
    return sql_int(r, q->sql, q->n, q->params, err, errlen);
}

struct body {
    char *p;
    size_t len;
};

static size_t keep_body(char *p, size_t size, size_t n, void *opaque)
{
    struct body *b = opaque;
    size_t add = size * n;
    char *grown = realloc(b->p, b->len + add + 1);
    if (grown == NULL)
        return 0; /* curl fails the transfer */
    memcpy(grown + b->len, p, add);
    b->len += add;
    grown[b->len] = '\0';
    b->p = grown;
    return add;
}

/* A value of the deadline service's /metrics (0 while it is not shown):
 * motcua_deadline_swept_until_seconds, the clock's instant up to which it
 * has fired every due clock; motcua_deadline_updates_total, the unit
 * updates it has stored. A scrape costs the database nothing; asking
 * deadline.clock for a due clock, and deadline.update for the updates,
 * were the year's costliest statements (docs/operations.md). */
static long long ask_metric(struct replay *r, const struct question *q, char *err, size_t errlen)
{
    struct body b = {.p = NULL, .len = 0};
    char name[96];
    long code = 0;
    long long v = -1;
    const char *at;
    CURLcode rc;
    snprintf(name, sizeof name, "\n%s ", q->metric);
    curl_easy_setopt(r->curl, CURLOPT_WRITEDATA, (void *)&b);
    rc = curl_easy_perform(r->curl);
    curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &code);
    if (rc != CURLE_OK || code != 200)
        mc_err(err, errlen, MC_EIO, "%s: %s", r->metrics,
               rc != CURLE_OK ? curl_easy_strerror(rc) : "not answered with 200");
    else if (b.p == NULL || (at = strstr(b.p, name)) == NULL)
        v = 0; /* not shown yet: no sweep, no update stored */
    else
        v = (long long)strtod(at + strlen(name), NULL);
    free(b.p);
    return v;
}

/* The deadline service's count of the unit updates it has stored. */
static const struct question updates_stored = {.ask = ask_metric,
                                               .metric = "motcua_deadline_updates_total"};

/* Asks q until its answer reaches target; fails after STALL_S without
 * reaching it, naming what it waited for. */
static int wait_until(struct replay *r, const char *what, const struct question *q,
                      long long target, char *err, size_t errlen)
{
    double limit = wall_s() + STALL_S, asked, took;
    long long v;
    useconds_t pause = 2000;
    for (;;) {
        asked = wall_s();
        if ((v = q->ask(r, q, err, errlen)) >= target)
            return 0;
        took = wall_s() - asked;
        if (v < 0)
            return MC_EDB;
        if (wall_s() > limit)
            return mc_err(err, errlen, MC_EIO, "%s: %lld of %lld after %d s", what, v, target,
                          STALL_S);
        /* Back off; and ask at most a quarter of the time: at a whole
         * year's scale these questions were PostgreSQL's costliest
         * statements (deploy/local/replay's profile). */
        if (pause < (useconds_t)(took * 3e6))
            pause = (useconds_t)(took * 3e6);
        usleep(pause);
        if (pause < 50000)
            pause *= 2;
    }
}

/* Publishes a tick at t and waits until the deadline service has fired
 * every clock due by then: its swept_until gauge reached t, or (without
 * --deadline-metrics) no clock has next_fire_at <= t. */
static int tick(struct replay *r, mc_instant t, char *err, size_t errlen)
{
    char payload[96], ts[MC_RFC3339_LEN];
    const char *params[1] = {ts};
    const struct question swept = {.ask = ask_metric,
                                   .metric = "motcua_deadline_swept_until_seconds"},
                          due = {.ask = ask_sql,
                                 .sql = "SELECT (NOT EXISTS (SELECT 1 FROM deadline.clock WHERE "
                                        "next_fire_at <= $1::timestamptz))::int",
                                 .n = 1,
                                 .params = params};
    double t0 = wall_s(), t1;
    int rc;
    snprintf(payload, sizeof payload, "{\"now\":\"%s\"}", mc_time_format(t, ts));
    if ((rc = mc_kafka_produce_sync(r->rk, r->t_clock, "clock", payload, strlen(payload), 10000,
                                    err, errlen)) != 0)
        return rc;
    r->ticks++;
    r->s_tick += (t1 = wall_s()) - t0;
    rc = r->metrics ? wait_until(r, "the deadline service's sweep up to the tick", &swept,
                                 (long long)t, err, errlen)
                    : wait_until(r, "clocks fired by the tick", &due, 1, err, errlen);
    r->s_swept += wall_s() - t1;
    return rc;
}

/* Waits until the deadline service has stored the updates [from, to) of l:
 * with --deadline-metrics, until its count of updates stored has grown by
 * every update published so far; else until their rows are there. */
static int wait_stored(struct replay *r, const struct out_list *l, int from, int to, char *err,
                       size_t errlen)
{
    if (r->metrics) {
        double t0 = wall_s();
        int rc = wait_until(r, "unit updates stored by the deadline service", &updates_stored,
                            r->updates_before + r->updates_published + (to - from), err, errlen);
        r->s_stored += wall_s() - t0;
        return rc;
    }
    /* A uuid[] literal: the primary key's index finds each (a set built
     * from jsonb made the planner scan the whole table). */
    size_t cap = (size_t)(to - from) * 37 + 3, len = 0;
    char *ids = mc_xmalloc(cap);
    const char *params[1] = {ids};
    int rc;
    ids[len++] = '{';
    for (int i = from; i < to; i++)
        len += (size_t)snprintf(ids + len, cap - len, "%s%s", i > from ? "," : "",
                                l->items[i].event_id);
    snprintf(ids + len, cap - len, "}");
    double t0 = wall_s();
    const struct question stored = {
        .ask = ask_sql,
        .sql = "SELECT count(*) FROM deadline.update WHERE event_id = ANY($1::uuid[])",
        .n = 1,
        .params = params};
    rc = wait_until(r, "unit updates stored by the deadline service", &stored, to - from, err,
                    errlen);
    r->s_stored += wall_s() - t0;
    free(ids);
    return rc;
}

/* The dossiers received on local day `day` once all `expected` of them are
 * assigned (or rejected at intake): mc_sample_units_plan's columns and
 * the rejections so far. */
static PGresult *assigned_on(struct replay *r, int32_t day, int expected, long long rejected_before,
                             char *err, size_t errlen)
{
    static const char sql[] =
        "SELECT a.dossier_code, a.unit_code, extract(epoch FROM a.receipt_at)::bigint AS receipt, "
        "extract(epoch FROM a.due_at)::bigint AS due, coalesce(p.field, '') AS field, "
        "d.source || '/' || d.external_id AS submission, (SELECT count(*) FROM intake.rejection) "
        "AS rejections FROM "
        "intake.dossier d JOIN routing.assignment a "
        "ON a.dossier_code = d.code LEFT JOIN catalog.procedure p ON p.code = a.procedure_code "
        "WHERE d.received_at >= $1::timestamptz AND d.received_at < $2::timestamptz "
        "ORDER BY d.source, d.external_id";
    char from[MC_RFC3339_LEN], to[MC_RFC3339_LEN];
    const char *params[2] = {mc_time_format(mc_vn_day_start(day), from),
                             mc_time_format(mc_vn_day_start(day + 1), to)};
    double limit = wall_s() + STALL_S;
    useconds_t pause = 1000;
    for (;;) {
        PGresult *res = mc_pg_query(r->conn, sql, 2, params, err, errlen);
        long long rejected;
        if (res == NULL)
            return NULL;
        rejected = PQntuples(res) > 0
                       ? strtoll(PQgetvalue(res, 0, PQfnumber(res, "rejections")), NULL, 10)
                       : sql_int(r, "SELECT count(*) FROM intake.rejection", 0, NULL, err, errlen);
        if (PQntuples(res) + (rejected - rejected_before) >= expected)
            return res;
        PQclear(res);
        if (wall_s() > limit) {
            mc_err(err, errlen, MC_EIO, "dossiers of %s assigned: fewer than %d after %d s", from,
                   expected, STALL_S);
            return NULL;
        }
        usleep(pause);
        if (pause < 20000)
            pause *= 2;
    }
}

/* Drops the published updates [0, *next) of pending and adds those of
 * fresh (emptied), keeping time order. */
static void merge_pending(struct out_list *pending, int *next, struct mc_sample_list *fresh,
                          int *serial)
{
    for (int i = 0; i < *next; i++) {
        free(pending->items[i].key);
        free(pending->items[i].value);
    }
    if (*next > 0)
        memmove(pending->items, pending->items + *next,
                (size_t)(pending->n - *next) * sizeof *pending->items);
    pending->n -= *next;
    *next = 0;
    out_take(pending, fresh, serial);
    qsort(pending->items, (size_t)pending->n, sizeof *pending->items, out_cmp);
}

/* The year so far: dossiers received (the first column), then warnings,
 * breaches, letters and requests for an explanation. */
#define PROGRESS_REST(X)                                                                           \
    X(YR_WARNINGS, "warnings", "(SELECT count(*) FROM deadline.ledger WHERE kind = 'warning')")    \
    X(YR_BREACHES, "breaches", "(SELECT count(*) FROM deadline.ledger WHERE kind = 'overdue')")    \
    X(YR_LETTERS, "letters", "(SELECT count(*) FROM notify.letter)")                               \
    X(YR_EXPLANATIONS, "explanations", "(SELECT count(*) FROM notify.explanation)")
enum { YR_DOSSIERS, PROGRESS_REST(MC_PG_COL_ENUM) YR_COUNT };

static void progress(struct replay *r, int32_t day, double started)
{
    char err[256];
    int y, m, d;
    PGresult *res = mc_pg_query(
        r->conn,
        "SELECT (SELECT count(*) FROM intake.dossier) AS dossiers" PROGRESS_REST(MC_PG_COL_SQL), 0,
        NULL, err, sizeof err);
    mc_civil_from_days(day, &y, &m, &d);
    if (res != NULL && PQntuples(res) == 1)
        printf("  %04d-%02d-%02d  dossiers %6s  updates %7ld  warnings %6s  breaches %5s  "
               "letters %5s  explanations asked %5s  (%.0f s)\n",
               y, m, d, PQgetvalue(res, 0, YR_DOSSIERS), r->updates_published,
               PQgetvalue(res, 0, YR_WARNINGS), PQgetvalue(res, 0, YR_BREACHES),
               PQgetvalue(res, 0, YR_LETTERS), PQgetvalue(res, 0, YR_EXPLANATIONS),
               wall_s() - started);
    fflush(stdout);
    PQclear(res);
}

/* What the year must show: the totals generated, no rejection, and every
 * breach with exactly one letter (after notify has caught up). */
static int check_year(struct replay *r, int count, int online, char *err, size_t errlen)
{
    static const char mismatch_sql[] =
        "SELECT count(*) FROM (SELECT dossier_code, count(*) AS b FROM deadline.ledger WHERE "
        "kind = 'overdue' GROUP BY 1) l FULL JOIN (SELECT dossier_code, count(*) AS n FROM "
        "notify.letter GROUP BY 1) t USING (dossier_code) WHERE coalesce(b, 0) <> coalesce(n, 0)";
    double limit = wall_s() + STALL_S;
    long long received, on, rejected, breaches, letters, off;
    int ok = 1;

    while ((off = sql_int(r, mismatch_sql, 0, NULL, err, errlen)) != 0) {
        if (off < 0)
            return MC_EDB;
        if (wall_s() > limit)
            break;
        usleep(50000);
    }
    received = sql_int(r, "SELECT count(*) FROM intake.dossier", 0, NULL, err, errlen);
    on = sql_int(r, "SELECT count(*) FROM intake.dossier WHERE channel = 'online'", 0, NULL, err,
                 errlen);
    rejected = sql_int(r, "SELECT count(*) FROM intake.rejection", 0, NULL, err, errlen);
    breaches = sql_int(r, "SELECT count(*) FROM deadline.ledger WHERE kind = 'overdue'", 0, NULL,
                       err, errlen);
    letters = sql_int(r, "SELECT count(*) FROM notify.letter", 0, NULL, err, errlen);
    if (received < 0 || on < 0 || rejected < 0 || breaches < 0 || letters < 0)
        return MC_EDB;
    printf("\nchecks\n");
#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        int pass_ = (cond);                                                                        \
        ok &= pass_;                                                                               \
        printf("  %s  ", pass_ ? "ok  " : "FAIL");                                                 \
        printf(__VA_ARGS__);                                                                       \
        printf("\n");                                                                              \
    } while (0)
    CHECK(received == count, "dossiers received: %lld (generated %d)", received, count);
    CHECK(on == online, "of them online: %lld (generated %d)", on, online);
    CHECK(rejected == 0, "submissions rejected at intake: %lld", rejected);
    CHECK(off == 0 && letters == breaches,
          "breaches %lld, apology letters %lld, dossiers whose letters differ from their "
          "breaches: %lld",
          breaches, letters, off);
#undef CHECK
    return ok ? 0 : mc_err(err, errlen, MC_EINVAL, "the replayed year fails its checks");
}

static int replay_year(struct replay *r, int year, double scale, uint64_t seed, char *err,
                       size_t errlen)
{
    struct mc_sample_list generated = {0}, fresh = {0};
    struct out_list subs = {0}, pending = {0};
    struct mc_sample_units *units = NULL;
    struct mc_calendar *cal = mc_calendar_new(NULL);
    int32_t first = mc_days_from_civil(year, 1, 1), next = mc_days_from_civil(year + 1, 1, 1);
    int count = (int)lround(YEAR_DOSSIERS * scale), online = (int)lround(YEAR_ONLINE * scale);
    int rc, sub_pub = 0, sub_loaded = 0, pend_next = 0, serial = 0;
    long long existing, rejected_before;
    mc_instant settle_at = 0;
    double started = wall_s(), t_gen;
    char tag[32];

    if ((existing = sql_int(r, "SELECT count(*) FROM intake.dossier", 0, NULL, err, errlen)) < 0)
        return MC_EDB;
    if (existing > 0) {
        rc = mc_err(err, errlen, MC_EINVAL,
                    "the database holds %lld dossiers already: a replay needs a fresh stack on "
                    "the topic clock (deploy/local/replay starts one)",
                    existing);
        goto out;
    }
    rejected_before = sql_int(r, "SELECT count(*) FROM intake.rejection", 0, NULL, err, errlen);
    if (r->metrics) {
        if ((r->updates_before = ask_metric(r, &updates_stored, err, errlen)) < 0) {
            rc = MC_EIO;
            goto out;
        }
    }
    if ((rc = mc_calendar_load(cal, r->conn, NULL, err, errlen)) != 0)
        goto out;
    snprintf(tag, sizeof tag, "%d-%" PRIu64, year, seed);
    if ((rc = mc_sample_submissions(r->conn, first, next, count, online, seed, tag, &generated, err,
                                    errlen)) != 0)
        goto out;
    out_take(&subs, &generated, &serial);
    if ((units = mc_sample_units_new(r->conn, LATE_SHARE, seed, err, errlen)) == NULL) {
        rc = MC_EDB;
        goto out;
    }
    t_gen = wall_s() - started;
    printf("replaying %d: %d dossiers (%d online) generated in %.1f s; ticks at 07:30, 12:00, "
           "17:30; submissions published %d days ahead of the clock\n",
           year, count, online, t_gen, LOOKAHEAD_DAYS);
    fflush(stdout);
    if ((rc = tick(r, mc_vn_day_start(first), err, errlen)) != 0)
        goto out;

    for (int32_t day = first;; day++) {
        mc_instant day_end = mc_vn_day_start(day + 1);
        int day_first = sub_loaded, to, y, m, d;
        PGresult *res;

        /* The submissions of the days ahead. */
        for (to = sub_pub; to < subs.n && subs.items[to].at < day_end + LOOKAHEAD_DAYS * 86400;)
            to++;
        if (to > sub_pub && (rc = publish(r, r->t_submissions, &subs, sub_pub, to, err, errlen)))
            goto out;
        sub_pub = to;
        /* The day's dossiers, once assigned, and what their units do. */
        while (sub_loaded < subs.n && subs.items[sub_loaded].at < day_end)
            sub_loaded++;
        if (sub_loaded > day_first) {
            double t0 = wall_s();
            if ((res = assigned_on(r, day, sub_loaded - day_first, rejected_before, err, errlen)) ==
                NULL) {
                rc = MC_EDB;
                goto out;
            }
            r->s_assigned += wall_s() - t0;
            rejected_before += sub_loaded - day_first - PQntuples(res);
            rc = mc_sample_units_plan(units, res, &fresh, err, errlen);
            PQclear(res);
            if (rc != 0)
                goto out;
            merge_pending(&pending, &pend_next, &fresh, &serial);
        }
        for (size_t k = 0; k < sizeof tick_minutes / sizeof tick_minutes[0]; k++) {
            mc_instant t = mc_vn_day_start(day) + (mc_instant)tick_minutes[k] * 60;
            for (to = pend_next; to < pending.n && pending.items[to].at < t;)
                to++;
            if (to > pend_next) {
                if ((rc = publish(r, r->t_updates, &pending, pend_next, to, err, errlen)) != 0 ||
                    (rc = wait_stored(r, &pending, pend_next, to, err, errlen)) != 0)
                    goto out;
                r->updates_published += to - pend_next;
                pend_next = to;
            }
            if ((rc = tick(r, t, err, errlen)) != 0)
                goto out;
        }
        mc_civil_from_days(day + 1, &y, &m, &d);
        if (d == 1)
            progress(r, day, started); /* at each month's end */
        /* After the year: until every update is out and the last due date
         * (and the explanations it asks for) has passed. */
        if (day + 1 >= next && sub_loaded == subs.n && pend_next == pending.n) {
            if (settle_at == 0) {
                long long last_due =
                    sql_int(r,
                            "SELECT coalesce(extract(epoch FROM max(greatest(due_at, "
                            "rescheduled_due_at))), 0)::bigint FROM deadline.clock",
                            0, NULL, err, errlen);
                if (last_due < 0) {
                    rc = MC_EDB;
                    goto out;
                }
                settle_at = mc_calendar_add_working(cal, (mc_instant)last_due,
                                                    SETTLE_WORKING_DAYS * MC_WORKING_DAY_SECONDS);
            }
            if (day_end > settle_at) {
                if (d != 1)
                    progress(r, day, started);
                mc_civil_from_days(day, &y, &m, &d);
                double played = wall_s() - started - t_gen;
                printf("played %d through %04d-%02d-%02d: %ld unit updates, %ld clock ticks, "
                       "%.0f s\n",
                       year, y, m, d, r->updates_published, r->ticks, wall_s() - started);
                printf("  of which: publishing %.1f s (ticks %.1f s); waiting for the "
                       "assignments %.1f s, the updates stored %.1f s, the sweeps %.1f s (%.1f ms "
                       "a tick); the rest %.1f s\n",
                       r->s_publish + r->s_tick, r->s_tick, r->s_assigned, r->s_stored, r->s_swept,
                       r->ticks ? 1000.0 * r->s_swept / (double)r->ticks : 0.0,
                       played - r->s_publish - r->s_tick - r->s_assigned - r->s_stored -
                           r->s_swept);
                break;
            }
        }
    }
    rc = check_year(r, count, online, err, errlen);
    printf("\nwall time: %.0f s (generation %.1f s)\n", wall_s() - started, t_gen);
out:
    out_free(&subs, 0);
    free(subs.items);
    out_free(&pending, 0);
    free(pending.items);
    mc_sample_list_free(&generated);
    mc_sample_list_free(&fresh);
    mc_sample_units_free(units);
    mc_calendar_free(cal);
    return rc;
}

static int usage(const char *why)
{
    if (why)
        fprintf(stderr, "motcua replay: %s\n", why);
    fprintf(stderr,
            "usage: motcua replay --year YYYY [--scale F] [--seed S] [--deadline-metrics URL]\n"
            "Plays the reference city's year (%d dossiers, %d online, times F) through the\n"
            "running services on the topic clock (MOTCUA_CLOCK=topic), day by day, and\n"
            "checks the totals and one letter per breach. Needs a fresh stack:\n"
            "deploy/local/replay starts one and prints the year's report.\n"
            "--deadline-metrics: the /metrics URL of the (one) deadline instance, which\n"
            "must not restart during the replay; each tick then waits on its swept_until\n"
            "gauge, and the updates before it on its updates_total counter, instead of\n"
            "asking deadline.clock and deadline.update.\n",
            YEAR_DOSSIERS, YEAR_ONLINE);
    return 2;
}

int mc_cli_replay(const struct mc_config *cfg, int argc, char **argv)
{
    struct replay r = {.cfg = cfg};
    const char *year_s = NULL, *scale_s = "1", *seed_s = NULL, *metrics = NULL;
    char err[1024] = "", *end;
    unsigned long long seed;
    double scale;
    long year;
    int rc;

    for (int i = 1; i < argc; i++) {
        const char **slot = strcmp(argv[i], "--year") == 0               ? &year_s
                            : strcmp(argv[i], "--scale") == 0            ? &scale_s
                            : strcmp(argv[i], "--seed") == 0             ? &seed_s
                            : strcmp(argv[i], "--deadline-metrics") == 0 ? &metrics
                                                                         : NULL;
        if (slot == NULL || i + 1 >= argc)
            return usage(slot ? "option needs a value" : "unknown option");
        *slot = argv[++i];
    }
    if (year_s == NULL)
        return usage("--year is required");
    errno = 0;
    year = strtol(year_s, &end, 10);
    if (errno || *end || year < 2020 || year > 2026)
        return usage("--year needs a year the calendar covers, 2020 to 2026");
    errno = 0;
    scale = strtod(scale_s, &end);
    if (errno || *end || !(scale > 0.0 && scale <= 10.0))
        return usage("--scale needs a number above 0, at most 10");
    if (seed_s == NULL)
        seed_s = year_s;
    errno = 0;
    seed = strtoull(seed_s, &end, 10);
    if (errno || *end || *seed_s == '-' || *seed_s == '\0')
        return usage("--seed needs a non-negative integer");

    mc_topic_name(cfg, "submissions", r.t_submissions, sizeof r.t_submissions);
    mc_topic_name(cfg, "dossier.updates", r.t_updates, sizeof r.t_updates);
    mc_topic_name(cfg, "clock", r.t_clock, sizeof r.t_clock);
    if ((r.conn = mc_pg_connect(cfg->pg_url, "motcua-replay", err, sizeof err)) == NULL ||
        (r.rk = mc_kafka_producer_new(cfg, dr_cb, &r, err, sizeof err)) == NULL) {
        fprintf(stderr, "motcua replay: %s\n", err);
        PQfinish(r.conn);
        return 1;
    }
    if (metrics != NULL) {
        if ((r.curl = curl_easy_init()) == NULL) {
            fprintf(stderr, "motcua replay: cannot make an HTTP client\n");
            rd_kafka_destroy(r.rk);
            PQfinish(r.conn);
            return 1;
        }
        r.metrics = metrics;
        curl_easy_setopt(r.curl, CURLOPT_URL, metrics);
        curl_easy_setopt(r.curl, CURLOPT_TIMEOUT_MS, 5000L);
        curl_easy_setopt(r.curl, CURLOPT_WRITEFUNCTION, keep_body);
    }
    rc = replay_year(&r, (int)year, scale, seed, err, sizeof err);
    rd_kafka_flush(r.rk, 10000);
    rd_kafka_destroy(r.rk);
    if (r.curl)
        curl_easy_cleanup(r.curl);
    PQfinish(r.conn);
    if (rc != 0) {
        fprintf(stderr, "motcua replay: %s\n", err);
        return 1;
    }
    return 0;
}
