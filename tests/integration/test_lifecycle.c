/* The deadline lifecycle through the real deadline service (two instances
 * in-process, one group, one database) on the topic clock: pause and
 * restart policies, a second supplement request, the warning ladder
 * "50%,1wd,due-day" with a reschedule, final states, a calendar recompute
 * and updates that arrive before their dossier.
 *
 * The clock never goes back, so the tests run in order on one timeline,
 * each in its own weeks of 2024 (no public holiday from June to August):
 *   pause      3-14 June      restart, late  17-28 June
 *   rungs      1-15 July      final states   15-24 July
 *   recompute  29 July-6 Aug  early updates  12-21 August
 * A tick is settled when both instances have read it: the step that reads a
 * tick runs the sweep at that instant and relays its outbox before
 * returning, so everything due by then is in the ledger and on the topic. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deadline.h"
#include "motcua/calendar.h"
#include "motcua/jsonutil.h"
#include "motcua/timeutil.h"

#define RUNGS "50%,1wd,due-day"
#define WARD "04807"
#define FIVE_WD "1.004884"  /* Đăng ký lại khai sinh: 5 working days */
#define THREE_WD "1.001022" /* Đăng ký nhận cha, mẹ, con: 3 working days */
#define WD (8 * 3600)

static struct h_env *env;
static struct mc_service *first, *second;
static struct mc_config *cfg1;

/* ---- helpers --------------------------------------------------------------- */

static mc_instant at(const char *text)
{
    mc_instant t = 0;
    assert_int_equal(mc_time_parse(text, &t), 0);
    return t;
}

/* The city calendar as the services load it, from the test database. */
static struct mc_calendar *load_calendar(void)
{
    char err[512];
    struct mc_calendar *cal = mc_calendar_new(NULL);
    if (mc_calendar_load(cal, env->conn, NULL, err, sizeof err) != 0)
        fail_msg("calendar: %s", err);
    return cal;
}

/* Asserts that the instant t is the RFC 3339 text expected. */
#define assert_instant(t, expected)                                                                \
    do {                                                                                           \
        char buf_[MC_RFC3339_LEN];                                                                 \
        assert_string_equal(mc_time_format((t), buf_), (expected));                                \
    } while (0)

/* Asserts a SQL text result (one value, with code as $1). */
#define assert_sql_text(sql, code, expected)                                                       \
    sql_text_is((sql), (code), (expected), __FILE__, __LINE__)

static void sql_text_is(const char *sql, const char *code, const char *expected, const char *file,
                        int line)
{
    char *v = h_sql_text(env, sql, code, NULL);
    if (v == NULL || strcmp(v, expected) != 0) {
        print_error("%s: got \"%s\"\n  expected \"%s\"\n  from %s\n", code, v ? v : "(null)",
                    expected, sql);
        free(v);
        _fail(file, line);
    }
    free(v);
}

/* The clock row fields the tests look at, as one line. */
#define CLOCK_LINE                                                                                 \
    "SELECT state || ' v' || deadline_version || ' due ' || motcua_rfc3339(due_at) || "            \
    "' start ' || motcua_rfc3339(period_start_at) || ' paused_s ' || paused_working_s || "         \
    "' supplements ' || supplements || ' late ' || counted_late FROM deadline.clock "              \
    "WHERE dossier_code = $1"

/* Every ledger row of a dossier: "version rung kind due_instant fired_at",
 * in firing order. */
#define LEDGER                                                                                     \
    "SELECT coalesce(string_agg(deadline_version || ' ' || rung || ' ' || kind || ' ' || "         \
    "motcua_rfc3339(due_instant) || ' ' || motcua_rfc3339(fired_at), '; ' ORDER BY fired_at, "     \
    "due_instant, deadline_version), '') FROM deadline.ledger WHERE dossier_code = $1"

static int clock_at(struct mc_service *svc, mc_instant t)
{
    mc_instant now;
    return mc_service_now(svc, &now) == 0 && now == t;
}

/* Ticks and waits until both instances have swept at that instant. */
static void settle(const char *now)
{
    mc_instant t = at(now);
    h_tick(env, now);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS, clock_at(first, t) && clock_at(second, t));
}

static int clock_known(const char *code)
{
    return h_sql_int(env,
                     "SELECT count(*) FROM deadline.clock WHERE dossier_code = $1 AND received "
                     "AND unit IS NOT NULL",
                     code, NULL) == 1;
}

/* Produces dossier.received (with the rule set's supplement policy) and
 * dossier.assigned; the caller waits with clock_known. */
static void produce_dossier(const char *code, const char *procedure, const char *received_at,
                            const char *due_at, const char *policy)
{
    json_t *received = h_received_event(env, code, procedure, WARD, received_at, due_at);
    json_t *assigned = h_assigned_event(env, code, procedure, WARD, WARD, received_at, due_at);
    json_object_set_new(mc_json_at(received, "data/rule_set"), "supplement_policy",
                        json_string(policy));
    h_assert_schema(received, "dossier-received.v1");
    h_produce_json(env, "dossier.received", code, received, NULL, NULL);
    h_produce_json(env, "dossier.assigned", code, assigned, NULL, NULL);
    json_decref(received);
    json_decref(assigned);
}

/* A received and assigned dossier whose due date (given by intake) is the
 * statutory one from the same calendar; waits until the service knows it. */
static void open_dossier(const char *code, const char *procedure, const char *received_at,
                         const char *statutory, const char *policy)
{
    struct mc_calendar *cal = load_calendar();
    struct mc_duration dur;
    char err[128], due[MC_RFC3339_LEN];
    assert_int_equal(mc_duration_parse(statutory, &dur, err, sizeof err), 0);
    mc_time_format(mc_calendar_due_at(cal, at(received_at), &dur), due);
    mc_calendar_free(cal);
    produce_dossier(code, procedure, received_at, due, policy);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS, clock_known(code));
}

/* A unit update (reason and new_due_at may be NULL); new reference. */
static json_t *update(const char *code, const char *status, const char *occurred_at,
                      const char *reason, const char *new_due_at)
{
    json_t *ev = h_update_event(code, status, WARD, occurred_at);
    if (reason)
        json_object_set_new(json_object_get(ev, "data"), "reason", json_string(reason));
    if (new_due_at)
        json_object_set_new(json_object_get(ev, "data"), "new_due_at", json_string(new_due_at));
    h_assert_schema(ev, "dossier-update.v1");
    return ev;
}

static long long update_stored(const json_t *ev, int applied)
{
    return h_sql_int(env,
                     "SELECT count(*) FROM deadline.update WHERE event_id = $1::uuid AND "
                     "applied = $2::boolean",
                     mc_json_str(ev, "event_id"), applied ? "true" : "false", NULL);
}

/* Sends an update and waits until the service has applied it. */
static void apply(const char *code, const char *status, const char *occurred_at, const char *reason,
                  const char *new_due_at)
{
    json_t *ev = update(code, status, occurred_at, reason, new_due_at);
    h_produce_json(env, "dossier.updates", code, ev, NULL, NULL);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS, update_stored(ev, 1) == 1);
    json_decref(ev);
}

/* The dossier's events on dossier.deadlines in publication order, each as
 * "type version rung breach fired_at" ('-' for a null rung), checked against
 * the schema; ";"-separated. all: from h_read_topic. */
static char *events_line(const json_t *all, const char *code)
{
    json_t *mine = h_select(all, "payload/dossier_code", code), *m;
    size_t i, len = 0, cap = 4096;
    char *out = malloc(cap);
    out[0] = '\0';
    json_array_foreach(mine, i, m)
    {
        const json_t *ev = json_object_get(m, "payload");
        const char *rung = mc_json_str(ev, "data/rung");
        int n;
        h_assert_schema(ev, "dossier-deadline.v1");
        h_assert_str(m, "key", code);
        n = snprintf(out + len, cap - len, "%s%s %d %s %d %s", len ? "; " : "",
                     mc_json_str(ev, "type"),
                     (int)json_integer_value(mc_json_at(ev, "data/deadline_version")),
                     rung ? rung : "-", (int)json_integer_value(mc_json_at(ev, "data/breach")),
                     mc_json_str(ev, "data/fired_at"));
        assert_true(n > 0 && (size_t)n < cap - len);
        len += (size_t)n;
    }
    json_decref(mine);
    return out;
}

/* The dossier's events of one type (new array of payloads). */
static json_t *events_of(const json_t *all, const char *code, const char *type)
{
    json_t *mine = h_select(all, "payload/dossier_code", code);
    json_t *typed = h_select(mine, "payload/type", type), *out = json_array(), *m;
    size_t i;
    json_array_foreach(typed, i, m) json_array_append(out, json_object_get(m, "payload"));
    json_decref(mine);
    json_decref(typed);
    return out;
}

static json_t *read_deadlines(void)
{
    return h_read_topic(env, "dossier.deadlines", 0, 1000);
}

#define assert_events(all, code, expected)                                                         \
    do {                                                                                           \
        char *line_ = events_line((all), (code));                                                  \
        assert_string_equal(line_, (expected));                                                    \
        free(line_);                                                                               \
    } while (0)

static int group_setup(void **state)
{
    struct mc_config *cfg2;
    (void)state;
    if ((env = h_env_new("lifecycle")) == NULL)
        return -1;
    cfg1 = h_config_new(env, "deadline");
    cfg2 = h_config_new(env, "deadline");
    cfg1->clock = cfg2->clock = MC_CLOCK_TOPIC;
    cfg1->sweep_max = cfg2->sweep_max = 2; /* several claim transactions per sweep */
    h_config_set(&cfg1->warning_rungs, RUNGS);
    h_config_set(&cfg2->warning_rungs, RUNGS);
    first = h_service_new(env, &mc_deadline_def, cfg1);
    second = h_service_new(env, &mc_deadline_def, cfg2);
    h_wait_ready(env, H_JOIN_TIMEOUT_MS);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    h_env_free(env);
    return 0;
}

/* ---- tests ----------------------------------------------------------------- */

/* Pause policy: 5 working days from Monday 3 June 09:00 (due Monday 10 June
 * 09:00); supplement asked Tuesday 10:00, received Friday 10:00 = 3 working
 * days waited, so due Thursday 13 June 09:00, version 2. Nothing fires while
 * paused, no breach at the old date, one breach at the new one. */
static void test_pause_policy(void **state)
{
    const char *code = "000.47.26.H17-240603-0001";
    struct mc_calendar *cal = load_calendar();
    mc_instant asked = at("2024-06-04T10:00:00+07:00"), got = at("2024-06-07T10:00:00+07:00");
    json_t *all, *breaches;
    (void)state;

    /* By hand: Tue 10:00 -> Wed 10:00 -> Thu 10:00 -> Fri 10:00 is 3 working
     * days; Mon 10 June 09:00 plus 3 working days is Thu 13 June 09:00. */
    assert_int_equal(mc_calendar_working_between(cal, asked, got), 3 * WD);
    assert_instant(mc_calendar_add_working(cal, at("2024-06-10T09:00:00+07:00"), 3 * WD),
                   "2024-06-13T09:00:00+07:00");

    open_dossier(code, FIVE_WD, "2024-06-03T09:00:00+07:00", "5wd", "pause");
    assert_sql_text(CLOCK_LINE, code,
                    "open v1 due 2024-06-10T09:00:00+07:00 start 2024-06-03T09:00:00+07:00 "
                    "paused_s 0 supplements 0 late false");
    settle("2024-06-03T12:00:00+07:00");

    apply(code, "supplement_requested", "2024-06-04T10:00:00+07:00", "Thiếu bản sao giấy tờ", NULL);
    assert_sql_text(CLOCK_LINE " AND next_fire_at IS NULL AND paused_at = "
                               "'2024-06-04T10:00:00+07:00'",
                    code,
                    "paused v1 due 2024-06-10T09:00:00+07:00 start 2024-06-03T09:00:00+07:00 "
                    "paused_s 0 supplements 1 late false");
    /* While paused, the 50% rung (Wed 5 June 15:00) does not fire. */
    settle("2024-06-06T10:00:00+07:00");
    assert_sql_text(LEDGER, code, "");

    apply(code, "supplement_received", "2024-06-07T10:00:00+07:00", NULL, NULL);
    assert_sql_text(CLOCK_LINE " AND armed_at = '2024-06-07T10:00:00+07:00'", code,
                    "open v2 due 2024-06-13T09:00:00+07:00 start 2024-06-03T09:00:00+07:00 "
                    "paused_s 86400 supplements 1 late false");
    {
        /* The same with the calendar: old due plus the working time waited. */
        struct mc_duration dur = {5, MC_DUR_WORKING_DAYS};
        char due[MC_RFC3339_LEN];
        mc_instant expected = mc_calendar_add_working(
            cal, mc_calendar_due_at(cal, at("2024-06-03T09:00:00+07:00"), &dur),
            mc_calendar_working_between(cal, asked, got));
        assert_sql_text("SELECT motcua_rfc3339(due_at) FROM deadline.clock WHERE "
                        "dossier_code = $1",
                        code, mc_time_format(expected, due));
    }

    settle("2024-06-10T10:00:00+07:00"); /* an hour after the old due date */
    assert_int_equal(h_sql_int(env,
                               "SELECT count(*) FROM deadline.ledger WHERE dossier_code = $1 "
                               "AND kind = 'overdue'",
                               code, NULL),
                     0);
    settle("2024-06-13T09:30:00+07:00");
    settle("2024-06-14T10:00:00+07:00");
    settle("2024-06-17T10:00:00+07:00");
    /* Version 2's rungs after the resumption (Fri 10:00): 1wd Wed 12 June
     * 09:00, due-day Thu 07:00; its 50% (Fri 7 June 09:00) was before. The
     * clock jumped from 10 June to 13 June 09:30, past the due date (09:00):
     * both warnings are skipped, the breach is the news. */
    assert_sql_text(LEDGER, code,
                    "2 1wd skipped 2024-06-12T09:00:00+07:00 2024-06-13T09:30:00+07:00; "
                    "2 due-day skipped 2024-06-13T07:00:00+07:00 2024-06-13T09:30:00+07:00; "
                    "2 overdue overdue 2024-06-13T09:00:01+07:00 2024-06-13T09:30:00+07:00");

    all = read_deadlines();
    assert_events(all, code, "dossier.overdue 2 overdue 1 2024-06-13T09:30:00+07:00");
    breaches = events_of(all, code, "dossier.overdue");
    assert_int_equal(json_array_size(breaches), 1);
    h_assert_str(json_array_get(breaches, 0), "data/due_at", "2024-06-13T09:00:00+07:00");
    h_assert_str(json_array_get(breaches, 0), "data/receipt_at", "2024-06-03T09:00:00+07:00");
    h_assert_str(json_array_get(breaches, 0), "data/unit/code", WARD);
    h_assert_str(json_array_get(breaches, 0), "data/procedure/code", FIVE_WD);
    json_decref(breaches);
    json_decref(all);
    mc_calendar_free(cal);
}

/* Restart policy: the full 5 working days run again from the supplement
 * (Thursday 20 June 14:00), so due Thursday 27 June 14:00. A second
 * supplement request on another dossier counts it as late. */
static void test_restart_policy_and_second_request(void **state)
{
    const char *code = "000.47.26.H17-240617-0002", *late = "000.47.26.H17-240617-0003";
    struct mc_calendar *cal = load_calendar();
    struct mc_duration dur = {5, MC_DUR_WORKING_DAYS};
    char due[MC_RFC3339_LEN];
    json_t *all;
    (void)state;

    open_dossier(code, FIVE_WD, "2024-06-17T09:00:00+07:00", "5wd", "restart");
    open_dossier(late, FIVE_WD, "2024-06-17T09:00:00+07:00", "5wd", "pause");
    assert_sql_text("SELECT supplement_policy || ' ' || motcua_rfc3339(due_at) FROM "
                    "deadline.clock WHERE dossier_code = $1",
                    code, "restart 2024-06-24T09:00:00+07:00");

    apply(code, "supplement_requested", "2024-06-18T10:00:00+07:00", "Thiếu tờ khai", NULL);
    apply(code, "supplement_received", "2024-06-20T14:00:00+07:00", NULL, NULL);
    assert_sql_text(CLOCK_LINE " AND armed_at = '2024-06-20T14:00:00+07:00'", code,
                    "open v2 due 2024-06-27T14:00:00+07:00 start 2024-06-20T14:00:00+07:00 "
                    "paused_s 0 supplements 1 late false");
    mc_time_format(mc_calendar_due_at(cal, at("2024-06-20T14:00:00+07:00"), &dur), due);
    assert_string_equal(due, "2024-06-27T14:00:00+07:00");

    /* Second request: counted late; the pause policy adds both waits. */
    apply(late, "supplement_requested", "2024-06-18T10:00:00+07:00", "Thiếu tờ khai", NULL);
    assert_sql_text(CLOCK_LINE, late,
                    "paused v1 due 2024-06-24T09:00:00+07:00 start 2024-06-17T09:00:00+07:00 "
                    "paused_s 0 supplements 1 late false");
    apply(late, "supplement_received", "2024-06-19T10:00:00+07:00", NULL, NULL);
    apply(late, "supplement_requested", "2024-06-20T10:00:00+07:00", "Thiếu chữ ký", NULL);
    assert_sql_text(CLOCK_LINE, late,
                    "paused v2 due 2024-06-25T09:00:00+07:00 start 2024-06-17T09:00:00+07:00 "
                    "paused_s 28800 supplements 2 late true");
    apply(late, "supplement_received", "2024-06-21T10:00:00+07:00", NULL, NULL);
    assert_sql_text(CLOCK_LINE, late,
                    "open v3 due 2024-06-26T09:00:00+07:00 start 2024-06-17T09:00:00+07:00 "
                    "paused_s 57600 supplements 2 late true");

    settle("2024-06-24T10:00:00+07:00"); /* after the first due date */
    assert_int_equal(h_sql_int(env,
                               "SELECT count(*) FROM deadline.ledger WHERE dossier_code = $1 "
                               "AND kind = 'overdue'",
                               code, NULL),
                     0);
    settle("2024-06-27T14:30:00+07:00");
    settle("2024-06-28T10:00:00+07:00");
    assert_sql_text("SELECT string_agg(deadline_version || ' ' || motcua_rfc3339(due_instant) "
                    "|| ' ' || motcua_rfc3339(fired_at), '; ') FROM deadline.ledger WHERE "
                    "dossier_code = $1 AND kind = 'overdue'",
                    code, "2 2024-06-27T14:00:01+07:00 2024-06-27T14:30:00+07:00");
    all = read_deadlines();
    {
        json_t *breaches = events_of(all, code, "dossier.overdue");
        assert_int_equal(json_array_size(breaches), 1);
        h_assert_str(json_array_get(breaches, 0), "data/due_at", "2024-06-27T14:00:00+07:00");
        h_assert_str(json_array_get(breaches, 0), "data/fired_at", "2024-06-27T14:30:00+07:00");
        assert_int_equal(
            json_integer_value(mc_json_at(json_array_get(breaches, 0), "data/deadline_version")),
            2);
        json_decref(breaches);
    }
    json_decref(all);
    mc_calendar_free(cal);
}

/* The ladder "50%,1wd,due-day". Dossier A: 5wd from Mon 1 July 09:00, due
 * Mon 8 July 09:00: 50% Wed 3 July 15:00, 1wd Fri 5 July 09:00, due-day Mon
 * 8 July 07:00. Dossier B: 3wd from Wed 3 July 09:00, due Mon 8 July 09:00:
 * 50% Thu 4 July 15:00, 1wd Fri 09:00, due-day Mon 07:00 — one tick jumps
 * over all three. A is rescheduled to Fri 12 July 16:00 at Mon 08:20:
 * version 2's 50% (Mon 8 July 07:30) is in the past and does not fire; its
 * 1wd (Thu 11 July 16:00), due-day (Fri 07:00), the official breach (Mon
 * 09:00:01) and the rescheduled breach (Fri 16:00:01) do, once each. */
static void test_warning_rungs(void **state)
{
    const char *a = "000.47.26.H17-240701-0004", *b = "000.47.26.H17-240703-0005";
    const char *why = "Chờ kết quả xác minh của công an xã";
    json_t *all, *breaches;
    (void)state;

    open_dossier(a, FIVE_WD, "2024-07-01T09:00:00+07:00", "5wd", "pause");
    open_dossier(b, THREE_WD, "2024-07-03T09:00:00+07:00", "3wd", "pause");
    assert_sql_text("SELECT motcua_rfc3339(next_fire_at) FROM deadline.clock WHERE "
                    "dossier_code = $1",
                    a, "2024-07-03T15:00:00+07:00");

    settle("2024-07-03T16:00:00+07:00");
    assert_sql_text(LEDGER, a, "1 50% warning 2024-07-03T15:00:00+07:00 2024-07-03T16:00:00+07:00");
    assert_sql_text(LEDGER, b, "");

    settle("2024-07-08T08:00:00+07:00"); /* over several rungs at once */
    settle("2024-07-08T08:30:00+07:00"); /* nothing more */
    assert_sql_text(LEDGER, a,
                    "1 50% warning 2024-07-03T15:00:00+07:00 2024-07-03T16:00:00+07:00; "
                    "1 1wd warning 2024-07-05T09:00:00+07:00 2024-07-08T08:00:00+07:00; "
                    "1 due-day warning 2024-07-08T07:00:00+07:00 2024-07-08T08:00:00+07:00");
    assert_sql_text(LEDGER, b,
                    "1 50% warning 2024-07-04T15:00:00+07:00 2024-07-08T08:00:00+07:00; "
                    "1 1wd warning 2024-07-05T09:00:00+07:00 2024-07-08T08:00:00+07:00; "
                    "1 due-day warning 2024-07-08T07:00:00+07:00 2024-07-08T08:00:00+07:00");

    apply(a, "reschedule", "2024-07-08T08:20:00+07:00", why, "2024-07-12T16:00:00+07:00");
    assert_sql_text("SELECT deadline_version || ' ' || motcua_rfc3339(due_at) || ' ' || "
                    "motcua_rfc3339(rescheduled_due_at) || ' ' || motcua_rfc3339(armed_at) || "
                    "' ' || motcua_rfc3339(next_fire_at) FROM deadline.clock WHERE "
                    "dossier_code = $1",
                    a,
                    "2 2024-07-08T09:00:00+07:00 2024-07-12T16:00:00+07:00 "
                    "2024-07-08T08:20:00+07:00 2024-07-08T09:00:01+07:00");

    settle("2024-07-08T10:00:00+07:00");
    settle("2024-07-11T16:30:00+07:00");
    settle("2024-07-12T08:00:00+07:00");
    settle("2024-07-12T16:30:00+07:00");
    settle("2024-07-15T08:00:00+07:00");
    settle("2024-07-15T08:05:00+07:00");
    assert_sql_text(LEDGER, a,
                    "1 50% warning 2024-07-03T15:00:00+07:00 2024-07-03T16:00:00+07:00; "
                    "1 1wd warning 2024-07-05T09:00:00+07:00 2024-07-08T08:00:00+07:00; "
                    "1 due-day warning 2024-07-08T07:00:00+07:00 2024-07-08T08:00:00+07:00; "
                    "2 overdue overdue 2024-07-08T09:00:01+07:00 2024-07-08T10:00:00+07:00; "
                    "2 1wd warning 2024-07-11T16:00:00+07:00 2024-07-11T16:30:00+07:00; "
                    "2 due-day warning 2024-07-12T07:00:00+07:00 2024-07-12T08:00:00+07:00; "
                    "2 overdue-rescheduled overdue 2024-07-12T16:00:01+07:00 "
                    "2024-07-12T16:30:00+07:00");
    assert_sql_text(LEDGER, b,
                    "1 50% warning 2024-07-04T15:00:00+07:00 2024-07-08T08:00:00+07:00; "
                    "1 1wd warning 2024-07-05T09:00:00+07:00 2024-07-08T08:00:00+07:00; "
                    "1 due-day warning 2024-07-08T07:00:00+07:00 2024-07-08T08:00:00+07:00; "
                    "1 overdue overdue 2024-07-08T09:00:01+07:00 2024-07-08T10:00:00+07:00");
    assert_int_equal(h_sql_int(env,
                               "SELECT count(*) FROM deadline.clock WHERE dossier_code IN ($1, "
                               "$2) AND next_fire_at IS NULL",
                               a, b, NULL),
                     2);

    /* The same on the topic, in order, once each. */
    all = read_deadlines();
    assert_events(all, a,
                  "dossier.warning 1 50% 0 2024-07-03T16:00:00+07:00; "
                  "dossier.warning 1 1wd 0 2024-07-08T08:00:00+07:00; "
                  "dossier.warning 1 due-day 0 2024-07-08T08:00:00+07:00; "
                  "dossier.overdue 2 overdue 1 2024-07-08T10:00:00+07:00; "
                  "dossier.warning 2 1wd 1 2024-07-11T16:30:00+07:00; "
                  "dossier.warning 2 due-day 1 2024-07-12T08:00:00+07:00; "
                  "dossier.overdue 2 overdue-rescheduled 2 2024-07-12T16:30:00+07:00");
    assert_events(all, b,
                  "dossier.warning 1 50% 0 2024-07-08T08:00:00+07:00; "
                  "dossier.warning 1 1wd 0 2024-07-08T08:00:00+07:00; "
                  "dossier.warning 1 due-day 0 2024-07-08T08:00:00+07:00; "
                  "dossier.overdue 1 overdue 1 2024-07-08T10:00:00+07:00");
    breaches = events_of(all, a, "dossier.overdue");
    assert_int_equal(json_array_size(breaches), 2);
    h_assert_str(json_array_get(breaches, 0), "data/due_at", "2024-07-08T09:00:00+07:00");
    h_assert_str(json_array_get(breaches, 0), "data/rescheduled_due_at",
                 "2024-07-12T16:00:00+07:00");
    h_assert_str(json_array_get(breaches, 0), "data/new_appointment_at",
                 "2024-07-12T16:00:00+07:00");
    h_assert_str(json_array_get(breaches, 0), "data/reason", why);
    h_assert_str(json_array_get(breaches, 1), "data/rescheduled_due_at",
                 "2024-07-12T16:00:00+07:00");
    json_decref(breaches);
    json_decref(all);
}

/* Finished, returned, withdrawn and stopped (while paused) dossiers fire
 * nothing, over many ticks; one that fired its 50% rung before the result
 * fires nothing after. Later updates do not reopen them; a reschedule is
 * refused. 3wd from Mon 15 July 09:00: due Thu 18 July 09:00. */
static void test_final_states_fire_nothing(void **state)
{
    static const char *const codes[] = {"000.47.26.H17-240715-0006", "000.47.26.H17-240715-0007",
                                        "000.47.26.H17-240715-0008", "000.47.26.H17-240715-0009",
                                        "000.47.26.H17-240715-0010"};
    static const char *const ticks[] = {"2024-07-17T10:00:00+07:00", "2024-07-18T08:00:00+07:00",
                                        "2024-07-18T10:00:00+07:00", "2024-07-19T10:00:00+07:00",
                                        "2024-07-22T10:00:00+07:00", "2024-07-23T10:00:00+07:00",
                                        "2024-07-24T10:00:00+07:00"};
    const char *received = "2024-07-15T09:00:00+07:00", *when = "2024-07-16T10:00:00+07:00";
    json_t *all, *refused;
    (void)state;

    for (int i = 0; i < 5; i++)
        open_dossier(codes[i], THREE_WD, received, "3wd", "pause");
    apply(codes[0], "result_ready", when, NULL, NULL);
    apply(codes[1], "returned", when, "Hồ sơ không thuộc thẩm quyền", NULL);
    apply(codes[2], "withdrawn", when, NULL, NULL);
    apply(codes[3], "supplement_requested", when, "Thiếu giấy tờ", NULL);
    apply(codes[3], "stopped", "2024-07-16T11:00:00+07:00", "Quá hạn bổ sung", NULL);

    settle("2024-07-16T16:00:00+07:00"); /* the 5th fires its 50% (Tue 15:00) */
    apply(codes[4], "result_ready", "2024-07-16T16:30:00+07:00", NULL, NULL);
    /* Nothing reopens a final clock. */
    apply(codes[3], "supplement_received", "2024-07-17T09:00:00+07:00", NULL, NULL);
    apply(codes[0], "reschedule", "2024-07-17T09:00:00+07:00", "Chờ xác minh",
          "2024-07-25T16:00:00+07:00");
    assert_int_equal(h_sql_int(env,
                               "SELECT count(*) FROM deadline.clock WHERE dossier_code IN ($1, "
                               "$2, $3, $4, $5) AND next_fire_at IS NULL",
                               codes[0], codes[1], codes[2], codes[3], codes[4], NULL),
                     5);
    assert_sql_text("SELECT string_agg(state || ' v' || deadline_version, ',' ORDER BY "
                    "dossier_code) FROM deadline.clock WHERE dossier_code LIKE $1",
                    "000.47.26.H17-240715-%",
                    "finished v1,returned v1,withdrawn v1,stopped v1,finished v1");

    for (size_t i = 0; i < sizeof ticks / sizeof ticks[0]; i++)
        settle(ticks[i]);

    for (int i = 0; i < 4; i++)
        assert_sql_text(LEDGER, codes[i], "");
    assert_sql_text(LEDGER, codes[4],
                    "1 50% warning 2024-07-16T15:00:00+07:00 2024-07-16T16:00:00+07:00");
    all = read_deadlines();
    for (int i = 1; i < 4; i++)
        assert_events(all, codes[i], "");
    assert_events(all, codes[4], "dossier.warning 1 50% 0 2024-07-16T16:00:00+07:00");
    assert_events(all, codes[0], "dossier.reschedule_refused 1 - 0 2024-07-17T09:00:00+07:00");
    refused = events_of(all, codes[0], "dossier.reschedule_refused");
    h_assert_str(json_array_get(refused, 0), "data/reason",
                 "the dossier is no longer being processed");
    json_decref(refused);
    json_decref(all);
}

/* A day off added on Fri 2 August inside the period of open clocks due Mon
 * 5 August 09:00 (5wd from Mon 29 July 09:00): the recompute moves them,
 * paused ones included, to Tue 6 August 09:00 (version 2) and says so; a
 * 3wd clock due Thu 1 August and a finished one are left alone; a second
 * recompute moves nothing. The breach follows the new date. */
/* The clocks the deadline service moved for the catalog's current calendar
 * revision, or -1 while it has not applied it. */
static long long recompute_done(void)
{
    return h_sql_int(env,
                     "SELECT coalesce((SELECT r.moved FROM deadline.recompute r, "
                     "catalog.calendar_revision c WHERE r.done AND r.revision = c.revision), -1)",
                     NULL);
}

static void test_calendar_recompute(void **state)
{
    static const char *const moved_codes[] = {
        "000.47.26.H17-240729-0011", "000.47.26.H17-240729-0012", "000.47.26.H17-240729-0014"};
    const char *short_code = "000.47.26.H17-240729-0013", *done = "000.47.26.H17-240729-0015";
    const char *received = "2024-07-29T09:00:00+07:00";
    const char *others = "SELECT string_agg(dossier_code || ' ' || deadline_version || ' ' || "
                         "motcua_rfc3339(due_at) || ' ' || coalesce(motcua_rfc3339(next_fire_at), "
                         "'-'), ',' ORDER BY dossier_code) FROM deadline.clock WHERE "
                         "dossier_code NOT LIKE $1";
    char *before, *after;
    struct mc_calendar *cal;
    struct mc_duration dur = {5, MC_DUR_WORKING_DAYS};
    json_t *all;
    (void)state;

    for (int i = 0; i < 3; i++)
        open_dossier(moved_codes[i], FIVE_WD, received, "5wd", "pause");
    open_dossier(short_code, THREE_WD, received, "3wd", "pause");
    open_dossier(done, FIVE_WD, received, "5wd", "pause");
    apply(moved_codes[2], "supplement_requested", "2024-07-30T10:00:00+07:00", "Thiếu giấy tờ",
          NULL);
    apply(done, "result_ready", "2024-07-30T10:00:00+07:00", NULL, NULL);
    before = h_sql_text(env, others, "000.47.26.H17-240729-001%", NULL);
    assert_non_null(before);

    h_sql_exec(env,
               "INSERT INTO catalog.calendar_day (agency_code, day, kind, name, source) "
               "VALUES (NULL, '2024-08-02', 'off', 'Nghỉ đột xuất (test)', 'operator')",
               NULL);
    cal = load_calendar();
    assert_instant(mc_calendar_due_at(cal, at(received), &dur), "2024-08-06T09:00:00+07:00");
    mc_calendar_free(cal);

    /* The new day off bumped the catalog's calendar revision; the running
     * deadline service applies it by itself. */
    H_PUMP_UNTIL(env, H_TIMEOUT_MS, recompute_done() >= 0);
    assert_int_equal(recompute_done(), 3);
    for (int i = 0; i < 3; i++)
        assert_sql_text("SELECT state || ' v' || deadline_version || ' ' || "
                        "motcua_rfc3339(due_at) FROM deadline.clock WHERE dossier_code = $1",
                        moved_codes[i],
                        i == 2 ? "paused v2 2024-08-06T09:00:00+07:00"
                               : "open v2 2024-08-06T09:00:00+07:00");
    assert_sql_text("SELECT state || ' v' || deadline_version || ' ' || motcua_rfc3339(due_at) "
                    "FROM deadline.clock WHERE dossier_code = $1",
                    short_code, "open v1 2024-08-01T09:00:00+07:00");
    assert_sql_text("SELECT state || ' v' || deadline_version || ' ' || motcua_rfc3339(due_at) "
                    "FROM deadline.clock WHERE dossier_code = $1",
                    done, "finished v1 2024-08-05T09:00:00+07:00");
    after = h_sql_text(env, others, "000.47.26.H17-240729-001%", NULL);
    assert_non_null(after);
    assert_string_equal(after, before);
    free(after);

    /* The running service relays the events from the deadline outbox. */
    H_PUMP_UNTIL(env, H_TIMEOUT_MS,
                 h_sql_int(env, "SELECT count(*) FROM deadline.outbox", NULL) == 0);
    all = read_deadlines();
    for (int i = 0; i < 3; i++) {
        json_t *evs = events_of(all, moved_codes[i], "dossier.deadline_moved");
        const json_t *ev = json_array_get(evs, 0);
        assert_int_equal(json_array_size(evs), 1);
        h_assert_str(ev, "data/kind", "deadline_moved");
        /* On the service's clock (the topic clock, summer 2024), not the wall. */
        assert_true(h_matches("^2024-0[78]-", mc_json_str(ev, "occurred_at")));
        h_assert_str(ev, "data/due_at", "2024-08-06T09:00:00+07:00");
        h_assert_str(ev, "producer", "motcua-deadline");
        assert_int_equal(json_integer_value(mc_json_at(ev, "data/deadline_version")), 2);
        assert_true(h_matches("2024-08-05T09:00:00\\+07:00 to 2024-08-06T09:00:00\\+07:00",
                              mc_json_str(ev, "data/reason")));
        json_decref(evs);
    }
    assert_events(all, short_code, "");
    assert_events(all, done, "");
    json_decref(all);

    /* Nothing left to move: every clock as it was. */
    free(before);
    before = h_sql_text(env, others, "none", NULL);
    /* What `motcua calendar recompute` does: a new revision, nothing to move. */
    h_sql_exec(env, "UPDATE catalog.calendar_revision SET revision = revision + 1", NULL);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS, recompute_done() >= 0);
    assert_int_equal(recompute_done(), 0);
    after = h_sql_text(env, others, "none", NULL);
    assert_non_null(after);
    assert_string_equal(after, before);
    free(after);
    free(before);
    assert_int_equal(h_sql_int(env,
                               "SELECT count(*) FROM deadline.clock WHERE dossier_code LIKE $1 "
                               "AND deadline_version > 2",
                               "000.47.26.H17-240729-%", NULL),
                     0);

    /* The breach follows the moved date: none at the old one. (This needs
     * the recompute to leave armed_at alone: set to the wall clock, it lies
     * beyond every topic-clock instant and nothing would ever fire again.) */
    settle("2024-08-05T10:00:00+07:00");
    for (int i = 0; i < 2; i++)
        assert_int_equal(h_sql_int(env,
                                   "SELECT count(*) FROM deadline.ledger WHERE dossier_code = "
                                   "$1 AND kind = 'overdue'",
                                   moved_codes[i], NULL),
                         0);
    settle("2024-08-06T10:00:00+07:00");
    for (int i = 0; i < 2; i++)
        assert_sql_text("SELECT string_agg(deadline_version || ' ' || rung || ' ' || "
                        "motcua_rfc3339(due_instant), '; ') FROM deadline.ledger WHERE "
                        "dossier_code = $1 AND kind = 'overdue'",
                        moved_codes[i], "2 overdue 2024-08-06T09:00:01+07:00");
}

/* A reschedule, a supplement received and a supplement request arrive, in
 * that order, before their dossier: kept, then applied in the order they
 * happened when it arrives. 5wd from Mon 12 August 09:00 (due Mon 19
 * August 09:00), paused Tue 10:00 to Thu 10:00 (due Wed 21 August 09:00),
 * rescheduled on Tue 20 August to Fri 23 August 16:00: version 3. */
static void test_updates_before_dossier(void **state)
{
    const char *code = "000.47.26.H17-240812-0016";
    const char *why = "Chờ ý kiến của cơ quan cấp trên";
    json_t *evs[3], *all, *breaches;
    (void)state;

    evs[0] =
        update(code, "reschedule", "2024-08-20T10:00:00+07:00", why, "2024-08-23T16:00:00+07:00");
    evs[1] = update(code, "supplement_received", "2024-08-15T10:00:00+07:00", NULL, NULL);
    evs[2] =
        update(code, "supplement_requested", "2024-08-13T10:00:00+07:00", "Thiếu giấy tờ", NULL);
    for (int i = 0; i < 3; i++)
        h_produce_json(env, "dossier.updates", code, evs[i], NULL, NULL);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS,
                 update_stored(evs[0], 0) + update_stored(evs[1], 0) + update_stored(evs[2], 0) ==
                     3);
    assert_int_equal(
        h_sql_int(env, "SELECT count(*) FROM deadline.clock WHERE dossier_code = $1", code, NULL),
        0);

    open_dossier(code, FIVE_WD, "2024-08-12T09:00:00+07:00", "5wd", "pause");
    H_PUMP_UNTIL(env, H_TIMEOUT_MS,
                 update_stored(evs[0], 1) + update_stored(evs[1], 1) + update_stored(evs[2], 1) ==
                     3);
    assert_sql_text(CLOCK_LINE, code,
                    "open v3 due 2024-08-21T09:00:00+07:00 start 2024-08-12T09:00:00+07:00 "
                    "paused_s 57600 supplements 1 late false");
    assert_sql_text("SELECT motcua_rfc3339(rescheduled_due_at) || ' ' || reschedule_reason || "
                    "' ' || motcua_rfc3339(armed_at) || ' ' || motcua_rfc3339(next_fire_at) FROM "
                    "deadline.clock WHERE dossier_code = $1",
                    code,
                    "2024-08-23T16:00:00+07:00 Chờ ý kiến của cơ quan cấp trên "
                    "2024-08-20T10:00:00+07:00 2024-08-21T09:00:01+07:00");

    settle("2024-08-21T10:00:00+07:00");
    assert_sql_text(LEDGER, code,
                    "3 overdue overdue 2024-08-21T09:00:01+07:00 2024-08-21T10:00:00+07:00");
    all = read_deadlines();
    assert_events(all, code, "dossier.overdue 3 overdue 1 2024-08-21T10:00:00+07:00");
    breaches = events_of(all, code, "dossier.overdue");
    h_assert_str(json_array_get(breaches, 0), "data/due_at", "2024-08-21T09:00:00+07:00");
    h_assert_str(json_array_get(breaches, 0), "data/new_appointment_at",
                 "2024-08-23T16:00:00+07:00");
    h_assert_str(json_array_get(breaches, 0), "data/reason", why);
    json_decref(breaches);
    json_decref(all);
    for (int i = 0; i < 3; i++)
        json_decref(evs[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pause_policy),
        cmocka_unit_test(test_restart_policy_and_second_request),
        cmocka_unit_test(test_warning_rungs),
        cmocka_unit_test(test_final_states_fire_nothing),
        cmocka_unit_test(test_calendar_recompute),
        cmocka_unit_test(test_updates_before_dossier),
    };
    return cmocka_run_group_tests_name("integration: lifecycle", tests, group_setup,
                                       group_teardown);
}
