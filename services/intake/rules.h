/* intake's judgement of one submission, with no database: the schema, the
 * rules the schema cannot say, the catalog's look-ups, and the statutory
 * times. intake.c stores and publishes what this decides; the fuzz harness
 * (tests/fuzz/fuzz_intake.c) drives it with an in-memory catalog. */
#ifndef MOTCUA_INTAKE_RULES_H
#define MOTCUA_INTAKE_RULES_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "motcua/catalog.h"
#include "motcua/schema.h"
#include "motcua/timeutil.h"

struct mc_intake_verdict {
    json_t *problems; /* owned: [{path, problem}], or NULL when accepted */
    /* When accepted (borrowed from the catalog, and parsed from sub): */
    const json_t *procedure, *rule_set;
    mc_instant submitted_at, received_at;
    int32_t vn_day; /* received_at's local day */
};

/* Judges sub. Always fills v; v->problems says what is wrong, if anything
 * (the caller rejects with it and owns it). */
void mc_intake_judge(const struct mc_schema *schema, const struct mc_catalog *cat,
                     const json_t *sub, struct mc_intake_verdict *v);

/* The statutory times of an accepted submission: its receiving desk (whose
 * agency numbers the dossier), its statutory time ("15wd"), when the clock
 * starts and the legal due date. Returns 0, or MC_EINVAL with err when the
 * catalog cannot say (no receiving desk, a bad statutory time). */
struct mc_intake_times {
    const json_t *agency_unit;
    char statutory[16];
    mc_instant receipt_at, due_at;
};
int mc_intake_times(const struct mc_catalog *cat, const json_t *sub,
                    const struct mc_intake_verdict *v, struct mc_intake_times *t, char *err,
                    size_t errlen);

#endif
