/* deadline: one clock per dossier, carried through its whole lifecycle
 * (pauses and restarts for supplements, one reschedule, final states) from
 * dossier.received, dossier.assigned and unit updates; fires each warning
 * rung and each breach exactly once (ledger keyed by dossier, deadline
 * version and rung) however many instances sweep. */
#include "deadline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "motcua/catalog.h"
#include "motcua/topics.h"
#include "motcua/error.h"
#include "motcua/jsonutil.h"
#include "motcua/log.h"
#include "motcua/metrics.h"
#include "motcua/outbox.h"
#include "motcua/pg.h"
#include "motcua/schema.h"

#define CATALOG_MAX_AGE_S 60
#define TOPIC_CLOCK_POLL_MS 50
#define WALL_SWEEP_MAX_SLEEP_MS 60000 /* NOTIFY wakes us earlier */
#define SWEEP_ROUNDS 10               /* claim transactions per loop turn */
#define RECOMPUTE_CHUNK 500           /* clocks per recompute transaction */
#define OPEN_COUNT_EVERY_S 60         /* counting open clocks scans them all */
#define MAX_RUNGS 8
#define MAX_ITEMS (MAX_RUNGS + 2)

enum rung_kind { RUNG_WORKING_DAYS, RUNG_DUE_DAY, RUNG_PERCENT };

struct rung {
    enum rung_kind kind;
    int n; /* working days, or percent */
    char name[16];
};

struct deadline {
    struct mc_service *svc;
    const struct mc_config *cfg;
    struct mc_schema *received_schema, *assigned_schema, *update_schema;
    struct mc_catalog *catalog;
    struct rung rungs[MAX_RUNGS];
    int nrungs;
    struct mc_metric *m_breaches, *m_warnings, *m_skipped, *m_stale, *m_lateness, *m_open,
        *m_refused, *m_swept;
    time_t open_counted_at;
    long long calendar_revision; /* the catalog calendar revision applied */
    /* Read by deadline_batch for the batch being applied. */
    json_t *b_count;   /* dossier code -> messages about it in the batch */
    json_t *b_clocks;  /* codes with a clock row */
    json_t *b_waiting; /* codes with updates parked for their dossier */
};

static const char SELECT_CLOCKS[] = "SELECT dossier_code FROM deadline.clock WHERE dossier_code IN "
                                    "(SELECT jsonb_array_elements_text($1::jsonb))";

static const char SELECT_WAITING[] =
    "SELECT DISTINCT dossier_code FROM deadline.update WHERE NOT applied AND dossier_code IN "
    "(SELECT jsonb_array_elements_text($1::jsonb))";

/* Set-based (mc_service_write_rows): new clocks of received dossiers, with
 * the next fire instant computed in C. */
static const char INSERT_CLOCKS[] =
    "INSERT INTO deadline.clock (dossier_code, received, channel, notify_channels, applicant, "
    "procedure, received_at, receipt_at, original_due_at, period_start_at, due_at, rule_set, "
    "supplement_policy, statutory_time, calendar_unit, next_fire_at) SELECT dossier_code, true, "
    "channel, notify_channels, applicant, procedure, received_at, receipt_at, due_at, "
    "receipt_at, due_at, rule_set, supplement_policy, statutory_time, calendar_unit, "
    "next_fire_at FROM jsonb_to_recordset($1::jsonb) AS x(dossier_code text, channel text, "
    "notify_channels jsonb, applicant jsonb, procedure jsonb, received_at timestamptz, "
    "receipt_at timestamptz, due_at timestamptz, rule_set text, supplement_policy text, "
    "statutory_time text, calendar_unit text, next_fire_at timestamptz) "
    "ON CONFLICT (dossier_code) DO NOTHING";

/* Set-based: the deciding unit of each assigned dossier. */
static const char UPSERT_UNITS[] =
    "INSERT INTO deadline.clock (dossier_code, unit) SELECT dossier_code, unit FROM "
    "jsonb_to_recordset($1::jsonb) AS x(dossier_code text, unit jsonb) ON CONFLICT "
    "(dossier_code) DO UPDATE SET unit = EXCLUDED.unit, updated_at = now()";

/* A clock row as the planner sees it (instants in Unix seconds, 0 = NULL). */
struct clock {
    char code[96];
    char calendar_unit[64];
    char state[16];
    int received, version, breaches;
    mc_instant receipt_at, due_at, rescheduled_due_at, armed_at, fired_through;
};

/* Something to fire: a warning rung or a breach, at an instant. */
struct item {
    char rung[24];
    int overdue;
    mc_instant at;
};

static int parse_rungs(struct deadline *d, const char *spec, char *err, size_t errlen)
{
    char *copy = mc_xstrdup(spec ? spec : ""), *save = NULL, *tok;
    int rc = 0;
    d->nrungs = 0;
    for (tok = strtok_r(copy, ",", &save); tok && rc == 0; tok = strtok_r(NULL, ",", &save)) {
        struct rung *r = &d->rungs[d->nrungs];
        char *end;
        long n = strtol(tok, &end, 10);
        if (d->nrungs == MAX_RUNGS) {
            rc =
                mc_err(err, errlen, MC_EINVAL, "MOTCUA_WARNING_RUNGS: at most %d rungs", MAX_RUNGS);
        } else if (strcmp(tok, "due-day") == 0) {
            r->kind = RUNG_DUE_DAY;
        } else if (end != tok && strcmp(end, "wd") == 0 && n >= 1 && n <= 60) {
            r->kind = RUNG_WORKING_DAYS;
            r->n = (int)n;
        } else if (end != tok && strcmp(end, "%") == 0 && n >= 1 && n <= 99) {
            r->kind = RUNG_PERCENT;
            r->n = (int)n;
        } else {
            rc = mc_err(err, errlen, MC_EINVAL,
                        "MOTCUA_WARNING_RUNGS: '%s' is not Nwd (1-60), due-day or P%% (1-99)", tok);
        }
        if (rc == 0) {
            snprintf(r->name, sizeof r->name, "%s", tok);
            d->nrungs++;
        }
    }
    free(copy);
    return rc;
}

static struct deadline *deadline_new(struct mc_service *svc, const struct mc_config *cfg,
                                     PGconn *conn, char *err, size_t errlen)
{
    static const double bounds[] = {0.1, 0.5, 1, 5, 15, 60, 300, 3600};
    struct deadline *d = mc_xcalloc(1, sizeof *d);
    d->svc = svc;
    d->cfg = cfg;
    d->b_count = json_object();
    d->b_clocks = json_object();
    d->b_waiting = json_object();
    if (parse_rungs(d, cfg->warning_rungs, err, errlen) != 0 ||
        (d->received_schema = mc_schema_load_named("dossier-received.v1", err, errlen)) == NULL ||
        (d->assigned_schema = mc_schema_load_named("dossier-assigned.v1", err, errlen)) == NULL ||
        (d->update_schema = mc_schema_load_named("dossier-update.v1", err, errlen)) == NULL ||
        (d->catalog = mc_catalog_load(conn, err, errlen)) == NULL) {
        mc_schema_free(d->received_schema);
        mc_schema_free(d->assigned_schema);
        mc_schema_free(d->update_schema);
        free(d);
        return NULL;
    }
    d->m_breaches = mc_metrics_counter("deadline", "breaches_total", "overdue events fired");
    d->m_warnings = mc_metrics_counter("deadline", "warnings_total", "warning events fired");
    d->m_stale = mc_metrics_counter("deadline", "stale_replays_total",
                                    "replayed dossier.received or dossier.assigned ignored: due "
                                    "before the retention window and no clock left");
    d->m_skipped = mc_metrics_counter("deadline", "warnings_skipped_total",
                                      "warnings not sent because the date they warn of had "
                                      "passed (after an outage or a clock jump)");
    d->m_refused =
        mc_metrics_counter("deadline", "reschedules_refused_total", "reschedules refused");
    d->m_swept = mc_metrics_gauge("deadline", "swept_until_seconds",
                                  "clock instant (Unix seconds) up to which every due clock fired");
    d->m_open = mc_metrics_gauge("deadline", "open_clocks", "clocks with something left to fire");
    d->m_lateness = mc_metrics_histogram("deadline", "fire_lateness_seconds",
                                         "how late a fire was after its due instant (clock time)",
                                         bounds, sizeof bounds / sizeof bounds[0]);
    return d;
}

static void deadline_free(struct deadline *d)
{
    if (d == NULL)
        return;
    mc_schema_free(d->received_schema);
    mc_schema_free(d->assigned_schema);
    mc_schema_free(d->update_schema);
    mc_catalog_free(d->catalog);
    json_decref(d->b_count);
    json_decref(d->b_clocks);
    json_decref(d->b_waiting);
    free(d);
}

static void *deadline_init(struct mc_service *svc, PGconn *conn, char *err, size_t errlen)
{
    struct deadline *d = deadline_new(svc, mc_service_config(svc), conn, err, errlen);
    /* With no running clock there is nothing a calendar correction could
     * move: the calendar as it stands is the one applied. (Otherwise the
     * first sweep applies any revision not yet applied.) */
    if (d != NULL &&
        mc_pg_exec(conn,
                   "UPDATE deadline.recompute SET revision = (SELECT revision FROM "
                   "catalog.calendar_revision), cursor = '', moved = 0, done = true, done_at = "
                   "now() WHERE NOT EXISTS (SELECT 1 FROM deadline.clock WHERE state IN ('open', "
                   "'paused'))",
                   0, NULL, err, errlen) != 0) {
        deadline_free(d);
        return NULL;
    }
    return d;
}

static void deadline_fini(void *state)
{
    deadline_free(state);
}

/* The working calendar of a clock: its receiving desk's (or the city's). */
static const struct mc_calendar *cal_of(const struct deadline *d, const char *calendar_unit)
{
    return mc_catalog_calendar_for(d->catalog, calendar_unit[0] ? calendar_unit : NULL);
}

static char *dump(const json_t *j)
{
    return json_dumps(j ? j : json_null(), JSON_COMPACT | JSON_ENCODE_ANY);
}

static char *fmt_time(mc_instant t, char *buf)
{
    return mc_time_format(t, buf);
}

/* ---- the plan: what fires when -------------------------------------------- */

/* Every warning rung and breach of the clock's current deadline version, in
 * time order. The target of the rungs is the rescheduled date when there is
 * one; the first breach is always at the legal due date. */
static int plan(const struct deadline *d, const struct clock *c, struct item *items)
{
    const struct mc_calendar *cal = cal_of(d, c->calendar_unit);
    mc_instant target = c->rescheduled_due_at ? c->rescheduled_due_at : c->due_at;
    int64_t total = mc_calendar_working_between(cal, c->receipt_at, target);
    int n = 0;

    for (int i = 0; i < d->nrungs; i++) {
        const struct rung *r = &d->rungs[i];
        mc_instant at = 0;
        if (r->kind == RUNG_WORKING_DAYS) {
            int64_t before = (int64_t)r->n * MC_WORKING_DAY_SECONDS;
            if (total <= before)
                continue; /* the statutory time is shorter than the rung */
            at = mc_calendar_add_working(cal, mc_calendar_receipt_at(cal, c->receipt_at),
                                         total - before);
        } else if (r->kind == RUNG_PERCENT) {
            at = mc_calendar_add_working(cal, mc_calendar_receipt_at(cal, c->receipt_at),
                                         total * r->n / 100);
        } else {
            at = mc_calendar_receipt_at(cal, mc_vn_day_start(mc_vn_day(target)));
            if (at >= target || at <= c->receipt_at)
                continue; /* due the day it was received: nothing to warn of */
        }
        snprintf(items[n].rung, sizeof items[n].rung, "%s", r->name);
        items[n].overdue = 0;
        items[n++].at = at;
    }
    /* A breach is when the due instant has passed: one second after it. */
    snprintf(items[n].rung, sizeof items[n].rung, "overdue");
    items[n].overdue = 1;
    items[n++].at = c->due_at + 1;
    if (c->rescheduled_due_at > c->due_at) {
        snprintf(items[n].rung, sizeof items[n].rung, "overdue-rescheduled");
        items[n].overdue = 1;
        items[n++].at = c->rescheduled_due_at + 1;
    }
    for (int i = 1; i < n; i++) /* insertion sort: n is tiny */
        for (int j = i; j > 0 && items[j].at < items[j - 1].at; j--) {
            struct item t = items[j];
            items[j] = items[j - 1];
            items[j - 1] = t;
        }
    return n;
}

/* Items at or before this instant are done for the current version. */
static mc_instant boundary(const struct clock *c)
{
    return c->fired_through > c->armed_at ? c->fired_through : c->armed_at;
}

static mc_instant col_time(const PGresult *res, int row, int col)
{
    const char *v = mc_pg_value(res, row, col);
    return v ? (mc_instant)atoll(v) : 0;
}

#define CLOCK_COLUMNS                                                                              \
    "dossier_code, state, received, deadline_version, breaches, "                                  \
    "extract(epoch FROM receipt_at)::bigint, extract(epoch FROM due_at)::bigint, "                 \
    "extract(epoch FROM rescheduled_due_at)::bigint, extract(epoch FROM armed_at)::bigint, "       \
    "extract(epoch FROM fired_through)::bigint, coalesce(calendar_unit, '')"

static void clock_from_row(const PGresult *res, int i, struct clock *c)
{
    snprintf(c->code, sizeof c->code, "%s", PQgetvalue(res, i, 0));
    snprintf(c->state, sizeof c->state, "%s", PQgetvalue(res, i, 1));
    c->received = strcmp(PQgetvalue(res, i, 2), "t") == 0;
    c->version = atoi(PQgetvalue(res, i, 3));
    c->breaches = atoi(PQgetvalue(res, i, 4));
    c->receipt_at = col_time(res, i, 5);
    c->due_at = col_time(res, i, 6);
    c->rescheduled_due_at = col_time(res, i, 7);
    c->armed_at = col_time(res, i, 8);
    c->fired_through = col_time(res, i, 9);
    snprintf(c->calendar_unit, sizeof c->calendar_unit, "%s", PQgetvalue(res, i, 10));
}

/* Loads (and locks) one clock. Returns 1 found, 0 not found, <0 error. */
static int load_clock(PGconn *conn, const char *code, struct clock *c, char *err, size_t errlen)
{
    const char *params[1] = {code};
    PGresult *res = mc_pg_query(
        conn, "SELECT " CLOCK_COLUMNS " FROM deadline.clock WHERE dossier_code = $1 FOR UPDATE", 1,
        params, err, errlen);
    int found;
    if (res == NULL)
        return MC_EDB;
    found = PQntuples(res) == 1;
    if (found)
        clock_from_row(res, 0, c);
    PQclear(res);
    return found;
}

/* Stores the next fire instant of a clock from its plan. */
static int rearm(PGconn *conn, const struct deadline *d, const struct clock *c, char *err,
                 size_t errlen)
{
    struct item items[MAX_ITEMS];
    char next[MC_RFC3339_LEN];
    const char *params[2] = {c->code, NULL};
    int n;
    if (c->received && strcmp(c->state, "open") == 0) {
        n = plan(d, c, items);
        for (int i = 0; i < n; i++)
            if (items[i].at > boundary(c)) {
                params[1] = fmt_time(items[i].at, next);
                break;
            }
    }
    return mc_pg_exec(conn, "UPDATE deadline.clock SET next_fire_at = $2 WHERE dossier_code = $1",
                      2, params, err, errlen);
}

/* ---- events ---------------------------------------------------------------- */

/* A jsonb column as a new JSON value (null when SQL NULL). */
static json_t *load_col(const PGresult *res, int row, int col)
{
    const char *text = mc_pg_value(res, row, col);
    json_t *v = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
    return v ? v : json_null();
}

/* Publishes a dossier.<kind> event on dossier.deadlines carrying what notify
 * needs, read from the dossier's clock row. appointment 0: none. */
static int emit_clock_event(struct deadline *d, PGconn *conn, const char *code, const char *kind,
                            const char *rung, mc_instant rung_due, int breach, const char *reason,
                            mc_instant now, mc_instant appointment, const char *seed, char *err,
                            size_t errlen)
{
    const char *params[1] = {code};
    char type[64], nowtext[MC_RFC3339_LEN], apptext[MC_RFC3339_LEN], duetext[MC_RFC3339_LEN],
        topic[256];
    PGresult *res;
    json_t *data, *ev;
    int rc;
    res = mc_pg_query(conn,
                      "SELECT deadline_version, channel, notify_channels::text, applicant::text, "
                      "procedure::text, unit::text, motcua_rfc3339(received_at), "
                      "motcua_rfc3339(receipt_at), motcua_rfc3339(due_at), "
                      "motcua_rfc3339(rescheduled_due_at), reschedule_reason "
                      "FROM deadline.clock WHERE dossier_code = $1 AND received",
                      1, params, err, errlen);
    if (res == NULL)
        return MC_EDB;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return mc_err(err, errlen, MC_EINVAL, "dossier %s is not known to the deadline service",
                      code);
    }
    data = json_pack("{s:s, s:i, s:o, s:i, s:s, s:o, s:o, s:o, s:o, s:s, s:s, s:s, s:o, "
                     "s:o, s:s, s:o}",
                     "kind", kind, "breach", breach, "rung", mc_json_str_or_null(rung),
                     "deadline_version", atoi(PQgetvalue(res, 0, 0)), "channel",
                     PQgetvalue(res, 0, 1), "notify_channels", load_col(res, 0, 2), "applicant",
                     load_col(res, 0, 3), "procedure", load_col(res, 0, 4), "unit",
                     load_col(res, 0, 5), "received_at", PQgetvalue(res, 0, 6), "receipt_at",
                     PQgetvalue(res, 0, 7), "due_at", PQgetvalue(res, 0, 8), "rescheduled_due_at",
                     mc_json_str_or_null(mc_pg_value(res, 0, 9)), "new_appointment_at",
                     appointment ? json_string(fmt_time(appointment, apptext)) : json_null(),
                     "fired_at", fmt_time(now, nowtext), "reason",
                     mc_json_str_or_null(reason ? reason : mc_pg_value(res, 0, 10)));
    if (data && rung_due)
        json_object_set_new(data, "rung_due_at", json_string(fmt_time(rung_due, duetext)));
    PQclear(res);
    if (data == NULL)
        return mc_err(err, errlen, MC_EDB, "cannot build the %s event of %s", kind, code);
    snprintf(type, sizeof type, "dossier.%s", kind);
    if (d->svc)
        return mc_service_emit(d->svc, conn, "dossier.deadlines", code, type, code, now, data, seed,
                               err, errlen);
    ev = mc_event_new(type, "motcua-deadline", code, now, data);
    rc = mc_outbox_add(conn, "deadline",
                       mc_topic_name(d->cfg, "dossier.deadlines", topic, sizeof topic), code, ev,
                       seed, NULL, err, errlen);
    json_decref(ev);
    return rc;
}

/* ---- consumed events -------------------------------------------------------- */

static int apply_update(struct deadline *d, PGconn *conn, const json_t *ev, char *err,
                        size_t errlen);

/* 1 when a dossier.received or dossier.assigned (what) is a replay of a
 * dossier whose clock the retention already removed: unknown here and due
 * longer ago than MOTCUA_RETAIN_FINISHED_DAYS (by the service's clock).
 * Applying a dossier.received would open a clock that breaches at once and
 * send an apology for a dossier long finished; a dossier.assigned, a clock
 * holding only its unit, waiting forever. 0 to apply it; < 0 on a database
 * error. */
static int stale_replay(struct deadline *d, PGconn *conn, const char *what, const char *code,
                        const json_t *data, char *err, size_t errlen)
{
    const char *params[1] = {code};
    mc_instant now, due_at;
    PGresult *res;
    int known;
    if (d->svc == NULL || mc_service_now(d->svc, &now) != 0 ||
        mc_json_time(data, "due_at", &due_at) != 0 ||
        due_at >= now - (mc_instant)d->cfg->retain_finished_days * 86400)
        return 0;
    res = mc_pg_query(conn, "SELECT 1 FROM deadline.clock WHERE dossier_code = $1", 1, params, err,
                      errlen);
    if (res == NULL)
        return MC_EDB;
    known = PQntuples(res) > 0;
    PQclear(res);
    if (known)
        return 0;
    mc_service_count(d->svc, d->m_stale, 1);
    mc_log_kv(MC_LOG_WARN, "replayed event ignored: due before the retention window", "type", what,
              "dossier_code", code, NULL);
    return 1;
}

/* A new reference to v, or JSON null for none (as dump() writes it). */
static json_t *copy_or_null(const json_t *v)
{
    return v ? json_incref((json_t *)v) : json_null();
}

/* 1 when the batch is applied set-based and its only message about code
 * finds nothing waiting for the dossier: its rows can be written with the
 * batch's others (no later message of the batch reads them). */
static int alone(const struct deadline *d, const char *code)
{
    return d->svc && mc_service_set_based(d->svc) && code &&
           json_integer_value(json_object_get(d->b_count, code)) == 1 &&
           !json_object_get(d->b_waiting, code);
}

/* A new clock for a received dossier no other event touched yet, its next
 * fire instant planned here, written with the batch. */
static int insert_new_clock(struct deadline *d, PGconn *conn, const char *code, const json_t *data,
                            char *err, size_t errlen)
{
    const json_t *receiving = mc_catalog_receiving_unit(
        d->catalog, mc_json_str(data, "reception_point"), mc_json_str(data, "ward_code"),
        mc_json_str(data, "procedure/level"));
    struct item items[MAX_ITEMS];
    struct clock c;
    char next[MC_RFC3339_LEN];
    json_t *row;
    int n, rc;

    memset(&c, 0, sizeof c);
    snprintf(c.code, sizeof c.code, "%s", code);
    snprintf(c.state, sizeof c.state, "open");
    snprintf(c.calendar_unit, sizeof c.calendar_unit, "%s",
             receiving ? mc_json_str(receiving, "code") : "");
    c.received = 1;
    c.version = 1;
    if ((rc = mc_json_time_required(data, "receipt_at", &c.receipt_at, code, err, errlen)) != 0 ||
        (rc = mc_json_time_required(data, "due_at", &c.due_at, code, err, errlen)) != 0)
        return rc;
    next[0] = '\0';
    n = plan(d, &c, items);
    for (int i = 0; i < n && next[0] == '\0'; i++)
        if (items[i].at > boundary(&c))
            fmt_time(items[i].at, next);
    row =
        json_pack("{s:s, s:s, s:o, s:o, s:{s:s, s:s}, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o}",
                  "dossier_code", code, "channel", mc_json_str(data, "channel"), "notify_channels",
                  copy_or_null(json_object_get(data, "notify_channels")), "applicant",
                  copy_or_null(json_object_get(data, "applicant")), "procedure", "code",
                  mc_json_str(data, "procedure/code"), "name", mc_json_str(data, "procedure/name"),
                  "received_at", mc_json_str(data, "received_at"), "receipt_at",
                  mc_json_str(data, "receipt_at"), "due_at", mc_json_str(data, "due_at"),
                  "rule_set", mc_json_str(data, "rule_set/code"), "supplement_policy",
                  mc_json_str(data, "rule_set/supplement_policy"), "statutory_time",
                  mc_json_str(data, "procedure/time"), "calendar_unit",
                  mc_json_str_or_null(c.calendar_unit[0] ? c.calendar_unit : NULL), "next_fire_at",
                  mc_json_str_or_null(next[0] ? next : NULL));
    if (row == NULL)
        return mc_err(err, errlen, MC_EINVAL, "cannot build the clock of %s", code);
    rc = mc_service_write_rows(d->svc, conn, INSERT_CLOCKS, row, err, errlen);
    return rc < 0 ? rc : 0;
}

/* Locks the batch's dossiers and reads, once for the whole batch, which
 * have a clock and which have updates waiting; counts the batch's
 * messages per dossier. */
static int deadline_batch(struct mc_service *svc, PGconn *conn, const struct mc_msg *const *msgs,
                          int n, char *err, size_t errlen, void *state)
{
    struct deadline *d = state;
    json_t *codes = json_array();
    char *text;
    int rc;
    (void)svc;

    json_object_clear(d->b_count);
    json_object_clear(d->b_clocks);
    json_object_clear(d->b_waiting);
    for (int i = 0; i < n; i++) {
        const char *code = mc_json_str(msgs[i]->doc, "dossier_code");
        if (code == NULL)
            continue;
        json_object_set_new(
            d->b_count, code,
            json_integer(json_integer_value(json_object_get(d->b_count, code)) + 1));
        json_array_append_new(codes, json_string(code));
    }
    if (json_array_size(codes) == 0) {
        json_decref(codes);
        return 0;
    }
    text = json_dumps(codes, JSON_COMPACT);
    json_decref(codes);
    rc = mc_lock_dossiers(conn, "deadline", text, err, errlen);
    if (rc == 0)
        rc = mc_pg_collect(conn, SELECT_CLOCKS, text, d->b_clocks, err, errlen);
    if (rc == 0)
        rc = mc_pg_collect(conn, SELECT_WAITING, text, d->b_waiting, err, errlen);
    free(text);
    return rc;
}

static int on_received(struct deadline *d, PGconn *conn, const struct mc_msg *msg, char *err,
                       size_t errlen)
{
    json_t *data = json_object_get(msg->doc, "data");
    json_t *procedure;
    char *applicant, *channels, *proc;
    const char *params[12];
    const json_t *receiving;
    const char *code = mc_json_str(msg->doc, "dossier_code");
    struct clock c;
    PGresult *res;
    int rc;

    if ((rc = mc_schema_check(d->received_schema, msg->doc, "dossier.received", err, errlen)) != 0)
        return rc;
    if ((rc = stale_replay(d, conn, "dossier.received", code, data, err, errlen)) != 0)
        return rc > 0 ? 0 : rc;
    if (alone(d, code) && !json_object_get(d->b_clocks, code))
        return insert_new_clock(d, conn, code, data, err, errlen);
    procedure = json_pack("{s:s, s:s}", "code", mc_json_str(data, "procedure/code"), "name",
                          mc_json_str(data, "procedure/name"));
    applicant = dump(json_object_get(data, "applicant"));
    channels = dump(json_object_get(data, "notify_channels"));
    proc = dump(procedure);
    params[0] = code;
    params[1] = mc_json_str(data, "channel");
    params[2] = channels;
    params[3] = applicant;
    params[4] = proc;
    params[5] = mc_json_str(data, "received_at");
    params[6] = mc_json_str(data, "receipt_at");
    params[7] = mc_json_str(data, "due_at");
    params[8] = mc_json_str(data, "rule_set/code");
    params[9] = mc_json_str(data, "rule_set/supplement_policy");
    params[10] = mc_json_str(data, "procedure/time");
    /* The receiving desk's calendar, as intake used it for the due date. */
    receiving = mc_catalog_receiving_unit(d->catalog, mc_json_str(data, "reception_point"),
                                          mc_json_str(data, "ward_code"),
                                          mc_json_str(data, "procedure/level"));
    params[11] = receiving ? mc_json_str(receiving, "code") : NULL;
    /* The clock may exist already (assignment first); a second copy of the
     * dossier changes nothing. */
    res = mc_pg_query(conn,
                      "INSERT INTO deadline.clock AS c (dossier_code, received, channel, "
                      "notify_channels, applicant, procedure, received_at, receipt_at, "
                      "original_due_at, period_start_at, due_at, rule_set, supplement_policy, "
                      "statutory_time, calendar_unit) VALUES ($1, true, $2, $3::jsonb, $4::jsonb, "
                      "$5::jsonb, $6, $7, $8, $7, $8, $9, $10, $11, $12) ON CONFLICT "
                      "(dossier_code) DO UPDATE SET calendar_unit = EXCLUDED.calendar_unit, "
                      "received = true, channel = EXCLUDED.channel, notify_channels = "
                      "EXCLUDED.notify_channels, applicant = EXCLUDED.applicant, procedure = "
                      "EXCLUDED.procedure, received_at = EXCLUDED.received_at, receipt_at = "
                      "EXCLUDED.receipt_at, original_due_at = EXCLUDED.original_due_at, "
                      "period_start_at = EXCLUDED.period_start_at, due_at = EXCLUDED.due_at, "
                      "rule_set = EXCLUDED.rule_set, supplement_policy = "
                      "EXCLUDED.supplement_policy, statutory_time = EXCLUDED.statutory_time, "
                      "updated_at = now() WHERE NOT c.received RETURNING 1",
                      12, params, err, errlen);
    free(applicant);
    free(channels);
    free(proc);
    json_decref(procedure);
    if (res == NULL)
        return MC_EDB;
    rc = PQntuples(res);
    PQclear(res);
    if (rc == 0)
        return 0; /* known already */

    /* Updates that arrived before the dossier now apply, in the order they happened. */
    params[0] = code;
    res = mc_pg_query(conn,
                      "SELECT json_build_object('event_id', event_id, 'dossier_code', "
                      "dossier_code, 'occurred_at', motcua_rfc3339(occurred_at), 'data', "
                      "json_strip_nulls(json_build_object('status', status, 'unit_code', "
                      "unit_code, 'reason', reason, 'new_due_at', "
                      "motcua_rfc3339(new_due_at))))::text FROM deadline.update WHERE "
                      "dossier_code = $1 AND NOT applied ORDER BY occurred_at, event_id",
                      1, params, err, errlen);
    if (res == NULL)
        return MC_EDB;
    rc = 0;
    for (int i = 0; i < PQntuples(res) && rc == 0; i++) {
        json_t *ev = json_loads(PQgetvalue(res, i, 0), 0, NULL);
        rc = apply_update(d, conn, ev, err, errlen);
        json_decref(ev);
    }
    PQclear(res);
    if (rc)
        return rc;
    if ((rc = load_clock(conn, code, &c, err, errlen)) < 0)
        return rc;
    return rearm(conn, d, &c, err, errlen);
}

static int on_assigned(struct deadline *d, PGconn *conn, const struct mc_msg *msg, char *err,
                       size_t errlen)
{
    char *unit;
    const char *params[2];
    int rc;
    if ((rc = mc_schema_check(d->assigned_schema, msg->doc, "dossier.assigned", err, errlen)) != 0)
        return rc;
    if ((rc = stale_replay(d, conn, "dossier.assigned", mc_json_str(msg->doc, "dossier_code"),
                           json_object_get(msg->doc, "data"), err, errlen)) != 0)
        return rc > 0 ? 0 : rc;
    if (alone(d, mc_json_str(msg->doc, "dossier_code"))) {
        json_t *row = json_pack("{s:s, s:o}", "dossier_code", mc_json_str(msg->doc, "dossier_code"),
                                "unit", copy_or_null(mc_json_at(msg->doc, "data/unit")));
        if (row == NULL)
            return mc_err(err, errlen, MC_EINVAL, "cannot build the unit row");
        rc = mc_service_write_rows(d->svc, conn, UPSERT_UNITS, row, err, errlen);
        return rc < 0 ? rc : 0;
    }
    unit = dump(mc_json_at(msg->doc, "data/unit"));
    params[0] = mc_json_str(msg->doc, "dossier_code");
    params[1] = unit;
    rc = mc_pg_exec(conn,
                    "INSERT INTO deadline.clock (dossier_code, unit) VALUES ($1, $2::jsonb) "
                    "ON CONFLICT (dossier_code) DO UPDATE SET unit = EXCLUDED.unit, "
                    "updated_at = now()",
                    2, params, err, errlen);
    free(unit);
    return rc;
}

/* A refusal goes back to the unit on dossier.deadlines, saying why. */
static int refuse(struct deadline *d, PGconn *conn, const json_t *ev, const struct clock *c,
                  const char *why, char *err, size_t errlen)
{
    char seed[256];
    mc_instant at;
    int rc;
    if ((rc = mc_json_time_required(ev, "occurred_at", &at, c->code, err, errlen)) != 0)
        return rc;
    snprintf(seed, sizeof seed, "deadline/refused/%s", mc_json_str(ev, "event_id"));
    mc_service_count(d->svc, d->m_refused, 1);
    return emit_clock_event(d, conn, c->code, "reschedule_refused", NULL, 0, c->breaches, why, at,
                            0, seed, err, errlen);
}

/* The legal due date of a statutory period started at start, extended by
 * the pause policy's accumulated waiting time. */
static mc_instant legal_due(const struct deadline *d, const char *calendar_unit, mc_instant start,
                            const char *statutory, int64_t paused_s)
{
    struct mc_duration dur;
    char e[128];
    mc_instant due;
    if (mc_duration_parse(statutory, &dur, e, sizeof e) != 0)
        return 0;
    due = mc_calendar_due_at(cal_of(d, calendar_unit), start, &dur);
    return paused_s > 0 ? mc_calendar_add_working(cal_of(d, calendar_unit), due, paused_s) : due;
}

/* Applies one unit update to a received clock (the caller has the update
 * stored in deadline.update). */
static int apply_update(struct deadline *d, PGconn *conn, const json_t *ev, char *err,
                        size_t errlen)
{
    const char *code = mc_json_str(ev, "dossier_code");
    const char *status = mc_json_str(ev, "data/status");
    const char *occurred_text = mc_json_str(ev, "occurred_at");
    const char *params[4] = {code, NULL, NULL, NULL};
    char t1[MC_RFC3339_LEN], t2[MC_RFC3339_LEN], num[32];
    struct clock c;
    mc_instant occurred, new_due;
    int rc, open, paused;

    if ((rc = load_clock(conn, code, &c, err, errlen)) < 0)
        return rc;
    if ((rc = mc_json_time_required(ev, "occurred_at", &occurred, code, err, errlen)) != 0)
        return rc;
    open = strcmp(c.state, "open") == 0;
    paused = strcmp(c.state, "paused") == 0;

    if (strcmp(status, "result_ready") == 0 || strcmp(status, "returned") == 0 ||
        strcmp(status, "withdrawn") == 0 || strcmp(status, "stopped") == 0) {
        if (!open && !paused)
            goto applied; /* already final */
        params[1] = strcmp(status, "result_ready") == 0 ? "finished" : status;
        if ((rc = mc_pg_exec(conn,
                             "UPDATE deadline.clock SET state = $2, next_fire_at = NULL, "
                             "paused_at = NULL, updated_at = now() WHERE dossier_code = $1",
                             2, params, err, errlen)) != 0)
            return rc;
        goto applied;
    }
    if (strcmp(status, "supplement_requested") == 0) {
        if (!open && !paused)
            goto applied;
        /* A second request on the same dossier counts it as late. */
        params[1] = occurred_text;
        if ((rc = mc_pg_exec(conn,
                             "UPDATE deadline.clock SET state = 'paused', paused_at = "
                             "coalesce(paused_at, $2::timestamptz), supplements = supplements + 1, "
                             "counted_late = counted_late OR supplements + 1 >= 2, "
                             "next_fire_at = NULL, updated_at = now() WHERE dossier_code = $1",
                             2, params, err, errlen)) != 0)
            return rc;
        goto applied;
    }
    if (strcmp(status, "supplement_received") == 0) {
        PGresult *res;
        const char *policy, *statutory;
        mc_instant start, paused_at;
        int64_t paused_s;
        if (!paused)
            goto applied; /* nothing was asked for */
        res = mc_pg_query(conn,
                          "SELECT supplement_policy, statutory_time, extract(epoch FROM "
                          "period_start_at)::bigint, paused_working_s, extract(epoch FROM "
                          "paused_at)::bigint FROM deadline.clock WHERE dossier_code = $1",
                          1, params, err, errlen);
        if (res == NULL)
            return MC_EDB;
        policy = PQgetvalue(res, 0, 0);
        statutory = PQgetvalue(res, 0, 1);
        start = col_time(res, 0, 2);
        paused_s = atoll(PQgetvalue(res, 0, 3));
        paused_at = col_time(res, 0, 4);
        if (strcmp(policy, "restart") == 0) {
            /* The full statutory time runs again from the completed supplement. */
            start = occurred;
            paused_s = 0;
        } else {
            paused_s +=
                mc_calendar_working_between(cal_of(d, c.calendar_unit), paused_at, occurred);
        }
        new_due = legal_due(d, c.calendar_unit, start, statutory, paused_s);
        PQclear(res);
        if (new_due == 0)
            return mc_err(err, errlen, MC_EINVAL, "dossier %s has no valid statutory time", code);
        params[1] = fmt_time(start, t1);
        params[2] = fmt_time(new_due, t2);
        snprintf(num, sizeof num, "%lld", (long long)paused_s);
        params[3] = num;
        {
            /* The later rungs of the new version count from the resumption. */
            const char *p5[5] = {code, params[1], params[2], params[3], occurred_text};
            if ((rc = mc_pg_exec(conn,
                                 "UPDATE deadline.clock SET state = 'open', paused_at = NULL, "
                                 "period_start_at = $2, due_at = $3, paused_working_s = $4, "
                                 "deadline_version = deadline_version + 1, armed_at = $5, "
                                 "updated_at = now() WHERE dossier_code = $1",
                                 5, p5, err, errlen)) != 0)
                return rc;
        }
        goto rearm;
    }
    if (strcmp(status, "reschedule") == 0) {
        const char *why = NULL;
        mc_instant requested = 0;
        if (mc_json_str(ev, "data/reason") == NULL ||
            mc_json_time(ev, "data/new_due_at", &requested) != 0)
            why = "a reschedule needs new_due_at and reason";
        else if (!open && !paused)
            why = "the dossier is no longer being processed";
        else if (c.rescheduled_due_at)
            why = "the appointment may be moved only once";
        else if (requested <= c.due_at)
            why = "the new date must be after the due date";
        if (why) {
            if ((rc = refuse(d, conn, ev, &c, why, err, errlen)) != 0)
                return rc;
            goto applied;
        }
        /* The official due date is kept; the new date is stored beside it and
         * the warnings are re-armed against it. */
        params[1] = fmt_time(requested, t1);
        params[2] = mc_json_str(ev, "data/reason");
        params[3] = occurred_text;
        if ((rc = mc_pg_exec(conn,
                             "UPDATE deadline.clock SET rescheduled_due_at = $2, "
                             "reschedule_reason = $3, deadline_version = deadline_version + 1, "
                             "armed_at = $4, updated_at = now() WHERE dossier_code = $1",
                             4, params, err, errlen)) != 0)
            return rc;
        goto rearm;
    }
    goto applied; /* processing, paying, transfer: history only */

rearm:
    if ((rc = load_clock(conn, code, &c, err, errlen)) < 0 ||
        (rc = rearm(conn, d, &c, err, errlen)) != 0)
        return rc;
applied:
    params[0] = mc_json_str(ev, "event_id");
    return mc_pg_exec(conn, "UPDATE deadline.update SET applied = true WHERE event_id = $1", 1,
                      params, err, errlen);
}

static int on_update(struct deadline *d, PGconn *conn, const struct mc_msg *msg, char *err,
                     size_t errlen)
{
    const char *params[7];
    struct clock c;
    int rc;

    if ((rc = mc_schema_check(d->update_schema, msg->doc, "dossier.update", err, errlen)) != 0)
        return rc;
    params[0] = mc_json_str(msg->doc, "event_id");
    params[1] = mc_json_str(msg->doc, "dossier_code");
    params[2] = mc_json_str(msg->doc, "data/status");
    params[3] = mc_json_str(msg->doc, "data/unit_code");
    params[4] = mc_json_str(msg->doc, "occurred_at");
    params[5] = mc_json_str(msg->doc, "data/reason");
    params[6] = mc_json_str(msg->doc, "data/new_due_at");
    if ((rc = mc_pg_exec(conn,
                         "INSERT INTO deadline.update (event_id, dossier_code, status, unit_code, "
                         "occurred_at, reason, new_due_at) VALUES ($1,$2,$3,$4,$5,$6,$7) "
                         "ON CONFLICT DO NOTHING",
                         7, params, err, errlen)) != 0)
        return rc;
    if ((rc = load_clock(conn, params[1], &c, err, errlen)) < 0)
        return rc;
    if (rc == 0 || !c.received) {
        /* Parked: applied when the dossier arrives. Where it was read and
         * its bytes are kept, for the dead letter if it never does. */
        char partition[16], offset[24], *text = json_dumps(msg->doc, JSON_COMPACT);
        const char *p[4] = {params[0], partition, offset, text};
        snprintf(partition, sizeof partition, "%d", (int)msg->partition);
        snprintf(offset, sizeof offset, "%lld", (long long)msg->offset);
        rc = mc_pg_exec(conn,
                        "UPDATE deadline.update SET read_partition = $2, read_offset = $3, "
                        "payload = $4::jsonb WHERE event_id = $1 AND NOT applied",
                        4, p, err, errlen);
        free(text);
        return rc;
    }
    return apply_update(d, conn, msg->doc, err, errlen);
}

static int deadline_handle(struct mc_service *svc, PGconn *conn, const struct mc_msg *msg,
                           char *err, size_t errlen, void *state)
{
    struct deadline *d = state;
    int rc;
    if ((rc = mc_catalog_maybe_reload(&d->catalog, conn, CATALOG_MAX_AGE_S, err, errlen)) != 0)
        return rc;
    /* deadline_batch holds the dossier's lock. */
    if (strcmp(msg->topic, "dossier.received") == 0)
        return on_received(d, conn, msg, err, errlen);
    if (strcmp(msg->topic, "dossier.assigned") == 0)
        return on_assigned(d, conn, msg, err, errlen);
    return on_update(d, conn, msg, err, errlen);
}

/* ---- calendar corrections ------------------------------------------------------ */

/* Moves the due date of one clock (a row of the recompute query) to what
 * the calendar says now, if it differs: a new deadline version, re-armed
 * warnings and a dossier.deadline_moved event at now. 1 when it moved. */
static int recompute_clock(struct deadline *d, PGconn *conn, PGresult *res, int i, mc_instant now,
                           char *err, size_t errlen)
{
    const char *code = PQgetvalue(res, i, 0);
    mc_instant old_due = col_time(res, i, 4);
    mc_instant new_due = legal_due(d, PQgetvalue(res, i, 5), col_time(res, i, 2),
                                   PQgetvalue(res, i, 1), atoll(PQgetvalue(res, i, 3)));
    char t1[MC_RFC3339_LEN], t2[MC_RFC3339_LEN], reason[256], seed[256];
    const char *params[2] = {code, t1};
    struct clock c;
    int rc;
    if (new_due == 0 || new_due == old_due)
        return 0;
    fmt_time(new_due, t1);
    /* armed_at is kept: what fired stays fired (fired_through), and an item
     * of the new version that is already due (a due date moved earlier)
     * fires at the next sweep instead of never. */
    if ((rc = mc_pg_exec(conn,
                         "UPDATE deadline.clock SET due_at = $2, deadline_version = "
                         "deadline_version + 1, updated_at = now() WHERE dossier_code = $1",
                         2, params, err, errlen)) != 0 ||
        (rc = load_clock(conn, code, &c, err, errlen)) < 0 ||
        (rc = rearm(conn, d, &c, err, errlen)) != 0)
        return rc < 0 ? rc : MC_EDB;
    snprintf(reason, sizeof reason,
             "the working calendar was corrected: the due date moved from %s to %s",
             fmt_time(old_due, t2), t1);
    snprintf(seed, sizeof seed, "deadline/moved/%s/%d", code, c.version);
    if ((rc = emit_clock_event(d, conn, code, "deadline_moved", NULL, 0, c.breaches, reason, now, 0,
                               seed, err, errlen)) != 0)
        return rc;
    return 1;
}

/* Applies a calendar correction: when the catalog's calendar revision is
 * one this service has not applied, recomputes the open and paused clocks
 * not yet breached (a breached dossier has had its apology and new
 * appointment; its date is not reopened), RECOMPUTE_CHUNK of them per
 * transaction in dossier-code order, with "now" from the service's clock.
 * Progress is in deadline.recompute, so any instance goes on where another
 * stopped; an advisory lock keeps it to one at a time. *more is set when
 * chunks remain. Returns 0 or an error. */
static int recompute_step(struct deadline *d, PGconn *conn, mc_instant now, int *more, char *err,
                          size_t errlen)
{
    char revtext[24], chunk[16], count[16];
    const char *params[2];
    PGresult *res;
    long long revision, applied;
    int n, moved = 0, done, rc;
    char *cursor = NULL;

    *more = 0;
    if ((res = mc_pg_query(conn, "SELECT revision FROM catalog.calendar_revision", 0, NULL, err,
                           errlen)) == NULL)
        return MC_EDB;
    revision = PQntuples(res) ? atoll(PQgetvalue(res, 0, 0)) : 0;
    PQclear(res);
    if (revision == d->calendar_revision)
        return 0;
    if ((rc = mc_pg_exec(conn, "BEGIN", 0, NULL, err, errlen)) != 0)
        return rc;
    if ((res = mc_pg_query(conn,
                           "SELECT pg_try_advisory_xact_lock(hashtext('deadline.recompute')), "
                           "r.revision, r.cursor, r.moved, r.done FROM deadline.recompute r "
                           "FOR UPDATE",
                           0, NULL, err, errlen)) == NULL)
        goto fail;
    if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) { /* another instance is at it */
        PQclear(res);
        mc_pg_exec(conn, "ROLLBACK", 0, NULL, err, errlen);
        return 0;
    }
    applied = atoll(PQgetvalue(res, 0, 1));
    if (applied >= revision && strcmp(PQgetvalue(res, 0, 4), "t") == 0) {
        PQclear(res);
        d->calendar_revision = revision;
        return mc_pg_exec(conn, "COMMIT", 0, NULL, err, errlen);
    }
    if (applied < revision) { /* a new correction starts from the first clock */
        cursor = mc_xstrdup("");
    } else {
        cursor = mc_xstrdup(PQgetvalue(res, 0, 2));
        moved = atoi(PQgetvalue(res, 0, 3));
    }
    PQclear(res);
    /* The calendar as corrected, whatever the catalog's age. */
    if ((rc = mc_catalog_maybe_reload(&d->catalog, conn, 0, err, errlen)) != 0)
        goto fail;
    snprintf(chunk, sizeof chunk, "%d", RECOMPUTE_CHUNK);
    params[0] = cursor;
    params[1] = chunk;
    if ((res = mc_pg_query(conn,
                           "SELECT dossier_code, statutory_time, extract(epoch FROM "
                           "period_start_at)::bigint, paused_working_s, extract(epoch FROM "
                           "due_at)::bigint, coalesce(calendar_unit, '') FROM deadline.clock "
                           "WHERE received AND state IN ('open', 'paused') AND breaches = 0 AND "
                           "dossier_code > $1 ORDER BY dossier_code LIMIT $2 FOR UPDATE",
                           2, params, err, errlen)) == NULL)
        goto fail;
    n = PQntuples(res);
    for (int i = 0; i < n; i++) {
        if ((rc = recompute_clock(d, conn, res, i, now, err, errlen)) < 0 || rc == MC_EDB) {
            PQclear(res);
            goto fail;
        }
        moved += rc;
    }
    free(cursor);
    cursor = mc_xstrdup(n > 0 ? PQgetvalue(res, n - 1, 0) : "");
    PQclear(res);
    done = n < RECOMPUTE_CHUNK;
    snprintf(revtext, sizeof revtext, "%lld", revision);
    snprintf(count, sizeof count, "%d", moved);
    {
        const char *p[4] = {revtext, cursor, count, done ? "t" : "f"};
        if ((rc = mc_pg_exec(conn,
                             "UPDATE deadline.recompute SET revision = $1, cursor = $2, moved = "
                             "$3, done = $4, done_at = CASE WHEN $4 THEN now() END",
                             4, p, err, errlen)) != 0 ||
            (rc = mc_pg_exec(conn, "COMMIT", 0, NULL, err, errlen)) != 0)
            goto fail;
    }
    free(cursor);
    if (done) {
        d->calendar_revision = revision;
        mc_log_kv(MC_LOG_INFO, "calendar correction applied", "revision", revtext, "moved", count,
                  NULL);
    }
    *more = !done;
    return 0;
fail : {
    char e2[128];
    free(cursor);
    mc_pg_exec(conn, "ROLLBACK", 0, NULL, e2, sizeof e2);
    return rc ? rc : MC_EDB;
}
}

/* ---- the sweep ------------------------------------------------------------ */

/* Fires every item of one claimed clock that is due by now, then re-arms it. */
static int fire_due(struct deadline *d, PGconn *conn, struct clock *c, mc_instant now, char *err,
                    size_t errlen)
{
    struct item items[MAX_ITEMS];
    int n = plan(d, c, items), rc;
    const struct mc_calendar *cal = cal_of(d, c->calendar_unit);

    /* What the warnings warn of: the unit's new date when there is one. */
    mc_instant warned_of = c->rescheduled_due_at ? c->rescheduled_due_at : c->due_at;

    for (int i = 0; i < n; i++) {
        char vtext[16], nowtext[MC_RFC3339_LEN], duetext[MC_RFC3339_LEN], seed[512];
        const char *params[6];
        PGresult *res;
        int fresh, skipped;
        if (items[i].at <= boundary(c) || items[i].at > now)
            continue;
        /* After an outage or a clock jump past the date it warns of, a
         * warning has nothing left to say: the breach says it. It is
         * recorded as skipped so that it never fires later. A warning that
         * is late but still ahead of the date fires. */
        skipped = !items[i].overdue && now > warned_of;
        snprintf(vtext, sizeof vtext, "%d", c->version);
        params[0] = c->code;
        params[1] = vtext;
        params[2] = items[i].rung;
        params[3] = items[i].overdue ? "overdue" : skipped ? "skipped" : "warning";
        params[4] = fmt_time(now, nowtext);
        params[5] = fmt_time(items[i].at, duetext);
        res = mc_pg_query(conn,
                          "INSERT INTO deadline.ledger (dossier_code, deadline_version, rung, "
                          "kind, fired_at, due_instant) VALUES ($1, $2, $3, $4, $5, $6) "
                          "ON CONFLICT DO NOTHING RETURNING 1",
                          6, params, err, errlen);
        if (res == NULL)
            return MC_EDB;
        fresh = PQntuples(res) == 1;
        PQclear(res);
        c->fired_through = items[i].at;
        if (!fresh)
            continue; /* fired before: another instance, or a retried sweep */
        if (skipped) {
            mc_service_count(d->svc, d->m_skipped, 1);
            continue;
        }
        mc_metric_observe(d->m_lateness, (double)(now - items[i].at));
        snprintf(seed, sizeof seed, "deadline/%s/%d/%s", c->code, c->version, items[i].rung);
        if (items[i].overdue) {
            /* The new appointment: the unit's rescheduled date while still
             * ahead, otherwise the configured working days from now. */
            mc_instant appointment =
                c->rescheduled_due_at > now
                    ? c->rescheduled_due_at
                    : mc_calendar_add_working(cal, mc_calendar_receipt_at(cal, now),
                                              (int64_t)d->cfg->reappoint_wd *
                                                  MC_WORKING_DAY_SECONDS);
            c->breaches++;
            mc_service_count(d->svc, d->m_breaches, 1);
            rc = emit_clock_event(d, conn, c->code, "overdue", items[i].rung, items[i].at,
                                  c->breaches, NULL, now, appointment, seed, err, errlen);
        } else {
            mc_service_count(d->svc, d->m_warnings, 1);
            rc = emit_clock_event(d, conn, c->code, "warning", items[i].rung, items[i].at,
                                  c->breaches, NULL, now, 0, seed, err, errlen);
        }
        if (rc)
            return rc;
    }
    {
        char btext[16], ftext[MC_RFC3339_LEN];
        const char *params[3] = {c->code, btext,
                                 c->fired_through ? fmt_time(c->fired_through, ftext) : NULL};
        snprintf(btext, sizeof btext, "%d", c->breaches);
        if ((rc = mc_pg_exec(conn,
                             "UPDATE deadline.clock SET breaches = $2, fired_through = $3, "
                             "updated_at = now() WHERE dossier_code = $1",
                             3, params, err, errlen)) != 0)
            return rc;
    }
    return rearm(conn, d, c, err, errlen);
}

/* Claims due clocks (SKIP LOCKED, so instances share the work), fires them,
 * and tells the runtime when to look again. */
static int deadline_sweep(struct mc_service *svc, PGconn *conn, int64_t *next_ms, void *state)
{
    struct deadline *d = state;
    const struct mc_config *cfg = mc_service_config(svc);
    char err[1024], nowtext[MC_RFC3339_LEN], limit[16];
    const char *params[2] = {nowtext, limit};
    mc_instant now;
    PGresult *res;
    int n, rc = 0, rounds = 0, more = 0;

    if (mc_service_now(svc, &now) != 0) {
        *next_ms = TOPIC_CLOCK_POLL_MS; /* no tick yet */
        return 0;
    }
    if ((rc = mc_catalog_maybe_reload(&d->catalog, conn, CATALOG_MAX_AGE_S, err, sizeof err)))
        goto fail;
    if ((rc = recompute_step(d, conn, now, &more, err, sizeof err)) != 0)
        goto fail;
    fmt_time(now, nowtext);
    snprintf(limit, sizeof limit, "%d", cfg->sweep_max);
    do {
        if ((rc = mc_pg_exec(conn, "BEGIN", 0, NULL, err, sizeof err)) != 0)
            goto fail;
        res = mc_pg_query(conn,
                          "SELECT " CLOCK_COLUMNS " FROM deadline.clock WHERE next_fire_at <= $1 "
                          "ORDER BY next_fire_at LIMIT $2 FOR UPDATE SKIP LOCKED",
                          2, params, err, sizeof err);
        if (res == NULL) {
            rc = MC_EDB;
            goto rollback;
        }
        n = PQntuples(res);
        for (int i = 0; i < n && rc == 0; i++) {
            struct clock c;
            clock_from_row(res, i, &c);
            rc = fire_due(d, conn, &c, now, err, sizeof err);
        }
        PQclear(res);
        if (rc)
            goto rollback;
        if ((rc = mc_pg_exec(conn, "COMMIT", 0, NULL, err, sizeof err)) != 0)
            goto fail;
    } while (n == cfg->sweep_max && ++rounds < SWEEP_ROUNDS);
    if (n == cfg->sweep_max || more) {
        *next_ms = 0; /* more is due: come back after serving the loop */
        return 0;
    }
    mc_metric_set(d->m_swept, (double)now);

    /* Sleep until the earliest next fire (wall clock; NOTIFY wakes us for an
     * earlier one), or poll for ticks. min() reads one entry of the partial
     * index; the open-clock count is a scan, so it is refreshed rarely. */
    if (cfg->clock == MC_CLOCK_TOPIC) {
        *next_ms = TOPIC_CLOCK_POLL_MS;
    } else {
        struct timespec ts;
        int64_t now_ms, wait;
        res = mc_pg_query(conn,
                          "SELECT (extract(epoch FROM min(next_fire_at)) * 1000)::bigint "
                          "FROM deadline.clock WHERE next_fire_at IS NOT NULL",
                          0, NULL, err, sizeof err);
        if (res == NULL) {
            rc = MC_EDB;
            goto fail;
        }
        clock_gettime(CLOCK_REALTIME, &ts);
        now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
        wait = mc_pg_value(res, 0, 0) ? atoll(mc_pg_value(res, 0, 0)) - now_ms
                                      : WALL_SWEEP_MAX_SLEEP_MS;
        PQclear(res);
        *next_ms = wait < 0 ? 0 : wait > WALL_SWEEP_MAX_SLEEP_MS ? WALL_SWEEP_MAX_SLEEP_MS : wait;
    }
    if (time(NULL) >= d->open_counted_at + OPEN_COUNT_EVERY_S) {
        res =
            mc_pg_query(conn, "SELECT count(*) FROM deadline.clock WHERE next_fire_at IS NOT NULL",
                        0, NULL, err, sizeof err);
        if (res == NULL) {
            rc = MC_EDB;
            goto fail;
        }
        mc_metric_set(d->m_open, atof(PQgetvalue(res, 0, 0)));
        PQclear(res);
        d->open_counted_at = time(NULL);
    }
    return 0;
rollback : {
    char e2[128];
    mc_pg_exec(conn, "ROLLBACK", 0, NULL, e2, sizeof e2);
}
fail:
    mc_log_kv(MC_LOG_ERROR, "deadline sweep failed", "error", err, NULL);
    return rc;
}

static const char *const deadline_topics[] = {"dossier.received", "dossier.assigned",
                                              "dossier.updates", NULL};

/* Retention: updates parked for a dossier that never arrived go to the
 * dead letters; finished clocks go with their ledger and update history. */
static int deadline_prune(struct mc_service *svc, PGconn *conn, long long *pruned, char *err,
                          size_t errlen, void *state)
{
    const struct deadline *d = state;
    char days[16];
    const char *params[2] = {NULL, days};
    int rc;
    rc = mc_service_expire_parked(
        svc, conn,
        "SELECT u.event_id, u.dossier_code, coalesce(u.payload, jsonb_build_object('event_id', "
        "u.event_id, 'dossier_code', u.dossier_code, 'data', jsonb_build_object('status', "
        "u.status, 'unit_code', u.unit_code)))::text, u.read_partition, u.read_offset, "
        "extract(day FROM now() - u.recorded_at)::int FROM deadline.update u "
        "WHERE NOT u.applied AND u.recorded_at < now() - make_interval(days => $1::int) "
        "AND NOT EXISTS (SELECT 1 FROM deadline.clock c WHERE c.dossier_code = u.dossier_code "
        "AND c.received) ORDER BY u.recorded_at LIMIT 100 FOR UPDATE OF u SKIP LOCKED",
        "DELETE FROM deadline.update WHERE event_id = $1", "dossier.updates", "update", pruned, err,
        errlen);
    if (rc != 0)
        return rc;
    snprintf(days, sizeof days, "%d", d->cfg->retain_finished_days);
    return mc_service_delete_chunks(
        conn,
        "WITH gone AS (SELECT dossier_code FROM deadline.clock WHERE state IN ('finished', "
        "'returned', 'withdrawn', 'stopped') AND updated_at < now() - make_interval(days => "
        "$2::int) LIMIT $1::int FOR UPDATE SKIP LOCKED), "
        "l AS (DELETE FROM deadline.ledger WHERE dossier_code IN (SELECT dossier_code FROM gone)), "
        "u AS (DELETE FROM deadline.update WHERE dossier_code IN (SELECT dossier_code FROM gone)) "
        "DELETE FROM deadline.clock WHERE dossier_code IN (SELECT dossier_code FROM gone)",
        2, params, pruned, err, errlen);
}

const struct mc_service_def mc_deadline_def = {
    .name = "deadline",
    .schema = "deadline",
    .topics = deadline_topics,
    .use_inbox = 1,
    .use_clock = 1,
    .init_cb = deadline_init,
    .fini_cb = deadline_fini,
    .handle_cb = deadline_handle,
    .batch_cb = deadline_batch,
    .work_cb = deadline_sweep,
    .listen_channel = "motcua_deadline_wake",
    .prune_cb = deadline_prune,
};
