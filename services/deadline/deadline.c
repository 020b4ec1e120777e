/* deadline: keeps one clock per dossier from dossier.received,
 * dossier.assigned and unit updates, and fires each breach exactly once
 * (ledger keyed by dossier, deadline version and rung) however many
 * instances sweep. */
#include "deadline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "motcua/catalog.h"
#include "motcua/error.h"
#include "motcua/jsonutil.h"
#include "motcua/log.h"
#include "motcua/metrics.h"
#include "motcua/pg.h"
#include "motcua/schema.h"

#define CATALOG_MAX_AGE_S 60
#define TOPIC_CLOCK_POLL_MS 50
#define WALL_SWEEP_MAX_SLEEP_MS 1000

struct deadline {
    struct mc_schema *received_schema, *assigned_schema, *update_schema;
    struct mc_catalog *catalog;
    struct mc_metric *m_breaches, *m_lateness, *m_open, *m_refused, *m_swept;
};

static void *deadline_init(struct mc_service *svc, PGconn *conn, char *err, size_t errlen)
{
    static const double bounds[] = {0.1, 0.5, 1, 5, 15, 60, 300, 3600};
    struct deadline *d = mc_xcalloc(1, sizeof *d);
    if ((d->received_schema = mc_schema_load_named("dossier-received.v1", err, errlen)) == NULL ||
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

static void deadline_fini(void *state)
{
    struct deadline *d = state;
    mc_schema_free(d->received_schema);
    mc_schema_free(d->assigned_schema);
    mc_schema_free(d->update_schema);
    mc_catalog_free(d->catalog);
    free(d);
}

static int invalid(const char *what, json_t *problems, char *err, size_t errlen)
{
    char *text = json_dumps(problems, JSON_COMPACT);
    mc_err(err, errlen, MC_EINVAL, "invalid %s: %s", what, text ? text : "?");
    free(text);
    json_decref(problems);
    return MC_EINVAL;
}

static char *dump(const json_t *j)
{
    return json_dumps(j ? j : json_null(), JSON_COMPACT | JSON_ENCODE_ANY);
}

static int on_received(PGconn *conn, struct deadline *d, const struct mc_msg *msg, char *err,
                       size_t errlen)
{
    json_t *problems = NULL, *data = json_object_get(msg->doc, "data");
    json_t *procedure;
    char *applicant, *channels, *proc;
    const char *params[9];
    int rc;

    if (mc_schema_validate(d->received_schema, msg->doc, &problems) != 0)
        return invalid("dossier.received", problems, err, errlen);
    procedure = json_pack("{s:s, s:s}", "code", mc_json_str(data, "procedure/code"), "name",
                          mc_json_str(data, "procedure/name"));
    applicant = dump(json_object_get(data, "applicant"));
    channels = dump(json_object_get(data, "notify_channels"));
    proc = dump(procedure);
    params[0] = mc_json_str(msg->doc, "dossier_code");
    params[1] = mc_json_str(data, "channel");
    params[2] = channels;
    params[3] = applicant;
    params[4] = proc;
    params[5] = mc_json_str(data, "received_at");
    params[6] = mc_json_str(data, "receipt_at");
    params[7] = mc_json_str(data, "due_at");
    /* Updates may have arrived first (state already final): then nothing to fire. */
    rc = mc_pg_exec(conn,
                    "INSERT INTO deadline.clock AS c (dossier_code, received, channel, "
                    "notify_channels, applicant, procedure, received_at, receipt_at, due_at, "
                    "next_fire_at) VALUES ($1, true, $2, $3::jsonb, $4::jsonb, $5::jsonb, $6, $7, "
                    "$8, $8) ON CONFLICT (dossier_code) DO UPDATE SET received = true, "
                    "channel = EXCLUDED.channel, notify_channels = EXCLUDED.notify_channels, "
                    "applicant = EXCLUDED.applicant, procedure = EXCLUDED.procedure, "
                    "received_at = EXCLUDED.received_at, receipt_at = EXCLUDED.receipt_at, "
                    "due_at = EXCLUDED.due_at, next_fire_at = CASE WHEN c.state = 'open' AND "
                    "c.breaches = 0 THEN EXCLUDED.due_at ELSE c.next_fire_at END, "
                    "updated_at = now()",
                    8, params, err, errlen);
    free(applicant);
    free(channels);
    free(proc);
    json_decref(procedure);
    return rc;
}

static int on_assigned(PGconn *conn, struct deadline *d, const struct mc_msg *msg, char *err,
                       size_t errlen)
{
    json_t *problems = NULL;
    char *unit;
    const char *params[2];
    int rc;
    if (mc_schema_validate(d->assigned_schema, msg->doc, &problems) != 0)
        return invalid("dossier.assigned", problems, err, errlen);
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

/* A jsonb column as a new JSON value (null when SQL NULL). */
static json_t *load_col(const PGresult *res, int row, int col)
{
    const char *text = mc_pg_value(res, row, col);
    json_t *v = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
    return v ? v : json_null();
}

/* Publishes a dossier.<kind> event on dossier.deadlines carrying what notify
 * needs, read from the dossier's clock row. appointment 0: none. */
static int emit_clock_event(struct mc_service *svc, PGconn *conn, const char *code,
                            const char *kind, const char *rung, int breach, const char *reason,
                            mc_instant now, mc_instant appointment, const char *seed, char *err,
                            size_t errlen)
{
    const char *params[1] = {code};
    char type[64], nowtext[MC_RFC3339_LEN], apptext[MC_RFC3339_LEN];
    PGresult *res;
    json_t *data;
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
                     PQgetvalue(res, 0, 7), "due_at", PQgetvalue(res, 0, 8),
                     "rescheduled_due_at", mc_json_str_or_null(mc_pg_value(res, 0, 9)),
                     "new_appointment_at",
                     appointment ? json_string(mc_time_format(appointment, apptext)) : json_null(),
                     "fired_at", mc_time_format(now, nowtext), "reason",
                     mc_json_str_or_null(reason ? reason : mc_pg_value(res, 0, 10)));
    PQclear(res);
    if (data == NULL)
        return mc_err(err, errlen, MC_EDB, "cannot build the %s event of %s", kind, code);
    snprintf(type, sizeof type, "dossier.%s", kind);
    return mc_service_emit(svc, conn, "dossier.deadlines", code, type, code, now, data, seed, err,
                           errlen);
}

/* A refusal goes back to the unit on dossier.deadlines, saying why. */
static int refuse(struct mc_service *svc, PGconn *conn, struct deadline *d, const json_t *ev,
                  const char *why, char *err, size_t errlen)
{
    char seed[256];
    mc_instant at;
    const char *code = mc_json_str(ev, "dossier_code");
    mc_json_time(ev, "occurred_at", &at);
    snprintf(seed, sizeof seed, "deadline/refused/%s", mc_json_str(ev, "event_id"));
    mc_metric_add(d->m_refused, 1);
    return emit_clock_event(svc, conn, code, "reschedule_refused", NULL, 0, why, at, 0, seed,
                            err, errlen);
}

static int on_reschedule(struct mc_service *svc, PGconn *conn, struct deadline *d,
                         const json_t *ev, char *err, size_t errlen)
{
    const char *params[3] = {mc_json_str(ev, "dossier_code"), mc_json_str(ev, "data/new_due_at"),
                             mc_json_str(ev, "data/reason")};
    PGresult *res;
    const char *verdict;
    int rc;

    if (params[1] == NULL || params[2] == NULL)
        return refuse(svc, conn, d, ev, "a reschedule needs new_due_at and reason", err, errlen);
    /* At most once, and only to a later date; the official due_at is kept. */
    res = mc_pg_query(conn,
                      "WITH c AS (SELECT * FROM deadline.clock WHERE dossier_code = $1 FOR UPDATE), "
                      "verdict AS (SELECT CASE WHEN NOT c.received THEN 'unknown' "
                      "WHEN c.state NOT IN ('open', 'paused') THEN 'closed' "
                      "WHEN c.rescheduled_due_at IS NOT NULL THEN 'twice' "
                      "WHEN $2::timestamptz <= c.due_at THEN 'earlier' ELSE 'ok' END AS v FROM c), "
                      "upd AS (UPDATE deadline.clock k SET rescheduled_due_at = $2, "
                      "reschedule_reason = $3, next_fire_at = CASE WHEN k.breaches >= 1 AND "
                      "k.state = 'open' THEN $2::timestamptz ELSE k.next_fire_at END, "
                      "updated_at = now() FROM verdict WHERE k.dossier_code = $1 AND "
                      "verdict.v = 'ok') SELECT v FROM verdict",
                      3, params, err, errlen);
    if (res == NULL)
        return MC_EDB;
    verdict = PQntuples(res) ? PQgetvalue(res, 0, 0) : "unknown";
    if (strcmp(verdict, "ok") == 0)
        rc = 0;
    else if (strcmp(verdict, "twice") == 0)
        rc = refuse(svc, conn, d, ev, "the appointment may be moved only once", err, errlen);
    else if (strcmp(verdict, "earlier") == 0)
        rc = refuse(svc, conn, d, ev, "the new date must be after the official due date", err,
                    errlen);
    else if (strcmp(verdict, "closed") == 0)
        rc = refuse(svc, conn, d, ev, "the dossier is no longer being processed", err, errlen);
    else
        rc = refuse(svc, conn, d, ev, "the dossier is not known to the deadline service", err,
                    errlen);
    PQclear(res);
    return rc;
}

static int on_update(struct mc_service *svc, PGconn *conn, struct deadline *d,
                     const struct mc_msg *msg, char *err, size_t errlen)
{
    json_t *problems = NULL;
    const char *status = mc_json_str(msg->doc, "data/status");
    const char *final_state = NULL;
    const char *params[7];
    int rc;

    if (mc_schema_validate(d->update_schema, msg->doc, &problems) != 0)
        return invalid("dossier.update", problems, err, errlen);
    params[0] = mc_json_str(msg->doc, "event_id");
    params[1] = mc_json_str(msg->doc, "dossier_code");
    params[2] = status;
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

    if (strcmp(status, "result_ready") == 0)
        final_state = "finished";
    else if (strcmp(status, "returned") == 0 || strcmp(status, "withdrawn") == 0 ||
             strcmp(status, "stopped") == 0)
        final_state = strcmp(status, "stopped") == 0     ? "stopped"
                      : strcmp(status, "returned") == 0 ? "returned"
                                                         : "withdrawn";
    if (final_state) {
        /* The clock stops; an update seen before the dossier is kept too. */
        params[2] = final_state;
        return mc_pg_exec(conn,
                          "INSERT INTO deadline.clock (dossier_code, state) VALUES ($1, $2) "
                          "ON CONFLICT (dossier_code) DO UPDATE SET state = EXCLUDED.state, "
                          "next_fire_at = NULL, updated_at = now()",
                          2, (const char *[]){params[1], final_state}, err, errlen);
    }
    if (strcmp(status, "reschedule") == 0)
        return on_reschedule(svc, conn, d, msg->doc, err, errlen);
    return 0; /* processing, supplements, payment, transfer: history only for now */
}

static int deadline_handle(struct mc_service *svc, PGconn *conn, const struct mc_msg *msg,
                           char *err, size_t errlen, void *state)
{
    struct deadline *d = state;
    int rc;
    if ((rc = mc_catalog_maybe_reload(&d->catalog, conn, CATALOG_MAX_AGE_S, err, errlen)) != 0)
        return rc;
    if (strcmp(msg->topic, "dossier.received") == 0)
        return on_received(conn, d, msg, err, errlen);
    if (strcmp(msg->topic, "dossier.assigned") == 0)
        return on_assigned(conn, d, msg, err, errlen);
    return on_update(svc, conn, d, msg, err, errlen);
}

/* ---- the sweep ----------------------------------------------------------- */

/* Fires the breach that is due on one claimed clock row and re-arms it. */
static int fire(struct mc_service *svc, PGconn *conn, struct deadline *d, PGresult *res, int i,
                mc_instant now, char *err, size_t errlen)
{
    const char *code = PQgetvalue(res, i, 0);
    int breach = atoi(PQgetvalue(res, i, 1)) + 1;
    const char *version = PQgetvalue(res, i, 2);
    const char *resched_text = mc_pg_value(res, i, 4);
    const char *fire_text = PQgetvalue(res, i, 5);
    char rung[32], seed[256], btext[16], nowtext[MC_RFC3339_LEN];
    const char *params[5];
    mc_instant fire_at, resched_at = 0, appointment;
    const struct mc_calendar *cal = mc_catalog_calendar(d->catalog);
    PGresult *ins;
    int fresh, rc;

    mc_time_parse(fire_text, &fire_at);
    if (resched_text)
        mc_time_parse(resched_text, &resched_at);
    snprintf(rung, sizeof rung, breach == 1 ? "overdue" : "overdue-%d", breach);
    params[0] = code;
    params[1] = version;
    params[2] = rung;
    params[3] = mc_time_format(now, nowtext);
    params[4] = fire_text;
    if ((ins = mc_pg_query(conn,
                           "INSERT INTO deadline.ledger (dossier_code, deadline_version, rung, "
                           "fired_at, due_instant) VALUES ($1, $2, $3, $4, $5) "
                           "ON CONFLICT DO NOTHING RETURNING 1",
                           5, params, err, errlen)) == NULL)
        return MC_EDB;
    fresh = PQntuples(ins) == 1;
    PQclear(ins);

    /* Re-arm: a rescheduled date still ahead is the next (second) breach. */
    snprintf(btext, sizeof btext, "%d", breach);
    params[1] = breach == 1 && resched_text && resched_at > fire_at ? resched_text : NULL;
    params[2] = btext;
    if ((rc = mc_pg_exec(conn,
                         "UPDATE deadline.clock SET breaches = $3, next_fire_at = $2, "
                         "updated_at = now() WHERE dossier_code = $1",
                         3, params, err, errlen)) != 0)
        return rc;
    if (!fresh)
        return 0; /* fired before (another instance, or a retried sweep) */

    /* The new appointment: the unit's rescheduled date when still ahead,
     * otherwise the configured number of working days from now. */
    appointment = resched_text && resched_at > now
                      ? resched_at
                      : mc_calendar_add_working(cal, mc_calendar_receipt_at(cal, now),
                                                (int64_t)mc_service_config(svc)->reappoint_wd *
                                                    MC_WORKING_DAY_SECONDS);
    mc_metric_add(d->m_breaches, 1);
    mc_metric_observe(d->m_lateness, (double)(now - fire_at));
    snprintf(seed, sizeof seed, "deadline/%s/%s/%s", code, version, rung);
    return emit_clock_event(svc, conn, code, "overdue", rung, breach, NULL, now, appointment, seed,
                            err, errlen);
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
    int n, rc = 0;

    if (mc_service_now(svc, &now) != 0) {
        *next_ms = TOPIC_CLOCK_POLL_MS; /* no tick yet */
        return 0;
    }
    if ((rc = mc_catalog_maybe_reload(&d->catalog, conn, CATALOG_MAX_AGE_S, err, sizeof err)))
        goto fail;
    mc_time_format(now, nowtext);
    snprintf(limit, sizeof limit, "%d", cfg->sweep_max);
    do {
        if ((rc = mc_pg_exec(conn, "BEGIN", 0, NULL, err, sizeof err)) != 0)
            goto fail;
        res = mc_pg_query(
            conn,
            "SELECT dossier_code, breaches, deadline_version, motcua_rfc3339(due_at), "
            "motcua_rfc3339(rescheduled_due_at), motcua_rfc3339(next_fire_at) FROM deadline.clock WHERE next_fire_at <= $1 AND received AND state = 'open' "
            "ORDER BY next_fire_at LIMIT $2 FOR UPDATE SKIP LOCKED",
            2, params, err, sizeof err);
        if (res == NULL) {
            rc = MC_EDB;
            goto rollback;
        }
        n = PQntuples(res);
        for (int i = 0; i < n && rc == 0; i++)
            rc = fire(svc, conn, d, res, i, now, err, sizeof err);
        PQclear(res);
        if (rc)
            goto rollback;
        if ((rc = mc_pg_exec(conn, "COMMIT", 0, NULL, err, sizeof err)) != 0)
            goto fail;
    } while (n == cfg->sweep_max);
    mc_metric_set(d->m_swept, (double)now);

    /* Sleep until the earliest next fire (wall clock), or poll for ticks. */
    res = mc_pg_query(conn,
                      "SELECT count(*), extract(epoch FROM min(next_fire_at))::bigint "
                      "FROM deadline.clock WHERE next_fire_at IS NOT NULL AND received "
                      "AND state = 'open'",
                      0, NULL, err, sizeof err);
    if (res == NULL) {
        rc = MC_EDB;
        goto fail;
    }
    mc_metric_set(d->m_open, atof(PQgetvalue(res, 0, 0)));
    if (cfg->clock == MC_CLOCK_TOPIC) {
        *next_ms = TOPIC_CLOCK_POLL_MS;
    } else {
        const char *min = mc_pg_value(res, 0, 1);
        int64_t wait = min ? (atoll(min) - now) * 1000 : WALL_SWEEP_MAX_SLEEP_MS;
        *next_ms = wait < 0 ? 0 : wait > WALL_SWEEP_MAX_SLEEP_MS ? WALL_SWEEP_MAX_SLEEP_MS : wait;
    }
    PQclear(res);
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

const struct mc_service_def mc_deadline_def = {
    .name = "deadline",
    .schema = "deadline",
    .topics = deadline_topics,
    .use_inbox = 1,
    .use_clock = 1,
    .init_cb = deadline_init,
    .fini_cb = deadline_fini,
    .handle_cb = deadline_handle,
    .work_cb = deadline_sweep,
};
