/* An in-memory copy of the catalog schema (procedures, units, routing rules,
 * settings, rule sets, calendar), loaded in one go and read without queries
 * on the hot path. Services reload it periodically (mc_catalog_maybe_reload). */
#ifndef MOTCUA_CATALOG_H
#define MOTCUA_CATALOG_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>

#include "motcua/calendar.h"

struct mc_catalog;

/* Loads everything. Returns NULL with a reason in err. Caller frees. */
struct mc_catalog *mc_catalog_load(PGconn *conn, char *err, size_t errlen);
void mc_catalog_free(struct mc_catalog *cat);

/* A catalog without a database, from a JSON object {"procedures": {code:
 * row}, "units": {code: row}, "settings": {key: value}, "rule_sets": [row
 * with from_day/to_day], "routing_rules": [row]} (rows as mc_catalog_load
 * reads them), on the default calendar with no overrides: for fuzzing and
 * tests. Returns NULL with err when a member is of the wrong type. */
struct mc_catalog *mc_catalog_from_json(const json_t *doc, char *err, size_t errlen);

/* Reloads *cat when it is older than max_age_s seconds. On failure keeps the
 * old copy and returns the error. */
int mc_catalog_maybe_reload(struct mc_catalog **cat, PGconn *conn, int max_age_s, char *err,
                            size_t errlen);

/* Rows as JSON objects with the table's columns (borrowed), or NULL. */
const json_t *mc_catalog_procedure(const struct mc_catalog *cat, const char *code);
const json_t *mc_catalog_unit(const struct mc_catalog *cat, const char *code);
/* A setting's value, or dflt. */
const char *mc_catalog_setting(const struct mc_catalog *cat, const char *key, const char *dflt);
/* The rule set in force on local day (mc_vn_day), or NULL. */
const json_t *mc_catalog_rule_set_on(const struct mc_catalog *cat, int32_t day);

/* Chooses the deciding unit for a procedure received for ward_code: the most
 * specific matching rule (procedure+ward, procedure, ward, default), then
 * the highest priority, then the lowest id. Returns the unit code (borrowed)
 * and the rule id, or NULL when no rule matches or the unit is unknown. */
const char *mc_catalog_route(const struct mc_catalog *cat, const char *procedure_code,
                             const char *ward_code, int *rule_id);

/* The city-wide working calendar (borrowed). */
const struct mc_calendar *mc_catalog_calendar(const struct mc_catalog *cat);

/* The working calendar of a unit (its own office hours and days in
 * catalog.office_hours / catalog.calendar_day, agency_code = the unit's
 * code), or the city's when it has none or unit_code is NULL. Borrowed. */
const struct mc_calendar *mc_catalog_calendar_for(const struct mc_catalog *cat,
                                                  const char *unit_code);

/* The unit whose one-stop desk received a dossier: the reception point when
 * given; otherwise the ward's desk for commune-level procedures and the
 * city's default reception (setting default_reception) for the others.
 * Its calendar starts the dossier's clock. NULL when none is configured. */
const json_t *mc_catalog_receiving_unit(const struct mc_catalog *cat, const char *reception_point,
                                        const char *ward_code, const char *procedure_level);

#endif
