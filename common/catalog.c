/* In-memory catalog: one query per table at load, lookups by code after. */
#include "motcua/catalog.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "motcua/error.h"
#include "motcua/pg.h"
#include "motcua/timeutil.h"

/* catalog.setting's rows: a key (the first column) and its value. */
#define SETTING_REST(X) X(ST_VALUE, "value", "value")
enum { ST_KEY, SETTING_REST(MC_PG_COL_ENUM) ST_COUNT };

struct unit_calendar {
    char *unit_code;
    struct mc_calendar *calendar;
};

struct mc_catalog {
    json_t *procedures; /* code -> row */
    json_t *units;      /* code -> row */
    json_t *settings;   /* key -> value */
    json_t *rule_sets;  /* array of rows */
    json_t *rules;      /* array of rows */
    struct mc_calendar *calendar;
    struct unit_calendar *unit_calendars; /* units with hours or days of their own */
    int nunit_calendars;
    time_t loaded_at;
};

/* Runs a query whose rows are (key, row_to_json(...)) or (row_to_json) and
 * fills an object (keyed) or array. */
static int load_rows(PGconn *conn, const char *sql, json_t *into, char *err, size_t errlen)
{
    PGresult *res = mc_pg_query(conn, sql, 0, NULL, err, errlen);
    int keyed = json_is_object(into);
    if (res == NULL)
        return MC_EDB;
    for (int i = 0; i < PQntuples(res); i++) {
        json_error_t jerr;
        json_t *row = json_loads(PQgetvalue(res, i, keyed ? 1 : 0), 0, &jerr);
        if (row == NULL) {
            PQclear(res);
            return mc_err(err, errlen, MC_EDB, "catalog row is not JSON: %s", jerr.text);
        }
        if (keyed)
            json_object_set_new(into, PQgetvalue(res, i, 0), row);
        else
            json_array_append_new(into, row);
    }
    PQclear(res);
    return 0;
}

/* One calendar per unit that has office hours or days of its own. */
static int load_unit_calendars(struct mc_catalog *cat, PGconn *conn, char *err, size_t errlen)
{
    PGresult *res = mc_pg_query(conn,
                                "SELECT agency_code FROM catalog.calendar_day WHERE agency_code "
                                "IS NOT NULL UNION SELECT agency_code FROM catalog.office_hours "
                                "WHERE agency_code IS NOT NULL ORDER BY 1",
                                0, NULL, err, errlen);
    int n;
    if (res == NULL)
        return MC_EDB;
    n = PQntuples(res);
    cat->unit_calendars = mc_xcalloc((size_t)n + 1, sizeof *cat->unit_calendars);
    for (int i = 0; i < n; i++) {
        struct unit_calendar *uc = &cat->unit_calendars[cat->nunit_calendars++];
        uc->unit_code = mc_xstrdup(PQgetvalue(res, i, 0));
        uc->calendar = mc_calendar_new(NULL);
        if (mc_calendar_load(uc->calendar, conn, uc->unit_code, err, errlen) != 0) {
            PQclear(res);
            return MC_EDB;
        }
    }
    PQclear(res);
    return 0;
}

struct mc_catalog *mc_catalog_load(PGconn *conn, char *err, size_t errlen)
{
    struct mc_catalog *cat = mc_xcalloc(1, sizeof *cat);
    PGresult *res = NULL;
    cat->procedures = json_object();
    cat->units = json_object();
    cat->settings = json_object();
    cat->rule_sets = json_array();
    cat->rules = json_array();
    if (load_rows(conn, "SELECT code, row_to_json(p)::text FROM catalog.procedure p",
                  cat->procedures, err, errlen) ||
        load_rows(conn, "SELECT code, row_to_json(u)::text FROM catalog.unit u", cat->units, err,
                  errlen) ||
        load_rows(conn,
                  "SELECT row_to_json(r)::text FROM (SELECT code, name, supplement_policy, "
                  "valid_from - date '1970-01-01' AS from_day, "
                  "coalesce(valid_to - date '1970-01-01', 2147483647) AS to_day "
                  "FROM catalog.rule_set ORDER BY valid_from) r",
                  cat->rule_sets, err, errlen) ||
        load_rows(conn,
                  "SELECT row_to_json(r)::text FROM (SELECT * FROM catalog.routing_rule "
                  "ORDER BY id) r",
                  cat->rules, err, errlen))
        goto fail;
    res = mc_pg_query(conn, "SELECT key" SETTING_REST(MC_PG_COL_SQL) " FROM catalog.setting", 0,
                      NULL, err, errlen);
    if (res == NULL)
        goto fail;
    for (int i = 0; i < PQntuples(res); i++)
        json_object_set_new(cat->settings, PQgetvalue(res, i, ST_KEY),
                            json_string(PQgetvalue(res, i, ST_VALUE)));
    PQclear(res);
    cat->calendar = mc_calendar_new(NULL);
    if (mc_calendar_load(cat->calendar, conn, NULL, err, errlen) != 0 ||
        load_unit_calendars(cat, conn, err, errlen) != 0)
        goto fail;
    cat->loaded_at = time(NULL);
    return cat;
fail:
    mc_catalog_free(cat);
    return NULL;
}

struct mc_catalog *mc_catalog_from_json(const json_t *doc, char *err, size_t errlen)
{
    static const struct {
        const char *key;
        int object; /* 1: an object, 0: an array */
    } members[] = {
        {"procedures", 1}, {"units", 1}, {"settings", 1}, {"rule_sets", 0}, {"routing_rules", 0}};
    struct mc_catalog *cat;
    json_t *v[5];
    for (size_t i = 0; i < 5; i++) {
        v[i] = json_object_get(doc, members[i].key);
        if (v[i] && (members[i].object ? !json_is_object(v[i]) : !json_is_array(v[i]))) {
            mc_err(err, errlen, MC_EINVAL, "catalog: %s must be an %s", members[i].key,
                   members[i].object ? "object" : "array");
            return NULL;
        }
    }
    cat = mc_xcalloc(1, sizeof *cat);
    cat->procedures = v[0] ? json_deep_copy(v[0]) : json_object();
    cat->units = v[1] ? json_deep_copy(v[1]) : json_object();
    cat->settings = v[2] ? json_deep_copy(v[2]) : json_object();
    cat->rule_sets = v[3] ? json_deep_copy(v[3]) : json_array();
    cat->rules = v[4] ? json_deep_copy(v[4]) : json_array();
    cat->calendar = mc_calendar_new(NULL);
    cat->loaded_at = time(NULL);
    return cat;
}

void mc_catalog_free(struct mc_catalog *cat)
{
    if (cat == NULL)
        return;
    json_decref(cat->procedures);
    json_decref(cat->units);
    json_decref(cat->settings);
    json_decref(cat->rule_sets);
    json_decref(cat->rules);
    mc_calendar_free(cat->calendar);
    for (int i = 0; i < cat->nunit_calendars; i++) {
        free(cat->unit_calendars[i].unit_code);
        mc_calendar_free(cat->unit_calendars[i].calendar);
    }
    free(cat->unit_calendars);
    free(cat);
}

int mc_catalog_maybe_reload(struct mc_catalog **cat, PGconn *conn, int max_age_s, char *err,
                            size_t errlen)
{
    struct mc_catalog *fresh;
    if (*cat && time(NULL) - (*cat)->loaded_at < max_age_s)
        return 0;
    if ((fresh = mc_catalog_load(conn, err, errlen)) == NULL)
        return MC_EDB;
    mc_catalog_free(*cat);
    *cat = fresh;
    return 0;
}

const json_t *mc_catalog_procedure(const struct mc_catalog *cat, const char *code)
{
    return code ? json_object_get(cat->procedures, code) : NULL;
}

const json_t *mc_catalog_unit(const struct mc_catalog *cat, const char *code)
{
    return code ? json_object_get(cat->units, code) : NULL;
}

const char *mc_catalog_setting(const struct mc_catalog *cat, const char *key, const char *dflt)
{
    const char *v = json_string_value(json_object_get(cat->settings, key));
    return v ? v : dflt;
}

const json_t *mc_catalog_rule_set_on(const struct mc_catalog *cat, int32_t day)
{
    size_t i;
    json_t *rs;
    json_array_foreach(cat->rule_sets, i, rs)
    {
        json_int_t from = json_integer_value(json_object_get(rs, "from_day"));
        json_int_t to = json_integer_value(json_object_get(rs, "to_day"));
        if (day >= from && day <= to)
            return rs;
    }
    return NULL;
}

static int eq(const json_t *v, const char *s)
{
    return json_is_string(v) && s && strcmp(json_string_value(v), s) == 0;
}

const char *mc_catalog_route(const struct mc_catalog *cat, const char *procedure_code,
                             const char *ward_code, int *rule_id)
{
    const json_t *best = NULL;
    int best_spec = -1;
    json_int_t best_prio = 0;
    size_t i;
    json_t *r;
    const char *unit;

    json_array_foreach(cat->rules, i, r)
    {
        const json_t *p = json_object_get(r, "procedure_code");
        const json_t *w = json_object_get(r, "ward_code");
        json_int_t prio = json_integer_value(json_object_get(r, "priority"));
        int spec;
        if ((!json_is_null(p) && !eq(p, procedure_code)) || (!json_is_null(w) && !eq(w, ward_code)))
            continue;
        spec = (json_is_null(p) ? 0 : 2) + (json_is_null(w) ? 0 : 1);
        /* Rules are in id order, so ties keep the lowest id. */
        if (spec > best_spec || (spec == best_spec && prio > best_prio)) {
            best = r;
            best_spec = spec;
            best_prio = prio;
        }
    }
    if (best == NULL)
        return NULL;
    unit = eq(json_object_get(best, "target"), "ward")
               ? ward_code
               : json_string_value(json_object_get(best, "unit_code"));
    if (mc_catalog_unit(cat, unit) == NULL)
        return NULL;
    *rule_id = (int)json_integer_value(json_object_get(best, "id"));
    return json_string_value(json_object_get(mc_catalog_unit(cat, unit), "code"));
}

const struct mc_calendar *mc_catalog_calendar(const struct mc_catalog *cat)
{
    return cat->calendar;
}

const struct mc_calendar *mc_catalog_calendar_for(const struct mc_catalog *cat,
                                                  const char *unit_code)
{
    for (int i = 0; unit_code && i < cat->nunit_calendars; i++)
        if (strcmp(cat->unit_calendars[i].unit_code, unit_code) == 0)
            return cat->unit_calendars[i].calendar;
    return cat->calendar;
}

const json_t *mc_catalog_receiving_unit(const struct mc_catalog *cat, const char *reception_point,
                                        const char *ward_code, const char *procedure_level)
{
    if (reception_point)
        return mc_catalog_unit(cat, reception_point);
    if (procedure_level && strcmp(procedure_level, "district") != 0)
        return mc_catalog_unit(cat, ward_code);
    return mc_catalog_unit(cat, mc_catalog_setting(cat, "default_reception", NULL));
}
