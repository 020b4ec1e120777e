/* api: the read side's projection. Every dossier event of the topics is
 * folded into api.dossier (one row per dossier: where it is, its state, its
 * dates, whether it is late), api.timeline (what the citizen's lookup
 * lists) and api.letter (letters and their delivery). Events of one
 * dossier arrive on several topics in any order, so every write is an
 * upsert that keeps the newer fact: the state of the latest transition,
 * the assignment made last, the due date of the highest deadline version,
 * the first finish. The projection never reads another service's tables. */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "motcua/calendar.h"
#include "motcua/catalog.h"
#include "motcua/config.h"
#include "motcua/error.h"
#include "motcua/http.h"
#include "motcua/jsonutil.h"
#include "motcua/log.h"
#include "motcua/metrics.h"
#include "motcua/pg.h"
#include "motcua/schema.h"
#include "national.h"
#include "ratelimit.h"

#define CATALOG_MAX_AGE_S 60
#define BROADCAST_EVERY_MS 500 /* the event stream announces changes at most this often */
#define HEARTBEAT_MS 15000     /* and writes at least this often */
#define RATELIMIT_CLIENTS 100000

/* ---- statements ---------------------------------------------------------- */

/* The dossier upserts below are set-based: $1 is a JSON array of rows,
 * "n" numbering them in the batch's order. Several rows of one dossier
 * are folded into one first (ON CONFLICT DO UPDATE may meet a row only
 * once per statement), as applying them one after the other would: the
 * newer fact wins, ties going to the later row. Each returns, per
 * dossier, what upserted() reads (UPSERT_RETURNING). */
#define UPSERT_RETURNING(X)                                                                        \
    X(UP_UNIT, "unit", "unit_code")                                                                \
    X(UP_RECEIPT, "receipt", "extract(epoch FROM receipt_at)::bigint")                             \
    X(UP_FINISHED, "finished", "extract(epoch FROM finished_at)::bigint")                          \
    X(UP_WD, "wd", "processing_wd")
enum { UP_CODE, UPSERT_RETURNING(MC_PG_COL_ENUM) UP_COUNT };
#define UPSERT_RETURNS " RETURNING code" UPSERT_RETURNING(MC_PG_COL_SQL)

/* A dossier received: the last row's facts; its state, when it has none,
 * 'received' since the first row's received_at. */
static const char UPSERT_RECEIVED[] =
    "INSERT INTO api.dossier AS d (code, id_check, channel, procedure_code, procedure_name, "
    "receiving_agency, reception_point, ward_code, received_at, receipt_at, due_at, state, "
    "state_at) SELECT DISTINCT ON (code) code, encode(sha256(convert_to(code || ':' || "
    "id_number, 'UTF8')), 'hex'), channel, procedure_code, procedure_name, receiving_agency, "
    "reception_point, ward_code, received_at, receipt_at, due_at, 'received', "
    "first_value(received_at) OVER (PARTITION BY code ORDER BY n) FROM "
    "jsonb_to_recordset($1::jsonb) AS x(code text, id_number text, channel text, procedure_code "
    "text, procedure_name text, receiving_agency text, reception_point text, ward_code text, "
    "received_at timestamptz, receipt_at timestamptz, due_at timestamptz, n int) "
    "ORDER BY code, n DESC "
    "ON CONFLICT (code) DO UPDATE SET id_check = EXCLUDED.id_check, channel = EXCLUDED.channel, "
    "procedure_code = EXCLUDED.procedure_code, procedure_name = EXCLUDED.procedure_name, "
    "receiving_agency = EXCLUDED.receiving_agency, reception_point = EXCLUDED.reception_point, "
    "ward_code = EXCLUDED.ward_code, received_at = EXCLUDED.received_at, "
    "receipt_at = EXCLUDED.receipt_at, "
    "due_at = CASE WHEN d.due_version < 0 THEN EXCLUDED.due_at ELSE d.due_at END, "
    "state = CASE WHEN d.state_at IS NULL THEN 'received' ELSE d.state END, "
    "state_at = coalesce(d.state_at, EXCLUDED.state_at), updated_at = now()" UPSERT_RETURNS;

/* An assignment: the unit assigned last (by assigned_at); the procedure
 * and ward only on a dossier's first row. */
static const char UPSERT_ASSIGNED[] =
    "INSERT INTO api.dossier AS d (code, unit_code, unit_name, unit_at, procedure_code, "
    "ward_code) SELECT DISTINCT ON (code) code, unit_code, unit_name, unit_at, "
    "first_value(procedure_code) OVER w, first_value(ward_code) OVER w FROM "
    "jsonb_to_recordset($1::jsonb) AS x(code text, unit_code text, unit_name text, unit_at "
    "timestamptz, procedure_code text, ward_code text, n int) WINDOW w AS (PARTITION BY code "
    "ORDER BY n) ORDER BY code, unit_at DESC NULLS LAST, n DESC "
    "ON CONFLICT (code) DO UPDATE SET "
    "unit_code = CASE WHEN d.unit_at IS NULL OR EXCLUDED.unit_at >= d.unit_at "
    "THEN EXCLUDED.unit_code ELSE d.unit_code END, "
    "unit_name = CASE WHEN d.unit_at IS NULL OR EXCLUDED.unit_at >= d.unit_at "
    "THEN EXCLUDED.unit_name ELSE d.unit_name END, "
    "unit_at = greatest(d.unit_at, EXCLUDED.unit_at), updated_at = now()" UPSERT_RETURNS;

/* A transition: the state of the latest (by occurred_at); finished and
 * closed at the first that finishes or closes. */
static const char UPSERT_STATE[] =
    "INSERT INTO api.dossier AS d (code, state, state_at, finished_at, closed_at) "
    "SELECT DISTINCT ON (code) code, state, at, min(at) FILTER (WHERE finishes) OVER w, "
    "min(at) FILTER (WHERE closes) OVER w FROM jsonb_to_recordset($1::jsonb) AS x(code text, "
    "state text, at timestamptz, finishes boolean, closes boolean, n int) "
    "WINDOW w AS (PARTITION BY code) ORDER BY code, at DESC NULLS LAST, n DESC "
    "ON CONFLICT (code) DO UPDATE SET "
    "state = CASE WHEN d.state_at IS NULL OR EXCLUDED.state_at >= d.state_at "
    "THEN EXCLUDED.state ELSE d.state END, "
    "state_at = greatest(d.state_at, EXCLUDED.state_at), "
    "finished_at = least(d.finished_at, EXCLUDED.finished_at), "
    "closed_at = least(d.closed_at, EXCLUDED.closed_at), updated_at = now()" UPSERT_RETURNS;

/* $1 code, $2 due_at, $3 deadline version, $4 new appointment, $5 late
 * ("t"/"f"), $6 fired_at, $7 breach, $8 warned ("t"/"f"). */
static const char UPSERT_DEADLINE[] =
    "INSERT INTO api.dossier AS d (code, due_at, due_version, rescheduled_due_at, late, late_at, "
    "breaches, warned_at) VALUES ($1, $2, $3, $4, $5, CASE WHEN $5::boolean THEN "
    "$6::timestamptz END, $7, CASE WHEN $8::boolean THEN $6::timestamptz END) "
    "ON CONFLICT (code) DO UPDATE SET "
    "due_at = CASE WHEN EXCLUDED.due_version >= d.due_version THEN EXCLUDED.due_at "
    "ELSE d.due_at END, "
    "rescheduled_due_at = CASE WHEN EXCLUDED.due_version >= d.due_version "
    "THEN coalesce(EXCLUDED.rescheduled_due_at, d.rescheduled_due_at) "
    "ELSE d.rescheduled_due_at END, "
    "due_version = greatest(d.due_version, EXCLUDED.due_version), "
    "late = d.late OR EXCLUDED.late, late_at = least(d.late_at, EXCLUDED.late_at), "
    "breaches = greatest(d.breaches, EXCLUDED.breaches), "
    "warned_at = greatest(d.warned_at, EXCLUDED.warned_at), updated_at = now() "
    "RETURNING unit_code";

/* The working days from receipt to finish of the dossiers a statement
 * found finished: [{code, wd}]. */
static const char SET_PROCESSING_WD[] =
    "UPDATE api.dossier AS d SET processing_wd = x.wd FROM jsonb_to_recordset($1::jsonb) AS "
    "x(code text, wd numeric) WHERE d.code = x.code";

/* Set-based (mc_service_write_rows): the batch's timeline entries, in the
 * order of its events. */
static const char INSERT_TIMELINE[] =
    "INSERT INTO api.timeline (dossier_code, at, kind, unit_code, detail) SELECT dossier_code, at, "
    "kind, unit_code, detail FROM jsonb_to_recordset($1::jsonb) AS x(dossier_code text, at "
    "timestamptz, kind text, unit_code text, detail jsonb)";

/* $1 id, $2 code, $3 kind, $4 breach, $5 channel, $6 number, $7 issued_at. */
static const char UPSERT_LETTER[] =
    "INSERT INTO api.letter AS l (notification_id, dossier_code, kind, breach, channel, "
    "document_number, issued_at) VALUES ($1, $2, $3, $4, $5, $6, $7) "
    "ON CONFLICT (notification_id) DO UPDATE SET dossier_code = EXCLUDED.dossier_code, "
    "kind = EXCLUDED.kind, breach = EXCLUDED.breach, channel = EXCLUDED.channel, "
    "document_number = EXCLUDED.document_number, issued_at = EXCLUDED.issued_at "
    "RETURNING (SELECT unit_code FROM api.dossier WHERE code = $2)";

/* $1 id, $2 code, $3 channel, $4 delivery, $5 reported at: a receipt. A
 * notice's updates the notice (and returns no row): it is not one of the
 * dossier's letters. Otherwise the letter's: the latest receipt wins,
 * except that a delivered letter or notice stays delivered (a late
 * receipt of an earlier attempt's failure changes nothing). Returns the
 * unit, and whether the letter itself is still unknown (the receipt came
 * first: it may yet turn out to be a notice's). */
#define RECEIPT_REST(X) X(RC_UNKNOWN, "unknown", "l.kind IS NULL")
enum { RC_UNIT, RECEIPT_REST(MC_PG_COL_ENUM) RC_COUNT };
static const char UPSERT_RECEIPT[] =
    "WITH notice AS (UPDATE api.notice AS n SET delivery = CASE WHEN n.delivery = 'delivered' "
    "THEN n.delivery WHEN n.delivery_at IS NULL OR $5::timestamptz >= n.delivery_at THEN "
    "$4::text ELSE n.delivery END, delivery_at = greatest(n.delivery_at, $5::timestamptz) WHERE "
    "n.notification_id = $1::uuid RETURNING 1) "
    "INSERT INTO api.letter AS l (notification_id, dossier_code, channel, delivery, delivery_at) "
    "SELECT $1::uuid, $2::text, $3::text, $4::text, $5::timestamptz "
    "WHERE NOT EXISTS (SELECT 1 FROM notice) "
    "ON CONFLICT (notification_id) DO UPDATE SET "
    "delivery = CASE WHEN l.delivery = 'delivered' THEN l.delivery "
    "WHEN l.delivery_at IS NULL OR EXCLUDED.delivery_at >= l.delivery_at "
    "THEN EXCLUDED.delivery ELSE l.delivery END, "
    "delivery_at = greatest(l.delivery_at, EXCLUDED.delivery_at), "
    "dossier_code = coalesce(l.dossier_code, EXCLUDED.dossier_code) "
    "RETURNING (SELECT unit_code FROM api.dossier WHERE code = l.dossier_code) AS "
    "unit" RECEIPT_REST(MC_PG_COL_SQL);

/* $1 id, $2 code, $3 kind, $4 unit, $5 issued_at: a notice to a unit. A
 * receipt read before it made it a letter of unknown kind, with a line in
 * the dossier's timeline (written at once, not at the batch's end, so this
 * finds it): both are moved off the citizen's view. */
static const char INSERT_NOTICE[] =
    "WITH gone AS (DELETE FROM api.letter WHERE notification_id = $1 AND kind IS NULL RETURNING "
    "delivery, delivery_at), line AS (DELETE FROM api.timeline WHERE dossier_code = $2 AND kind "
    "= 'letter_receipt' AND detail->>'notification_id' = $1::text) INSERT INTO api.notice "
    "(notification_id, dossier_code, kind, "
    "unit_code, issued_at, delivery, delivery_at) SELECT $1, $2, $3, $4, $5, coalesce((SELECT "
    "delivery FROM gone), 'created'), (SELECT delivery_at FROM gone) ON CONFLICT "
    "(notification_id) DO NOTHING";

/* ---- helpers ------------------------------------------------------------- */

static void changed(struct api *api, const char *unit_code)
{
    api->batch_changes++;
    if (unit_code != NULL && unit_code[0] != '\0')
        json_object_set_new(api->batch_units, unit_code, json_true());
}

/* Runs sql, an upsert returning the dossier's unit: notes it as changed. */
static int write_now(struct api *api, PGconn *conn, const char *sql, int nparams,
                     const char *const *params, char *err, size_t errlen)
{
    PGresult *res = mc_pg_query(conn, sql, nparams, params, err, errlen);
    if (res == NULL)
        return MC_EDB;
    changed(api, mc_pg_value(res, 0, 0));
    PQclear(res);
    return 0;
}

/* What a dossier upsert returned (UPSERT_RETURNING): notes the units as
 * changed and, for the dossiers received and finished, writes the working
 * days from receipt to finish where they differ from those kept (none
 * yet, or an earlier finish read after a later one). */
static int upserted(struct mc_service *svc, PGconn *conn, PGresult *res, char *err, size_t errlen,
                    void *state)
{
    struct api *api = state;
    json_t *wds = json_array();
    int rc = 0;
    (void)svc;

    for (int i = 0; i < PQntuples(res); i++) {
        const char *unit = PQgetisnull(res, i, UP_UNIT) ? NULL : PQgetvalue(res, i, UP_UNIT);
        changed(api, unit);
        if (!PQgetisnull(res, i, UP_RECEIPT) && !PQgetisnull(res, i, UP_FINISHED)) {
            /* The epochs of receipt_at and finished_at. */
            mc_instant a = strtoll(PQgetvalue(res, i, UP_RECEIPT), NULL, 10);
            mc_instant b = strtoll(PQgetvalue(res, i, UP_FINISHED), NULL, 10);
            const struct mc_calendar *cal = mc_catalog_calendar_for(api->catalog, unit);
            int64_t s = b > a ? mc_calendar_working_between(cal, a, b) : 0;
            char wd[32];
            snprintf(wd, sizeof wd, "%.2f", (double)s / MC_WORKING_DAY_SECONDS);
            if (PQgetisnull(res, i, UP_WD) || strcmp(PQgetvalue(res, i, UP_WD), wd) != 0)
                json_array_append_new(
                    wds, json_pack("{s:s, s:s}", "code", PQgetvalue(res, i, UP_CODE), "wd", wd));
        }
    }
    if (json_array_size(wds) > 0) {
        char *text = json_dumps(wds, JSON_COMPACT);
        rc = mc_pg_exec(conn, SET_PROCESSING_WD, 1, (const char *const *)&text, err, errlen);
        free(text);
    }
    json_decref(wds);
    return rc;
}

/* Folds row (stolen) into the dossier with sql, one of the dossier upserts,
 * numbered in the batch's order. */
static int upsert(struct api *api, PGconn *conn, const char *sql, json_t *row, char *err,
                  size_t errlen)
{
    if (row == NULL)
        return mc_err(err, errlen, MC_EDB, "out of memory for a dossier row");
    json_object_set_new(row, "n", json_integer(api->batch_rows++));
    return mc_service_upsert_rows(api->svc, conn, sql, row, upserted, err, errlen);
}

/* Adds an entry to the dossier's timeline, with the batch's others at its
 * end unless now is set; detail (stolen) loses its null members. */
static int timeline(struct api *api, PGconn *conn, int now, const char *code, const char *at,
                    const char *kind, const char *unit, json_t *detail, char *err, size_t errlen)
{
    const char *key;
    json_t *value, *tmp, *row;
    int rc;

    json_object_foreach_safe(detail, tmp, key, value)
    {
        if (json_is_null(value))
            json_object_del(detail, key);
    }
    /* A missing value is the schemas' to catch; here NOT NULL refuses it. */
    row = json_pack("{s:s?, s:s?, s:s?, s:s?, s:o}", "dossier_code", code, "at", at, "kind", kind,
                    "unit_code", unit, "detail", detail);
    if (row == NULL)
        return mc_err(err, errlen, MC_EDB, "out of memory for a timeline entry");
    rc = now ? mc_pg_write_row(conn, INSERT_TIMELINE, row, err, errlen)
             : mc_service_write_rows(api->svc, conn, INSERT_TIMELINE, row, err, errlen);
    return rc < 0 ? MC_EDB : 0;
}

static json_t *str_or_null(const json_t *doc, const char *path)
{
    return mc_json_str_or_null(mc_json_str(doc, path));
}

/* ---- events -------------------------------------------------------------- */

static int on_received(struct api *api, PGconn *conn, const json_t *ev, char *err, size_t errlen)
{
    const char *code = mc_json_str(ev, "dossier_code");
    const json_t *d = json_object_get(ev, "data");
    const char *channel = mc_json_str(d, "channel"), *agency = mc_json_str(d, "receiving_agency");
    const char *point = mc_json_str(d, "reception_point"), *at = mc_json_str(d, "received_at");
    int rc = upsert(
        api, conn, UPSERT_RECEIVED,
        json_pack("{s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?}", "code",
                  code, "id_number", mc_json_str(d, "applicant/id_number"), "channel", channel,
                  "procedure_code", mc_json_str(d, "procedure/code"), "procedure_name",
                  mc_json_str(d, "procedure/name"), "receiving_agency", agency, "reception_point",
                  point, "ward_code", mc_json_str(d, "ward_code"), "received_at", at, "receipt_at",
                  mc_json_str(d, "receipt_at"), "due_at", mc_json_str(d, "due_at")),
        err, errlen);
    if (rc == 0)
        rc = timeline(api, conn, 0, code, at, "received", NULL,
                      json_pack("{s:s?, s:s?, s:s?}", "channel", channel, "receiving_agency",
                                agency, "reception_point", point),
                      err, errlen);
    return rc;
}

static int on_assigned(struct api *api, PGconn *conn, const json_t *ev, char *err, size_t errlen)
{
    const char *code = mc_json_str(ev, "dossier_code");
    const json_t *d = json_object_get(ev, "data");
    const char *unit = mc_json_str(d, "unit/code"), *name = mc_json_str(d, "unit/name");
    const char *at = mc_json_str(d, "assigned_at");
    int rc = upsert(api, conn, UPSERT_ASSIGNED,
                    json_pack("{s:s?, s:s?, s:s?, s:s?, s:s?, s:s?}", "code", code, "unit_code",
                              unit, "unit_name", name, "unit_at", at, "procedure_code",
                              mc_json_str(d, "procedure_code"), "ward_code",
                              mc_json_str(d, "ward_code")),
                    err, errlen);
    if (rc == 0)
        rc = timeline(
            api, conn, 0, code, at, "assigned", unit,
            json_pack("{s:s?, s:s?}", "unit_name", name, "reason", mc_json_str(d, "reason")), err,
            errlen);
    return rc;
}

static int on_update(struct api *api, PGconn *conn, const json_t *ev, char *err, size_t errlen)
{
    const char *code = mc_json_str(ev, "dossier_code");
    const json_t *d = json_object_get(ev, "data");
    const char *status = mc_json_str(d, "status");
    const char *at = mc_json_str(ev, "occurred_at");
    const char *state = mc_api_state_after(status);
    int rc = 0;

    /* A unit's explanation of a breach is between it and the Chairman
     * (motcua-notify keeps it): not a step of the citizen's dossier. */
    if (status && strcmp(status, "explanation") == 0)
        return 0;
    if (state != NULL) {
        int finishes = strcmp(state, "result_ready") == 0 || strcmp(state, "returned") == 0;
        int closes = finishes || strcmp(state, "withdrawn") == 0 || strcmp(state, "stopped") == 0;
        rc = upsert(api, conn, UPSERT_STATE,
                    json_pack("{s:s?, s:s, s:s?, s:b, s:b}", "code", code, "state", state, "at", at,
                              "finishes", finishes, "closes", closes),
                    err, errlen);
    } else {
        changed(api, mc_json_str(d, "unit_code"));
    }
    if (rc == 0)
        rc = timeline(api, conn, 0, code, at, status, mc_json_str(d, "unit_code"),
                      json_pack("{s:o, s:o, s:o}", "reason", str_or_null(d, "reason"), "new_due_at",
                                str_or_null(d, "new_due_at"), "to_unit_code",
                                str_or_null(d, "to_unit_code")),
                      err, errlen);
    return rc;
}

static int on_deadline(struct api *api, PGconn *conn, const json_t *ev, char *err, size_t errlen)
{
    const char *code = mc_json_str(ev, "dossier_code");
    const json_t *d = json_object_get(ev, "data");
    const char *kind = mc_json_str(d, "kind");
    int overdue = strcmp(kind, "overdue") == 0;
    const char *resched = mc_json_str(d, "rescheduled_due_at");
    char version[24], breach[24];
    const char *p[8];
    int rc;

    if (resched == NULL && overdue)
        resched = mc_json_str(d, "new_appointment_at");
    snprintf(version, sizeof version, "%lld",
             (long long)json_integer_value(json_object_get(d, "deadline_version")));
    snprintf(breach, sizeof breach, "%lld",
             overdue ? (long long)json_integer_value(json_object_get(d, "breach")) : 0LL);
    p[0] = code;
    p[1] = mc_json_str(d, "due_at");
    p[2] = version;
    p[3] = resched;
    p[4] = overdue ? "t" : "f";
    p[5] = mc_json_str(d, "fired_at");
    p[6] = breach;
    p[7] = strcmp(kind, "warning") == 0 ? "t" : "f";
    rc = write_now(api, conn, UPSERT_DEADLINE, 8, p, err, errlen);
    if (rc == 0)
        rc = timeline(api, conn, 0, code, p[5], kind, mc_json_str(d, "unit/code"),
                      json_pack("{s:o, s:O?, s:s?, s:o, s:o, s:o}", "rung", str_or_null(d, "rung"),
                                "breach", overdue ? json_object_get(d, "breach") : NULL, "due_at",
                                p[1], "rescheduled_due_at", str_or_null(d, "rescheduled_due_at"),
                                "new_appointment_at", str_or_null(d, "new_appointment_at"),
                                "reason", str_or_null(d, "reason")),
                      err, errlen);
    return rc;
}

static int on_letter(struct api *api, PGconn *conn, const json_t *ev, char *err, size_t errlen)
{
    const char *code = mc_json_str(ev, "dossier_code");
    const json_t *d = json_object_get(ev, "data");
    char breach[24];
    const char *p[7];
    int rc;

    snprintf(breach, sizeof breach, "%lld",
             (long long)json_integer_value(json_object_get(d, "breach")));
    p[0] = mc_json_str(d, "notification_id");
    p[1] = code;
    p[2] = mc_json_str(d, "kind");
    p[3] = breach;
    p[4] = mc_json_str(d, "delivery_channel");
    p[5] = mc_json_str(d, "document_number");
    p[6] = mc_json_str(d, "issued_at");
    rc = write_now(api, conn, UPSERT_LETTER, 7, p, err, errlen);
    if (rc == 0)
        rc = timeline(api, conn, 0, code, p[6], "letter", NULL,
                      json_pack("{s:s, s:s, s:s, s:s}", "notification_id", p[0], "letter_kind",
                                p[2], "channel", p[4], "document_number", p[5]),
                      err, errlen);
    return rc;
}

static int on_receipt(struct api *api, PGconn *conn, const json_t *ev, char *err, size_t errlen)
{
    const char *code = mc_json_str(ev, "dossier_code");
    const json_t *d = json_object_get(ev, "data");
    const char *status = mc_json_str(d, "status");
    const char *p[5] = {
        mc_json_str(d, "notification_id"), code, mc_json_str(d, "delivery_channel"), status,
        mc_json_str(ev, "occurred_at"),
    };
    PGresult *res;
    int rc = 0, unknown;
    /* v1's words for v2's statuses. */
    if (status && strcmp(status, "failed") == 0)
        p[3] = "temporary-failure";
    else if (status && strcmp(status, "bounced") == 0)
        p[3] = "permanent-failure";
    if ((res = mc_pg_query(conn, UPSERT_RECEIPT, 5, p, err, errlen)) == NULL)
        return MC_EDB;
    if (PQntuples(res) == 0) { /* a notice's */
        PQclear(res);
        return 0;
    }
    changed(api, mc_pg_value(res, 0, RC_UNIT));
    unknown = strcmp(mc_pg_value(res, 0, RC_UNKNOWN), "t") == 0;
    PQclear(res);
    /* Before its letter, at once: should it be a notice's, the notice
     * takes the line back (INSERT_NOTICE). */
    if (code != NULL)
        rc = timeline(api, conn, unknown, code, p[4], "letter_receipt", NULL,
                      json_pack("{s:s, s:s, s:s}", "notification_id", p[0], "delivery", p[3],
                                "channel", p[2]),
                      err, errlen);
    return rc;
}

static int api_handle(struct mc_service *svc, PGconn *conn, const struct mc_msg *msg, char *err,
                      size_t errlen, void *state)
{
    struct api *api = state;
    const char *topic = msg->topic;
    int rc;
    (void)svc;

    if ((rc = mc_catalog_maybe_reload(&api->catalog, conn, CATALOG_MAX_AGE_S, err, errlen)) != 0)
        return rc;
    if (strcmp(topic, "dossier.received") == 0) {
        if ((rc = mc_schema_check(api->s_received, msg->doc, "dossier.received", err, errlen)) == 0)
            rc = on_received(api, conn, msg->doc, err, errlen);
    } else if (strcmp(topic, "dossier.assigned") == 0) {
        if ((rc = mc_schema_check(api->s_assigned, msg->doc, "dossier.assigned", err, errlen)) == 0)
            rc = on_assigned(api, conn, msg->doc, err, errlen);
    } else if (strcmp(topic, "dossier.updates") == 0) {
        if ((rc = mc_schema_check(api->s_update, msg->doc, "dossier.update", err, errlen)) == 0)
            rc = on_update(api, conn, msg->doc, err, errlen);
    } else if (strcmp(topic, "dossier.deadlines") == 0) {
        if ((rc = mc_schema_check(api->s_deadline, msg->doc, "dossier deadline event", err,
                                  errlen)) == 0)
            rc = on_deadline(api, conn, msg->doc, err, errlen);
    } else if (strcmp(topic, "notifications") == 0) {
        const char *type = mc_json_str(msg->doc, "type");
        if (type && strcmp(type, "notification.notice") == 0) {
            /* Kept apart from the letters (the citizen's lookup shows those). */
            if ((rc = mc_schema_check(api->s_notice, msg->doc, "notice", err, errlen)) == 0)
                rc = mc_pg_exec(conn, INSERT_NOTICE, 5,
                                (const char *[]){mc_json_str(msg->doc, "data/notification_id"),
                                                 mc_json_str(msg->doc, "dossier_code"),
                                                 mc_json_str(msg->doc, "data/kind"),
                                                 mc_json_str(msg->doc, "data/about_unit"),
                                                 mc_json_str(msg->doc, "data/issued_at")},
                                err, errlen);
        } else if ((rc = mc_schema_check(api->s_letter, msg->doc, "notification", err, errlen)) ==
                   0) {
            rc = on_letter(api, conn, msg->doc, err, errlen);
        }
    } else {
        if ((rc = mc_schema_check(api->s_receipt, msg->doc, "notification.receipt", err, errlen)) ==
            0)
            rc = on_receipt(api, conn, msg->doc, err, errlen);
    }
    if (rc == 0)
        mc_service_count(svc, api->m_events, 1);
    return rc;
}

/* Locks the batch's dossiers in a fixed order (two instances applying
 * events of the same dossiers never deadlock) and forgets what a batch
 * rolled back had changed. */
static int api_batch(struct mc_service *svc, PGconn *conn, const struct mc_msg *const *msgs, int n,
                     char *err, size_t errlen, void *state)
{
    struct api *api = state;
    json_t *codes = json_array();
    char *text;
    int rc;
    (void)svc;

    json_object_clear(api->batch_units);
    api->batch_changes = 0;
    api->batch_rows = 0;
    for (int i = 0; i < n; i++) {
        const char *code = mc_json_str(msgs[i]->doc, "dossier_code");
        if (code != NULL)
            json_array_append_new(codes, json_string(code));
    }
    text = json_dumps(codes, JSON_COMPACT);
    json_decref(codes);
    rc = mc_lock_dossiers(conn, "api", text, err, errlen);
    free(text);
    return rc;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Announces on the event stream what committed batches changed: one
 * "change" event naming the units, at most every BROADCAST_EVERY_MS. */
static void announce(struct api *api, uint64_t t)
{
    json_t *units, *ev;
    const char *key;
    json_t *value;
    char *text, *msg;
    size_t len;

    if (api->unsent_changes == 0)
        return;
    units = json_array();
    json_object_foreach(api->unsent_units, key, value)
    {
        (void)value;
        json_array_append_new(units, json_string(key));
    }
    ev = json_pack("{s:i, s:o}", "changes", api->unsent_changes, "units", units);
    text = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    len = strlen(text) + 32;
    msg = mc_xmalloc(len);
    snprintf(msg, len, "event: change\ndata: %s\n\n", text);
    mc_http_broadcast(mc_service_http(api->svc), msg, strlen(msg));
    free(msg);
    free(text);
    json_object_clear(api->unsent_units);
    api->unsent_changes = 0;
    api->last_broadcast_ms = t;
}

static void api_commit(struct mc_service *svc, void *state)
{
    struct api *api = state;
    uint64_t t = now_ms();
    (void)svc;
    json_object_update(api->unsent_units, api->batch_units);
    api->unsent_changes += api->batch_changes;
    json_object_clear(api->batch_units);
    api->batch_changes = 0;
    if (t - api->last_broadcast_ms >= BROADCAST_EVERY_MS)
        announce(api, t);
}

/* Periodic: what the last commits changed, if not announced yet, and the
 * clock's new minute (what is due today or late moves with time alone: the
 * demo's clock jumps by hours); the streams' gauge. */
static int api_work(struct mc_service *svc, PGconn *conn, int64_t *next_ms, void *state)
{
    struct api *api = state;
    uint64_t t = now_ms();
    mc_instant now;
    (void)conn;
    if (mc_service_now(svc, &now) == 0 && now / 60 != api->announced_minute) {
        api->announced_minute = now / 60;
        api->unsent_changes++;
    }
    if (api->unsent_changes > 0 && t - api->last_broadcast_ms >= BROADCAST_EVERY_MS) {
        announce(api, t);
    } else if (t - api->last_broadcast_ms >= HEARTBEAT_MS) {
        /* A comment line: keeps proxies from closing an idle stream, and
         * the write finds the clients that left (libh2o reads nothing from
         * a connection while its response is under way). */
        mc_http_broadcast(mc_service_http(svc), ": heartbeat\n\n", 13);
        api->last_broadcast_ms = t;
    }
    mc_metric_set(api->m_streams, mc_http_stream_count(mc_service_http(api->svc)));
    *next_ms = api->unsent_changes > 0 ? BROADCAST_EVERY_MS : 5000;
    return 0;
}

static void api_fini(void *state)
{
    struct api *api = state;
    mc_schema_free(api->s_received);
    mc_schema_free(api->s_assigned);
    mc_schema_free(api->s_update);
    mc_schema_free(api->s_deadline);
    mc_schema_free(api->s_letter);
    mc_schema_free(api->s_notice);
    mc_schema_free(api->s_receipt);
    mc_catalog_free(api->catalog);
    json_decref(api->batch_units);
    json_decref(api->unsent_units);
    PQfinish(api->reader);
    free(api->board_body);
    mc_ratelimit_free(api->lookups);
    api_free_files(api);
    free(api);
}

static void *api_init(struct mc_service *svc, PGconn *conn, char *err, size_t errlen)
{
    struct api *api = mc_xcalloc(1, sizeof *api);
    const struct mc_config *cfg = mc_service_config(svc);

    api->svc = svc;
    api->batch_units = json_object();
    api->unsent_units = json_object();
    api->lookups =
        mc_ratelimit_new(cfg->api_lookups_per_minute, cfg->api_lookup_burst, RATELIMIT_CLIENTS);
    if ((api->s_received = mc_schema_load_named("dossier-received.v1", err, errlen)) == NULL ||
        (api->s_assigned = mc_schema_load_named("dossier-assigned.v1", err, errlen)) == NULL ||
        (api->s_update = mc_schema_load_named("dossier-update.v1", err, errlen)) == NULL ||
        (api->s_deadline = mc_schema_load_named("dossier-deadline.v1", err, errlen)) == NULL ||
        (api->s_letter = mc_schema_load_named("notification.v2", err, errlen)) == NULL ||
        (api->s_notice = mc_schema_load_named("unit-notice.v1", err, errlen)) == NULL ||
        (api->s_receipt = mc_schema_load_named("notification-receipt.v2", err, errlen)) == NULL ||
        (api->catalog = mc_catalog_load(conn, err, errlen)) == NULL ||
        api_load_files(api, err, errlen) != 0) {
        api_fini(api);
        return NULL;
    }
    api->m_events = mc_metrics_counter("api", "events_total", "events folded into the projection");
    api->m_requests = mc_metrics_counter("api", "requests_total", "API requests answered");
    api->m_limited = mc_metrics_counter("api", "lookups_limited_total",
                                        "dossier lookups refused by the per-client rate limit");
    api->m_streams = mc_metrics_gauge("api", "event_streams", "event stream clients connected");
    return api;
}

static const char *const api_topics[] = {"dossier.received",
                                         "dossier.assigned",
                                         "dossier.updates",
                                         "dossier.deadlines",
                                         "notifications",
                                         "notification.receipts",
                                         NULL};

const struct mc_service_def mc_api_def = {
    .name = "api",
    .schema = "api",
    .topics = api_topics,
    .use_inbox = 1,
    .use_clock = 1,
    .generic_plans = 1,
    .init_cb = api_init,
    .fini_cb = api_fini,
    .handle_cb = api_handle,
    .batch_cb = api_batch,
    .work_cb = api_work,
    .commit_cb = api_commit,
    .http_cb = api_http,
};
