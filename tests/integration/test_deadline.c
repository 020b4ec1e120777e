/* deadline against PostgreSQL and the embedded broker, on the topic clock
 * (MOTCUA_CLOCK=topic: time advances by ticks on motcua.clock). Two
 * instances of the service share one group and one database throughout.
 *
 * The clock never goes back, so the tests run in order on one timeline:
 * March 2024 week by week, 2 April for the two-instance sweep, then a jump
 * to 10 May. */
#include "harness.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deadline.h"
#include "motcua/jsonutil.h"
#include "motcua/timeutil.h"

#define GROUP "motcua-deadline"
#define MANY 30 /* dossiers breached at the same tick in the two-instance test */

static struct h_env *env;
static struct mc_service *first, *second;
static int sentinels;

/* ---- helpers --------------------------------------------------------------- */

static json_t *deadline_events(const char *code, const char *type)
{
    json_t *all = h_read_topic(env, "dossier.deadlines", 0, 1000);
    json_t *mine = h_select(all, "payload/dossier_code", code);
    json_t *typed = h_select(mine, "payload/type", type);
    json_decref(all);
    json_decref(mine);
    return typed;
}

static long long breaches_in_ledger(const char *code)
{
    return h_sql_int(env,
                     "SELECT count(*) FROM deadline.ledger WHERE dossier_code = $1 AND "
                     "kind = 'overdue'",
                     code, NULL);
}

static int clock_known(const char *code)
{
    return h_sql_int(env,
                     "SELECT count(*) FROM deadline.clock WHERE dossier_code = $1 AND received "
                     "AND unit IS NOT NULL",
                     code, NULL) == 1;
}

/* A dossier received and assigned (both events produced). */
static void open_dossier(const char *code, const char *procedure, const char *unit,
                         const char *received_at, const char *due_at)
{
    json_t *received = h_received_event(env, code, procedure, "04807", received_at, due_at);
    json_t *assigned = h_assigned_event(env, code, procedure, "04807", unit, received_at, due_at);
    h_produce_json(env, "dossier.received", code, received, NULL, NULL);
    h_produce_json(env, "dossier.assigned", code, assigned, NULL, NULL);
    json_decref(received);
    json_decref(assigned);
}

static void send_update(const json_t *update)
{
    h_assert_schema(update, "dossier-update.v1");
    h_produce_json(env, "dossier.updates", mc_json_str(update, "dossier_code"), update, NULL, NULL);
}

static long long update_applied(const json_t *update)
{
    return h_sql_int(env,
                     "SELECT count(*) FROM deadline.update WHERE event_id = $1::uuid AND applied",
                     mc_json_str(update, "event_id"), NULL);
}

/* A counter of the deadline instances as their /metrics show it (the two
 * instances of this test share one registry): name is "\n<metric> ". */
static long long counted(const char *name)
{
    char body[65536];
    const char *at;
    assert_int_equal(h_http_get(env, mc_service_http_port(first), "/metrics", body, sizeof body),
                     200);
    at = strstr(body, name);
    assert_non_null(at);
    return strtoll(at + strlen(name), NULL, 10);
}

static long long updates_counted(void)
{
    return counted("\nmotcua_deadline_updates_total ");
}

/* Advances the clock to now and waits until the sweeps at that instant are
 * done: a sentinel dossier due one minute before now must have breached
 * (a sweep claims every clock due by then, so the others are done too). */
static void tick_and_settle(const char *now)
{
    char code[64], received[MC_RFC3339_LEN], due[MC_RFC3339_LEN];
    mc_instant t;
    json_t *ev;

    assert_int_equal(mc_time_parse(now, &t), 0);
    snprintf(code, sizeof code, "000.47.26.H17-240101-%04d", 9000 + ++sentinels);
    ev = h_received_event(env, code, "1.001193", "04807", mc_time_format(t - 7200, received),
                          mc_time_format(t - 60, due));
    h_produce_json(env, "dossier.received", code, ev, NULL, NULL);
    json_decref(ev);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS,
                 h_sql_int(env, "SELECT count(*) FROM deadline.clock WHERE dossier_code = $1", code,
                           NULL) == 1);
    h_tick(env, now);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS, breaches_in_ledger(code) == 1);
}

static int group_setup(void **state)
{
    struct mc_config *cfg1, *cfg2;
    (void)state;
    if ((env = h_env_new("deadline")) == NULL)
        return -1;
    cfg1 = h_config_new(env, "deadline");
    cfg2 = h_config_new(env, "deadline");
    /* Small sweep transactions, so two instances interleave their claims. */
    cfg1->clock = cfg2->clock = MC_CLOCK_TOPIC;
    cfg1->sweep_max = cfg2->sweep_max = 4;
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

/* Due Wednesday 2024-03-06 16:00; at 16:30 exactly one dossier.overdue with
 * what notify needs; later ticks fire nothing more. */
static void test_overdue_fires_exactly_once(void **state)
{
    const char *code = "000.31.26.H17-240301-0101";
    json_t *events, *ev;
    (void)state;

    open_dossier(code, "1.001612", "PTCKH", "2024-03-01T16:00:00+07:00",
                 "2024-03-06T16:00:00+07:00");
    H_PUMP_UNTIL(env, H_TIMEOUT_MS, clock_known(code));

    tick_and_settle("2024-03-06T15:00:00+07:00");
    events = deadline_events(code, "dossier.overdue");
    assert_int_equal(json_array_size(events), 0);
    json_decref(events);

    tick_and_settle("2024-03-06T16:30:00+07:00");
    events = deadline_events(code, "dossier.overdue");
    assert_int_equal(json_array_size(events), 1);
    h_assert_str(json_array_get(events, 0), "key", code);
    ev = json_object_get(json_array_get(events, 0), "payload");
    h_assert_schema(ev, "dossier-deadline.v1");
    h_assert_str(ev, "producer", "motcua-deadline");
    h_assert_str(ev, "occurred_at", "2024-03-06T16:30:00+07:00");
    h_assert_str(ev, "data/kind", "overdue");
    assert_int_equal(json_integer_value(mc_json_at(ev, "data/breach")), 1);
    h_assert_str(ev, "data/rung", "overdue");
    h_assert_str(ev, "data/applicant/name", "Nguyễn Thị Lan");
    h_assert_str(ev, "data/applicant/email", "lan.nguyen@example.vn");
    h_assert_str(ev, "data/procedure/code", "1.001612");
    h_assert_str(ev, "data/unit/code", "PTCKH");
    h_assert_str(ev, "data/unit/head_name", "Đinh Thị Thu Hà");
    h_assert_str(ev, "data/due_at", "2024-03-06T16:00:00+07:00");
    h_assert_str(ev, "data/fired_at", "2024-03-06T16:30:00+07:00");
    assert_true(json_is_null(mc_json_at(ev, "data/rescheduled_due_at")));
    /* No date from the unit: three working days after the breach. */
    h_assert_str(ev, "data/new_appointment_at", "2024-03-11T16:30:00+07:00");
    json_decref(events);
    assert_int_equal(breaches_in_ledger(code), 1);

    tick_and_settle("2024-03-07T09:00:00+07:00");
    tick_and_settle("2024-03-08T09:00:00+07:00");
    events = deadline_events(code, "dossier.overdue");
    assert_int_equal(json_array_size(events), 1);
    json_decref(events);
    assert_int_equal(breaches_in_ledger(code), 1);
}

/* The result is ready before the due date: no breach. */
static void test_result_ready_before_due_never_breaches(void **state)
{
    const char *code = "000.47.26.H17-240311-0102";
    json_t *done = h_update_event(code, "result_ready", "04807", "2024-03-13T10:00:00+07:00");
    json_t *events;
    long long counted;
    (void)state;

    open_dossier(code, "1.001022", "04807", "2024-03-11T09:00:00+07:00",
                 "2024-03-14T09:00:00+07:00");
    H_PUMP_UNTIL(env, H_TIMEOUT_MS, clock_known(code));
    counted = updates_counted();
    send_update(done);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS, update_applied(done) == 1);
    assert_int_equal(updates_counted(), counted + 1); /* stored, counted */
    assert_int_equal(h_sql_int(env,
                               "SELECT count(*) FROM deadline.clock WHERE dossier_code = $1 AND "
                               "state = 'finished' AND next_fire_at IS NULL",
                               code, NULL),
                     1);

    tick_and_settle("2024-03-14T10:00:00+07:00");
    tick_and_settle("2024-03-15T10:00:00+07:00");
    events = deadline_events(code, "dossier.overdue");
    assert_int_equal(json_array_size(events), 0);
    json_decref(events);
    assert_int_equal(breaches_in_ledger(code), 0);
    json_decref(done);
}

/* result_ready arrives before dossier.received: kept, applied on arrival,
 * and the dossier never breaches. The update is counted once in
 * motcua_deadline_updates_total when it is stored (parked), not again when
 * it is redelivered or applied. */
static void test_update_before_dossier_is_kept(void **state)
{
    const char *code = "000.47.26.H17-240318-0103";
    json_t *done = h_update_event(code, "result_ready", "04807", "2024-03-19T10:00:00+07:00");
    json_t *events;
    long long counted = updates_counted();
    (void)state;

    send_update(done);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS,
                 h_sql_int(env, "SELECT count(*) FROM deadline.update WHERE event_id = $1::uuid",
                           mc_json_str(done, "event_id"), NULL) == 1 &&
                     h_offsets_committed(env, GROUP, "dossier.updates"));
    assert_int_equal(update_applied(done), 0); /* waits for its dossier */
    assert_int_equal(updates_counted(), counted + 1);
    send_update(done); /* a redelivery */
    H_PUMP_UNTIL(env, H_TIMEOUT_MS, h_offsets_committed(env, GROUP, "dossier.updates"));
    assert_int_equal(updates_counted(), counted + 1);

    open_dossier(code, "1.001022", "04807", "2024-03-18T09:00:00+07:00",
                 "2024-03-20T09:00:00+07:00");
    H_PUMP_UNTIL(env, H_TIMEOUT_MS, clock_known(code) && update_applied(done) == 1);
    assert_int_equal(h_sql_int(env,
                               "SELECT count(*) FROM deadline.clock WHERE dossier_code = $1 AND "
                               "state = 'finished' AND next_fire_at IS NULL",
                               code, NULL),
                     1);

    assert_int_equal(updates_counted(), counted + 1);

    tick_and_settle("2024-03-20T10:00:00+07:00");
    events = deadline_events(code, "dossier.overdue");
    assert_int_equal(json_array_size(events), 0);
    json_decref(events);
    assert_int_equal(breaches_in_ledger(code), 0);
    json_decref(done);
}

/* An update parked for its dossier whose date is wrong (2204 for 2024) is
 * dead-lettered, naming the date, when the dossier arrives; the dossier's
 * clock opens as usual. Before, the error of the parked update failed the
 * dossier.received itself, which was dead-lettered: no clock at all. */
static void test_parked_update_with_a_wrong_date_is_dead_lettered(void **state)
{
    const char *code = "000.47.26.H17-240321-0104";
    json_t *bad =
        h_update_event(code, "supplement_requested", "04807", "2204-03-21T10:00:00+07:00");
    json_t *all, *mine, *ev;
    (void)state;

    json_object_set_new(json_object_get(bad, "data"), "reason",
                        json_string("Thiếu bản chính Giấy chứng sinh."));
    send_update(bad);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS,
                 h_sql_int(env, "SELECT count(*) FROM deadline.update WHERE event_id = $1::uuid",
                           mc_json_str(bad, "event_id"), NULL) == 1);
    open_dossier(code, "1.001022", "04807", "2024-03-21T09:00:00+07:00",
                 "2024-03-26T09:00:00+07:00");
    H_PUMP_UNTIL(env, H_TIMEOUT_MS,
                 clock_known(code) &&
                     h_sql_int(env,
                               "SELECT count(*) FROM deadline.update WHERE event_id = $1::uuid "
                               "AND NOT applied",
                               mc_json_str(bad, "event_id"), NULL) == 0);
    assert_int_equal(h_sql_int(env,
                               "SELECT count(*) FROM deadline.clock WHERE dossier_code = $1 AND "
                               "state = 'open' AND supplements = 0 AND next_fire_at IS NOT NULL",
                               code, NULL),
                     1);
    all = h_read_topic(env, "deadletter", 1, 10000);
    mine = h_select(all, "key", code);
    assert_int_equal(json_array_size(mine), 1);
    ev = json_object_get(json_array_get(mine, 0), "payload");
    h_assert_schema(ev, "deadletter.v1");
    h_assert_str(ev, "producer", "motcua-deadline");
    assert_true(h_matches("occurred_at 2204-03-21T10:00:00\\+07:00: not within 30 days before "
                          "and 10 years after the dossier's receipt",
                          mc_json_str(ev, "data/reason")));
    assert_non_null(strstr(mc_json_str(ev, "data/original_text"), mc_json_str(bad, "event_id")));
    json_decref(mine);
    json_decref(all);
    json_decref(bad);
}

/* One reschedule is accepted beside the official due date; a second one is
 * refused with the reason; the first breach (official date) gives the
 * rescheduled date as the appointment; missing that date is breach 2. */
static void test_reschedule_once_then_second_breach(void **state)
{
    const char *code = "000.31.26.H17-240321-0104";
    const char *why = "Cần xác minh thông tin với cơ quan thuế";
    json_t *move = h_update_event(code, "reschedule", "PTCKH", "2024-03-22T09:00:00+07:00");
    json_t *again = h_update_event(code, "reschedule", "PTCKH", "2024-03-25T09:00:00+07:00");
    json_t *events, *ev;
    char *text;
    (void)state;

    json_object_set_new(json_object_get(move, "data"), "new_due_at",
                        json_string("2024-03-29T16:00:00+07:00"));
    json_object_set_new(json_object_get(move, "data"), "reason", json_string(why));
    json_object_set_new(json_object_get(again, "data"), "new_due_at",
                        json_string("2024-04-05T16:00:00+07:00"));
    json_object_set_new(json_object_get(again, "data"), "reason",
                        json_string("Chưa có kết quả xác minh"));

    open_dossier(code, "1.001612", "PTCKH", "2024-03-21T16:00:00+07:00",
                 "2024-03-26T16:00:00+07:00");
    H_PUMP_UNTIL(env, H_TIMEOUT_MS, clock_known(code));
    send_update(move);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS, update_applied(move) == 1);
    text = h_sql_text(env,
                      "SELECT motcua_rfc3339(due_at) || ' ' || motcua_rfc3339(original_due_at) || "
                      "' ' || motcua_rfc3339(rescheduled_due_at) || ' ' || reschedule_reason "
                      "FROM deadline.clock WHERE dossier_code = $1",
                      code, NULL);
    assert_non_null(text);
    assert_string_equal(text, "2024-03-26T16:00:00+07:00 2024-03-26T16:00:00+07:00 "
                              "2024-03-29T16:00:00+07:00 Cần xác minh thông tin với cơ quan thuế");
    free(text);

    send_update(again);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS, update_applied(again) == 1);
    events = deadline_events(code, "dossier.reschedule_refused");
    assert_int_equal(json_array_size(events), 1);
    ev = json_object_get(json_array_get(events, 0), "payload");
    h_assert_schema(ev, "dossier-deadline.v1");
    h_assert_str(ev, "data/kind", "reschedule_refused");
    h_assert_str(ev, "data/reason", "the appointment may be moved only once");
    h_assert_str(ev, "data/rescheduled_due_at", "2024-03-29T16:00:00+07:00");
    json_decref(events);
    assert_int_equal(h_sql_int(env,
                               "SELECT count(*) FROM deadline.clock WHERE dossier_code = $1 AND "
                               "rescheduled_due_at = '2024-03-29T16:00:00+07:00'",
                               code, NULL),
                     1);

    tick_and_settle("2024-03-26T17:00:00+07:00");
    events = deadline_events(code, "dossier.overdue");
    assert_int_equal(json_array_size(events), 1);
    ev = json_object_get(json_array_get(events, 0), "payload");
    h_assert_schema(ev, "dossier-deadline.v1");
    assert_int_equal(json_integer_value(mc_json_at(ev, "data/breach")), 1);
    h_assert_str(ev, "data/due_at", "2024-03-26T16:00:00+07:00");
    h_assert_str(ev, "data/rescheduled_due_at", "2024-03-29T16:00:00+07:00");
    h_assert_str(ev, "data/new_appointment_at", "2024-03-29T16:00:00+07:00");
    h_assert_str(ev, "data/reason", why);
    json_decref(events);

    tick_and_settle("2024-03-29T16:30:00+07:00");
    events = deadline_events(code, "dossier.overdue");
    assert_int_equal(json_array_size(events), 2);
    ev = json_object_get(json_array_get(events, 1), "payload");
    h_assert_schema(ev, "dossier-deadline.v1");
    assert_int_equal(json_integer_value(mc_json_at(ev, "data/breach")), 2);
    h_assert_str(ev, "data/due_at", "2024-03-26T16:00:00+07:00");
    h_assert_str(ev, "data/rescheduled_due_at", "2024-03-29T16:00:00+07:00");
    h_assert_str(ev, "data/fired_at", "2024-03-29T16:30:00+07:00");
    h_assert_str(ev, "data/new_appointment_at", "2024-04-03T16:30:00+07:00");
    json_decref(events);
    assert_int_equal(breaches_in_ledger(code), 2);

    tick_and_settle("2024-04-01T09:00:00+07:00");
    events = deadline_events(code, "dossier.overdue");
    assert_int_equal(json_array_size(events), 2);
    json_decref(events);
    json_decref(move);
    json_decref(again);
}

struct stepper {
    struct mc_service *svc;
    atomic_int stop;
    int failures;
};

static void *step_loop(void *arg)
{
    struct stepper *s = arg;
    int processed;
    while (!atomic_load(&s->stop)) {
        if (mc_service_step(s->svc, &processed) != 0)
            s->failures++;
        usleep(2000);
    }
    return NULL;
}

/* Two instances sweep the same due clocks at the same time, each from its
 * own thread: every breach is in the ledger once and published once. */
static void test_two_instances_fire_each_breach_once(void **state)
{
    struct stepper a = {first, 0, 0}, b = {second, 0, 0};
    pthread_t ta, tb;
    char code[64];
    json_t *all, *mine, *ids = json_object(), *m;
    size_t i;
    int64_t deadline_ms;
    (void)state;

    for (int k = 1; k <= MANY; k++) {
        json_t *ev;
        snprintf(code, sizeof code, "000.47.26.H17-240401-%04d", 200 + k);
        ev = h_received_event(env, code, "1.001022", "04807", "2024-04-01T09:00:00+07:00",
                              "2024-04-02T10:00:00+07:00");
        h_produce_json(env, "dossier.received", code, ev, NULL, NULL);
        json_decref(ev);
    }
    H_PUMP_UNTIL(env, H_TIMEOUT_MS,
                 h_sql_int(env,
                           "SELECT count(*) FROM deadline.clock WHERE dossier_code LIKE "
                           "'000.47.26.H17-240401-02%' AND received",
                           NULL) == MANY);

    h_tick(env, "2024-04-02T11:00:00+07:00");
    atomic_init(&a.stop, 0);
    atomic_init(&b.stop, 0);
    assert_int_equal(pthread_create(&ta, NULL, step_loop, &a), 0);
    assert_int_equal(pthread_create(&tb, NULL, step_loop, &b), 0);
    for (deadline_ms = 0; deadline_ms < H_TIMEOUT_MS; deadline_ms += 50) {
        if (h_sql_int(env,
                      "SELECT count(*) FROM deadline.ledger WHERE dossier_code LIKE "
                      "'000.47.26.H17-240401-02%' AND kind = 'overdue'",
                      NULL) == MANY &&
            h_sql_int(env, "SELECT count(*) FROM deadline.outbox", NULL) == 0)
            break;
        usleep(50000);
    }
    usleep(500000); /* both keep sweeping a while after the last breach */
    atomic_store(&a.stop, 1);
    atomic_store(&b.stop, 1);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    assert_int_equal(a.failures + b.failures, 0);

    assert_int_equal(h_sql_int(env,
                               "SELECT count(*) FROM deadline.ledger WHERE dossier_code LIKE "
                               "'000.47.26.H17-240401-02%' AND kind = 'overdue'",
                               NULL),
                     MANY);
    assert_int_equal(h_sql_int(env,
                               "SELECT count(DISTINCT dossier_code) FROM deadline.ledger WHERE "
                               "dossier_code LIKE '000.47.26.H17-240401-02%' AND kind = 'overdue'",
                               NULL),
                     MANY);
    all = h_read_topic(env, "dossier.deadlines", 0, 1000);
    mine = h_select(all, "payload/type", "dossier.overdue");
    json_array_foreach(mine, i, m)
    {
        const char *c = mc_json_str(m, "payload/dossier_code");
        if (c == NULL || strncmp(c, "000.47.26.H17-240401-02", 23) != 0)
            continue;
        /* One event per dossier, so no dossier is seen twice. */
        assert_null(json_object_get(ids, c));
        json_object_set_new(ids, c, json_true());
        assert_int_equal(json_integer_value(mc_json_at(m, "payload/data/breach")), 1);
        h_assert_str(m, "payload/data/fired_at", "2024-04-02T11:00:00+07:00");
    }
    assert_int_equal(json_object_size(ids), MANY);
    json_decref(ids);
    json_decref(mine);
    json_decref(all);
}

/* Each event of events says when its rung was due (data/rung_due_at), the
 * ledger's instant, and fired at least that late: fired_at - rung_due_at. */
static void assert_rung_due_at(json_t *events, const char *fired_at)
{
    size_t i;
    json_t *m;
    json_array_foreach(events, i, m)
    {
        char *due = h_sql_text(env,
                               "SELECT motcua_rfc3339(due_instant) FROM deadline.ledger WHERE "
                               "dossier_code = $1 AND rung = $2",
                               mc_json_str(m, "payload/dossier_code"),
                               mc_json_str(m, "payload/data/rung"), NULL);
        assert_non_null(due);
        h_assert_str(m, "payload/data/rung_due_at", due);
        h_assert_str(m, "payload/data/fired_at", fired_at);
        assert_true(strcmp(due, fired_at) < 0); /* the same offset: text order is time order */
        free(due);
    }
}

/* The clock jumps (an outage, or a replay's topic clock) from 2 April to
 * 10 May 15:00. A dossier due 19 April: its warnings ("1wd", "due-day")
 * warn of a date already gone, so they are recorded as skipped and only the
 * breach is announced. A dossier due 10 May 16:00: its warnings are late
 * but still ahead of the due date, so they fire, each saying when it was
 * due (how late it is); no breach yet. */
static void test_warnings_past_their_date_are_skipped(void **state)
{
    const char *gone = "000.31.26.H17-240415-0301", *ahead = "000.31.26.H17-260506-0302";
    json_t *events;
    (void)state;

    open_dossier(gone, "1.001612", "PTCKH", "2024-04-15T09:00:00+07:00",
                 "2024-04-19T16:00:00+07:00");
    open_dossier(ahead, "1.001612", "PTCKH", "2024-05-06T09:00:00+07:00",
                 "2024-05-10T16:00:00+07:00");
    H_PUMP_UNTIL(env, H_TIMEOUT_MS, clock_known(gone) && clock_known(ahead));

    tick_and_settle("2024-05-10T15:00:00+07:00");
    events = deadline_events(gone, "dossier.warning");
    assert_int_equal(json_array_size(events), 0);
    json_decref(events);
    events = deadline_events(gone, "dossier.overdue");
    assert_int_equal(json_array_size(events), 1);
    assert_rung_due_at(events, "2024-05-10T15:00:00+07:00");
    json_decref(events);
    assert_int_equal(h_sql_int(env,
                               "SELECT count(*) FROM deadline.ledger WHERE dossier_code = $1 AND "
                               "kind = 'skipped' AND rung IN ('1wd', 'due-day')",
                               gone, NULL),
                     2);

    events = deadline_events(ahead, "dossier.warning");
    assert_int_equal(json_array_size(events), 2);
    assert_rung_due_at(events, "2024-05-10T15:00:00+07:00");
    json_decref(events);
    events = deadline_events(ahead, "dossier.overdue");
    assert_int_equal(json_array_size(events), 0);
    json_decref(events);

    /* Later sweeps send nothing more for either. */
    tick_and_settle("2024-05-10T16:30:00+07:00");
    events = deadline_events(gone, "dossier.warning");
    assert_int_equal(json_array_size(events), 0);
    json_decref(events);
    events = deadline_events(ahead, "dossier.warning");
    assert_int_equal(json_array_size(events), 2);
    json_decref(events);
    events = deadline_events(ahead, "dossier.overdue");
    assert_int_equal(json_array_size(events), 1);
    json_decref(events);
}

/* A breach already in the ledger (fired before: another instance, or a
 * sweep retried after its events were written) is not announced again, is
 * not counted again, and the clock moves past it. Its neighbour in the
 * same sweep round, not in the ledger, breaches as usual. */
static void test_breach_in_ledger_is_not_sent_again(void **state)
{
    const char *fired = "000.31.26.H17-240513-0401", *fresh = "000.31.26.H17-240513-0402";
    json_t *events;
    (void)state;

    open_dossier(fired, "1.001612", "PTCKH", "2024-05-13T08:00:00+07:00",
                 "2024-05-13T16:00:00+07:00");
    open_dossier(fresh, "1.001612", "PTCKH", "2024-05-13T08:00:00+07:00",
                 "2024-05-13T16:00:00+07:00");
    H_PUMP_UNTIL(env, H_TIMEOUT_MS, clock_known(fired) && clock_known(fresh));
    assert_int_equal(h_sql_int(env,
                               "WITH x AS (INSERT INTO deadline.ledger (dossier_code, "
                               "deadline_version, rung, kind, fired_at, due_instant) VALUES ($1, "
                               "1, 'overdue', 'overdue', '2024-05-13T16:00:05+07:00', "
                               "'2024-05-13T16:00:01+07:00') RETURNING 1) SELECT count(*) FROM x",
                               fired, NULL),
                     1);

    tick_and_settle("2024-05-14T09:00:00+07:00");
    events = deadline_events(fired, "dossier.overdue");
    assert_int_equal(json_array_size(events), 0);
    json_decref(events);
    events = deadline_events(fresh, "dossier.overdue");
    assert_int_equal(json_array_size(events), 1);
    json_decref(events);
    assert_int_equal(breaches_in_ledger(fired), 1);
    assert_int_equal(h_sql_int(env,
                               "SELECT count(*) FROM deadline.clock WHERE dossier_code = $1 AND "
                               "breaches = 0 AND next_fire_at IS NULL AND fired_through = "
                               "'2024-05-13T16:00:01+07:00'",
                               fired, NULL),
                     1);
    assert_int_equal(h_sql_int(env,
                               "SELECT count(*) FROM deadline.clock WHERE dossier_code = $1 AND "
                               "breaches = 1 AND next_fire_at IS NULL",
                               fresh, NULL),
                     1);
}

/* Clocks opened set-based (a dossier alone in its batch: next fire instant
 * planned in C, written with the batch) equal clocks opened one by one
 * (updates waiting for the dossier: written and re-armed at once), column
 * for column, next fire instant included. Due in 2026, long after the
 * clock of the other tests: nothing fires meanwhile. */
static void test_clocks_opened_set_based_equal_one_by_one(void **state)
{
    enum { N = 40 };
    char a[64], b[64], received[MC_RFC3339_LEN], due[MC_RFC3339_LEN];
    json_t *ev, *updates[N];
    mc_instant t0;
    (void)state;

    assert_int_equal(mc_time_parse("2026-05-06T08:00:00+07:00", &t0), 0);
    for (int i = 0; i < N; i++) {
        snprintf(b, sizeof b, "000.47.26.H17-260506-%04d", 101 + i);
        updates[i] = h_update_event(b, "processing", "04807", "2026-05-06T07:30:00+07:00");
        send_update(updates[i]);
    }
    H_PUMP_UNTIL(env, H_TIMEOUT_MS,
                 h_sql_int(env,
                           "SELECT count(*) FROM deadline.update WHERE dossier_code LIKE "
                           "'000.47.26.H17-260506-01%' AND NOT applied",
                           NULL) == N);
    for (int i = 0; i < N; i++) {
        mc_time_format(t0 + (mc_instant)i * 3600, received);
        mc_time_format(t0 + (mc_instant)i * 3600 + (mc_instant)(i % 5 + 1) * 86400, due);
        snprintf(a, sizeof a, "000.47.26.H17-260506-%04d", 1 + i);
        snprintf(b, sizeof b, "000.47.26.H17-260506-%04d", 101 + i);
        ev = h_received_event(env, a, "1.001193", "04807", received, due);
        h_produce_json(env, "dossier.received", a, ev, NULL, NULL);
        json_decref(ev);
        ev = h_received_event(env, b, "1.001193", "04807", received, due);
        h_produce_json(env, "dossier.received", b, ev, NULL, NULL);
        json_decref(ev);
    }
    H_PUMP_UNTIL(env, H_TIMEOUT_MS,
                 h_sql_int(env,
                           "SELECT count(*) FROM deadline.clock WHERE dossier_code LIKE "
                           "'000.47.26.H17-260506-%' AND received",
                           NULL) == 2 * N &&
                     h_sql_int(env,
                               "SELECT count(*) FROM deadline.update WHERE dossier_code LIKE "
                               "'000.47.26.H17-260506-01%' AND applied",
                               NULL) == N);
    /* Pairs (A i, B i) that differ in anything but the code. */
    assert_int_equal(
        h_sql_int(env,
                  "SELECT count(*) FROM deadline.clock x JOIN deadline.clock y ON "
                  "right(y.dossier_code, 4)::int = right(x.dossier_code, 4)::int + 100 WHERE "
                  "x.dossier_code LIKE '000.47.26.H17-260506-00%' AND y.dossier_code LIKE "
                  "'000.47.26.H17-260506-01%' AND (x.received, x.state, x.channel, "
                  "x.notify_channels, x.applicant, x.procedure, x.rule_set, x.supplement_policy, "
                  "x.statutory_time, x.calendar_unit, x.received_at, x.receipt_at, "
                  "x.original_due_at, x.period_start_at, x.due_at, x.deadline_version, "
                  "x.armed_at, x.breaches, x.fired_through, x.next_fire_at) IS DISTINCT FROM "
                  "(y.received, y.state, y.channel, y.notify_channels, y.applicant, y.procedure, "
                  "y.rule_set, y.supplement_policy, y.statutory_time, y.calendar_unit, "
                  "y.received_at, y.receipt_at, y.original_due_at, y.period_start_at, y.due_at, "
                  "y.deadline_version, y.armed_at, y.breaches, y.fired_through, y.next_fire_at)",
                  NULL),
        0);
    assert_int_equal(h_sql_int(env,
                               "SELECT count(*) FROM deadline.clock WHERE dossier_code LIKE "
                               "'000.47.26.H17-260506-%' AND next_fire_at IS NOT NULL",
                               NULL),
                     2 * N);
    for (int i = 0; i < N; i++)
        json_decref(updates[i]);
}

/* A dossier received and assigned in one batch (the usual case on a busy
 * day), its clock and its unit written with the batch's others, equals one
 * whose assignment came first, alone (a clock holding only its unit, then
 * filled in one by one): pairs (G i, H i), column for column, unit
 * included; and no batch was applied again one message at a time (a clock
 * row the unit wrote first is filled in, not skipped as a conflict). */
static void test_clock_and_unit_in_one_batch_equal_one_by_one(void **state)
{
    enum { N = 40 };
    char g[64], h[64], received[MC_RFC3339_LEN], due[MC_RFC3339_LEN];
    const char *const one_by_one = "\nmotcua_deadline_batches_one_by_one_total ";
    long long fallbacks;
    json_t *ev;
    mc_instant t0;
    (void)state;

    assert_int_equal(mc_time_parse("2026-05-07T08:00:00+07:00", &t0), 0);
    /* H i: the unit first, alone. */
    for (int i = 0; i < N; i++) {
        mc_time_format(t0 + (mc_instant)i * 3600, received);
        mc_time_format(t0 + (mc_instant)i * 3600 + (mc_instant)(i % 5 + 1) * 86400, due);
        snprintf(h, sizeof h, "000.47.26.H17-260507-%04d", 101 + i);
        ev =
            h_assigned_event(env, h, "1.001193", "04807", i % 2 ? "PTCKH" : "04807", received, due);
        h_produce_json(env, "dossier.assigned", h, ev, NULL, NULL);
        json_decref(ev);
    }
    H_PUMP_UNTIL(env, H_TIMEOUT_MS,
                 h_sql_int(env,
                           "SELECT count(*) FROM deadline.clock WHERE dossier_code LIKE "
                           "'000.47.26.H17-260507-01%' AND NOT received AND unit IS NOT NULL",
                           NULL) == N);
    fallbacks = counted(one_by_one);
    /* G i: received and assigned back to back (in either order), all
     * published before the services read them; H i: received. */
    for (int i = 0; i < N; i++) {
        mc_time_format(t0 + (mc_instant)i * 3600, received);
        mc_time_format(t0 + (mc_instant)i * 3600 + (mc_instant)(i % 5 + 1) * 86400, due);
        snprintf(g, sizeof g, "000.47.26.H17-260507-%04d", 1 + i);
        snprintf(h, sizeof h, "000.47.26.H17-260507-%04d", 101 + i);
        /* Even pairs assigned first: the unit's row is written first and
         * the clock fills it in; odd ones received first. */
        for (int k = 0; k < 2; k++) {
            if ((k == 0) == (i % 2 == 0)) {
                ev = h_assigned_event(env, g, "1.001193", "04807", i % 2 ? "PTCKH" : "04807",
                                      received, due);
                h_produce_json(env, "dossier.assigned", g, ev, NULL, NULL);
            } else {
                ev = h_received_event(env, g, "1.001193", "04807", received, due);
                h_produce_json(env, "dossier.received", g, ev, NULL, NULL);
            }
            json_decref(ev);
        }
        ev = h_received_event(env, h, "1.001193", "04807", received, due);
        h_produce_json(env, "dossier.received", h, ev, NULL, NULL);
        json_decref(ev);
    }
    H_PUMP_UNTIL(env, H_TIMEOUT_MS,
                 h_sql_int(env,
                           "SELECT count(*) FROM deadline.clock WHERE dossier_code LIKE "
                           "'000.47.26.H17-260507-%' AND received AND unit IS NOT NULL",
                           NULL) == 2 * N);
    assert_int_equal(
        h_sql_int(env,
                  "SELECT count(*) FROM deadline.clock x JOIN deadline.clock y ON "
                  "right(y.dossier_code, 4)::int = right(x.dossier_code, 4)::int + 100 WHERE "
                  "x.dossier_code LIKE '000.47.26.H17-260507-00%' AND y.dossier_code LIKE "
                  "'000.47.26.H17-260507-01%' AND (x.received, x.state, x.channel, "
                  "x.notify_channels, x.applicant, x.procedure, x.rule_set, x.supplement_policy, "
                  "x.statutory_time, x.calendar_unit, x.received_at, x.receipt_at, "
                  "x.original_due_at, x.period_start_at, x.due_at, x.deadline_version, "
                  "x.armed_at, x.breaches, x.fired_through, x.next_fire_at, x.unit) IS DISTINCT "
                  "FROM (y.received, y.state, y.channel, y.notify_channels, y.applicant, "
                  "y.procedure, y.rule_set, y.supplement_policy, y.statutory_time, "
                  "y.calendar_unit, y.received_at, y.receipt_at, y.original_due_at, "
                  "y.period_start_at, y.due_at, y.deadline_version, y.armed_at, y.breaches, "
                  "y.fired_through, y.next_fire_at, y.unit)",
                  NULL),
        0);
    assert_int_equal(h_sql_int(env,
                               "SELECT count(DISTINCT unit->>'code') FROM deadline.clock WHERE "
                               "dossier_code LIKE '000.47.26.H17-260507-%' AND next_fire_at IS "
                               "NOT NULL",
                               NULL),
                     2);
    assert_int_equal(counted(one_by_one), fallbacks);
}

/* The update of kind (i % 4) at stage 1 or 2, hours after received: a
 * supplement asked and received; a result; a reschedule; two supplement
 * requests (counted late). NULL when the kind has no update at stage. */
static json_t *pair_update(const char *code, int i, int stage, mc_instant received, mc_instant due)
{
    static const char *const kinds[4][2] = {{"supplement_requested", "supplement_received"},
                                            {"result_ready", NULL},
                                            {"reschedule", NULL},
                                            {"supplement_requested", "supplement_requested"}};
    const char *status = kinds[i % 4][stage - 1];
    char at[MC_RFC3339_LEN], new_due[MC_RFC3339_LEN];
    json_t *ev;
    if (status == NULL)
        return NULL;
    ev = h_update_event(code, status, "04807",
                        mc_time_format(received + (stage == 1 ? 2 : 26) * 3600, at));
    if (strcmp(status, "reschedule") == 0) {
        json_t *data = json_object_get(ev, "data");
        json_object_set_new(data, "reason", json_string("Cần xác minh thêm tại thực địa"));
        json_object_set_new(data, "new_due_at",
                            json_string(mc_time_format(due + 3 * 86400, new_due)));
    }
    return ev;
}

/* Pairs of dossiers 000.47.26.H17-<day>-0001.. (updated set-based) and
 * -0101.. (their updates parked first, applied one by one when the dossier
 * arrives), pair i received at r[i] and due at u[i]. */
static long long updates_of(const char *day, const char *group, int applied)
{
    char like[64];
    snprintf(like, sizeof like, "000.47.26.H17-%s-%s%%", day, group);
    return h_sql_int(env,
                     "SELECT count(*) FROM deadline.update WHERE dossier_code LIKE $1 AND "
                     "applied = $2::boolean",
                     like, applied ? "t" : "f", NULL);
}

static void pair_code(char *buf, size_t len, const char *day, int i, int parked)
{
    snprintf(buf, len, "000.47.26.H17-%s-%04d", day, (parked ? 101 : 1) + i);
}

/* Opens the pairs (the parked updates waiting: sent of them) and waits
 * until every clock is there and the parked updates are applied. */
static void open_pairs(const char *day, int n, const mc_instant *r, const mc_instant *u, int sent)
{
    char code[64], like[64], received[MC_RFC3339_LEN], due[MC_RFC3339_LEN];
    H_PUMP_UNTIL(env, H_TIMEOUT_MS, updates_of(day, "01", 0) == sent);
    for (int i = 0; i < n; i++) {
        mc_time_format(r[i], received);
        mc_time_format(u[i], due);
        for (int parked = 0; parked <= 1; parked++) {
            pair_code(code, sizeof code, day, i, parked);
            open_dossier(code, "1.001193", "04807", received, due);
        }
    }
    snprintf(like, sizeof like, "000.47.26.H17-%s-%%", day);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS,
                 h_sql_int(env,
                           "SELECT count(*) FROM deadline.clock WHERE dossier_code LIKE $1 AND "
                           "received AND unit IS NOT NULL",
                           like, NULL) == 2 * n &&
                     updates_of(day, "01", 1) == sent);
}

/* The pairs' clocks are equal column for column (but the code and when
 * they were written), and the set-based ones show `kinds` distinct ends:
 * the updates did something. */
static void assert_pairs_equal(const char *day, int kinds)
{
    char set_based[64], parked[64];
    snprintf(set_based, sizeof set_based, "000.47.26.H17-%s-00%%", day);
    snprintf(parked, sizeof parked, "000.47.26.H17-%s-01%%", day);
    assert_int_equal(updates_of(day, "0", 0), 0);
    assert_int_equal(
        h_sql_int(env,
                  "SELECT count(*) FROM deadline.clock x JOIN deadline.clock y ON "
                  "right(y.dossier_code, 4)::int = right(x.dossier_code, 4)::int + 100 WHERE "
                  "x.dossier_code LIKE $1 AND y.dossier_code LIKE $2 AND (x.state, "
                  "x.deadline_version, x.breaches, x.supplements, x.counted_late, "
                  "x.period_start_at, x.paused_working_s, x.due_at, x.rescheduled_due_at, "
                  "x.reschedule_reason, x.armed_at, x.paused_at, x.fired_through, "
                  "x.next_fire_at) IS DISTINCT FROM (y.state, y.deadline_version, y.breaches, "
                  "y.supplements, y.counted_late, y.period_start_at, y.paused_working_s, "
                  "y.due_at, y.rescheduled_due_at, y.reschedule_reason, y.armed_at, y.paused_at, "
                  "y.fired_through, y.next_fire_at)",
                  set_based, parked, NULL),
        0);
    assert_int_equal(h_sql_int(env,
                               "SELECT count(DISTINCT (state, supplements, counted_late, "
                               "rescheduled_due_at IS NOT NULL, deadline_version)) FROM "
                               "deadline.clock WHERE dossier_code LIKE $1",
                               set_based, NULL),
                     kinds);
}

/* Updates applied set-based (the batch's only message about a received
 * dossier: the clock read with the batch, written with it) leave the
 * clock exactly as updates applied one by one (parked before the dossier,
 * applied when it arrives): pairs (C i, D i) compared column for column. */
static void test_updates_applied_set_based_equal_one_by_one(void **state)
{
    enum { N = 24 };
    char code[64];
    json_t *ev;
    mc_instant t0, r[N], u[N];
    int sent = 0;
    (void)state;

    assert_int_equal(mc_time_parse("2026-06-01T08:00:00+07:00", &t0), 0);
    for (int i = 0; i < N; i++) {
        r[i] = t0 + (mc_instant)i * 3600;
        u[i] = r[i] + (mc_instant)(i % 5 + 2) * 86400;
    }
    /* One by one: D's updates wait for D. */
    for (int stage = 1; stage <= 2; stage++)
        for (int i = 0; i < N; i++) {
            pair_code(code, sizeof code, "260601", i, 1);
            if ((ev = pair_update(code, i, stage, r[i], u[i])) != NULL) {
                send_update(ev);
                json_decref(ev);
                sent++;
            }
        }
    open_pairs("260601", N, r, u, sent);
    /* Set-based: C's updates, a stage at a time, one message per dossier. */
    for (int stage = 1, n = 0; stage <= 2; stage++) {
        for (int i = 0; i < N; i++) {
            pair_code(code, sizeof code, "260601", i, 0);
            if ((ev = pair_update(code, i, stage, r[i], u[i])) != NULL) {
                send_update(ev);
                json_decref(ev);
                n++;
            }
        }
        H_PUMP_UNTIL(env, H_TIMEOUT_MS, updates_of("260601", "00", 1) == n);
    }
    assert_pairs_equal("260601", 4);
}

/* The updates of sequence i % 3, hours after received (0: no more): a
 * supplement asked and received; a reschedule accepted, then a second one
 * refused; two supplement requests, then the result. */
static const struct {
    const char *status;
    int hours;
} sequences[3][4] = {
    {{"supplement_requested", 2}, {"supplement_received", 26}, {NULL, 0}},
    {{"reschedule", 2}, {"reschedule", 3}, {NULL, 0}},
    {{"supplement_requested", 2}, {"supplement_requested", 5}, {"result_ready", 30}, {NULL, 0}},
};

static int send_sequence(const char *code, int i, mc_instant received, mc_instant due)
{
    char at[MC_RFC3339_LEN], new_due[MC_RFC3339_LEN];
    int k;
    for (k = 0; sequences[i % 3][k].status; k++) {
        json_t *ev =
            h_update_event(code, sequences[i % 3][k].status, "04807",
                           mc_time_format(received + sequences[i % 3][k].hours * 3600, at));
        if (strcmp(sequences[i % 3][k].status, "reschedule") == 0) {
            json_t *data = json_object_get(ev, "data");
            json_object_set_new(data, "reason", json_string("Cần xác minh thêm tại thực địa"));
            json_object_set_new(data, "new_due_at",
                                json_string(mc_time_format(due + (3 + k) * 86400, new_due)));
        }
        send_update(ev);
        json_decref(ev);
    }
    return k;
}

/* Several updates of one dossier back to back, applied set-based (in
 * memory, in their order, the clock written once) leave the clock as
 * updates applied one by one, and a refusal after an accepted reschedule
 * in the same batch reports the accepted date: pairs (E i, F i). */
static void test_updates_in_one_batch_apply_in_order(void **state)
{
    enum { N = 18 };
    char code[64];
    mc_instant t0, r[N], u[N];
    int sent = 0;
    json_t *events;
    (void)state;

    assert_int_equal(mc_time_parse("2026-07-01T08:00:00+07:00", &t0), 0);
    for (int i = 0; i < N; i++) {
        r[i] = t0 + (mc_instant)i * 3600;
        u[i] = r[i] + (mc_instant)(i % 4 + 2) * 86400;
        pair_code(code, sizeof code, "260701", i, 1);
        sent += send_sequence(code, i, r[i], u[i]);
    }
    open_pairs("260701", N, r, u, sent);
    for (int i = 0; i < N; i++) {
        pair_code(code, sizeof code, "260701", i, 0);
        send_sequence(code, i, r[i], u[i]);
    }
    H_PUMP_UNTIL(env, H_TIMEOUT_MS, updates_of("260701", "00", 1) == sent);
    assert_pairs_equal("260701", 3);
    /* Each second reschedule refused once, saying the date the first set. */
    for (int i = 1; i < N; i += 3) {
        char want[MC_RFC3339_LEN];
        pair_code(code, sizeof code, "260701", i, 0);
        events = deadline_events(code, "dossier.reschedule_refused");
        assert_int_equal(json_array_size(events), 1);
        h_assert_str(json_object_get(json_array_get(events, 0), "payload"),
                     "data/rescheduled_due_at", mc_time_format(u[i] + 3 * 86400, want));
        json_decref(events);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_overdue_fires_exactly_once),
        cmocka_unit_test(test_result_ready_before_due_never_breaches),
        cmocka_unit_test(test_update_before_dossier_is_kept),
        cmocka_unit_test(test_parked_update_with_a_wrong_date_is_dead_lettered),
        cmocka_unit_test(test_reschedule_once_then_second_breach),
        cmocka_unit_test(test_two_instances_fire_each_breach_once),
        cmocka_unit_test(test_warnings_past_their_date_are_skipped),
        cmocka_unit_test(test_breach_in_ledger_is_not_sent_again),
        cmocka_unit_test(test_clocks_opened_set_based_equal_one_by_one),
        cmocka_unit_test(test_clock_and_unit_in_one_batch_equal_one_by_one),
        cmocka_unit_test(test_updates_applied_set_based_equal_one_by_one),
        cmocka_unit_test(test_updates_in_one_batch_apply_in_order),
    };
    return cmocka_run_group_tests_name("integration: deadline", tests, group_setup, group_teardown);
}
