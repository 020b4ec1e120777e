/* The deadline service's rules without the database
 * (services/deadline/rules.c): what an update does to a clock, and the
 * dates of units' updates the rules refuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "motcua/catalog.h"
#include "motcua/error.h"
#include "rules.h"

static struct mc_catalog *catalog;
static struct mc_dl_rules rules;

static int setup(void **state)
{
    char err[256];
    json_t *doc = json_pack("{s:{}, s:{}, s:{}, s:[], s:[]}", "procedures", "units", "settings",
                            "rule_sets", "routing_rules");
    (void)state;
    catalog = mc_catalog_from_json(doc, err, sizeof err);
    json_decref(doc);
    if (catalog == NULL)
        return -1;
    rules.catalog = catalog;
    rules.reappoint_wd = 3;
    return mc_dl_parse_rungs(&rules, "2wd,due-day", err, sizeof err);
}

static int teardown(void **state)
{
    (void)state;
    mc_catalog_free(catalog);
    return 0;
}

static mc_instant at(const char *text)
{
    mc_instant t;
    assert_int_equal(mc_time_parse(text, &t), 0);
    return t;
}

/* Received Tuesday 2024-03-05 08:00, 5 working days: due 12 March 08:00. */
static void open_clock(struct mc_dl_clock *c, int restart)
{
    memset(c, 0, sizeof *c);
    snprintf(c->code, sizeof c->code, "000.00.06.H56-240305-0042");
    snprintf(c->statutory, sizeof c->statutory, "5wd");
    c->restart_policy = restart;
    c->state = MC_DL_OPEN;
    c->received = 1;
    c->version = 1;
    c->receipt_at = c->period_start_at = at("2024-03-05T08:00:00+07:00");
    c->due_at = mc_dl_legal_due(&rules, "", c->receipt_at, "5wd", 0);
    assert_int_equal(c->due_at, at("2024-03-12T08:00:00+07:00"));
}

static int apply(struct mc_dl_clock *c, const char *status, const char *occurred,
                 const char *new_due, const char **why)
{
    struct mc_dl_update u = {.status = status,
                             .occurred = at(occurred),
                             .reason = new_due ? "Cần xác minh thực địa." : NULL,
                             .has_new_due = new_due != NULL,
                             .new_due_at = new_due ? at(new_due) : 0};
    char err[256];
    return mc_dl_apply_update(&rules, c, &u, why, err, sizeof err);
}

/* A supplement under the pause policy adds the working time waited; the
 * new version's rungs count from the resumption. */
static void test_pause_adds_the_time_waited(void **state)
{
    struct mc_dl_clock c;
    const char *why;
    (void)state;
    open_clock(&c, 0);
    assert_int_equal(apply(&c, "supplement_requested", "2024-03-06T08:00:00+07:00", NULL, &why),
                     MC_DL_CHANGED);
    assert_int_equal(c.state, MC_DL_PAUSED);
    assert_int_equal(mc_dl_next_fire(&rules, &c), 0);
    assert_int_equal(apply(&c, "supplement_received", "2024-03-08T08:00:00+07:00", NULL, &why),
                     MC_DL_CHANGED);
    assert_int_equal(c.state, MC_DL_OPEN);
    assert_int_equal(c.version, 2);
    assert_int_equal(c.due_at, at("2024-03-14T08:00:00+07:00")); /* two working days later */
    assert_true(mc_dl_next_fire(&rules, &c) > at("2024-03-08T08:00:00+07:00"));
}

/* A unit's reschedule to a date years away (a typo: 2204 for 2024) is
 * refused, saying why, and leaves the clock as it was. Before, it was
 * accepted, and every plan of the clock then walked the calendar day by
 * day to that year (29 s per update under the fuzzer). */
static void test_reschedule_years_away_is_refused(void **state)
{
    struct mc_dl_clock c, before;
    const char *why = NULL;
    (void)state;
    open_clock(&c, 0);
    before = c;
    assert_int_equal(
        apply(&c, "reschedule", "2024-03-11T09:00:00+07:00", "2204-03-19T17:00:00+07:00", &why),
        MC_DL_REFUSED);
    assert_non_null(why);
    assert_non_null(strstr(why, "within a year of the due date"));
    assert_memory_equal(&c, &before, sizeof c);
    /* A year after the due date is still accepted. */
    assert_int_equal(
        apply(&c, "reschedule", "2024-03-11T09:00:00+07:00", "2025-03-12T08:00:00+07:00", &why),
        MC_DL_CHANGED);
    assert_int_equal(c.rescheduled_due_at, at("2025-03-12T08:00:00+07:00"));
}

/* An update that moves the clock, dated far from the dossier's life (year
 * 2204, or year 1), is an error naming the date: the runtime dead-letters
 * it. It would restart or extend the statutory time by centuries. */
static void test_update_dated_centuries_away_is_an_error(void **state)
{
    struct mc_dl_clock c, before;
    const char *why = NULL;
    (void)state;
    open_clock(&c, 1);
    assert_int_equal(apply(&c, "supplement_requested", "2024-03-06T08:00:00+07:00", NULL, &why),
                     MC_DL_CHANGED);
    before = c;
    assert_int_equal(apply(&c, "supplement_received", "2204-03-08T08:00:00+07:00", NULL, &why),
                     MC_EINVAL);
    assert_memory_equal(&c, &before, sizeof c);
    assert_int_equal(apply(&c, "supplement_requested", "0001-03-08T08:00:00+07:00", NULL, &why),
                     MC_EINVAL);
    assert_memory_equal(&c, &before, sizeof c);
    /* Dates that do not move the clock are history: a final state takes. */
    assert_int_equal(apply(&c, "result_ready", "2204-03-08T08:00:00+07:00", NULL, &why),
                     MC_DL_CHANGED);
    assert_int_equal(c.state, MC_DL_FINISHED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pause_adds_the_time_waited),
        cmocka_unit_test(test_reschedule_years_away_is_refused),
        cmocka_unit_test(test_update_dated_centuries_away_is_an_error),
    };
    return cmocka_run_group_tests_name("unit: deadline rules", tests, setup, teardown);
}
