/* router against PostgreSQL and the embedded broker: assignments by rule,
 * redeliveries, transfers parked until their dossier arrives, dead letters. */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

#include "motcua/jsonutil.h"
#include "router.h"

#define GROUP "motcua-router"
#define NORULE_PROCEDURE "X.NORULE.01"

static struct h_env *env;
static struct mc_service *router;

static long long assignments(const char *code)
{
    return h_sql_int(env, "SELECT count(*) FROM routing.assignment WHERE dossier_code = $1", code,
                     NULL);
}

/* The messages of topic about dossier code, in offset order (one key, so
 * one partition). */
static json_t *events_for(const char *topic, const char *code)
{
    json_t *all = h_read_topic(env, topic, 0, 1000);
    json_t *mine = h_select(all, "payload/dossier_code", code);
    json_decref(all);
    return mine;
}

static json_t *payload_of(const json_t *msgs, size_t i)
{
    return json_object_get(json_array_get(msgs, i), "payload");
}

static void send_received(const json_t *ev)
{
    h_produce_json(env, "dossier.received", mc_json_str(ev, "dossier_code"), ev, NULL, NULL);
}

/* Checks an assignment event against the catalog unit it names. */
static void assert_assigned_to(const json_t *msg, const char *code, const char *unit_code,
                               const char *reason)
{
    const json_t *ev = json_object_get(msg, "payload");
    json_t *unit = h_unit_json(env, unit_code);
    h_assert_schema(ev, "dossier-assigned.v1");
    h_assert_str(msg, "key", code);
    h_assert_str(ev, "type", "dossier.assigned");
    h_assert_str(ev, "producer", "motcua-router");
    h_assert_str(ev, "dossier_code", code);
    h_assert_str(ev, "data/reason", reason);
    assert_true(json_equal(mc_json_at(ev, "data/unit"), unit));
    json_decref(unit);
}

static int group_setup(void **state)
{
    (void)state;
    if ((env = h_env_new("router")) == NULL)
        return -1;
    /* A catalog where one procedure has no routing rule: without the
     * catch-all rule of the sample catalog, and with a procedure no rule
     * names. The router loads the catalog at start. */
    h_sql_exec(
        env, "DELETE FROM catalog.routing_rule WHERE procedure_code IS NULL AND ward_code IS NULL",
        NULL);
    h_sql_exec(env,
               "INSERT INTO catalog.procedure (code, name, field, level, time_amount, time_unit) "
               "VALUES ($1, 'Thủ tục thử nghiệm chưa có quy tắc phân công', 'Thử nghiệm', "
               "'district', 5, 'wd')",
               NORULE_PROCEDURE, NULL);
    /* A Vice-Chairman signs PTCKH's letters on the Chairman's behalf: the
     * events say city_chairman (their v1 vocabulary has no deputy). */
    h_sql_exec(env,
               "UPDATE catalog.unit SET signer_policy = 'city_deputy', deputy_name = 'Trần Thị "
               "Thanh' WHERE code = 'PTCKH'",
               NULL);
    router = h_service_new(env, &mc_router_def, h_config_new(env, "router"));
    h_wait_ready(env, H_JOIN_TIMEOUT_MS);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    h_env_free(env);
    return 0;
}

/* A commune-level procedure goes to the applicant's ward, with its head. */
static void test_commune_procedure_goes_to_the_ward(void **state)
{
    const char *code = "000.47.26.H17-240305-0001";
    json_t *ev = h_received_event(env, code, "1.001193", "04807", "2024-03-05T09:00:00+07:00",
                                  "2024-03-05T17:00:00+07:00");
    json_t *events, *assigned;
    char rule[32];
    (void)state;

    send_received(ev);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS,
                 assignments(code) == 1 && h_offsets_committed(env, GROUP, "dossier.received"));
    assert_int_equal(h_sql_int(env,
                               "SELECT count(*) FROM routing.assignment WHERE dossier_code = $1 "
                               "AND unit_code = '04807' AND procedure_code = '1.001193' AND "
                               "due_at = '2024-03-05T17:00:00+07:00'",
                               code, NULL),
                     1);

    events = events_for("dossier.assigned", code);
    assert_int_equal(json_array_size(events), 1);
    assert_assigned_to(json_array_get(events, 0), code, "04807", "rule");
    assigned = payload_of(events, 0);
    h_assert_str(assigned, "data/unit/name", "Phường Phương Lâm");
    h_assert_str(assigned, "data/unit/head_title", "Chủ tịch UBND phường");
    h_assert_str(assigned, "data/unit/head_name", "Hoàng Minh Tuấn");
    h_assert_str(assigned, "data/procedure_code", "1.001193");
    h_assert_str(assigned, "data/ward_code", "04807");
    h_assert_str(assigned, "data/due_at", "2024-03-05T17:00:00+07:00");
    h_assert_str(assigned, "data/assigned_at", "2024-03-05T09:00:00+07:00");
    /* The rule that matched is the procedure's own "to the ward" rule. */
    snprintf(rule, sizeof rule, "%lld",
             (long long)json_integer_value(mc_json_at(assigned, "data/rule_id")));
    assert_int_equal(h_sql_int(env,
                               "SELECT count(*) FROM catalog.routing_rule WHERE id = $1::int AND "
                               "procedure_code = '1.001193' AND target = 'ward'",
                               rule, NULL),
                     1);
    json_decref(events);
    json_decref(ev);
}

/* A district-level procedure goes to its department. */
static void test_district_procedure_goes_to_the_department(void **state)
{
    const char *code = "000.31.26.H17-240305-0002";
    json_t *ev = h_received_event(env, code, "1.001612", "04807", "2024-03-05T09:10:00+07:00",
                                  "2024-03-08T09:10:00+07:00");
    json_t *events, *assigned;
    (void)state;

    send_received(ev);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS,
                 assignments(code) == 1 && h_offsets_committed(env, GROUP, "dossier.received"));
    assert_int_equal(h_sql_int(env,
                               "SELECT count(*) FROM routing.assignment WHERE dossier_code = $1 "
                               "AND unit_code = 'PTCKH'",
                               code, NULL),
                     1);
    events = events_for("dossier.assigned", code);
    assert_int_equal(json_array_size(events), 1);
    assert_assigned_to(json_array_get(events, 0), code, "PTCKH", "rule");
    assigned = payload_of(events, 0);
    h_assert_str(assigned, "data/unit/name", "Phòng Tài chính - Kế hoạch");
    h_assert_str(assigned, "data/unit/kind", "department");
    h_assert_str(assigned, "data/unit/head_title", "Trưởng phòng");
    h_assert_str(assigned, "data/unit/head_name", "Đinh Thị Thu Hà");
    h_assert_str(assigned, "data/unit/signer_policy", "city_chairman");
    json_decref(events);
    json_decref(ev);
}

/* The same dossier.received again (same event_id), and once more under a
 * new event_id: still one assignment, one event. */
static void test_redelivered_received_assigns_once(void **state)
{
    const char *code = "000.47.26.H17-240305-0003";
    json_t *ev = h_received_event(env, code, "1.001193", "04807", "2024-03-05T09:20:00+07:00",
                                  "2024-03-05T17:00:00+07:00");
    json_t *again, *events;
    char id[H_UUID_LEN];
    (void)state;

    send_received(ev);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS,
                 assignments(code) == 1 && h_offsets_committed(env, GROUP, "dossier.received"));
    send_received(ev);
    again = json_deep_copy(ev);
    h_uuid(id);
    json_object_set_new(again, "event_id", json_string(id));
    send_received(again);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS, h_offsets_committed(env, GROUP, "dossier.received"));
    h_pump_for(env, 300);

    assert_int_equal(assignments(code), 1);
    assert_int_equal(h_sql_int(env, "SELECT count(*) FROM routing.inbox WHERE event_id = $1",
                               mc_json_str(ev, "event_id"), NULL),
                     1);
    events = events_for("dossier.assigned", code);
    assert_int_equal(json_array_size(events), 1);
    json_decref(events);
    json_decref(again);
    json_decref(ev);
}

/* A transfer that arrives before its dossier is parked, then applied right
 * after the assignment by rule: a second dossier.assigned, reason transfer. */
static void test_transfer_before_dossier_is_parked_then_applied(void **state)
{
    const char *code = "000.47.26.H17-240305-0004";
    const char *why = "Hồ sơ có yếu tố nước ngoài, chuyển Phòng Tư pháp";
    json_t *transfer = h_update_event(code, "transfer", "04807", "2024-03-05T10:00:00+07:00");
    json_t *ev = h_received_event(env, code, "1.001193", "04807", "2024-03-05T09:30:00+07:00",
                                  "2024-03-05T17:00:00+07:00");
    json_t *events, *second;
    (void)state;

    json_object_set_new(json_object_get(transfer, "data"), "to_unit_code", json_string("PTP"));
    json_object_set_new(json_object_get(transfer, "data"), "reason", json_string(why));
    h_assert_schema(transfer, "dossier-update.v1");
    h_produce_json(env, "dossier.updates", code, transfer, NULL, NULL);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS,
                 h_sql_int(env, "SELECT count(*) FROM routing.parked WHERE dossier_code = $1", code,
                           NULL) == 1 &&
                     h_offsets_committed(env, GROUP, "dossier.updates"));
    assert_int_equal(assignments(code), 0);
    events = events_for("dossier.assigned", code);
    assert_int_equal(json_array_size(events), 0);
    json_decref(events);

    send_received(ev);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS,
                 h_sql_int(env, "SELECT count(*) FROM routing.transfer WHERE dossier_code = $1",
                           code, NULL) == 1 &&
                     h_offsets_committed(env, GROUP, "dossier.received"));
    assert_int_equal(h_sql_int(env,
                               "SELECT count(*) FROM routing.transfer WHERE dossier_code = $1 "
                               "AND from_unit = '04807' AND to_unit = 'PTP' AND reason = $2 "
                               "AND handed_at = '2024-03-05T10:00:00+07:00'",
                               code, why, NULL),
                     1);
    assert_int_equal(h_sql_int(env,
                               "SELECT count(*) FROM routing.assignment WHERE dossier_code = $1 "
                               "AND unit_code = 'PTP'",
                               code, NULL),
                     1);
    assert_int_equal(
        h_sql_int(env, "SELECT count(*) FROM routing.parked WHERE dossier_code = $1", code, NULL),
        0);

    events = events_for("dossier.assigned", code);
    assert_int_equal(json_array_size(events), 2);
    assert_true(json_integer_value(json_object_get(json_array_get(events, 0), "offset")) <
                json_integer_value(json_object_get(json_array_get(events, 1), "offset")));
    assert_assigned_to(json_array_get(events, 0), code, "04807", "rule");
    assert_assigned_to(json_array_get(events, 1), code, "PTP", "transfer");
    second = payload_of(events, 1);
    assert_true(json_is_null(mc_json_at(second, "data/rule_id")));
    h_assert_str(second, "data/assigned_at", "2024-03-05T10:00:00+07:00");
    h_assert_str(second, "data/due_at", "2024-03-05T17:00:00+07:00");
    json_decref(events);
    json_decref(ev);
    json_decref(transfer);
}

/* A procedure no routing rule covers: a dead letter naming it, and the
 * partition goes on. */
static void test_procedure_without_rule_is_dead_lettered(void **state)
{
    char topic[256];
    const char *code = "000.31.26.H17-240305-0005";
    json_t *ev = h_received_event(env, code, NORULE_PROCEDURE, "04807", "2024-03-05T11:00:00+07:00",
                                  "2024-03-12T11:00:00+07:00");
    json_t *events, *dl, *original;
    (void)state;

    send_received(ev);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS, h_offsets_committed(env, GROUP, "dossier.received"));
    assert_int_equal(assignments(code), 0);
    events = events_for("dossier.assigned", code);
    assert_int_equal(json_array_size(events), 0);
    json_decref(events);

    events = events_for("deadletter", code);
    assert_int_equal(json_array_size(events), 1);
    dl = payload_of(events, 0);
    h_assert_schema(dl, "deadletter.v1");
    h_assert_str(dl, "producer", "motcua-router");
    h_assert_str(dl, "data/consumer", "motcua-router");
    h_assert_str(dl, "data/topic", h_topic_name(env, "dossier.received", topic, sizeof topic));
    assert_non_null(strstr(mc_json_str(dl, "data/reason"), NORULE_PROCEDURE));
    original = json_loads(mc_json_str(dl, "data/original_text"), 0, NULL);
    assert_true(json_equal(original, ev)); /* the original message, byte for byte as JSON */
    json_decref(original);
    json_decref(events);
    json_decref(ev);
}

/* A batch of 64 events: 60 new dossiers, one of them transferred in the same
 * batch, one dossier.received delivered twice, and one no rule covers. The
 * batch goes set-based until the rule-less one fails it, then one by one:
 * 60 assignments once each, the transfer applied after its assignment, one
 * dead letter. */
static void test_batch_with_transfer_duplicate_and_dead_letter(void **state)
{
    enum { NEW = 60 };
    char code[64], target[64];
    static char body[1 << 18];
    const char *metric = "\nmotcua_router_batches_one_by_one_total ";
    json_t *evs[NEW], *transfer, *norule, *all, *mine;
    long long before;
    char *at;
    (void)state;

    assert_int_equal(h_http_get(env, mc_service_http_port(router), "/metrics", body, sizeof body),
                     200);
    assert_non_null(at = strstr(body, metric));
    before = atoll(at + strlen(metric));
    for (int i = 0; i < NEW; i++) {
        snprintf(code, sizeof code, "000.47.26.H17-240306-%04d", 100 + i);
        evs[i] = h_received_event(env, code, "1.001193", "04807", "2024-03-06T09:00:00+07:00",
                                  "2024-03-06T17:00:00+07:00");
        send_received(evs[i]);
        if (i == 10)
            send_received(evs[i]); /* delivered twice */
    }
    snprintf(target, sizeof target, "000.47.26.H17-240306-%04d", 100 + 20);
    transfer = h_update_event(target, "transfer", "04807", "2024-03-06T10:00:00+07:00");
    json_object_set_new(json_object_get(transfer, "data"), "to_unit_code", json_string("PTP"));
    json_object_set_new(json_object_get(transfer, "data"), "reason", json_string("Chuyển"));
    h_produce_json(env, "dossier.updates", target, transfer, NULL, NULL);
    norule = h_received_event(env, "000.31.26.H17-240306-0001", NORULE_PROCEDURE, "04807",
                              "2024-03-06T11:00:00+07:00", "2024-03-13T11:00:00+07:00");
    send_received(norule);

    H_PUMP_UNTIL(env, H_TIMEOUT_MS,
                 h_sql_int(env,
                           "SELECT count(*) FROM routing.assignment WHERE dossier_code LIKE "
                           "'000.47.26.H17-240306-%'",
                           NULL) == NEW &&
                     h_sql_int(env, "SELECT count(*) FROM routing.transfer WHERE dossier_code = $1",
                               target, NULL) == 1 &&
                     h_offsets_committed(env, GROUP, "dossier.received"));
    assert_int_equal(h_sql_int(env,
                               "SELECT count(*) FROM routing.assignment WHERE dossier_code = $1 "
                               "AND unit_code = 'PTP'",
                               target, NULL),
                     1);
    assert_int_equal(assignments("000.31.26.H17-240306-0001"), 0);
    all = h_read_topic(env, "dossier.assigned", NEW + 1, 10000);
    for (int i = 0; i < NEW; i++) {
        snprintf(code, sizeof code, "000.47.26.H17-240306-%04d", 100 + i);
        mine = h_select(all, "payload/dossier_code", code);
        assert_int_equal(json_array_size(mine), i == 20 ? 2 : 1);
        assert_assigned_to(json_array_get(mine, 0), code, "04807", "rule");
        if (i == 20)
            assert_assigned_to(json_array_get(mine, 1), code, "PTP", "transfer");
        json_decref(mine);
        json_decref(evs[i]);
    }
    json_decref(all);
    mine = events_for("deadletter", "000.31.26.H17-240306-0001");
    assert_int_equal(json_array_size(mine), 1);
    json_decref(mine);
    assert_int_equal(h_http_get(env, mc_service_http_port(router), "/metrics", body, sizeof body),
                     200);
    assert_non_null(at = strstr(body, metric));
    assert_true(atoll(at + strlen(metric)) > before);
    json_decref(transfer);
    json_decref(norule);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commune_procedure_goes_to_the_ward),
        cmocka_unit_test(test_district_procedure_goes_to_the_department),
        cmocka_unit_test(test_redelivered_received_assigns_once),
        cmocka_unit_test(test_transfer_before_dossier_is_parked_then_applied),
        cmocka_unit_test(test_procedure_without_rule_is_dead_lettered),
        cmocka_unit_test(test_batch_with_transfer_duplicate_and_dead_letter),
    };
    return cmocka_run_group_tests_name("integration: router", tests, group_setup, group_teardown);
}
