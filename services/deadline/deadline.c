/* deadline: one clock per dossier, carried through its whole lifecycle
 * (pauses and restarts for supplements, one reschedule, final states) from
 * dossier.received, dossier.assigned and unit updates; fires each warning
 * rung and each breach exactly once (ledger keyed by dossier, deadline
 * version and rung) however many instances sweep. */
#include "deadline.h"
#include "rules.h"

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
#define SWEEP_ROUNDS 10               /* claim transactions per loop turn, at most */
#define SWEEP_TURN_CLOCKS 5000        /* and clocks: HTTP is served between turns */
#define RECOMPUTE_CHUNK 500           /* clocks per recompute transaction */
#define OPEN_COUNT_EVERY_S 60         /* the open-clock gauge's refresh */

struct deadline {
    struct mc_service *svc;
    const struct mc_config *cfg;
    struct mc_schema *received_schema, *assigned_schema, *update_schema;
    struct mc_catalog *catalog;
    struct mc_dl_rules rules; /* its catalog: rules_of() */
    struct mc_metric *m_breaches, *m_warnings, *m_skipped, *m_stale, *m_lateness, *m_open,
        *m_refused, *m_swept, *m_updates;
    time_t open_counted_at;
    long long calendar_revision; /* the catalog calendar revision applied */
    /* Read by deadline_batch for the batch being applied. */
    json_t *b_count;              /* dossier code -> messages about it in the batch */
    json_t *b_opening;            /* code -> 16 x its dossier.received + its dossier.assigned */
    json_t *b_waiting;            /* codes with updates parked for their dossier */
    struct batch_clock *b_clocks; /* the batch's clocks, locked, sorted by code */
    int b_nclocks;
};

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
    "ON CONFLICT (dossier_code) DO UPDATE SET received = true, channel = EXCLUDED.channel, "
    "notify_channels = EXCLUDED.notify_channels, applicant = EXCLUDED.applicant, "
    "procedure = EXCLUDED.procedure, received_at = EXCLUDED.received_at, "
    "receipt_at = EXCLUDED.receipt_at, original_due_at = EXCLUDED.original_due_at, "
    "period_start_at = EXCLUDED.period_start_at, due_at = EXCLUDED.due_at, "
    "rule_set = EXCLUDED.rule_set, supplement_policy = EXCLUDED.supplement_policy, "
    "statutory_time = EXCLUDED.statutory_time, calendar_unit = EXCLUDED.calendar_unit, "
    "next_fire_at = EXCLUDED.next_fire_at, updated_at = now() "
    "WHERE NOT deadline.clock.received";

/* Set-based: the deciding unit of each assigned dossier. */
static const char UPSERT_UNITS[] =
    "INSERT INTO deadline.clock (dossier_code, unit) SELECT dossier_code, unit FROM "
    "jsonb_to_recordset($1::jsonb) AS x(dossier_code text, unit jsonb) ON CONFLICT "
    "(dossier_code) DO UPDATE SET unit = EXCLUDED.unit, updated_at = now()";

/* The rules with the catalog in force (a reload replaces it). */
static const struct mc_dl_rules *rules_of(struct deadline *d)
{
    d->rules.catalog = d->catalog;
    return &d->rules;
}

static struct deadline *deadline_new(struct mc_service *svc, const struct mc_config *cfg,
                                     PGconn *conn, char *err, size_t errlen)
{
    static const double bounds[] = {0.1, 0.5, 1, 5, 15, 60, 300, 3600};
    struct deadline *d = mc_xcalloc(1, sizeof *d);
    d->svc = svc;
    d->cfg = cfg;
    d->b_count = json_object();
    d->b_opening = json_object();
    d->b_waiting = json_object();
    d->rules.reappoint_wd = cfg->reappoint_wd;
    if (mc_dl_parse_rungs(&d->rules, cfg->warning_rungs, err, errlen) != 0 ||
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
    d->m_updates = mc_metrics_counter("deadline", "updates_total",
                                      "unit updates stored, applied or parked for their dossier "
                                      "(once each: a redelivery is not counted)");
    d->m_swept = mc_metrics_gauge("deadline", "swept_until_seconds",
                                  "clock instant (Unix seconds) up to which every due clock fired");
    d->m_open = mc_metrics_gauge("deadline", "open_clocks",
                                 "clocks with something left to fire (the planner's estimate, "
                                 "as of the last autovacuum or analyze)");
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
    json_decref(d->b_opening);
    free(d->b_clocks);
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

static char *dump(const json_t *j)
{
    return json_dumps(j ? j : json_null(), JSON_COMPACT | JSON_ENCODE_ANY);
}

static char *fmt_time(mc_instant t, char *buf)
{
    return mc_time_format(t, buf);
}

/* An instant, or SQL NULL for 0. */
static const char *time_or_null(mc_instant t, char *buf)
{
    return t ? mc_time_format(t, buf) : NULL;
}

/* ---- clock rows ------------------------------------------------------------- */

static mc_instant col_time(const PGresult *res, int row, int col)
{
    const char *v = mc_pg_value(res, row, col);
    return v ? (mc_instant)atoll(v) : 0;
}

/* The columns struct mc_dl_clock is read from, after dossier_code
 * (MC_PG_COL_SQL): instants as Unix seconds. */
#define CLOCK_REST(X)                                                                              \
    X(CK_STATE, "state", "state")                                                                  \
    X(CK_RECEIVED, "received", "received")                                                         \
    X(CK_VERSION, "deadline_version", "deadline_version")                                          \
    X(CK_BREACHES, "breaches", "breaches")                                                         \
    X(CK_RECEIPT, "receipt_s", "extract(epoch FROM receipt_at)::bigint")                           \
    X(CK_DUE, "due_s", "extract(epoch FROM due_at)::bigint")                                       \
    X(CK_RESCHEDULED, "rescheduled_s", "extract(epoch FROM rescheduled_due_at)::bigint")           \
    X(CK_ARMED, "armed_s", "extract(epoch FROM armed_at)::bigint")                                 \
    X(CK_FIRED, "fired_through_s", "extract(epoch FROM fired_through)::bigint")                    \
    X(CK_CALENDAR, "calendar_unit", "coalesce(calendar_unit, '')")                                 \
    X(CK_STATUTORY, "statutory_time", "coalesce(statutory_time, '')")                              \
    X(CK_RESTART, "restart_policy", "supplement_policy = 'restart'")                               \
    X(CK_SUPPLEMENTS, "supplements", "supplements")                                                \
    X(CK_COUNTED_LATE, "counted_late", "counted_late")                                             \
    X(CK_PERIOD, "period_start_s", "extract(epoch FROM period_start_at)::bigint")                  \
    X(CK_PAUSED_WORKING, "paused_working_s", "paused_working_s")                                   \
    X(CK_PAUSED, "paused_s", "extract(epoch FROM paused_at)::bigint")
enum { CK_CODE, CLOCK_REST(MC_PG_COL_ENUM) CK_COUNT };
#define CLOCK_COLUMNS "dossier_code" CLOCK_REST(MC_PG_COL_SQL)

static int flag(const PGresult *res, int row, int col)
{
    return strcmp(PQgetvalue(res, row, col), "t") == 0;
}

static void clock_from_row(const PGresult *res, int i, struct mc_dl_clock *c)
{
    int state = mc_dl_state_parse(PQgetvalue(res, i, CK_STATE));
    memset(c, 0, sizeof *c);
    snprintf(c->code, sizeof c->code, "%s", PQgetvalue(res, i, CK_CODE));
    c->state = state < 0 ? MC_DL_STOPPED : (enum mc_dl_state)state; /* CHECKed by the table */
    c->received = flag(res, i, CK_RECEIVED);
    c->version = atoi(PQgetvalue(res, i, CK_VERSION));
    c->breaches = atoi(PQgetvalue(res, i, CK_BREACHES));
    c->receipt_at = col_time(res, i, CK_RECEIPT);
    c->due_at = col_time(res, i, CK_DUE);
    c->rescheduled_due_at = col_time(res, i, CK_RESCHEDULED);
    c->armed_at = col_time(res, i, CK_ARMED);
    c->fired_through = col_time(res, i, CK_FIRED);
    snprintf(c->calendar_unit, sizeof c->calendar_unit, "%s", PQgetvalue(res, i, CK_CALENDAR));
    snprintf(c->statutory, sizeof c->statutory, "%s", PQgetvalue(res, i, CK_STATUTORY));
    c->restart_policy = flag(res, i, CK_RESTART);
    c->supplements = atoi(PQgetvalue(res, i, CK_SUPPLEMENTS));
    c->counted_late = flag(res, i, CK_COUNTED_LATE);
    c->period_start_at = col_time(res, i, CK_PERIOD);
    c->paused_working_s = atoll(PQgetvalue(res, i, CK_PAUSED_WORKING));
    c->paused_at = col_time(res, i, CK_PAUSED);
}

/* Loads (and locks) one clock. Returns 1 found, 0 not found, <0 error. */
static int load_clock(PGconn *conn, const char *code, struct mc_dl_clock *c, char *err,
                      size_t errlen)
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

/* The batch's clocks, locked for its transaction in code order as the
 * calendar recompute locks them (the sweep claims with SKIP LOCKED and
 * passes them by), in one statement. */
static const char LOCK_CLOCKS[] =
    "SELECT " CLOCK_COLUMNS " FROM deadline.clock WHERE dossier_code "
    "IN (SELECT jsonb_array_elements_text($1::jsonb)) ORDER BY dossier_code FOR UPDATE";

/* A clock as the batch read it, and what the batch's updates did to it. */
struct batch_clock {
    struct mc_dl_clock c;
    int updates;      /* the batch's messages about it that are unit updates */
    int left;         /* of those, not applied yet */
    int changed;      /* to be stored */
    char reason[512]; /* a reschedule's reason to store ("": keep the stored one) */
};

static int clock_cmp(const void *a, const void *b)
{
    return strcmp(((const struct batch_clock *)a)->c.code, ((const struct batch_clock *)b)->c.code);
}

static int load_batch_clocks(struct deadline *d, PGconn *conn, const char *codes, char *err,
                             size_t errlen)
{
    PGresult *res = mc_pg_query(conn, LOCK_CLOCKS, 1, &codes, err, errlen);
    if (res == NULL)
        return MC_EDB;
    free(d->b_clocks);
    d->b_nclocks = PQntuples(res);
    d->b_clocks = mc_xcalloc((size_t)(d->b_nclocks ? d->b_nclocks : 1), sizeof *d->b_clocks);
    for (int i = 0; i < d->b_nclocks; i++)
        clock_from_row(res, i, &d->b_clocks[i].c);
    PQclear(res);
    qsort(d->b_clocks, (size_t)d->b_nclocks, sizeof *d->b_clocks, clock_cmp);
    return 0;
}

/* The clock of code as the batch read it, NULL when it had none. */
static struct batch_clock *batch_clock(struct deadline *d, const char *code)
{
    struct batch_clock key;
    if (code == NULL || d->b_clocks == NULL)
        return NULL;
    snprintf(key.c.code, sizeof key.c.code, "%s", code);
    return bsearch(&key, d->b_clocks, (size_t)d->b_nclocks, sizeof *d->b_clocks, clock_cmp);
}

/* What the rules change in clocks, with their next fire instants (reason:
 * a new reschedule reason, null to keep the stored one). */
static const char STORE_CLOCKS[] =
    "UPDATE deadline.clock c SET state = x.state, deadline_version = x.deadline_version, "
    "breaches = x.breaches, supplements = x.supplements, counted_late = x.counted_late, "
    "period_start_at = x.period_start_at, paused_working_s = x.paused_working_s, due_at = "
    "x.due_at, rescheduled_due_at = x.rescheduled_due_at, reschedule_reason = "
    "coalesce(x.reason, c.reschedule_reason), armed_at = x.armed_at, paused_at = x.paused_at, "
    "fired_through = x.fired_through, next_fire_at = x.next_fire_at, updated_at = now() FROM "
    "jsonb_to_recordset($1::jsonb) AS x(dossier_code text, state text, deadline_version integer, "
    "breaches integer, supplements integer, counted_late boolean, period_start_at timestamptz, "
    "paused_working_s bigint, due_at timestamptz, rescheduled_due_at timestamptz, reason text, "
    "armed_at timestamptz, paused_at timestamptz, fired_through timestamptz, next_fire_at "
    "timestamptz) WHERE c.dossier_code = x.dossier_code";

static json_t *time_json(mc_instant t)
{
    char buf[MC_RFC3339_LEN];
    return mc_json_str_or_null(time_or_null(t, buf));
}

/* Stores what the rules changed in a clock, with its next fire instant:
 * with the batch's other rows when later is set (no later message of the
 * batch reads it), else at once. */
static int store_clock(PGconn *conn, struct deadline *d, const struct mc_dl_clock *c,
                       const char *reason, int later, char *err, size_t errlen)
{
    json_t *row = json_pack(
        "{s:s, s:s, s:i, s:i, s:i, s:b, s:o, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
        "dossier_code", c->code, "state", mc_dl_state_name(c->state), "deadline_version",
        c->version, "breaches", c->breaches, "supplements", c->supplements, "counted_late",
        c->counted_late, "period_start_at", time_json(c->period_start_at), "paused_working_s",
        (json_int_t)c->paused_working_s, "due_at", time_json(c->due_at), "rescheduled_due_at",
        time_json(c->rescheduled_due_at), "reason", mc_json_str_or_null(reason), "armed_at",
        time_json(c->armed_at), "paused_at", time_json(c->paused_at), "fired_through",
        time_json(c->fired_through), "next_fire_at", time_json(mc_dl_next_fire(rules_of(d), c)));
    int rc;
    if (row == NULL)
        return mc_err(err, errlen, MC_EINVAL, "cannot build the clock row of %s", c->code);
    rc = later ? mc_service_write_rows(d->svc, conn, STORE_CLOCKS, row, err, errlen)
               : mc_pg_write_row(conn, STORE_CLOCKS, row, err, errlen);
    return rc < 0 ? rc : 0;
}

/* ---- events ---------------------------------------------------------------- */

/* A jsonb column as a new JSON value (null when SQL NULL). */
static json_t *load_col(const PGresult *res, int row, int col)
{
    const char *text = mc_pg_value(res, row, col);
    json_t *v = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
    return v ? v : json_null();
}

/* The columns an event on dossier.deadlines carries from the clock row,
 * after channel (MC_PG_COL_SQL); read by event_data from a first column. */
#define EVENT_REST(X)                                                                              \
    X(EV_NOTIFY_CHANNELS, "notify_channels", "notify_channels::text")                              \
    X(EV_APPLICANT, "applicant", "applicant::text")                                                \
    X(EV_PROCEDURE, "procedure", "procedure::text")                                                \
    X(EV_UNIT, "unit", "unit::text")                                                               \
    X(EV_RECEIVED_AT, "received_at", "motcua_rfc3339(received_at)")                                \
    X(EV_RECEIPT_AT, "receipt_at", "motcua_rfc3339(receipt_at)")                                   \
    X(EV_DUE_AT, "due_at", "motcua_rfc3339(due_at)")                                               \
    X(EV_RESCHEDULED_AT, "rescheduled_due_at", "motcua_rfc3339(rescheduled_due_at)")               \
    X(EV_REASON, "reschedule_reason", "reschedule_reason")
enum { EV_CHANNEL, EVENT_REST(MC_PG_COL_ENUM) EV_COUNT };
#define EVENT_COLUMNS "channel" EVENT_REST(MC_PG_COL_SQL)

/* What one event on dossier.deadlines says beyond the clock row. */
struct clock_event {
    const char *kind; /* warning, overdue, reschedule_refused, deadline_moved */
    const char *rung; /* NULL: none */
    mc_instant rung_due;
    int version, breach;
    const char *reason;          /* NULL: the clock's reschedule reason */
    mc_instant now, appointment; /* appointment 0: none */
};

/* The data of a dossier.<kind> event, from the EVENT_COLUMNS of a row
 * starting at column base. NULL when it cannot be built. */
static json_t *event_data(const PGresult *res, int row, int base, const struct clock_event *e)
{
    char nowtext[MC_RFC3339_LEN], apptext[MC_RFC3339_LEN], duetext[MC_RFC3339_LEN];
    json_t *data = json_pack(
        "{s:s, s:i, s:o, s:i, s:s, s:o, s:o, s:o, s:o, s:s, s:s, s:s, s:o, s:o, s:s, s:o}", "kind",
        e->kind, "breach", e->breach, "rung", mc_json_str_or_null(e->rung), "deadline_version",
        e->version, "channel", PQgetvalue(res, row, base + EV_CHANNEL), "notify_channels",
        load_col(res, row, base + EV_NOTIFY_CHANNELS), "applicant",
        load_col(res, row, base + EV_APPLICANT), "procedure",
        load_col(res, row, base + EV_PROCEDURE), "unit", load_col(res, row, base + EV_UNIT),
        "received_at", PQgetvalue(res, row, base + EV_RECEIVED_AT), "receipt_at",
        PQgetvalue(res, row, base + EV_RECEIPT_AT), "due_at",
        PQgetvalue(res, row, base + EV_DUE_AT), "rescheduled_due_at",
        mc_json_str_or_null(mc_pg_value(res, row, base + EV_RESCHEDULED_AT)), "new_appointment_at",
        e->appointment ? json_string(fmt_time(e->appointment, apptext)) : json_null(), "fired_at",
        fmt_time(e->now, nowtext), "reason",
        mc_json_str_or_null(e->reason ? e->reason : mc_pg_value(res, row, base + EV_REASON)));
    if (data && e->rung_due)
        json_object_set_new(data, "rung_due_at", json_string(fmt_time(e->rung_due, duetext)));
    return data;
}

/* Emits a dossier.<kind> event (data stolen) on dossier.deadlines. */
static int emit_data(struct deadline *d, PGconn *conn, const char *code, const char *kind,
                     json_t *data, mc_instant now, const char *seed, char *err, size_t errlen)
{
    char type[64], topic[256];
    json_t *ev;
    int rc;
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

/* Publishes a dossier.<kind> event about one dossier, reading what notify
 * needs from its clock row. */
static int emit_clock_event(struct deadline *d, PGconn *conn, const char *code,
                            const struct clock_event *e, const char *seed, char *err, size_t errlen)
{
    const char *params[1] = {code};
    PGresult *res;
    json_t *data;
    res = mc_pg_query(conn,
                      "SELECT " EVENT_COLUMNS " FROM deadline.clock WHERE dossier_code = $1 "
                      "AND received",
                      1, params, err, errlen);
    if (res == NULL)
        return MC_EDB;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return mc_err(err, errlen, MC_EINVAL, "dossier %s is not known to the deadline service",
                      code);
    }
    data = event_data(res, 0, 0, e);
    PQclear(res);
    return emit_data(d, conn, code, e->kind, data, e->now, seed, err, errlen);
}

/* ---- consumed events -------------------------------------------------------- */

static int apply_update(struct deadline *d, PGconn *conn, const json_t *ev, struct batch_clock *b,
                        char *err, size_t errlen);

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

/* 1 when the batch is applied set-based and its only messages about code
 * are one dossier.received and one dossier.assigned of a dossier that has
 * no clock yet and nothing waiting (the usual batch of a busy day: intake
 * and the router publish them moments apart). Both are written with the
 * batch's others, in either order: the new clock (INSERT_CLOCKS fills in a
 * row the unit made first) and its unit (UPSERT_UNITS), as alone() would
 * have them in two batches. */
static int opening_pair(struct deadline *d, const char *code)
{
    return d->svc && mc_service_set_based(d->svc) && code &&
           json_integer_value(json_object_get(d->b_count, code)) == 2 &&
           json_integer_value(json_object_get(d->b_opening, code)) == 16 + 1 &&
           !json_object_get(d->b_waiting, code) && batch_clock(d, code) == NULL;
}

/* A new clock for a received dossier no other event touched yet, its next
 * fire instant planned here, written with the batch. */
static int insert_new_clock(struct deadline *d, PGconn *conn, const char *code, const json_t *data,
                            char *err, size_t errlen)
{
    const json_t *receiving = mc_catalog_receiving_unit(
        d->catalog, mc_json_str(data, "reception_point"), mc_json_str(data, "ward_code"),
        mc_json_str(data, "procedure/level"));
    struct mc_dl_clock c;
    char next[MC_RFC3339_LEN];
    json_t *row;
    int rc;

    memset(&c, 0, sizeof c);
    snprintf(c.code, sizeof c.code, "%s", code);
    c.state = MC_DL_OPEN;
    snprintf(c.calendar_unit, sizeof c.calendar_unit, "%s",
             receiving ? mc_json_str(receiving, "code") : "");
    c.received = 1;
    c.version = 1;
    if ((rc = mc_json_time_required(data, "receipt_at", &c.receipt_at, code, err, errlen)) != 0 ||
        (rc = mc_json_time_required(data, "due_at", &c.due_at, code, err, errlen)) != 0)
        return rc;
    if (time_or_null(mc_dl_next_fire(rules_of(d), &c), next) == NULL)
        next[0] = '\0';
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
    json_object_clear(d->b_opening);
    json_object_clear(d->b_waiting);
    d->b_nclocks = 0;
    for (int i = 0; i < n; i++) {
        const char *code = mc_json_str(msgs[i]->doc, "dossier_code");
        if (code == NULL)
            continue;
        json_object_set_new(
            d->b_count, code,
            json_integer(json_integer_value(json_object_get(d->b_count, code)) + 1));
        if (strcmp(msgs[i]->topic, "dossier.received") == 0 ||
            strcmp(msgs[i]->topic, "dossier.assigned") == 0)
            json_object_set_new(
                d->b_opening, code,
                json_integer(json_integer_value(json_object_get(d->b_opening, code)) +
                             (strcmp(msgs[i]->topic, "dossier.received") == 0 ? 16 : 1)));
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
        rc = load_batch_clocks(d, conn, text, err, errlen);
    if (rc == 0)
        rc = mc_pg_collect(conn, SELECT_WAITING, text, d->b_waiting, err, errlen);
    free(text);
    for (int i = 0; rc == 0 && i < n; i++) {
        struct batch_clock *b;
        if (strcmp(msgs[i]->topic, "dossier.updates") == 0 &&
            (b = batch_clock(d, mc_json_str(msgs[i]->doc, "dossier_code"))) != NULL) {
            b->updates++;
            b->left++;
        }
    }
    return rc;
}

/* The updates parked for a dossier ($1), in the order they happened: each
 * as an event, and the bytes and place it was read. */
#define PARKED_REST(X)                                                                             \
    X(PK_PAYLOAD, "payload", "payload::text")                                                      \
    X(PK_PARTITION, "read_partition", "read_partition")                                            \
    X(PK_OFFSET, "read_offset", "read_offset")
enum { PK_EVENT, PARKED_REST(MC_PG_COL_ENUM) PK_COUNT };
static const char SELECT_PARKED[] =
    "SELECT json_build_object('event_id', event_id, 'dossier_code', dossier_code, 'occurred_at', "
    "motcua_rfc3339(occurred_at), 'data', json_strip_nulls(json_build_object('status', status, "
    "'unit_code', unit_code, 'reason', reason, 'new_due_at', "
    "motcua_rfc3339(new_due_at))))::text AS event" PARKED_REST(
        MC_PG_COL_SQL) " FROM deadline.update WHERE dossier_code = $1 AND NOT applied ORDER BY "
                       "occurred_at, "
                       "event_id";

/* Dead-letters a parked update the rules refused (err says why) when its
 * dossier arrived, from the bytes and place it was read (row i of
 * SELECT_PARKED), and marks it done. */
static int deadletter_parked(struct deadline *d, PGconn *conn, const PGresult *res, int i,
                             const json_t *ev, char *err, size_t errlen)
{
    const char *payload = mc_pg_value(res, i, PK_PAYLOAD) ? mc_pg_value(res, i, PK_PAYLOAD)
                                                          : PQgetvalue(res, i, PK_EVENT);
    const char *params[1] = {mc_json_str(ev, "event_id")};
    char reason[1024], key[128];
    struct mc_msg msg;
    int rc;
    snprintf(reason, sizeof reason, "%s", err);
    snprintf(key, sizeof key, "%s", mc_json_str(ev, "dossier_code"));
    memset(&msg, 0, sizeof msg);
    msg.topic = "dossier.updates";
    msg.key = key;
    msg.partition = mc_pg_value(res, i, PK_PARTITION) ? atoi(mc_pg_value(res, i, PK_PARTITION)) : 0;
    msg.offset = mc_pg_value(res, i, PK_OFFSET) ? atoll(mc_pg_value(res, i, PK_OFFSET)) : 0;
    msg.payload = payload;
    msg.len = strlen(payload);
    msg.doc = json_loads(payload, 0, NULL);
    mc_log_kv(MC_LOG_WARN, "parked update refused", "dossier_code", key, "reason", reason, NULL);
    rc = d->svc ? mc_service_deadletter(d->svc, conn, &msg, reason, err, errlen) : 0;
    json_decref(msg.doc);
    if (rc < 0)
        return rc;
    return mc_pg_exec(conn, "UPDATE deadline.update SET applied = true WHERE event_id = $1", 1,
                      params, err, errlen);
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
    struct mc_dl_clock c;
    PGresult *res;
    int rc;

    if ((rc = mc_schema_check(d->received_schema, msg->doc, "dossier.received", err, errlen)) != 0)
        return rc;
    if ((rc = stale_replay(d, conn, "dossier.received", code, data, err, errlen)) != 0)
        return rc > 0 ? 0 : rc;
    if ((alone(d, code) && batch_clock(d, code) == NULL) || opening_pair(d, code))
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

    /* Updates that arrived before the dossier now apply, in the order they
     * happened; one the rules refuse goes to the dead letters alone. */
    params[0] = code;
    res = mc_pg_query(conn, SELECT_PARKED, 1, params, err, errlen);
    if (res == NULL)
        return MC_EDB;
    rc = 0;
    for (int i = 0; i < PQntuples(res) && rc == 0; i++) {
        json_t *ev = json_loads(PQgetvalue(res, i, PK_EVENT), 0, NULL);
        rc = apply_update(d, conn, ev, NULL, err, errlen);
        if (rc == MC_EINVAL)
            rc = deadletter_parked(d, conn, res, i, ev, err, errlen);
        json_decref(ev);
    }
    PQclear(res);
    if (rc)
        return rc;
    if ((rc = load_clock(conn, code, &c, err, errlen)) < 0)
        return rc;
    return store_clock(conn, d, &c, NULL, 0, err, errlen);
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
    if (alone(d, mc_json_str(msg->doc, "dossier_code")) ||
        opening_pair(d, mc_json_str(msg->doc, "dossier_code"))) {
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
static int refuse(struct deadline *d, PGconn *conn, const json_t *ev, const struct mc_dl_clock *c,
                  mc_instant at, const char *why, char *err, size_t errlen)
{
    struct clock_event e = {.kind = "reschedule_refused",
                            .version = c->version,
                            .breach = c->breaches,
                            .reason = why,
                            .now = at};
    char seed[256];
    snprintf(seed, sizeof seed, "deadline/refused/%s", mc_json_str(ev, "event_id"));
    mc_service_count(d->svc, d->m_refused, 1);
    return emit_clock_event(d, conn, c->code, &e, seed, err, errlen);
}

/* Unit updates applied with the batch: stored as applied, one statement. */
static const char INSERT_APPLIED[] =
    "INSERT INTO deadline.update (event_id, dossier_code, status, unit_code, occurred_at, reason, "
    "new_due_at, applied) SELECT event_id, dossier_code, status, unit_code, occurred_at, reason, "
    "new_due_at, true FROM jsonb_to_recordset($1::jsonb) AS x(event_id uuid, dossier_code text, "
    "status text, unit_code text, occurred_at timestamptz, reason text, new_due_at timestamptz) "
    "ON CONFLICT (event_id) DO UPDATE SET applied = true";

/* Applies one unit update to a received clock: the rules decide, this
 * stores. b NULL: the update is stored in deadline.update already and the
 * clock is read and written here. Else the clock as the batch read it,
 * whose messages in the batch are all updates: they change it in memory in
 * their order, and the clock (once, after the last) and the updates are
 * written with the batch's other rows. */
static int apply_update(struct deadline *d, PGconn *conn, const json_t *ev, struct batch_clock *b,
                        char *err, size_t errlen)
{
    const char *code = mc_json_str(ev, "dossier_code"), *why, *params[1];
    struct mc_dl_update u = {.status = mc_json_str(ev, "data/status"),
                             .reason = mc_json_str(ev, "data/reason")};
    struct mc_dl_clock c;
    json_t *row;
    int rc;

    if (b)
        c = b->c;
    else if ((rc = load_clock(conn, code, &c, err, errlen)) < 0)
        return rc;
    if ((rc = mc_json_time_required(ev, "occurred_at", &u.occurred, code, err, errlen)) != 0)
        return rc;
    u.has_new_due = mc_json_time(ev, "data/new_due_at", &u.new_due_at) == 0;
    if (u.status == NULL)
        return mc_err(err, errlen, MC_EINVAL, "update of %s has no status", code);
    rc = mc_dl_apply_update(rules_of(d), &c, &u, &why, err, errlen);
    if (rc == MC_DL_CHANGED && b) {
        b->c = c;
        b->changed = 1;
        if (strcmp(u.status, "reschedule") == 0)
            snprintf(b->reason, sizeof b->reason, "%s", u.reason);
        rc = 0;
    } else if (rc == MC_DL_CHANGED) {
        rc = store_clock(conn, d, &c, strcmp(u.status, "reschedule") == 0 ? u.reason : NULL, 0, err,
                         errlen);
    } else if (rc == MC_DL_REFUSED) {
        /* The refusal's event reads the clock's row: what earlier updates
         * of the batch changed is stored first. */
        if (b && b->changed) {
            rc = store_clock(conn, d, &b->c, b->reason[0] ? b->reason : NULL, 0, err, errlen);
            b->changed = 0;
            b->reason[0] = '\0';
        } else {
            rc = 0;
        }
        if (rc == 0)
            rc = refuse(d, conn, ev, &c, u.occurred, why, err, errlen);
    } else if (rc == MC_DL_HISTORY) {
        rc = 0;
    }
    if (rc != 0)
        return rc;
    if (b == NULL) {
        params[0] = mc_json_str(ev, "event_id");
        return mc_pg_exec(conn, "UPDATE deadline.update SET applied = true WHERE event_id = $1", 1,
                          params, err, errlen);
    }
    row = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o}", "event_id", mc_json_str(ev, "event_id"),
                    "dossier_code", code, "status", u.status, "unit_code",
                    mc_json_str(ev, "data/unit_code"), "occurred_at",
                    mc_json_str(ev, "occurred_at"), "reason", mc_json_str_or_null(u.reason),
                    "new_due_at", mc_json_str_or_null(mc_json_str(ev, "data/new_due_at")));
    if (row == NULL)
        return mc_err(err, errlen, MC_EINVAL, "cannot build the update row of %s", code);
    if ((rc = mc_service_write_rows(d->svc, conn, INSERT_APPLIED, row, err, errlen)) < 0)
        return rc;
    if (--b->left > 0 || !b->changed)
        return 0;
    b->changed = 0;
    return store_clock(conn, d, &b->c, b->reason[0] ? b->reason : NULL, 1, err, errlen);
}

/* The batch's clock of code when the batch's messages about it are all
 * unit updates, it was received, and no update waits for it (applied in
 * memory with the batch); else NULL (one by one, every write at once). */
static struct batch_clock *updates_only(struct deadline *d, const char *code)
{
    struct batch_clock *b;
    if (d->svc == NULL || !mc_service_set_based(d->svc) || code == NULL ||
        json_object_get(d->b_waiting, code) || (b = batch_clock(d, code)) == NULL || !b->c.received)
        return NULL;
    return b->updates == json_integer_value(json_object_get(d->b_count, code)) ? b : NULL;
}

static int on_update(struct deadline *d, PGconn *conn, const struct mc_msg *msg, char *err,
                     size_t errlen)
{
    const char *params[7];
    struct mc_dl_clock c;
    struct batch_clock *batched;
    int rc;

    if ((rc = mc_schema_check(d->update_schema, msg->doc, "dossier.update", err, errlen)) != 0)
        return rc;
    params[1] = mc_json_str(msg->doc, "dossier_code");
    if ((batched = updates_only(d, params[1])) != NULL)
        return apply_update(d, conn, msg->doc, batched, err, errlen);
    params[0] = mc_json_str(msg->doc, "event_id");
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
    return apply_update(d, conn, msg->doc, NULL, err, errlen);
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
    if ((rc = on_update(d, conn, msg, err, errlen)) == 0)
        mc_service_count(d->svc, d->m_updates, 1);
    return rc;
}

/* ---- calendar corrections ------------------------------------------------------ */

/* Moves the due date of one clock (locked by the recompute query) to what
 * the calendar says now, if it differs: a new deadline version, re-armed
 * warnings and a dossier.deadline_moved event at now. 1 when it moved. */
static int recompute_clock(struct deadline *d, PGconn *conn, const char *code, mc_instant now,
                           char *err, size_t errlen)
{
    char t1[MC_RFC3339_LEN], t2[MC_RFC3339_LEN], reason[256], seed[256];
    struct clock_event e = {.kind = "deadline_moved", .now = now, .reason = reason};
    struct mc_dl_clock c;
    mc_instant old_due, new_due;
    int rc;
    if ((rc = load_clock(conn, code, &c, err, errlen)) <= 0)
        return rc < 0 ? rc : 0;
    old_due = c.due_at;
    new_due = mc_dl_legal_due(rules_of(d), c.calendar_unit, c.period_start_at, c.statutory,
                              c.paused_working_s);
    if (new_due == 0 || new_due == old_due)
        return 0;
    /* armed_at is kept: what fired stays fired (fired_through), and an item
     * of the new version that is already due (a due date moved earlier)
     * fires at the next sweep instead of never. */
    c.due_at = new_due;
    c.version++;
    if ((rc = store_clock(conn, d, &c, NULL, 0, err, errlen)) != 0)
        return rc;
    snprintf(reason, sizeof reason,
             "the working calendar was corrected: the due date moved from %s to %s",
             fmt_time(old_due, t2), fmt_time(new_due, t1));
    snprintf(seed, sizeof seed, "deadline/moved/%s/%d", code, c.version);
    e.version = c.version;
    e.breach = c.breaches;
    if ((rc = emit_clock_event(d, conn, code, &e, seed, err, errlen)) != 0)
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
#define RECOMPUTE_REST(X)                                                                          \
    X(RC_REVISION, "revision", "r.revision")                                                       \
    X(RC_CURSOR, "cursor", "r.cursor")                                                             \
    X(RC_MOVED, "moved", "r.moved")                                                                \
    X(RC_DONE, "done", "r.done")
enum { RC_MINE, RECOMPUTE_REST(MC_PG_COL_ENUM) RC_COUNT };
/* The recompute's progress, locked, and whether this instance has it. */
static const char SELECT_RECOMPUTE[] =
    "SELECT pg_try_advisory_xact_lock(hashtext('deadline.recompute')) AS mine" RECOMPUTE_REST(
        MC_PG_COL_SQL) " FROM deadline.recompute r FOR UPDATE";

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
    if ((res = mc_pg_query(conn, SELECT_RECOMPUTE, 0, NULL, err, errlen)) == NULL)
        goto fail;
    if (strcmp(PQgetvalue(res, 0, RC_MINE), "t") != 0) { /* another instance is at it */
        PQclear(res);
        mc_pg_exec(conn, "ROLLBACK", 0, NULL, err, errlen);
        return 0;
    }
    applied = atoll(PQgetvalue(res, 0, RC_REVISION));
    if (applied >= revision && strcmp(PQgetvalue(res, 0, RC_DONE), "t") == 0) {
        PQclear(res);
        d->calendar_revision = revision;
        return mc_pg_exec(conn, "COMMIT", 0, NULL, err, errlen);
    }
    if (applied < revision) { /* a new correction starts from the first clock */
        cursor = mc_xstrdup("");
    } else {
        cursor = mc_xstrdup(PQgetvalue(res, 0, RC_CURSOR));
        moved = atoi(PQgetvalue(res, 0, RC_MOVED));
    }
    PQclear(res);
    /* The calendar as corrected, whatever the catalog's age. */
    if ((rc = mc_catalog_maybe_reload(&d->catalog, conn, 0, err, errlen)) != 0)
        goto fail;
    snprintf(chunk, sizeof chunk, "%d", RECOMPUTE_CHUNK);
    params[0] = cursor;
    params[1] = chunk;
    if ((res = mc_pg_query(conn,
                           "SELECT dossier_code FROM deadline.clock "
                           "WHERE received AND state IN ('open', 'paused') AND breaches = 0 AND "
                           "dossier_code > $1 ORDER BY dossier_code LIMIT $2 FOR UPDATE",
                           2, params, err, errlen)) == NULL)
        goto fail;
    n = PQntuples(res);
    for (int i = 0; i < n; i++) {
        if ((rc = recompute_clock(d, conn, PQgetvalue(res, i, 0), now, err, errlen)) < 0) {
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

/* Set-based: the ledger rows of a sweep round; those new are returned
 * (a row there already fired: another instance, or a retried sweep). */
static const char INSERT_LEDGER[] =
    "INSERT INTO deadline.ledger (dossier_code, deadline_version, rung, kind, fired_at, "
    "due_instant) SELECT dossier_code, deadline_version, rung, kind, fired_at, due_instant FROM "
    "jsonb_to_recordset($1::jsonb) AS x(dossier_code text, deadline_version integer, rung text, "
    "kind text, fired_at timestamptz, due_instant timestamptz) ON CONFLICT DO NOTHING "
    "RETURNING dossier_code || chr(10) || deadline_version || chr(10) || rung";

/* Set-based: what a sweep round changed in its clocks. */
static const char UPDATE_FIRED[] =
    "UPDATE deadline.clock c SET breaches = x.breaches, fired_through = x.fired_through, "
    "next_fire_at = x.next_fire_at, updated_at = now() FROM jsonb_to_recordset($1::jsonb) AS "
    "x(dossier_code text, breaches integer, fired_through timestamptz, next_fire_at "
    "timestamptz) WHERE c.dossier_code = x.dossier_code";

/* The claim of a sweep round: due clocks with what their events carry
 * (SKIP LOCKED, so instances share the work). */
static const char CLAIM_DUE[] =
    "SELECT " CLOCK_COLUMNS ", " EVENT_COLUMNS " FROM deadline.clock WHERE next_fire_at <= $1 "
    "ORDER BY next_fire_at LIMIT $2 FOR UPDATE SKIP LOCKED";

static void ledger_key(char *buf, size_t len, const struct mc_dl_clock *c, const char *rung)
{
    snprintf(buf, len, "%s\n%d\n%s", c->code, c->version, rung);
}

/* Emits the event of one fresh item of a claimed clock (row i of res). */
static int emit_fire(struct deadline *d, PGconn *conn, const PGresult *res, int i,
                     const struct mc_dl_clock *c, const struct mc_dl_fire *f, mc_instant now,
                     char *err, size_t errlen)
{
    struct clock_event e = {.kind = f->item.overdue ? "overdue" : "warning",
                            .rung = f->item.rung,
                            .rung_due = f->item.at,
                            .version = c->version,
                            .breach = c->breaches,
                            .now = now,
                            .appointment = f->appointment};
    char seed[512];
    mc_metric_observe(d->m_lateness, (double)(now - f->item.at));
    mc_service_count(d->svc, f->item.overdue ? d->m_breaches : d->m_warnings, 1);
    snprintf(seed, sizeof seed, "deadline/%s/%d/%s", c->code, c->version, f->item.rung);
    return emit_data(d, conn, c->code, e.kind, event_data(res, i, CK_COUNT, &e), now, seed, err,
                     errlen);
}

/* One sweep round in the caller's transaction: claims up to limit due
 * clocks, records their due items in the ledger, emits the events of the
 * items recorded for the first time and stores the clocks, one statement
 * of each kind for the whole round. *claimed gets the clocks claimed. */
static int sweep_round(struct deadline *d, PGconn *conn, mc_instant now, int limit, int *claimed,
                       char *err, size_t errlen)
{
    char nowtext[MC_RFC3339_LEN], limtext[16], *text;
    const char *params[2] = {fmt_time(now, nowtext), limtext};
    const struct mc_dl_rules *rules = rules_of(d);
    struct mc_dl_clock *clocks = NULL;
    struct mc_dl_fire *fires = NULL;
    int *nfires = NULL, n, rc = 0;
    json_t *ledger = json_array(), *fresh = json_object(), *stored = json_array();
    PGresult *res;

    snprintf(limtext, sizeof limtext, "%d", limit);
    *claimed = 0;
    if ((res = mc_pg_query(conn, CLAIM_DUE, 2, params, err, errlen)) == NULL) {
        rc = MC_EDB;
        goto out;
    }
    n = *claimed = PQntuples(res);
    clocks = mc_xcalloc((size_t)(n ? n : 1), sizeof *clocks);
    fires = mc_xcalloc((size_t)(n ? n : 1) * MC_DL_MAX_ITEMS, sizeof *fires);
    nfires = mc_xcalloc((size_t)(n ? n : 1), sizeof *nfires);
    for (int i = 0; i < n; i++) {
        clock_from_row(res, i, &clocks[i]);
        nfires[i] = mc_dl_due(rules, &clocks[i], now, &fires[i * MC_DL_MAX_ITEMS]);
        for (int j = 0; j < nfires[i]; j++) {
            const struct mc_dl_fire *f = &fires[i * MC_DL_MAX_ITEMS + j];
            char due[MC_RFC3339_LEN];
            json_array_append_new(
                ledger,
                json_pack("{s:s, s:i, s:s, s:s, s:s, s:s}", "dossier_code", clocks[i].code,
                          "deadline_version", clocks[i].version, "rung", f->item.rung, "kind",
                          f->item.overdue ? "overdue"
                          : f->skipped    ? "skipped"
                                          : "warning",
                          "fired_at", nowtext, "due_instant", fmt_time(f->item.at, due)));
        }
    }
    if (json_array_size(ledger) > 0) {
        text = json_dumps(ledger, JSON_COMPACT);
        rc = mc_pg_collect(conn, INSERT_LEDGER, text, fresh, err, errlen);
        free(text);
        if (rc != 0)
            goto out;
    }
    mc_service_hold_events(d->svc);
    for (int i = 0; i < n && rc == 0; i++) {
        struct mc_dl_clock *c = &clocks[i];
        char ft[MC_RFC3339_LEN], next[MC_RFC3339_LEN];
        for (int j = 0; j < nfires[i] && rc == 0; j++) {
            const struct mc_dl_fire *f = &fires[i * MC_DL_MAX_ITEMS + j];
            char key[256];
            int is_fresh;
            ledger_key(key, sizeof key, c, f->item.rung);
            is_fresh = json_object_get(fresh, key) != NULL;
            mc_dl_fired(c, f, is_fresh);
            if (!is_fresh)
                continue;
            if (f->skipped)
                mc_service_count(d->svc, d->m_skipped, 1);
            else
                rc = emit_fire(d, conn, res, i, c, f, now, err, errlen);
        }
        json_array_append_new(
            stored,
            json_pack("{s:s, s:i, s:o, s:o}", "dossier_code", c->code, "breaches", c->breaches,
                      "fired_through", mc_json_str_or_null(time_or_null(c->fired_through, ft)),
                      "next_fire_at",
                      mc_json_str_or_null(time_or_null(mc_dl_next_fire(rules, c), next))));
    }
    if (rc != 0) {
        mc_service_drop_events(d->svc);
        goto out;
    }
    if ((rc = mc_service_write_events(d->svc, conn, err, errlen)) != 0)
        goto out;
    if (n > 0) {
        text = json_dumps(stored, JSON_COMPACT);
        rc = mc_pg_exec(conn, UPDATE_FIRED, 1, (const char *const *)&text, err, errlen);
        free(text);
    }
out:
    PQclear(res);
    free(clocks);
    free(fires);
    free(nfires);
    json_decref(ledger);
    json_decref(fresh);
    json_decref(stored);
    return rc;
}

/* Claims due clocks (SKIP LOCKED, so instances share the work), fires them,
 * and tells the runtime when to look again. */
static int deadline_sweep(struct mc_service *svc, PGconn *conn, int64_t *next_ms, void *state)
{
    struct deadline *d = state;
    const struct mc_config *cfg = mc_service_config(svc);
    char err[1024];
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
    do {
        if ((rc = mc_pg_exec(conn, "BEGIN", 0, NULL, err, sizeof err)) != 0)
            goto fail;
        if ((rc = sweep_round(d, conn, now, cfg->sweep_max, &n, err, sizeof err)) != 0)
            goto rollback;
        if ((rc = mc_pg_exec(conn, "COMMIT", 0, NULL, err, sizeof err)) != 0)
            goto fail;
    } while (n == cfg->sweep_max && ++rounds < SWEEP_ROUNDS &&
             (rounds + 1) * cfg->sweep_max <= SWEEP_TURN_CLOCKS);
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
        /* The planner's estimate of the partial index's rows (refreshed by
         * autovacuum): counting them scanned the index, 1.9 s at 10 M open
         * clocks, during which no clock fired. */
        res = mc_pg_query(conn,
                          "SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = "
                          "'deadline.clock_next_fire'::regclass",
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
        "SELECT u.event_id AS id, u.dossier_code, coalesce(u.payload, jsonb_build_object("
        "'event_id', u.event_id, 'dossier_code', u.dossier_code, 'data', jsonb_build_object("
        "'status', u.status, 'unit_code', u.unit_code)))::text AS payload, u.read_partition, "
        "u.read_offset, extract(day FROM now() - u.recorded_at)::int AS days_waited FROM "
        "deadline.update u "
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
