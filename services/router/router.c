/* router: picks the deciding unit of each received dossier from the routing
 * rules and publishes dossier.assigned; applies transfers between units. */
#include "router.h"

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

struct router {
    struct mc_schema *received_schema, *update_schema;
    struct mc_catalog *catalog;
    struct mc_metric *m_assigned, *m_transfers;
    /* Read by router_batch for the batch being applied (sets: code -> true). */
    json_t *assigned;  /* dossiers assigned already */
    json_t *parked;    /* dossiers with parked transfers */
    json_t *transfers; /* dossiers the batch transfers */
};

static const char SELECT_ASSIGNED[] =
    "SELECT dossier_code FROM routing.assignment WHERE dossier_code IN "
    "(SELECT jsonb_array_elements_text($1::jsonb))";

static const char SELECT_PARKED[] =
    "SELECT DISTINCT dossier_code FROM routing.parked WHERE dossier_code IN "
    "(SELECT jsonb_array_elements_text($1::jsonb))";

/* $1 code, $2 the new unit: a transfer of an assigned dossier; returns
 * the unit it came from and the dossier (none: not assigned yet). */
#define TRANSFER_REST(X) X(TR_DOSSIER, "dossier", "a.dossier::text")
enum { TR_FROM, TRANSFER_REST(MC_PG_COL_ENUM) TR_COUNT };
static const char TRANSFER[] =
    "UPDATE routing.assignment a SET unit_code = $2 FROM (SELECT unit_code FROM "
    "routing.assignment WHERE dossier_code = $1 FOR UPDATE) old WHERE a.dossier_code = $1 "
    "RETURNING old.unit_code AS from_unit" TRANSFER_REST(MC_PG_COL_SQL);

/* Set-based: one row object per assignment (mc_service_write_rows). */
static const char INSERT_ASSIGNMENTS[] =
    "INSERT INTO routing.assignment (dossier_code, unit_code, rule_id, procedure_code, ward_code, "
    "receipt_at, due_at, assigned_at, dossier) SELECT dossier_code, unit_code, rule_id, "
    "procedure_code, ward_code, receipt_at, due_at, assigned_at, dossier FROM "
    "jsonb_to_recordset($1::jsonb) AS x(dossier_code text, unit_code text, rule_id int, "
    "procedure_code text, ward_code text, receipt_at timestamptz, due_at timestamptz, "
    "assigned_at timestamptz, dossier jsonb) ON CONFLICT (dossier_code) DO NOTHING";

static void *router_init(struct mc_service *svc, PGconn *conn, char *err, size_t errlen)
{
    struct router *r = mc_xcalloc(1, sizeof *r);
    if ((r->received_schema = mc_schema_load_named("dossier-received.v1", err, errlen)) == NULL ||
        (r->update_schema = mc_schema_load_named("dossier-update.v1", err, errlen)) == NULL ||
        (r->catalog = mc_catalog_load(conn, err, errlen)) == NULL) {
        mc_schema_free(r->received_schema);
        mc_schema_free(r->update_schema);
        free(r);
        return NULL;
    }
    r->m_assigned =
        mc_metrics_counter("router", "dossiers_assigned_total", "assignments published");
    r->m_transfers = mc_metrics_counter("router", "transfers_total", "transfers between units");
    r->assigned = json_object();
    r->parked = json_object();
    r->transfers = json_object();
    return r;
}

static void router_fini(void *state)
{
    struct router *r = state;
    mc_schema_free(r->received_schema);
    mc_schema_free(r->update_schema);
    mc_catalog_free(r->catalog);
    json_decref(r->assigned);
    json_decref(r->parked);
    json_decref(r->transfers);
    free(r);
}

/* Locks the batch's dossiers and reads, for the whole batch at once, which
 * are assigned already and which have transfers waiting. */
static int router_batch(struct mc_service *svc, PGconn *conn, const struct mc_msg *const *msgs,
                        int n, char *err, size_t errlen, void *state)
{
    struct router *r = state;
    json_t *codes = json_array();
    char *text;
    int rc;
    (void)svc;

    json_object_clear(r->transfers);
    for (int i = 0; i < n; i++) {
        const char *code = mc_json_str(msgs[i]->doc, "dossier_code");
        const char *status = mc_json_str(msgs[i]->doc, "data/status");
        if (code == NULL)
            continue;
        json_array_append_new(codes, json_string(code));
        if (strcmp(msgs[i]->topic, "dossier.updates") == 0 && status &&
            strcmp(status, "transfer") == 0)
            json_object_set_new(r->transfers, code, json_true());
    }
    text = json_dumps(codes, JSON_COMPACT);
    json_decref(codes);
    rc = mc_lock_dossiers(conn, "router", text, err, errlen);
    json_object_clear(r->assigned);
    json_object_clear(r->parked);
    if (rc == 0)
        rc = mc_pg_collect(conn, SELECT_ASSIGNED, text, r->assigned, err, errlen);
    if (rc == 0)
        rc = mc_pg_collect(conn, SELECT_PARKED, text, r->parked, err, errlen);
    free(text);
    return rc;
}

/* The unit as the events carry it. A Vice-Chairman signing on the
 * Chairman's behalf (city_deputy) is city_chairman in the events' v1
 * vocabulary: the letter is the Chairman's; notify reads who signs it from
 * the catalog. */
static json_t *unit_json(const json_t *unit)
{
    const char *policy = mc_json_str(unit, "signer_policy");
    if (policy && strcmp(policy, "city_deputy") == 0)
        policy = "city_chairman";
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "code", mc_json_str(unit, "code"), "name",
                     mc_json_str(unit, "name"), "kind", mc_json_str(unit, "kind"), "head_title",
                     mc_json_str(unit, "head_title"), "head_name", mc_json_str(unit, "head_name"),
                     "signer_policy", policy);
}

static int publish_assigned(struct mc_service *svc, PGconn *conn, struct router *r,
                            const char *code, const json_t *unit, const json_t *dossier,
                            int rule_id, const char *reason, mc_instant assigned_at,
                            const char *seed, char *err, size_t errlen)
{
    json_t *data = json_pack(
        "{s:o, s:s, s:s, s:o, s:s, s:s, s:o}", "unit", unit_json(unit), "procedure_code",
        mc_json_str(dossier, "procedure/code"), "ward_code", mc_json_str(dossier, "ward_code"),
        "assigned_at", mc_json_time_new(assigned_at), "due_at", mc_json_str(dossier, "due_at"),
        "reason", reason, "rule_id", rule_id > 0 ? json_integer(rule_id) : json_null());
    if (data == NULL)
        return mc_err(err, errlen, MC_EINVAL, "cannot build dossier.assigned for %s", code);
    mc_service_count(svc, r->m_assigned, 1);
    return mc_service_emit(svc, conn, "dossier.assigned", code, "dossier.assigned", code,
                           assigned_at, data, seed, err, errlen);
}

static int apply_transfer(struct mc_service *svc, PGconn *conn, struct router *r, const json_t *ev,
                          const struct mc_msg *msg, char *err, size_t errlen);

static int on_received(struct mc_service *svc, PGconn *conn, struct router *r,
                       const struct mc_msg *msg, char *err, size_t errlen)
{
    json_t *dossier = json_object_get(msg->doc, "data");
    const char *code = mc_json_str(msg->doc, "dossier_code");
    const char *unit_code;
    const json_t *unit;
    int rule_id = 0, rc;
    mc_instant assigned_at;
    char seed[256], ruletext[16], *dtext;
    const char *params[9];
    PGresult *res;

    if ((rc = mc_schema_check(r->received_schema, msg->doc, "dossier.received", err, errlen)) != 0)
        return rc;
    unit_code = mc_catalog_route(r->catalog, mc_json_str(dossier, "procedure/code"),
                                 mc_json_str(dossier, "ward_code"), &rule_id);
    if (unit_code == NULL)
        return mc_err(err, errlen, MC_EINVAL,
                      "no routing rule of the catalog matches procedure %s in ward %s; fix the "
                      "catalog and replay this dead letter",
                      mc_json_str(dossier, "procedure/code"), mc_json_str(dossier, "ward_code"));
    unit = mc_catalog_unit(r->catalog, unit_code);
    if ((rc = mc_json_time_required(msg->doc, "occurred_at", &assigned_at, code, err, errlen)) != 0)
        return rc;

    if (json_object_get(r->assigned, code))
        return 0; /* assigned before (the same dossier.received seen again) */
    if (mc_service_set_based(svc) && !json_object_get(r->parked, code) &&
        !json_object_get(r->transfers, code)) {
        /* Nothing in this batch or waiting reads the row: write it with
         * the batch's others. */
        json_t *row = json_pack(
            "{s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:O}", "dossier_code", code, "unit_code",
            unit_code, "rule_id", rule_id, "procedure_code", mc_json_str(dossier, "procedure/code"),
            "ward_code", mc_json_str(dossier, "ward_code"), "receipt_at",
            mc_json_str(dossier, "receipt_at"), "due_at", mc_json_str(dossier, "due_at"),
            "assigned_at", mc_json_str(msg->doc, "occurred_at"), "dossier", dossier);
        if (row == NULL)
            return mc_err(err, errlen, MC_EINVAL, "cannot build the assignment of %s", code);
        if ((rc = mc_service_write_rows(svc, conn, INSERT_ASSIGNMENTS, row, err, errlen)) < 0)
            return rc;
        json_object_set_new(r->assigned, code, json_true());
        snprintf(seed, sizeof seed, "router/assigned/%s/0", code);
        return publish_assigned(svc, conn, r, code, unit, dossier, rule_id, "rule", assigned_at,
                                seed, err, errlen);
    }

    snprintf(ruletext, sizeof ruletext, "%d", rule_id);
    dtext = json_dumps(dossier, JSON_COMPACT);
    params[0] = code;
    params[1] = unit_code;
    params[2] = ruletext;
    params[3] = mc_json_str(dossier, "procedure/code");
    params[4] = mc_json_str(dossier, "ward_code");
    params[5] = mc_json_str(dossier, "receipt_at");
    params[6] = mc_json_str(dossier, "due_at");
    params[7] = mc_json_str(msg->doc, "occurred_at");
    params[8] = dtext;
    res = mc_pg_query(conn,
                      "INSERT INTO routing.assignment (dossier_code, unit_code, rule_id, "
                      "procedure_code, ward_code, receipt_at, due_at, assigned_at, dossier) "
                      "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9::jsonb) "
                      "ON CONFLICT (dossier_code) DO NOTHING RETURNING 1",
                      9, params, err, errlen);
    free(dtext);
    if (res == NULL)
        return MC_EDB;
    rc = PQntuples(res);
    PQclear(res);
    if (rc == 0)
        return 0; /* assigned before (the same dossier.received seen again) */
    json_object_set_new(r->assigned, code, json_true());
    snprintf(seed, sizeof seed, "router/assigned/%s/0", code);
    if ((rc = publish_assigned(svc, conn, r, code, unit, dossier, rule_id, "rule", assigned_at,
                               seed, err, errlen)) != 0)
        return rc;

    /* Transfers that arrived before the dossier now apply, in arrival order. */
    params[0] = code;
    if ((res = mc_pg_query(conn,
                           "WITH d AS (DELETE FROM routing.parked WHERE dossier_code = $1 "
                           "RETURNING payload) SELECT payload::text FROM d ORDER BY "
                           "(payload->>'occurred_at')::timestamptz, payload->>'event_id'",
                           1, params, err, errlen)) == NULL)
        return MC_EDB;
    for (int i = 0; i < PQntuples(res) && rc == 0; i++) {
        json_t *ev = json_loads(PQgetvalue(res, i, 0), 0, NULL);
        rc = apply_transfer(svc, conn, r, ev, NULL, err, errlen);
        if (rc == MC_EINVAL) {
            /* Its target left the catalog meanwhile: the dossier stays where
             * the rules put it, and is not dead-lettered for a transfer. */
            mc_log_kv(MC_LOG_WARN, "parked transfer skipped", "dossier_code", code, "reason", err,
                      NULL);
            rc = 0;
        }
        json_decref(ev);
    }
    PQclear(res);
    return rc;
}

/* Applies (or parks) the transfer ev; msg is where it was read, NULL for a
 * parked one applied when its dossier arrived. */
static int apply_transfer(struct mc_service *svc, PGconn *conn, struct router *r, const json_t *ev,
                          const struct mc_msg *msg, char *err, size_t errlen)
{
    const char *code = mc_json_str(ev, "dossier_code");
    const char *to = mc_json_str(ev, "data/to_unit_code");
    const json_t *unit = mc_catalog_unit(r->catalog, to);
    const char *params[6];
    char seed[256];
    mc_instant handed_at;
    PGresult *res;
    json_t *dossier;
    int rc;

    if (to == NULL || unit == NULL)
        return mc_err(err, errlen, MC_EINVAL, "transfer of %s: to_unit_code '%s' is not a unit",
                      code, to ? to : "(missing)");
    params[0] = code;
    params[1] = to;
    res = mc_pg_query(conn, TRANSFER, 2, params, err, errlen);
    if (res == NULL)
        return MC_EDB;
    if (PQntuples(res) == 0) {
        /* The dossier is not known yet: park the transfer, do not drop it. */
        char *text = json_dumps(ev, JSON_COMPACT);
        PQclear(res);
        params[0] = mc_json_str(ev, "event_id");
        params[1] = code;
        params[2] = text;
        char partition[16], offset[24];
        snprintf(partition, sizeof partition, "%d", msg ? (int)msg->partition : 0);
        snprintf(offset, sizeof offset, "%lld", msg ? (long long)msg->offset : 0LL);
        params[3] = msg ? partition : NULL;
        params[4] = msg ? offset : NULL;
        rc = mc_pg_exec(conn,
                        "INSERT INTO routing.parked (event_id, dossier_code, payload, "
                        "read_partition, read_offset) VALUES ($1, $2, $3::jsonb, $4, $5) "
                        "ON CONFLICT DO NOTHING",
                        5, params, err, errlen);
        free(text);
        return rc;
    }
    params[0] = code;
    params[1] = PQgetvalue(res, 0, TR_FROM);
    params[2] = to;
    params[3] = mc_json_str(ev, "data/officer");
    params[4] = mc_json_str(ev, "data/reason");
    params[5] = mc_json_str(ev, "occurred_at");
    dossier = json_loads(PQgetvalue(res, 0, TR_DOSSIER), 0, NULL);
    rc = mc_pg_exec(conn,
                    "INSERT INTO routing.transfer (dossier_code, from_unit, to_unit, officer, "
                    "reason, handed_at) VALUES ($1,$2,$3,$4,$5,$6)",
                    6, params, err, errlen);
    PQclear(res);
    if (rc == 0)
        rc = mc_json_time_required(ev, "occurred_at", &handed_at, code, err, errlen);
    if (rc == 0) {
        snprintf(seed, sizeof seed, "router/assigned/%s/%s", code, mc_json_str(ev, "event_id"));
        mc_service_count(svc, r->m_transfers, 1);
        rc = publish_assigned(svc, conn, r, code, unit, dossier, 0, "transfer", handed_at, seed,
                              err, errlen);
    }
    json_decref(dossier);
    return rc;
}

static int router_handle(struct mc_service *svc, PGconn *conn, const struct mc_msg *msg, char *err,
                         size_t errlen, void *state)
{
    struct router *r = state;
    const char *status;
    int rc;

    if ((rc = mc_catalog_maybe_reload(&r->catalog, conn, CATALOG_MAX_AGE_S, err, errlen)) != 0)
        return rc;
    /* router_batch holds the dossier's lock. */
    if (strcmp(msg->topic, "dossier.received") == 0)
        return on_received(svc, conn, r, msg, err, errlen);
    /* dossier.updates: the router acts on transfers only. */
    status = mc_json_str(msg->doc, "data/status");
    if (status == NULL || strcmp(status, "transfer") != 0)
        return 0;
    if ((rc = mc_schema_check(r->update_schema, msg->doc, "dossier.update", err, errlen)) != 0)
        return rc;
    return apply_transfer(svc, conn, r, msg->doc, msg, err, errlen);
}

static const char *const router_topics[] = {"dossier.received", "dossier.updates", NULL};

/* Retention: transfers parked for a dossier that never arrived go to the
 * dead letters. */
static int router_prune(struct mc_service *svc, PGconn *conn, long long *pruned, char *err,
                        size_t errlen, void *state)
{
    (void)state;
    return mc_service_expire_parked(
        svc, conn,
        "SELECT event_id AS id, dossier_code, payload::text AS payload, read_partition, "
        "read_offset, extract(day FROM now() - parked_at)::int AS days_waited FROM routing.parked "
        "WHERE parked_at < now() - make_interval(days => $1::int) "
        "ORDER BY parked_at LIMIT 100 FOR UPDATE SKIP LOCKED",
        "DELETE FROM routing.parked WHERE event_id = $1", "dossier.updates", "transfer", pruned,
        err, errlen);
}

const struct mc_service_def mc_router_def = {
    .name = "router",
    .schema = "routing",
    .topics = router_topics,
    .use_inbox = 1,
    .init_cb = router_init,
    .fini_cb = router_fini,
    .handle_cb = router_handle,
    .batch_cb = router_batch,
    .prune_cb = router_prune,
};
