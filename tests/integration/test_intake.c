/* intake against PostgreSQL and the embedded broker: dossier codes, due
 * dates, dossier.received, rejections, dead letters and committed offsets.
 * The tests share one service and run in order (test 2 resends test 1's
 * submission). */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

#include "intake.h"
#include "motcua/jsonutil.h"

#define SOURCE "dvc-hoabinh"
#define GROUP "motcua-intake"
#define UUID_RE "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"

static struct h_env *env;
static struct mc_service *intake;

static json_t *submission(const char *external_id, const char *procedure_code,
                          const char *ward_code, const char *received_at,
                          const char *reception_point)
{
    json_t *doc = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s, s:s}, s:s, "
        "s:[{s:s, s:s, s:i}], s:[s, s]}",
        "source", SOURCE, "external_id", external_id, "submitted_at", received_at, "received_at",
        received_at, "channel", "counter", "procedure_code", procedure_code, "ward_code", ward_code,
        "applicant", "kind", "citizen", "name", "Trần Văn Bình", "id_number", "017085001234",
        "phone", "0987654321", "email", "binh.tran@example.vn", "address",
        "Tổ 5, phường Phương Lâm, thành phố Hòa Bình", "summary", "Đăng ký hộ kinh doanh tạp hóa",
        "documents", "name", "Giấy đề nghị đăng ký hộ kinh doanh", "kind", "original", "count", 1,
        "notify_channels", "email", "sms");
    assert_non_null(doc);
    if (reception_point)
        json_object_set_new(doc, "reception_point", json_string(reception_point));
    return doc;
}

static void send_submission(const json_t *doc)
{
    char key[256];
    snprintf(key, sizeof key, "%s/%s", SOURCE, mc_json_str(doc, "external_id"));
    h_produce_json(env, "submissions", key, doc, NULL, NULL);
}

static long long dossiers(const char *external_id)
{
    return h_sql_int(env,
                     "SELECT count(*) FROM intake.dossier WHERE source = $1 AND external_id = $2",
                     SOURCE, external_id, NULL);
}

static long long rejections(const char *external_id)
{
    return h_sql_int(env,
                     "SELECT count(*) FROM intake.rejection WHERE source = $1 AND external_id = $2",
                     SOURCE, external_id, NULL);
}

/* Every message of topic whose payload's data.external_id is external_id. */
static json_t *events_for(const char *topic, const char *external_id)
{
    json_t *all = h_read_topic(env, topic, 1, 10000);
    json_t *mine = h_select(all, "payload/data/external_id", external_id);
    json_decref(all);
    return mine;
}

/* The problem of a rejection at path, or NULL. */
static const char *problem_at(const json_t *rejection, const char *path)
{
    size_t i;
    json_t *p;
    json_array_foreach(mc_json_at(rejection, "data/problems"), i, p)
    {
        const char *where = mc_json_str(p, "path");
        if (where && strcmp(where, path) == 0)
            return mc_json_str(p, "problem");
    }
    return NULL;
}

static int group_setup(void **state)
{
    (void)state;
    if ((env = h_env_new("intake")) == NULL)
        return -1;
    intake = h_service_new(env, &mc_intake_def, h_config_new(env, "intake"));
    h_wait_ready(env, H_JOIN_TIMEOUT_MS);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    h_env_free(env);
    return 0;
}

/* Friday 2024-03-01 16:00 at the Phương Lâm desk, a 3-working-day procedure:
 * due Wednesday 16:00; one row, one dossier.received; offsets committed. */
static void test_valid_submission_is_received(void **state)
{
    json_t *doc =
        submission("INT-VALID-1", "1.001612", "04807", "2024-03-01T16:00:00+07:00", "TN-PHUONGLAM");
    json_t *events, *ev;
    char *code;
    (void)state;

    send_submission(doc);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS,
                 dossiers("INT-VALID-1") == 1 && h_offsets_committed(env, GROUP, "submissions"));

    code = h_sql_text(env, "SELECT code FROM intake.dossier WHERE external_id = $1", "INT-VALID-1",
                      NULL);
    assert_true(h_matches("^000\\.31\\.26\\.H17-240301-[0-9]{4}$", code));
    assert_string_equal(code, "000.31.26.H17-240301-0001");
    assert_int_equal(h_sql_int(env,
                               "SELECT count(*) FROM intake.dossier WHERE code = $1 AND "
                               "due_at = '2024-03-06T16:00:00+07:00' AND "
                               "receipt_at = '2024-03-01T16:00:00+07:00' AND "
                               "receiving_agency = '000.31.26.H17' AND statutory_time = '3wd' "
                               "AND rule_set = 'ND61-2018' AND procedure_code = '1.001612'",
                               code, NULL),
                     1);

    events = events_for("dossier.received", "INT-VALID-1");
    assert_int_equal(json_array_size(events), 1);
    h_assert_str(json_array_get(events, 0), "key", code);
    ev = json_object_get(json_array_get(events, 0), "payload");
    h_assert_schema(ev, "dossier-received.v1");
    assert_true(h_matches(UUID_RE, mc_json_str(ev, "event_id")));
    h_assert_str(ev, "type", "dossier.received");
    h_assert_str(ev, "producer", "motcua-intake");
    h_assert_str(ev, "dossier_code", code);
    h_assert_str(ev, "occurred_at", "2024-03-01T16:00:00+07:00");
    h_assert_str(ev, "data/due_at", "2024-03-06T16:00:00+07:00");
    h_assert_str(ev, "data/receipt_at", "2024-03-01T16:00:00+07:00");
    h_assert_str(ev, "data/receiving_agency", "000.31.26.H17");
    h_assert_str(ev, "data/reception_point", "TN-PHUONGLAM");
    h_assert_str(ev, "data/procedure/code", "1.001612");
    h_assert_str(ev, "data/procedure/name", "Đăng ký thành lập hộ kinh doanh");
    h_assert_str(ev, "data/procedure/time", "3wd");
    h_assert_str(ev, "data/applicant/name", "Trần Văn Bình");
    h_assert_str(ev, "data/applicant/id_number", "017085001234");
    h_assert_str(ev, "data/applicant/email", "binh.tran@example.vn");
    h_assert_str(ev, "data/rule_set/code", "ND61-2018");
    assert_int_equal(json_array_size(mc_json_at(ev, "data/notify_channels")), 2);
    json_decref(events);
    json_decref(doc);
    free(code);
}

/* The portal sends the same submission again: nothing new, no number used. */
static void test_resent_submission_changes_nothing(void **state)
{
    json_t *doc =
        submission("INT-VALID-1", "1.001612", "04807", "2024-03-01T16:00:00+07:00", "TN-PHUONGLAM");
    json_t *events;
    int64_t before = h_topic_count(env, "submissions");
    (void)state;

    assert_int_equal(dossiers("INT-VALID-1"), 1); /* from the previous test */
    send_submission(doc);
    assert_int_equal(h_topic_count(env, "submissions"), before + 1);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS, h_offsets_committed(env, GROUP, "submissions"));
    h_pump_for(env, 300);

    assert_int_equal(dossiers("INT-VALID-1"), 1);
    assert_int_equal(h_sql_int(env,
                               "SELECT last FROM intake.code_sequence WHERE agency_id = "
                               "'000.31.26.H17' AND day = '2024-03-01'",
                               NULL),
                     1);
    events = events_for("dossier.received", "INT-VALID-1");
    assert_int_equal(json_array_size(events), 1);
    json_decref(events);
    json_decref(doc);
}

/* A bad channel and a missing procedure code: one rejection naming both. */
static void test_invalid_submission_names_every_problem(void **state)
{
    json_t *doc = submission("INT-BAD-1", "1.001612", "04807", "2024-03-01T09:00:00+07:00", NULL);
    json_t *events, *ev;
    const char *p;
    (void)state;

    json_object_set_new(doc, "channel", json_string("fax"));
    json_object_del(doc, "procedure_code");
    send_submission(doc);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS,
                 rejections("INT-BAD-1") == 1 && h_offsets_committed(env, GROUP, "submissions"));

    assert_int_equal(dossiers("INT-BAD-1"), 0);
    assert_int_equal(h_sql_int(env,
                               "SELECT count(*) FROM intake.rejection r, "
                               "jsonb_array_elements(r.problems) p WHERE r.external_id = $1 "
                               "AND p->>'path' IN ('/channel', '/procedure_code')",
                               "INT-BAD-1", NULL),
                     2);

    events = events_for("submission.rejected", "INT-BAD-1");
    assert_int_equal(json_array_size(events), 1);
    h_assert_str(json_array_get(events, 0), "key", SOURCE "/INT-BAD-1");
    ev = json_object_get(json_array_get(events, 0), "payload");
    h_assert_schema(ev, "submission-rejected.v1");
    assert_true(h_matches(UUID_RE, mc_json_str(ev, "event_id")));
    h_assert_str(ev, "type", "submission.rejected");
    h_assert_str(ev, "producer", "motcua-intake");
    assert_true(json_is_null(json_object_get(ev, "dossier_code")));
    h_assert_str(ev, "data/source", SOURCE);
    assert_int_equal(json_array_size(mc_json_at(ev, "data/problems")), 2);
    p = problem_at(ev, "/channel");
    assert_non_null(p);
    assert_non_null(strstr(p, "counter")); /* names the allowed values */
    p = problem_at(ev, "/procedure_code");
    assert_non_null(p);
    assert_non_null(strstr(p, "procedure_code"));
    json_decref(events);
    json_decref(doc);
}

static void test_unknown_procedure_is_rejected(void **state)
{
    json_t *doc =
        submission("INT-UNKNOWN-1", "9.999999", "04807", "2024-03-01T09:00:00+07:00", NULL);
    json_t *events, *ev;
    const char *p;
    (void)state;

    send_submission(doc);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS,
                 rejections("INT-UNKNOWN-1") == 1 &&
                     h_offsets_committed(env, GROUP, "submissions"));
    assert_int_equal(dossiers("INT-UNKNOWN-1"), 0);
    events = events_for("submission.rejected", "INT-UNKNOWN-1");
    assert_int_equal(json_array_size(events), 1);
    ev = json_object_get(json_array_get(events, 0), "payload");
    h_assert_schema(ev, "submission-rejected.v1");
    assert_int_equal(json_array_size(mc_json_at(ev, "data/problems")), 1);
    p = problem_at(ev, "/procedure_code");
    assert_non_null(p);
    assert_non_null(strstr(p, "9.999999"));
    json_decref(events);
    json_decref(doc);
}

/* Bytes that are not JSON go to the dead-letter topic with where they came
 * from and the original bytes; the partition goes on (same key after it). */
static void test_not_json_is_dead_lettered(void **state)
{
    char topic[256];
    static const char garbage[] = "{\"source\": \"dvc-hoabinh\", ôi không phải JSON";
    const char *key = SOURCE "/INT-GARBAGE";
    json_t *after =
        submission("INT-AFTER-GARBAGE", "1.001193", "04807", "2024-03-01T09:30:00+07:00", NULL);
    json_t *all, *mine, *ev;
    int32_t partition;
    int64_t offset;
    char *b64;
    (void)state;

    h_produce(env, "submissions", key, garbage, strlen(garbage), &partition, &offset);
    h_produce_json(env, "submissions", key, after, NULL, NULL);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS,
                 dossiers("INT-AFTER-GARBAGE") == 1 &&
                     h_offsets_committed(env, GROUP, "submissions"));

    all = h_read_topic(env, "deadletter", 1, 10000);
    mine = h_select(all, "key", key);
    assert_int_equal(json_array_size(mine), 1);
    ev = json_object_get(json_array_get(mine, 0), "payload");
    h_assert_schema(ev, "deadletter.v1");
    h_assert_str(ev, "type", "deadletter");
    h_assert_str(ev, "producer", "motcua-intake");
    h_assert_str(ev, "data/consumer", "motcua-intake");
    h_assert_str(ev, "data/topic", h_topic_name(env, "submissions", topic, sizeof topic));
    assert_int_equal(json_integer_value(mc_json_at(ev, "data/partition")), partition);
    assert_int_equal(json_integer_value(mc_json_at(ev, "data/offset")), offset);
    assert_true(h_matches("^not JSON", mc_json_str(ev, "data/reason")));
    h_assert_str(ev, "data/original_text", garbage);
    b64 = h_base64(garbage, strlen(garbage));
    h_assert_str(ev, "data/original_base64", b64);
    free(b64);
    json_decref(mine);
    json_decref(all);
    json_decref(after);
}

/* 150 KB of control bytes (under the 256 KB limit, but sixfold as JSON
 * escapes): the dead letter keeps the bytes in base64, drops the text copy
 * so that it fits the broker's limit, and leaves nothing behind in the
 * outbox; the service stays ready and the next submission is applied. */
static void test_control_bytes_dead_letter_fits(void **state)
{
    const size_t len = 150 * 1000;
    char *hostile = malloc(len), *b64, body[256];
    const char *key = SOURCE "/INT-CONTROL";
    json_t *after =
        submission("INT-AFTER-CONTROL", "1.001193", "04807", "2024-03-01T09:40:00+07:00", NULL);
    json_t *all, *mine, *ev;
    int32_t partition;
    int64_t offset;
    (void)state;

    assert_non_null(hostile);
    for (size_t i = 0; i < len; i++)
        hostile[i] = (char)(1 + i % 31); /* U+0001 .. U+001F: valid UTF-8, not JSON */
    h_produce(env, "submissions", key, hostile, len, &partition, &offset);
    h_produce_json(env, "submissions", key, after, NULL, NULL);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS,
                 dossiers("INT-AFTER-CONTROL") == 1 &&
                     h_offsets_committed(env, GROUP, "submissions") &&
                     h_sql_int(env, "SELECT count(*) FROM intake.outbox", NULL) == 0);

    all = h_read_topic(env, "deadletter", 1, 10000);
    mine = h_select(all, "key", key);
    assert_int_equal(json_array_size(mine), 1);
    ev = json_object_get(json_array_get(mine, 0), "payload");
    h_assert_schema(ev, "deadletter.v1");
    assert_int_equal(json_integer_value(mc_json_at(ev, "data/partition")), partition);
    assert_int_equal(json_integer_value(mc_json_at(ev, "data/offset")), offset);
    assert_true(h_matches("^not JSON", mc_json_str(ev, "data/reason")));
    assert_true(json_is_null(mc_json_at(ev, "data/original_text")));
    b64 = h_base64(hostile, len);
    h_assert_str(ev, "data/original_base64", b64);
    assert_int_equal(h_sql_int(env, "SELECT count(*) FROM intake.outbox_parked", NULL), 0);
    assert_true(mc_service_ready(intake));
    assert_int_equal(h_http_get(env, mc_service_http_port(intake), "/readyz", body, sizeof body),
                     200);
    free(b64);
    free(hostile);
    json_decref(mine);
    json_decref(all);
    json_decref(after);
}

/* An outbox row the broker refuses for good (1.2 MB, over the 1 MB limit)
 * is parked with the reason; the rows before and after it are published
 * (and deleted: not the parked one between them), the service is ready
 * again and counts the parked row. */
static void test_refused_outbox_row_is_parked(void **state)
{
    char topic[256], body[8192], args[64], *id, *out;
    const char *metric;
    json_t *all, *after, *big;
    int status;
    (void)state;

    h_topic_name(env, "deadletter", topic, sizeof topic);
    h_sql_exec(
        env,
        "INSERT INTO intake.outbox (topic, key, payload) VALUES "
        "($1, 'PARK-BEFORE', jsonb_build_object('event_id', 'before', 'x', 'small')), "
        "($1, 'PARK-BIG', jsonb_build_object('event_id', 'big', 'x', repeat('x', 1200000))), "
        "($1, 'PARK-AFTER', jsonb_build_object('event_id', 'after', 'x', 'small'))",
        topic, NULL);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS,
                 h_sql_int(env, "SELECT count(*) FROM intake.outbox", NULL) == 0 &&
                     mc_service_ready(intake));
    assert_int_equal(h_sql_int(env,
                               "SELECT count(*) FROM intake.outbox_parked WHERE key = 'PARK-BIG' "
                               "AND topic = $1 AND error LIKE '%too large%' AND "
                               "length(payload->>'x') = 1200000",
                               topic, NULL),
                     1);
    all = h_read_topic(env, "deadletter", 2, 10000);
    after = h_select(all, "key", "PARK-AFTER");
    big = h_select(all, "key", "PARK-BIG");
    assert_int_equal(json_array_size(after), 1);
    json_decref(after);
    after = h_select(all, "key", "PARK-BEFORE");
    assert_int_equal(json_array_size(after), 1);
    assert_int_equal(json_array_size(big), 0);
    json_decref(after);
    json_decref(big);
    json_decref(all);
    assert_int_equal(h_http_get(env, mc_service_http_port(intake), "/metrics", body, sizeof body),
                     200);
    metric = strstr(body, "\nmotcua_intake_outbox_parked_total ");
    assert_non_null(metric);
    assert_int_equal(atoi(metric + strlen("\nmotcua_intake_outbox_parked_total ")), 1);

    /* Operators see it, may requeue it (refused again, parked again) and
     * drop it. */
    id = h_sql_text(env, "SELECT id::text FROM intake.outbox_parked", NULL);
    out = h_cli(env, "outbox list", &status);
    assert_int_equal(status, 0);
    assert_non_null(strstr(out, "intake: 0 pending, 1 parked"));
    assert_non_null(strstr(out, "PARK-BIG"));
    assert_non_null(strstr(out, "too large"));
    free(out);
    out = h_cli(env, "outbox retry intake --all", &status);
    assert_int_equal(status, 0);
    assert_non_null(strstr(out, "requeued 1"));
    free(out);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS,
                 h_sql_int(env, "SELECT count(*) FROM intake.outbox_parked WHERE id = $1::bigint",
                           id, NULL) == 1);
    snprintf(args, sizeof args, "outbox drop intake %s", id);
    out = h_cli(env, args, &status);
    assert_int_equal(status, 0);
    assert_non_null(strstr(out, "dropped 1"));
    free(out);
    assert_int_equal(h_sql_int(env, "SELECT count(*) FROM intake.outbox_parked", NULL), 0);
    out = h_cli(env, "outbox drop intake 999999", &status);
    assert_int_not_equal(status, 0);
    free(out);
    free(id);
}

/* The rejection answering the submission source/external_id, or NULL
 * (a new reference: caller decrefs). Fails the test if there are several. */
static json_t *rejection_for(const char *external_id)
{
    json_t *mine = events_for("submission.rejected", external_id), *one = NULL;
    assert_true(json_array_size(mine) <= 1);
    if (json_array_size(mine) == 1)
        one = json_incref(json_object_get(json_array_get(mine, 0), "payload"));
    json_decref(mine);
    return one;
}

/* Produces bytes keyed SOURCE/external_id, then a valid submission after
 * them, and waits until both were dealt with. */
static void send_bytes_then_valid(const char *external_id, const char *bytes, size_t len,
                                  const char *after_id)
{
    char key[256];
    json_t *after = submission(after_id, "1.001193", "04807", "2024-03-01T10:00:00+07:00", NULL);
    snprintf(key, sizeof key, "%s/%s", SOURCE, external_id);
    h_produce(env, "submissions", key, bytes, len, NULL, NULL);
    h_produce_json(env, "submissions", key, after, NULL, NULL);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS,
                 dossiers(after_id) == 1 && h_offsets_committed(env, GROUP, "submissions"));
    json_decref(after);
}

/* Bytes that cannot be trusted are answered to the portal on
 * submission.rejected, keyed and named by the message key, with the
 * problem in plain words; the dead letter stays for operators. Invalid
 * UTF-8 in a name: where it is. */
static void test_invalid_utf8_is_answered_to_the_portal(void **state)
{
    static const char text[] = "{\"source\":\"dvc-hoabinh\",\"external_id\":\"INT-UTF8\","
                               "\"applicant\":{\"name\":\"Nguy\xc3\x28n\"}}";
    const size_t bad = strstr(text, "\xc3\x28") - text;
    char want[64];
    json_t *rej;
    (void)state;

    send_bytes_then_valid("INT-UTF8", text, strlen(text), "INT-AFTER-UTF8");
    rej = rejection_for("INT-UTF8");
    assert_non_null(rej);
    h_assert_schema(rej, "submission-rejected.v1");
    h_assert_str(rej, "data/source", SOURCE);
    h_assert_str(rej, "data/external_id", "INT-UTF8");
    snprintf(want, sizeof want, "not JSON: invalid UTF-8 at byte %zu", bad);
    assert_non_null(problem_at(rej, ""));
    assert_string_equal(problem_at(rej, ""), want);
    json_decref(rej);
    assert_int_equal(rejections("INT-UTF8"), 1);
}

/* A \u0000 inside a string is answered too. */
static void test_nul_character_is_answered_to_the_portal(void **state)
{
    static const char text[] = "{\"source\":\"dvc-hoabinh\",\"external_id\":\"INT-NUL\","
                               "\"summary\":\"a\\u0000b\"}";
    json_t *rej;
    (void)state;

    send_bytes_then_valid("INT-NULCHAR", text, strlen(text), "INT-AFTER-NULCHAR");
    rej = rejection_for("INT-NULCHAR");
    assert_non_null(rej);
    h_assert_schema(rej, "submission-rejected.v1");
    assert_true(h_matches("^not JSON: a NUL character", problem_at(rej, "")));
    json_decref(rej);
}

/* A message over the size limit: its size and the limit, in KB. */
static void test_oversized_is_answered_to_the_portal(void **state)
{
    const size_t len = 300 * 1024;
    char *big = malloc(len);
    json_t *rej;
    (void)state;

    assert_non_null(big);
    memset(big, ' ', len);
    big[0] = '{';
    big[len - 1] = '}';
    send_bytes_then_valid("INT-HUGE", big, len, "INT-AFTER-HUGE");
    rej = rejection_for("INT-HUGE");
    assert_non_null(rej);
    h_assert_schema(rej, "submission-rejected.v1");
    assert_true(h_matches("^message of 307200 bytes \\(300 KB\\) over the limit of 262144 "
                          "bytes \\(256 KB\\)",
                          problem_at(rej, "")));
    json_decref(rej);
    free(big);
}

/* JSON nested deeper than MC_JSON_MAX_DEPTH is refused before any parser
 * sees it (a million '[' would exhaust a recursive parser's stack): the
 * portal is told the limit and where it was passed. */
static void test_too_deep_is_answered_to_the_portal(void **state)
{
    char text[512], want[128];
    size_t n, at;
    json_t *rej;
    (void)state;

    n = (size_t)snprintf(text, sizeof text,
                         "{\"source\":\"dvc-hoabinh\",\"external_id\":\"INT-DEEP\",\"summary\":");
    at = n + MC_JSON_MAX_DEPTH - 1; /* the top object is the first level */
    for (int i = 0; i < 40; i++)
        text[n++] = '[';
    for (int i = 0; i < 40; i++)
        text[n++] = ']';
    text[n++] = '}';
    send_bytes_then_valid("INT-DEEP", text, n, "INT-AFTER-DEEP");
    rej = rejection_for("INT-DEEP");
    assert_non_null(rej);
    h_assert_schema(rej, "submission-rejected.v1");
    snprintf(want, sizeof want, "JSON nested deeper than %d levels (at byte %zu); not parsed",
             MC_JSON_MAX_DEPTH, at);
    assert_non_null(problem_at(rej, ""));
    assert_string_equal(problem_at(rej, ""), want);
    json_decref(rej);
    assert_int_equal(rejections("INT-DEEP"), 1);
}

/* Bytes whose key names no submission (not source/external_id) have no
 * portal to answer: the dead letter alone. */
static void test_unusable_key_is_dead_letter_only(void **state)
{
    static const char garbage[] = "not json at all";
    const char *key = "Not A Source Key";
    json_t *after =
        submission("INT-AFTER-NOKEY", "1.001193", "04807", "2024-03-01T10:10:00+07:00", NULL);
    json_t *all, *dl, *rej;
    (void)state;

    h_produce(env, "submissions", key, garbage, strlen(garbage), NULL, NULL);
    send_submission(after);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS,
                 dossiers("INT-AFTER-NOKEY") == 1 &&
                     h_offsets_committed(env, GROUP, "submissions"));
    all = h_read_topic(env, "deadletter", 1, 10000);
    dl = h_select(all, "key", key);
    assert_int_equal(json_array_size(dl), 1);
    json_decref(dl);
    json_decref(all);
    all = h_read_topic(env, "submission.rejected", 0, 10000);
    rej = h_select(all, "key", key);
    assert_int_equal(json_array_size(rej), 0);
    json_decref(rej);
    json_decref(all);
    json_decref(after);
}

/* The schema's date-time and the services' parser agree: a leap second
 * (23:59:60 UTC) is accepted and taken as the second after it; second 60
 * at any other minute is rejected naming the field, never dead-lettered. */
static void test_leap_second_is_one_instant_for_schema_and_parser(void **state)
{
    json_t *leap = submission("INT-LEAP", "1.001193", "04807", "2024-03-04T08:00:00+07:00", NULL);
    json_t *bad =
        submission("INT-LEAP-BAD", "1.001193", "04807", "2024-03-04T08:00:00+07:00", NULL);
    json_t *rej;
    (void)state;

    json_object_set_new(leap, "submitted_at", json_string("2024-03-03T23:59:60Z"));
    json_object_del(leap, "received_at");
    json_object_set_new(bad, "submitted_at", json_string("2024-03-04T08:00:60+07:00"));
    send_submission(leap);
    send_submission(bad);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS, dossiers("INT-LEAP") == 1 && rejections("INT-LEAP-BAD") == 1);
    assert_int_equal(h_sql_int(env,
                               "SELECT count(*) FROM intake.dossier WHERE external_id = 'INT-LEAP' "
                               "AND submitted_at = '2024-03-04T00:00:00Z'",
                               NULL),
                     1);
    rej = rejection_for("INT-LEAP-BAD");
    assert_non_null(rej);
    assert_non_null(problem_at(rej, "/submitted_at"));
    json_decref(rej);
    json_decref(leap);
    json_decref(bad);
}

/* A control character in a name or address (here a tab and a line break)
 * is rejected naming the field, the character and where it is. */
static void test_control_characters_in_names_are_rejected(void **state)
{
    json_t *doc = submission("INT-CTRL", "1.001193", "04807", "2024-03-01T10:20:00+07:00", NULL);
    json_t *applicant = json_object_get(doc, "applicant"), *rej;
    (void)state;

    json_object_set_new(applicant, "name", json_string("Lò\tVăn Páo"));
    json_object_set_new(applicant, "address", json_string("Tổ 5\nphường Phương Lâm"));
    send_submission(doc);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS, rejections("INT-CTRL") == 1);
    assert_int_equal(dossiers("INT-CTRL"), 0);
    rej = rejection_for("INT-CTRL");
    assert_non_null(rej);
    h_assert_schema(rej, "submission-rejected.v1");
    assert_string_equal(problem_at(rej, "/applicant/name"),
                        "contains a control character (U+0009) at character 3");
    assert_string_equal(problem_at(rej, "/applicant/address"),
                        "contains a control character (U+000A) at character 5");
    json_decref(rej);
    json_decref(doc);
}

/* A name sent decomposed (e + U+0302 + U+0303) reaches dossier.received,
 * and so the letters, in NFC (U+1EC5), the form a composed one has. */
static void test_names_are_normalised_to_nfc(void **state)
{
    json_t *doc = submission("INT-NFC", "1.001193", "04807", "2024-03-01T10:30:00+07:00", NULL);
    json_t *events, *ev;
    (void)state;

    json_object_set_new(json_object_get(doc, "applicant"), "name",
                        json_string("Nguye\xcc\x82\xcc\x83n Thi\xcc\xa3 Lan"));
    json_object_set_new(
        json_object_get(doc, "applicant"), "address",
        json_string("Phu\xcc\x9bo\xcc\x9b\xcc\x80ng Phu\xcc\x9bo\xcc\x9b\xcc\x80ng Lâm"));
    send_submission(doc);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS, dossiers("INT-NFC") == 1);
    events = events_for("dossier.received", "INT-NFC");
    assert_int_equal(json_array_size(events), 1);
    ev = json_object_get(json_array_get(events, 0), "payload");
    h_assert_str(ev, "data/applicant/name", "Nguy\xe1\xbb\x85n Th\xe1\xbb\x8b Lan");
    h_assert_str(ev, "data/applicant/address",
                 "Ph\xc6\xb0\xe1\xbb\x9dng Ph\xc6\xb0\xe1\xbb\x9dng Lâm");
    json_decref(events);
    json_decref(doc);
}

/* Two dossiers the same day at the same commune: -0001 and -0002. */
static void test_codes_are_consecutive_per_agency_and_day(void **state)
{
    json_t *first = submission("INT-SEQ-1", "1.001193", "04813", "2024-03-04T09:00:00+07:00", NULL);
    json_t *second =
        submission("INT-SEQ-2", "1.001193", "04813", "2024-03-04T10:00:00+07:00", NULL);
    char *codes;
    (void)state;

    send_submission(first);
    send_submission(second);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS, dossiers("INT-SEQ-1") == 1 && dossiers("INT-SEQ-2") == 1);
    codes = h_sql_text(env,
                       "SELECT string_agg(code, ',' ORDER BY code) FROM intake.dossier "
                       "WHERE external_id IN ('INT-SEQ-1', 'INT-SEQ-2')",
                       NULL);
    assert_string_equal(codes, "000.48.26.H17-240304-0001,000.48.26.H17-240304-0002");
    free(codes);
    json_decref(first);
    json_decref(second);
}

/* 500 messages in one go: 496 good submissions, a resend of one of them, a
 * rule-breaking one, one that is not JSON and one the database refuses (a
 * trigger planted by the test). The batch is applied set-based until the
 * refused one fails it, then again one message at a time: the refused and
 * the unreadable ones get their dead letters and answers, the rule-breaking
 * one its rejection, the resend nothing, and the 496 are applied once each
 * with consecutive numbers. */
static void test_bad_messages_in_a_big_batch_lose_nothing_else(void **state)
{
    enum { GOOD = 496 };
    char id[64], key[128];
    static char body[1 << 18];
    json_t *doc, *all, *received, *deadletters, *answers;
    long long fallbacks_before, fallbacks_after;
    const char *metric = "\nmotcua_intake_batches_one_by_one_total ";
    char *at, *codes;
    (void)state;

    assert_int_equal(h_http_get(env, mc_service_http_port(intake), "/metrics", body, sizeof body),
                     200);
    assert_non_null(at = strstr(body, metric));
    fallbacks_before = atoll(at + strlen(metric));
    h_sql_exec(env,
               "CREATE FUNCTION intake.test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ "
               "BEGIN IF NEW.external_id = 'INT-BATCH-REFUSED' THEN RAISE EXCEPTION "
               "'refused by the test' USING ERRCODE = 'check_violation'; END IF; "
               "RETURN NEW; END $$",
               NULL);
    h_sql_exec(env,
               "CREATE TRIGGER test_refuse BEFORE INSERT ON intake.dossier FOR EACH ROW "
               "EXECUTE FUNCTION intake.test_refuse()",
               NULL);
    for (int i = 1; i <= GOOD + 4; i++) {
        if (i <= GOOD)
            snprintf(id, sizeof id, "INT-BATCH-%03d", i);
        else if (i == GOOD + 1)
            snprintf(id, sizeof id, "INT-BATCH-%03d", 7); /* a resend */
        else if (i == GOOD + 2)
            snprintf(id, sizeof id, "INT-BATCH-UNKNOWN");
        else if (i == GOOD + 3)
            snprintf(id, sizeof id, "INT-BATCH-GARBAGE");
        else
            snprintf(id, sizeof id, "INT-BATCH-REFUSED");
        snprintf(key, sizeof key, "%s/%s", SOURCE, id);
        if (i == GOOD + 3) {
            static const char garbage[] = "{\"source\": \"dvc-hoabinh\", không phải JSON";
            h_produce(env, "submissions", key, garbage, strlen(garbage), NULL, NULL);
            continue;
        }
        doc = submission(id, i == GOOD + 2 ? "9.999999" : "1.001193", "04813",
                         "2024-03-07T09:00:00+07:00", NULL);
        h_produce_json(env, "submissions", key, doc, NULL, NULL);
        json_decref(doc);
    }
    H_PUMP_UNTIL(env, H_TIMEOUT_MS,
                 h_sql_int(env,
                           "SELECT count(*) FROM intake.dossier WHERE external_id LIKE "
                           "'INT-BATCH-%'",
                           NULL) == GOOD &&
                     rejections("INT-BATCH-UNKNOWN") == 1 && rejections("INT-BATCH-GARBAGE") == 1 &&
                     rejections("INT-BATCH-REFUSED") == 1 &&
                     h_offsets_committed(env, GROUP, "submissions"));
    h_sql_exec(env, "DROP TRIGGER test_refuse ON intake.dossier", NULL);
    h_sql_exec(env, "DROP FUNCTION intake.test_refuse()", NULL);

    /* Each good one once, numbered 0001-0496 without a gap. */
    codes = h_sql_text(env,
                       "SELECT min(code) || ' ' || max(code) || ' ' || count(DISTINCT code) "
                       "FROM intake.dossier WHERE external_id LIKE 'INT-BATCH-%'",
                       NULL);
    assert_string_equal(codes, "000.48.26.H17-240307-0001 000.48.26.H17-240307-0496 496");
    free(codes);
    all = h_read_topic(env, "dossier.received", GOOD, 10000);
    received = json_array();
    {
        size_t i;
        json_t *m;
        json_array_foreach(all, i, m)
        {
            const char *ext = mc_json_str(m, "payload/data/external_id");
            if (ext && strncmp(ext, "INT-BATCH-", 10) == 0)
                json_array_append(received, m);
        }
    }
    assert_int_equal(json_array_size(received), GOOD);
    json_decref(received);
    json_decref(all);

    /* The unreadable and the refused ones: a dead letter each, with why. */
    all = h_read_topic(env, "deadletter", 1, 10000);
    deadletters = h_select(all, "key", SOURCE "/INT-BATCH-GARBAGE");
    assert_int_equal(json_array_size(deadletters), 1);
    assert_true(
        h_matches("^not JSON", mc_json_str(json_array_get(deadletters, 0), "payload/data/reason")));
    json_decref(deadletters);
    deadletters = h_select(all, "key", SOURCE "/INT-BATCH-REFUSED");
    assert_int_equal(json_array_size(deadletters), 1);
    assert_true(h_matches("^the database refused the message: .*refused by the test",
                          mc_json_str(json_array_get(deadletters, 0), "payload/data/reason")));
    json_decref(deadletters);
    json_decref(all);

    /* The portal hears of the three it must mend, once each. */
    all = h_read_topic(env, "submission.rejected", 1, 10000);
    answers = h_select(all, "key", SOURCE "/INT-BATCH-UNKNOWN");
    assert_int_equal(json_array_size(answers), 1);
    assert_non_null(strstr(
        problem_at(json_object_get(json_array_get(answers, 0), "payload"), "/procedure_code"),
        "9.999999"));
    json_decref(answers);
    answers = h_select(all, "key", SOURCE "/INT-BATCH-REFUSED");
    assert_int_equal(json_array_size(answers), 1);
    json_decref(answers);
    json_decref(all);

    assert_int_equal(h_http_get(env, mc_service_http_port(intake), "/metrics", body, sizeof body),
                     200);
    assert_non_null(at = strstr(body, metric));
    fallbacks_after = atoll(at + strlen(metric));
    assert_true(fallbacks_after > fallbacks_before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_submission_is_received),
        cmocka_unit_test(test_resent_submission_changes_nothing),
        cmocka_unit_test(test_invalid_submission_names_every_problem),
        cmocka_unit_test(test_unknown_procedure_is_rejected),
        cmocka_unit_test(test_not_json_is_dead_lettered),
        cmocka_unit_test(test_control_bytes_dead_letter_fits),
        cmocka_unit_test(test_refused_outbox_row_is_parked),
        cmocka_unit_test(test_invalid_utf8_is_answered_to_the_portal),
        cmocka_unit_test(test_nul_character_is_answered_to_the_portal),
        cmocka_unit_test(test_oversized_is_answered_to_the_portal),
        cmocka_unit_test(test_too_deep_is_answered_to_the_portal),
        cmocka_unit_test(test_unusable_key_is_dead_letter_only),
        cmocka_unit_test(test_leap_second_is_one_instant_for_schema_and_parser),
        cmocka_unit_test(test_control_characters_in_names_are_rejected),
        cmocka_unit_test(test_names_are_normalised_to_nfc),
        cmocka_unit_test(test_codes_are_consecutive_per_agency_and_day),
        cmocka_unit_test(test_bad_messages_in_a_big_batch_lose_nothing_else),
    };
    return cmocka_run_group_tests_name("integration: intake", tests, group_setup, group_teardown);
}
