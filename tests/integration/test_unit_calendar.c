/* A unit's own working calendar (catalog.office_hours with agency_code = the
 * unit's code): intake counts the statutory time on the receiving desk's
 * calendar, and the deadline service keeps using that calendar for the
 * clock. Phường Phương Lâm (04807) works Saturdays here; Phường Quỳnh Lâm
 * (04816) keeps the city's Monday-to-Friday. */
#include "harness.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "deadline.h"
#include "intake.h"
#include "motcua/jsonutil.h"

static struct h_env *env;

static int group_setup(void **state)
{
    struct mc_config *cfg;
    (void)state;
    if ((env = h_env_new("unitcal")) == NULL)
        return -1;
    /* Before the services start, so their catalog has it. */
    h_sql_exec(env,
               "INSERT INTO catalog.office_hours (agency_code, weekdays, sessions, note) "
               "VALUES ('04807', 126, '07:00-11:30,13:30-17:00', 'Saturday desk (test)')",
               NULL);
    h_service_new(env, &mc_intake_def, h_config_new(env, "intake"));
    cfg = h_config_new(env, "deadline");
    cfg->clock = MC_CLOCK_TOPIC;
    h_service_new(env, &mc_deadline_def, cfg);
    h_wait_ready(env, H_JOIN_TIMEOUT_MS);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    h_env_free(env);
    return 0;
}

static void submit(const char *external_id, const char *ward)
{
    char key[128];
    json_t *doc = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s}}", "source",
                            "motcua-counter", "external_id", external_id, "submitted_at",
                            "2024-03-07T09:00:00+07:00", "received_at", "2024-03-07T09:00:00+07:00",
                            "channel", "counter", "procedure_code", "1.001022", "ward_code", ward,
                            "applicant", "kind", "citizen", "name", "Hà Thị Lan", "id_number",
                            "017190001234");
    assert_non_null(doc);
    snprintf(key, sizeof key, "motcua-counter/%s", external_id);
    h_produce_json(env, "submissions", key, doc, NULL, NULL);
    json_decref(doc);
}

static char *due_of(const char *external_id)
{
    return h_sql_text(env,
                      "SELECT motcua_rfc3339(due_at) FROM intake.dossier WHERE external_id = $1",
                      external_id, NULL);
}

/* Thursday 2024-03-07 09:00, 3 working days (24 h): 6 h on Thursday, 8 on
 * Friday, then Saturday at the Saturday desk (due Monday 09:00) but Monday
 * and Tuesday in the city's week (due Tuesday 09:00). */
static void test_due_date_on_the_receiving_desk_calendar(void **state)
{
    char *due;
    (void)state;
    submit("UC-SAT-1", "04807");
    submit("UC-CITY-1", "04816");
    H_PUMP_UNTIL(env, H_TIMEOUT_MS,
                 h_sql_int(env,
                           "SELECT count(*) FROM deadline.clock WHERE received AND dossier_code IN "
                           "(SELECT code FROM intake.dossier WHERE external_id LIKE 'UC-%')",
                           NULL) == 2);
    due = due_of("UC-SAT-1");
    assert_string_equal(due, "2024-03-11T09:00:00+07:00");
    free(due);
    due = due_of("UC-CITY-1");
    assert_string_equal(due, "2024-03-12T09:00:00+07:00");
    free(due);
}

/* The clock remembers whose calendar it runs on, for pauses, warnings and
 * calendar corrections. */
static void test_clock_keeps_the_desk_calendar(void **state)
{
    char *unit;
    (void)state;
    unit = h_sql_text(env,
                      "SELECT calendar_unit FROM deadline.clock c JOIN intake.dossier d ON "
                      "d.code = c.dossier_code WHERE d.external_id = 'UC-SAT-1'",
                      NULL);
    assert_string_equal(unit, "04807");
    free(unit);
    unit = h_sql_text(env,
                      "SELECT motcua_rfc3339(c.due_at) FROM deadline.clock c JOIN intake.dossier d "
                      "ON d.code = c.dossier_code WHERE d.external_id = 'UC-SAT-1'",
                      NULL);
    assert_string_equal(unit, "2024-03-11T09:00:00+07:00");
    free(unit);
}

/* Fails unless out matches re (an extended regular expression). */
static void assert_output(const char *out, const char *re)
{
    if (!h_matches(re, out))
        fail_msg("no match for %s in:\n%s", re, out);
}

/* An operator keeps the calendar with `motcua calendar`: a day off for the
 * city and an extra working Saturday for one ward, listed with where they
 * come from; adding a day that has a row is refused, naming that row;
 * removing says what went. (2031: the services' dossiers here are not
 * affected.) */
static void test_operator_keeps_the_calendar_with_the_cli(void **state)
{
    char *out;
    int status;
    (void)state;

    out =
        h_cli(env, "calendar add --day 2031-03-14 --kind off --name 'Nghỉ bù thử nghiệm'", &status);
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_output(out, "^added 2031-03-14 city off \"Nghỉ bù thử nghiệm\"");
    free(out);
    out = h_cli(env, "calendar add --day 2031-03-14 --kind work --name 'Lần hai'", &status);
    assert_int_equal(WEXITSTATUS(status), 2);
    assert_output(out, "2031-03-14 already has a row for the city: off \"Nghỉ bù thử nghiệm\" "
                       "\\[operator\\]; use --replace");
    free(out);
    out = h_cli(env,
                "calendar add --day 2031-03-15 --kind work --name 'Làm bù thứ Bảy' --agency 04816",
                &status);
    assert_int_equal(WEXITSTATUS(status), 0);
    free(out);

    out = h_cli(env, "calendar list --year 2031 --agency 04816", &status);
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_output(out, "2031-03-14  Fri  off +city +Nghỉ bù thử nghiệm  \\[operator\\]");
    assert_output(out, "2031-03-15  Sat  work +04816 +Làm bù thứ Bảy  \\[operator\\]");
    free(out);

    out = h_cli(env, "calendar remove --day 2031-03-14", &status);
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_output(out, "^removed 2031-03-14 city off \"Nghỉ bù thử nghiệm\"");
    free(out);
    out = h_cli(env, "calendar remove --day 2031-03-15 --agency 04816", &status);
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_output(out, "^removed 2031-03-15 04816 work \"Làm bù thứ Bảy\"");
    free(out);
    assert_int_equal(h_sql_int(env,
                               "SELECT count(*) FROM catalog.calendar_day WHERE day BETWEEN "
                               "'2031-03-14' AND '2031-03-15'",
                               NULL),
                     0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_due_date_on_the_receiving_desk_calendar),
        cmocka_unit_test(test_clock_keeps_the_desk_calendar),
        cmocka_unit_test(test_operator_keeps_the_calendar_with_the_cli),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
