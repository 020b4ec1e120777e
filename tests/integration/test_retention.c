/* Retention (MOTCUA_RETAIN_*): what grows forever is pruned. Rows are aged
 * with SQL (retention is judged by wall time), then each service's
 * retention runs (mc_service_prune, what the loop runs every
 * MOTCUA_PRUNE_INTERVAL_S). Parked updates and transfers whose dossier never
 * arrived become dead letters saying so, where they were read and their
 * bytes; old inbox rows, finished clocks with their ledger and history, and
 * old rejections go; a replayed dossier.received for a pruned clock opens
 * nothing. */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

#include "deadline.h"
#include "intake.h"
#include "motcua/jsonutil.h"
#include "motcua/timeutil.h"
#include "router.h"

static struct h_env *env;
static struct mc_service *intake, *router, *deadline;

static int group_setup(void **state)
{
    struct mc_config *cfg;
    (void)state;
    if ((env = h_env_new("retention")) == NULL)
        return -1;
    intake = h_service_new(env, &mc_intake_def, h_config_new(env, "intake"));
    router = h_service_new(env, &mc_router_def, h_config_new(env, "router"));
    cfg = h_config_new(env, "deadline");
    cfg->clock = MC_CLOCK_TOPIC; /* the replay below comes "a year later" */
    deadline = h_service_new(env, &mc_deadline_def, cfg);
    h_wait_ready(env, H_JOIN_TIMEOUT_MS);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    h_env_free(env);
    return 0;
}

/* The service's "now" (its clock), 0 before the first tick. */
static mc_instant service_now(struct mc_service *svc)
{
    mc_instant now = 0;
    return mc_service_now(svc, &now) == 0 ? now : 0;
}

static long long prune(struct mc_service *svc)
{
    char err[512];
    long long pruned = -1;
    if (mc_service_prune(svc, &pruned, err, sizeof err) != 0)
        fail_msg("retention: %s", err);
    return pruned;
}

/* The one dead letter keyed key, as a new reference. */
static json_t *dead_letter(const char *key)
{
    json_t *all = h_read_topic(env, "deadletter", 1, 10000), *mine, *dl;
    mine = h_select(all, "key", key);
    assert_int_equal(json_array_size(mine), 1);
    dl = json_incref(json_object_get(json_array_get(mine, 0), "payload"));
    json_decref(mine);
    json_decref(all);
    return dl;
}

/* A transfer for a dossier that never arrives: parked, then after 30 days
 * a dead letter with its place and bytes; the parking row is gone. */
static void test_transfer_parked_too_long_is_dead_lettered(void **state)
{
    const char *code = "000.47.26.H17-240102-0901";
    json_t *transfer = h_update_event(code, "transfer", "04807", "2024-01-02T10:00:00+07:00");
    char topic[256];
    int32_t partition;
    int64_t offset;
    json_t *dl;
    (void)state;

    json_object_set_new(json_object_get(transfer, "data"), "to_unit_code", json_string("PTP"));
    json_object_set_new(json_object_get(transfer, "data"), "reason",
                        json_string("đúng thẩm quyền"));
    h_produce_json(env, "dossier.updates", code, transfer, &partition, &offset);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS,
                 h_sql_int(env, "SELECT count(*) FROM routing.parked WHERE dossier_code = $1", code,
                           NULL) == 1);
    assert_true(prune(router) >= 0); /* not old enough: stays */
    assert_int_equal(
        h_sql_int(env, "SELECT count(*) FROM routing.parked WHERE dossier_code = $1", code, NULL),
        1);

    h_sql_exec(env, "UPDATE routing.parked SET parked_at = now() - interval '40 days'", NULL);
    assert_true(prune(router) >= 1);
    assert_int_equal(
        h_sql_int(env, "SELECT count(*) FROM routing.parked WHERE dossier_code = $1", code, NULL),
        0);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS,
                 h_sql_int(env, "SELECT count(*) FROM routing.outbox", NULL) == 0);
    dl = dead_letter(code);
    h_assert_schema(dl, "deadletter.v1");
    h_assert_str(dl, "producer", "motcua-router");
    h_assert_str(dl, "data/topic", h_topic_name(env, "dossier.updates", topic, sizeof topic));
    assert_int_equal(json_integer_value(mc_json_at(dl, "data/partition")), partition);
    assert_int_equal(json_integer_value(mc_json_at(dl, "data/offset")), offset);
    assert_true(h_matches("^transfer parked 40 days waiting for dossier "
                          "000\\.47\\.26\\.H17-240102-0901, which never arrived "
                          "\\(MOTCUA_RETAIN_PARKED_DAYS=30\\)$",
                          mc_json_str(dl, "data/reason")));
    assert_non_null(strstr(mc_json_str(dl, "data/original_text"), "đúng thẩm quyền"));
    json_decref(dl);
    json_decref(transfer);
}

/* The same for an update the deadline service parked. */
static void test_update_parked_too_long_is_dead_lettered(void **state)
{
    const char *code = "000.47.26.H17-240103-0902";
    json_t *update = h_update_event(code, "processing", "04807", "2024-01-03T10:00:00+07:00");
    int32_t partition;
    int64_t offset;
    json_t *dl;
    (void)state;

    h_produce_json(env, "dossier.updates", code, update, &partition, &offset);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS,
                 h_sql_int(env,
                           "SELECT count(*) FROM deadline.update WHERE dossier_code = $1 AND NOT "
                           "applied AND payload IS NOT NULL",
                           code, NULL) == 1);
    h_sql_exec(env, "UPDATE deadline.update SET recorded_at = now() - interval '31 days'", NULL);
    assert_true(prune(deadline) >= 1);
    assert_int_equal(
        h_sql_int(env, "SELECT count(*) FROM deadline.update WHERE dossier_code = $1", code, NULL),
        0);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS,
                 h_sql_int(env, "SELECT count(*) FROM deadline.outbox", NULL) == 0);
    dl = dead_letter(code);
    h_assert_str(dl, "producer", "motcua-deadline");
    assert_int_equal(json_integer_value(mc_json_at(dl, "data/partition")), partition);
    assert_int_equal(json_integer_value(mc_json_at(dl, "data/offset")), offset);
    assert_true(
        h_matches("^update parked 31 days waiting for dossier", mc_json_str(dl, "data/reason")));
    json_decref(dl);
    json_decref(update);
}

/* Inbox rows older than 30 days go; recent ones stay. */
static void test_old_inbox_rows_go(void **state)
{
    long long before;
    (void)state;
    h_sql_exec(env,
               "INSERT INTO routing.inbox (event_id, applied_at) VALUES "
               "('00000000-0000-4000-8000-000000000001', now() - interval '31 days'), "
               "('00000000-0000-4000-8000-000000000002', now() - interval '29 days')",
               NULL);
    before = h_sql_int(env, "SELECT count(*) FROM routing.inbox", NULL);
    assert_true(prune(router) >= 1);
    assert_int_equal(h_sql_int(env, "SELECT count(*) FROM routing.inbox", NULL), before - 1);
    assert_int_equal(h_sql_int(env,
                               "SELECT count(*) FROM routing.inbox WHERE event_id = "
                               "'00000000-0000-4000-8000-000000000002'",
                               NULL),
                     1);
}

/* A dossier finished more than 400 days ago goes with its ledger and its
 * updates; replaying its dossier.received and its dossier.assigned
 * afterwards (their inbox rows gone too) opens no clock, not even one
 * holding only the unit: no breach, no apology, no row left behind. */
static void test_finished_clocks_go_and_stay_gone(void **state)
{
    const char *code = "000.47.26.H17-240304-0903";
    json_t *received = h_received_event(env, code, "1.001193", "04807", "2024-03-04T09:00:00+07:00",
                                        "2024-03-04T17:00:00+07:00");
    json_t *assigned = h_assigned_event(env, code, "1.001193", "04807", "04807",
                                        "2024-03-04T09:00:00+07:00", "2024-03-04T17:00:00+07:00");
    json_t *done = h_update_event(code, "result_ready", "04807", "2024-03-04T15:00:00+07:00");
    static char body[1 << 18];
    mc_instant replayed_at;
    (void)state;

    h_tick(env, "2024-03-04T10:00:00+07:00");
    h_produce_json(env, "dossier.received", code, received, NULL, NULL);
    h_produce_json(env, "dossier.assigned", code, assigned, NULL, NULL);
    h_produce_json(env, "dossier.updates", code, done, NULL, NULL);
    /* All applied (they travel on three topics, in any order: an assignment
     * read after the pruning would open a clock with no dossier behind it):
     * these three, and the router's own dossier.assigned for the received
     * dossier (the router of this environment assigns it too; its event id
     * is md5 of its seed). */
    H_PUMP_UNTIL(env, H_TIMEOUT_MS,
                 h_sql_int(env,
                           "SELECT count(*) FROM deadline.inbox WHERE event_id IN ($1::uuid, "
                           "$2::uuid, $3::uuid, md5('router/assigned/' || $4 || '/0')::uuid)",
                           mc_json_str(received, "event_id"), mc_json_str(assigned, "event_id"),
                           mc_json_str(done, "event_id"), code, NULL) == 4);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS,
                 h_sql_int(env,
                           "SELECT count(*) FROM deadline.clock WHERE dossier_code = $1 AND "
                           "state = 'finished'",
                           code, NULL) == 1);
    h_sql_exec(env,
               "UPDATE deadline.clock SET updated_at = now() - interval '401 days' "
               "WHERE dossier_code = $1",
               code, NULL);
    h_sql_exec(env, "UPDATE deadline.inbox SET applied_at = now() - interval '401 days'", NULL);
    assert_true(prune(deadline) >= 1);
    assert_int_equal(
        h_sql_int(env, "SELECT count(*) FROM deadline.clock WHERE dossier_code = $1", code, NULL),
        0);
    assert_int_equal(
        h_sql_int(env, "SELECT count(*) FROM deadline.update WHERE dossier_code = $1", code, NULL),
        0);
    assert_int_equal(
        h_sql_int(env, "SELECT count(*) FROM deadline.ledger WHERE dossier_code = $1", code, NULL),
        0);

    /* The same event again, as an operator's replay from the beginning,
     * more than 400 days after its due date. */
    h_tick(env, "2025-06-02T10:00:00+07:00");
    assert_int_equal(mc_time_parse("2025-06-02T10:00:00+07:00", &replayed_at), 0);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS, service_now(deadline) >= replayed_at);
    h_produce_json(env, "dossier.assigned", code, assigned, NULL, NULL);
    h_produce_json(env, "dossier.received", code, received, NULL, NULL);
    /* Handled: their event ids are in the inbox again. */
    H_PUMP_UNTIL(env, H_TIMEOUT_MS,
                 h_sql_int(env,
                           "SELECT count(*) FROM deadline.inbox WHERE event_id IN ($1::uuid, "
                           "$2::uuid)",
                           mc_json_str(received, "event_id"), mc_json_str(assigned, "event_id"),
                           NULL) == 2);
    assert_int_equal(
        h_sql_int(env, "SELECT count(*) FROM deadline.clock WHERE dossier_code = $1", code, NULL),
        0);
    assert_int_equal(h_http_get(env, mc_service_http_port(deadline), "/metrics", body, sizeof body),
                     200);
    assert_non_null(strstr(body, "\nmotcua_deadline_stale_replays_total 2\n"));
    json_decref(received);
    json_decref(assigned);
    json_decref(done);
}

/* Rejections older than MOTCUA_RETAIN_FINISHED_DAYS go. */
static void test_old_rejections_go(void **state)
{
    (void)state;
    h_sql_exec(env,
               "INSERT INTO intake.rejection (read_from, source, external_id, problems, "
               "rejected_at) VALUES ('x/0/1', 'p', 'OLD', '[]', now() - interval '401 days'), "
               "('x/0/2', 'p', 'NEW', '[]', now() - interval '399 days')",
               NULL);
    assert_true(prune(intake) >= 1);
    assert_int_equal(h_sql_int(env,
                               "SELECT count(*) FROM intake.rejection WHERE external_id = "
                               "'OLD'",
                               NULL),
                     0);
    assert_int_equal(h_sql_int(env,
                               "SELECT count(*) FROM intake.rejection WHERE external_id = "
                               "'NEW'",
                               NULL),
                     1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transfer_parked_too_long_is_dead_lettered),
        cmocka_unit_test(test_update_parked_too_long_is_dead_lettered),
        cmocka_unit_test(test_old_inbox_rows_go),
        cmocka_unit_test(test_finished_clocks_go_and_stay_gone),
        cmocka_unit_test(test_old_rejections_go),
    };
    return cmocka_run_group_tests_name("integration: retention", tests, group_setup,
                                       group_teardown);
}
