/* intake's judgement of one submission, without the database
 * (rules.h). */
#include "rules.h"

#include <stdio.h>
#include <string.h>

#include "motcua/calendar.h"
#include "motcua/error.h"
#include "motcua/jsonutil.h"

/* Adds {"path", "problem": what + quoted subject + rest}. */
static void add_problem(json_t *problems, const char *path, const char *what, const char *subject,
                        const char *rest)
{
    char text[512];
    if (subject)
        snprintf(text, sizeof text, "%s%s'%.200s' %s", what, *what ? " " : "", subject, rest);
    else
        snprintf(text, sizeof text, "%s", what);
    json_array_append_new(problems, json_pack("{s:s, s:s}", "path", path, "problem", text));
}

/* The position (in characters, from 1) of the first control character of
 * s (U+0000-U+001F, U+007F-U+009F), or 0 when there is none. */
static size_t control_at(const char *s, unsigned *code)
{
    size_t chars = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p & 0xC0) != 0x80)
            chars++;
        if (*p < 0x20 || *p == 0x7f) {
            *code = *p;
            return chars;
        }
        if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
            *code = p[1];
            return chars;
        }
    }
    return 0;
}

/* Names and addresses go into letters and onto envelopes: no control
 * characters (a tab, a line break, an escape) in them. */
static void check_printable(json_t *problems, const json_t *sub)
{
    static const char *const paths[] = {"/applicant/name", "/applicant/address", NULL};
    const json_t *docs = json_object_get(sub, "documents"), *doc;
    char text[160], path[64];
    unsigned code = 0;
    size_t at, i;
    for (const char *const *p = paths; *p; p++) {
        const char *v = mc_json_str(sub, *p + 1);
        if (v && (at = control_at(v, &code)) > 0) {
            snprintf(text, sizeof text, "contains a control character (U+%04X) at character %zu",
                     code, at);
            add_problem(problems, *p, text, NULL, NULL);
        }
    }
    json_array_foreach(docs, i, doc)
    {
        const char *v = json_string_value(json_object_get(doc, "name"));
        if (v && (at = control_at(v, &code)) > 0) {
            snprintf(path, sizeof path, "/documents/%zu/name", i);
            snprintf(text, sizeof text, "contains a control character (U+%04X) at character %zu",
                     code, at);
            add_problem(problems, path, text, NULL, NULL);
        }
    }
}

void mc_intake_judge(const struct mc_schema *schema, const struct mc_catalog *cat,
                     const json_t *sub, struct mc_intake_verdict *v)
{
    const json_t *ward, *rp_unit;
    const char *rp;
    json_t *problems = NULL;

    memset(v, 0, sizeof *v);
    if (mc_schema_validate(schema, sub, &problems) != 0) {
        v->problems = problems;
        return;
    }
    /* The schema holds; now the rules it cannot say, and those that need
     * the catalog. */
    problems = json_array();
    check_printable(problems, sub);
    rp = mc_json_str(sub, "reception_point");
    v->procedure = mc_catalog_procedure(cat, mc_json_str(sub, "procedure_code"));
    ward = mc_catalog_unit(cat, mc_json_str(sub, "ward_code"));
    if (v->procedure == NULL)
        add_problem(problems, "/procedure_code", "procedure", mc_json_str(sub, "procedure_code"),
                    "is not in the catalog");
    if (ward == NULL || (strcmp(mc_json_str(ward, "kind"), "ward") != 0 &&
                         strcmp(mc_json_str(ward, "kind"), "commune") != 0))
        add_problem(problems, "/ward_code", "", mc_json_str(sub, "ward_code"),
                    "is not a ward or commune of the catalog");
    if (rp && ((rp_unit = mc_catalog_unit(cat, rp)) == NULL ||
               strcmp(mc_json_str(rp_unit, "kind"), "reception") != 0))
        add_problem(problems, "/reception_point", "", rp,
                    "is not a reception point of the catalog");
    /* The schema's date-time is what mc_time_parse accepts, so these hold;
     * checked all the same, never used unparsed. */
    if (mc_json_time(sub, "submitted_at", &v->submitted_at) != 0) {
        add_problem(problems, "/submitted_at", "is not an RFC 3339 date-time with an offset", NULL,
                    NULL);
        v->problems = problems;
        return;
    }
    v->received_at = v->submitted_at;
    if (json_object_get(sub, "received_at") &&
        mc_json_time(sub, "received_at", &v->received_at) != 0) {
        add_problem(problems, "/received_at", "is not an RFC 3339 date-time with an offset", NULL,
                    NULL);
        v->problems = problems;
        return;
    }
    if (v->received_at < v->submitted_at)
        add_problem(problems, "/received_at", "must not be before submitted_at", NULL, NULL);
    v->vn_day = mc_vn_day(v->received_at);
    v->rule_set = mc_catalog_rule_set_on(cat, v->vn_day);
    if (v->rule_set == NULL)
        add_problem(problems, "/received_at", "no rule set of the catalog is in force on this date",
                    NULL, NULL);
    if (json_array_size(problems) > 0)
        v->problems = problems;
    else
        json_decref(problems);
}

int mc_intake_times(const struct mc_catalog *cat, const json_t *sub,
                    const struct mc_intake_verdict *v, struct mc_intake_times *t, char *err,
                    size_t errlen)
{
    const struct mc_calendar *cal;
    struct mc_duration dur;
    json_int_t amount;

    memset(t, 0, sizeof *t);
    t->agency_unit = mc_catalog_receiving_unit(cat, mc_json_str(sub, "reception_point"),
                                               mc_json_str(sub, "ward_code"),
                                               mc_json_str(v->procedure, "level"));
    if (t->agency_unit == NULL)
        return mc_err(err, errlen, MC_EINVAL, "no receiving agency: set default_reception");
    amount = json_integer_value(json_object_get(v->procedure, "time_amount"));
    if (strcmp(mc_json_str(sub, "channel"), "online") == 0 &&
        json_is_integer(json_object_get(v->procedure, "online_time_amount")))
        amount = json_integer_value(json_object_get(v->procedure, "online_time_amount"));
    snprintf(t->statutory, sizeof t->statutory, "%lld%s", (long long)amount,
             mc_json_str(v->procedure, "time_unit"));
    if (mc_duration_parse(t->statutory, &dur, err, errlen) != 0)
        return mc_err(err, errlen, MC_EINVAL, "procedure %s has a bad statutory time %s",
                      mc_json_str(v->procedure, "code"), t->statutory);
    /* The receiving desk's working calendar starts the clock. */
    cal = mc_catalog_calendar_for(cat, mc_json_str(t->agency_unit, "code"));
    t->receipt_at = mc_calendar_receipt_at(cal, v->received_at);
    t->due_at = mc_calendar_due_at(cal, v->received_at, &dur);
    return 0;
}
