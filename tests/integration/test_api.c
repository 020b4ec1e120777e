/* motcua-api against PostgreSQL and the broker: the projection fed from
 * the topics (in any order), the citizen's lookup, a unit's worklist, the
 * month's indicators and ranking, the board, the event stream, dead
 * letters and the lookup's rate limit, over real HTTP. */
#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api.h"
#include "motcua/timeutil.h"
#include "motcua/jsonutil.h"

#define ID_NUMBER "017190000123" /* the applicant of h_received_event */
#define LOOKUP_BURST 25

static struct h_env *env;
static int port;

/* plan_cache_mode on the projection's (the batch) connection, as the read
 * side's init saw it. */
static char plan_mode[64];

static void *recording_init(struct mc_service *svc, PGconn *conn, char *err, size_t errlen)
{
    h_pg_setting(conn, "plan_cache_mode", plan_mode, sizeof plan_mode);
    return mc_api_def.init_cb(svc, conn, err, errlen);
}

static int group_setup(void **state)
{
    static struct mc_service_def def;
    struct mc_config *cfg;
    struct mc_service *svc;
    (void)state;
    if ((env = h_env_new("api")) == NULL)
        return -1;
    cfg = h_config_new(env, "api");
    /* The last test exhausts the burst; the others stay below it. */
    cfg->api_lookups_per_minute = 1;
    cfg->api_lookup_burst = LOOKUP_BURST;
    def = mc_api_def;
    def.init_cb = recording_init;
    svc = h_service_new(env, &def, cfg);
    h_wait_ready(env, H_JOIN_TIMEOUT_MS);
    port = mc_service_http_port(svc);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    h_env_free(env);
    return 0;
}

/* ---- events -------------------------------------------------------------- */

static void publish(const char *topic, json_t *ev)
{
    h_produce_json(env, topic, mc_json_str(ev, "dossier_code"), ev, NULL, NULL);
    json_decref(ev);
}

static void received(const char *code, const char *unit_ward, const char *at, const char *due,
                     const char *channel)
{
    json_t *ev = h_received_event(env, code, "1.001612", unit_ward, at, due);
    if (channel)
        json_object_set_new(json_object_get(ev, "data"), "channel", json_string(channel));
    publish("dossier.received", ev);
}

static void assigned(const char *code, const char *unit, const char *at, const char *due)
{
    publish("dossier.assigned", h_assigned_event(env, code, "1.001612", "04807", unit, at, due));
}

static void update(const char *code, const char *status, const char *unit, const char *at)
{
    json_t *ev = h_update_event(code, status, unit, at);
    if (strcmp(status, "supplement_requested") == 0 || strcmp(status, "explanation") == 0)
        json_object_set_new(json_object_get(ev, "data"), "reason",
                            json_string(strcmp(status, "explanation") == 0
                                            ? "Cán bộ thụ lý nghỉ ốm đột xuất."
                                            : "Thiếu bản sao giấy chứng nhận"));
    h_assert_schema(ev, "dossier-update.v1");
    publish("dossier.updates", ev);
}

/* A deadline event as motcua-deadline publishes it. */
static void deadline(const char *code, const char *kind, const char *unit, const char *due,
                     const char *fired_at, const char *new_appointment_at)
{
    char id[H_UUID_LEN], type[64];
    int overdue = strcmp(kind, "overdue") == 0;
    json_t *ev;
    h_uuid(id);
    snprintf(type, sizeof type, "dossier.%s", kind);
    ev = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:i, s:s, s:i, s:s, s:[s], "
        "s:{s:s, s:s, s:s, s:s, s:s, s:s}, s:{s:s, s:s}, s:o, s:s, s:s, s:s, s:n, s:o, s:s, s:n}}",
        "event_id", id, "type", type, "occurred_at", fired_at, "producer", "motcua-deadline",
        "dossier_code", code, "data", "kind", kind, "breach", overdue ? 1 : 0, "rung",
        overdue ? "overdue" : "1wd", "deadline_version", 1, "channel", "counter", "notify_channels",
        "email", "applicant", "kind", "citizen", "name", "Nguyễn Thị Lan", "id_number", ID_NUMBER,
        "phone", "0912345678", "email", "lan.nguyen@example.vn", "address",
        "Số 12 đường Cù Chính Lan", "procedure", "code", "1.001612", "name",
        "Đăng ký thành lập hộ kinh doanh", "unit", h_unit_json(env, unit), "received_at",
        "2024-03-01T09:00:00+07:00", "receipt_at", "2024-03-01T09:00:00+07:00", "due_at", due,
        "rescheduled_due_at", "new_appointment_at",
        new_appointment_at ? json_string(new_appointment_at) : json_null(), "fired_at", fired_at,
        "reason");
    assert_non_null(ev);
    h_assert_schema(ev, "dossier-deadline.v1");
    publish("dossier.deadlines", ev);
}

static void letter(const char *code, const char *notification_id, const char *number,
                   const char *issued_at, const char *new_appointment_at)
{
    char id[H_UUID_LEN];
    json_t *ev;
    h_uuid(id);
    ev = json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s}, s:s, "
                   "s:s, s:s, s:{s:s, s:s}, s:s, s:s, s:i}}",
                   "event_id", id, "type", "notification.letter", "occurred_at", issued_at,
                   "producer", "motcua-notify", "dossier_code", code, "data", "notification_id",
                   notification_id, "kind", "apology", "delivery_channel", "email", "recipient",
                   "name", "Nguyễn Thị Lan", "address", "Số 12 đường Cù Chính Lan", "email",
                   "lan.nguyen@example.vn", "phone", "0912345678", "document_number", number,
                   "subject", "Phiếu xin lỗi", "body", "PHIẾU XIN LỖI", "signer", "title",
                   "Chủ tịch", "name", "Nguyễn Văn Thành", "issued_at", issued_at,
                   "new_appointment_at", new_appointment_at, "breach", 1);
    assert_non_null(ev);
    h_assert_schema(ev, "notification.v1");
    publish("notifications", ev);
}

static void receipt(const char *code, const char *notification_id, const char *status,
                    const char *at)
{
    char id[H_UUID_LEN];
    json_t *ev;
    h_uuid(id);
    ev = json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s}}", "event_id", id, "type",
                   "notification.receipt", "occurred_at", at, "producer", "sender-email",
                   "dossier_code", code, "data", "notification_id", notification_id,
                   "delivery_channel", "email", "status", status, "detail", "250 OK");
    h_assert_schema(ev, "notification-receipt.v1");
    publish("notification.receipts", ev);
}

static long long timeline_entries(const char *code)
{
    return h_sql_int(env, "SELECT count(*) FROM api.timeline WHERE dossier_code = $1", code, NULL);
}

/* ---- HTTP ---------------------------------------------------------------- */

/* GETs path; returns the status, *doc the parsed body (or NULL). */
static int get_json(const char *path, json_t **doc, char *head, size_t headlen)
{
    static char body[65536];
    int status = h_http_request(env, port, path, head, headlen, body, sizeof body);
    if (doc)
        *doc = json_loads(body, 0, NULL);
    return status;
}

static void assert_header(const char *head, const char *re)
{
    if (!h_matches(re, head))
        fail_msg("no header matching %s in:\n%s", re, head);
}

static const char *kind_at(const json_t *doc, size_t i)
{
    return mc_json_str(json_array_get(json_object_get(doc, "timeline"), i), "kind");
}

/* ---- tests --------------------------------------------------------------- */

/* The projection's statements upsert by key: its batch connection keeps
 * PostgreSQL's plan cache, unlike the other services' (test_runtime), so
 * they are not planned again at every batch. */
static void test_projection_keeps_generic_plans(void **state)
{
    (void)state;
    assert_string_equal(plan_mode, "auto");
}

/* A dossier's whole path, as its citizen looks it up: state in motcua's
 * words and the national code, unit, dates, timeline, letter and its
 * delivery; nothing of the applicant's personal data. */
static void test_lookup_follows_the_dossier(void **state)
{
    static const char code[] = "000.00.26.H17-240301-0001";
    static const char nid[] = "6f1c9a52-0d3e-4c55-9d43-0a8a4a1f1001";
    char path[256], head[4096], head2[4096];
    json_t *doc, *doc2;
    char *text;
    (void)state;

    received(code, "04807", "2024-03-01T09:00:00+07:00", "2024-03-08T09:00:00+07:00", NULL);
    assigned(code, "PTCKH", "2024-03-01T09:00:05+07:00", "2024-03-08T09:00:00+07:00");
    update(code, "supplement_requested", "PTCKH", "2024-03-04T10:00:00+07:00");
    update(code, "supplement_received", "PTCKH", "2024-03-05T10:00:00+07:00");
    deadline(code, "overdue", "PTCKH", "2024-03-08T09:00:00+07:00", "2024-03-08T09:00:01+07:00",
             "2024-03-13T09:00:00+07:00");
    letter(code, nid, "12/PXL-UBND", "2024-03-08T09:00:01+07:00", "2024-03-13T09:00:00+07:00");
    receipt(code, nid, "delivered", "2024-03-08T09:05:00+07:00");
    /* A later failure report (of an earlier attempt) leaves it delivered. */
    receipt(code, nid, "bounced", "2024-03-08T09:10:00+07:00");
    H_PUMP_UNTIL(env, H_TIMEOUT_MS, timeline_entries(code) == 8);

    snprintf(path, sizeof path, "/v1/dossiers/%s?id_number=%s", code, ID_NUMBER);
    assert_int_equal(get_json(path, &doc, head, sizeof head), 200);
    assert_header(head, "\r\n[Cc]ontent-[Tt]ype: application/json");
    h_assert_str(doc, "code", code);
    h_assert_str(doc, "state", "processing");
    assert_int_equal(json_integer_value(mc_json_at(doc, "national_status/code")), 4);
    h_assert_str(doc, "national_status/key", "processing");
    h_assert_str(doc, "procedure/code", "1.001612");
    h_assert_str(doc, "unit/code", "PTCKH");
    h_assert_str(doc, "unit/name", "Phòng Tài chính - Kế hoạch");
    h_assert_str(doc, "channel", "counter");
    h_assert_str(doc, "due_at", "2024-03-08T09:00:00+07:00");
    h_assert_str(doc, "rescheduled_due_at", "2024-03-13T09:00:00+07:00");
    assert_true(json_is_true(json_object_get(doc, "late")));
    assert_int_equal(json_array_size(json_object_get(doc, "timeline")), 8);
    assert_string_equal(kind_at(doc, 0), "received");
    assert_string_equal(kind_at(doc, 1), "assigned");
    assert_string_equal(kind_at(doc, 2), "supplement_requested");
    h_assert_str(json_array_get(json_object_get(doc, "timeline"), 2), "reason",
                 "Thiếu bản sao giấy chứng nhận");
    assert_string_equal(kind_at(doc, 3), "supplement_received");
    assert_string_equal(kind_at(doc, 4), "overdue");
    assert_string_equal(kind_at(doc, 5), "letter");
    assert_string_equal(kind_at(doc, 6), "letter_receipt");
    assert_string_equal(kind_at(doc, 7), "letter_receipt");
    h_assert_str(json_array_get(json_object_get(doc, "timeline"), 7), "delivery",
                 "permanent-failure");
    h_assert_str(json_array_get(json_object_get(doc, "letters"), 0), "document_number",
                 "12/PXL-UBND");
    h_assert_str(json_array_get(json_object_get(doc, "letters"), 0), "delivery", "delivered");
    text = json_dumps(doc, 0);
    assert_null(strstr(text, "Nguyễn Thị Lan"));
    assert_null(strstr(text, ID_NUMBER));
    assert_null(strstr(text, "0912345678"));
    assert_null(strstr(text, "lan.nguyen"));
    free(text);
    json_decref(doc);

    /* A wrong id number and an unknown code get the same answer. */
    snprintf(path, sizeof path, "/v1/dossiers/%s?id_number=017190000124", code);
    assert_int_equal(get_json(path, &doc, head, sizeof head), 404);
    assert_header(head, "\r\n[Cc]ontent-[Tt]ype: application/problem\\+json");
    snprintf(path, sizeof path, "/v1/dossiers/000.00.26.H17-240301-9999?id_number=%s", ID_NUMBER);
    assert_int_equal(get_json(path, &doc2, head2, sizeof head2), 404);
    assert_true(json_equal(doc, doc2));
    assert_int_equal(json_integer_value(json_object_get(doc, "status")), 404);
    json_decref(doc);
    json_decref(doc2);

    snprintf(path, sizeof path, "/v1/dossiers/%s", code);
    assert_int_equal(get_json(path, &doc, NULL, 0), 400);
    h_assert_str(doc, "title", "Bad Request");
    json_decref(doc);
}

/* The topics deliver a dossier's events in any order: the result is the
 * same dossier, with its working days from receipt to result. */
static void test_events_in_any_order_make_the_same_dossier(void **state)
{
    static const char code[] = "000.00.26.H17-240301-0002";
    char path[256];
    json_t *doc;
    char *wd;
    (void)state;

    update(code, "result_ready", "PTCKH", "2024-03-04T15:00:00+07:00");
    update(code, "processing", "PTCKH", "2024-03-01T10:00:00+07:00");
    assigned(code, "PTCKH", "2024-03-01T09:00:05+07:00", "2024-03-08T09:00:00+07:00");
    received(code, "04807", "2024-03-01T09:00:00+07:00", "2024-03-08T09:00:00+07:00", NULL);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS, timeline_entries(code) == 4);

    snprintf(path, sizeof path, "/v1/dossiers/%s?id_number=%s", code, ID_NUMBER);
    assert_int_equal(get_json(path, &doc, NULL, 0), 200);
    h_assert_str(doc, "state", "result_ready");
    assert_int_equal(json_integer_value(mc_json_at(doc, "national_status/code")), 9);
    h_assert_str(doc, "finished_at", "2024-03-04T15:00:00+07:00");
    h_assert_str(doc, "unit/code", "PTCKH");
    assert_string_equal(kind_at(doc, 0), "received");
    assert_string_equal(kind_at(doc, 3), "result_ready");
    json_decref(doc);
    /* Friday 09:00-17:00 less the 11:30-13:30 break (6 h), Monday
     * 07:00-15:00 likewise (6 h): 12 working hours, 1.5 working days. */
    wd = h_sql_text(env, "SELECT processing_wd::text FROM api.dossier WHERE code = $1", code, NULL);
    assert_string_equal(wd, "1.50");
    free(wd);
}

/* The events of dossier i of the comparison below, at its k-th step
 * (0..7, in time order; NULL kind: no step): received; assigned; steps at
 * the unit; a transfer; the end (a result, a return, a withdrawal, or
 * nothing); then, for two dossiers in three, a return at the same instant
 * (the later row wins the tie) or a day later (finished stays at the
 * first). */
struct step {
    const char *kind; /* "received", "assigned" or an update's status */
    const char *unit;
    int minutes; /* after received */
};

static struct step fold_step(int i, int k)
{
    static const char *const ends[4] = {"result_ready", "returned", "withdrawn", NULL};
    const int day = 24 * 60;
    switch (k) {
    case 0:
        return (struct step){"received", NULL, 0};
    case 1:
        return (struct step){"assigned", "PTCKH", 1};
    case 2:
        return (struct step){"processing", "PTCKH", 60};
    case 3:
        return (struct step){"supplement_requested", "PTCKH", day};
    case 4:
        return (struct step){"supplement_received", "PTCKH", 2 * day};
    case 5:
        return (struct step){"assigned", "PYT", 2 * day + 60 * (i % 2)};
    case 6:
        return (struct step){ends[i % 4], "PYT", 3 * day};
    default:
        return (struct step){i % 3 == 2 ? NULL : "returned", "PYT", (3 + i % 3) * day};
    }
}

/* Publishes step k of dossier i (received at t0) as code. */
static void fold_publish(const char *code, int i, int k, mc_instant t0)
{
    struct step st = fold_step(i, k);
    char at[MC_RFC3339_LEN], due[MC_RFC3339_LEN];
    mc_time_format(t0 + (mc_instant)st.minutes * 60, at);
    mc_time_format(t0 + 7 * 86400, due);
    if (strcmp(st.kind, "received") == 0)
        received(code, "04807", at, due, i % 2 ? "online" : NULL);
    else if (strcmp(st.kind, "assigned") == 0)
        assigned(code, st.unit, at, due);
    else
        update(code, st.kind, st.unit, at);
}

/* The order dossier i's steps are published in: its own rotation,
 * backwards for odd i (the projection keeps the newer fact whatever the
 * order). */
static int fold_order(int i, int j)
{
    int k = (j + i) % 8;
    return i % 2 ? 7 - k : k;
}

static void fold_code(char *buf, size_t len, int i, int one_by_one)
{
    snprintf(buf, len, "000.03.26.H17-240401-%04d", (one_by_one ? 101 : 1) + i);
}

/* A batch's events folded set-based (several transitions, assignments and
 * the receipt of one dossier in one statement each) make the same
 * dossiers as the same events applied one batch each: pairs (A i, B i)
 * compared column for column. */
static void test_events_folded_set_based_equal_one_by_one(void **state)
{
    enum { N = 16 };
    char code[64];
    mc_instant t0;
    long long entries = 0;
    (void)state;

    assert_int_equal(mc_time_parse("2024-04-01T08:00:00+07:00", &t0), 0);
    /* B: every event its own batch. */
    for (int i = 0; i < N; i++) {
        fold_code(code, sizeof code, i, 1);
        for (int j = 0, n = 0; j < 8; j++) {
            int k = fold_order(i, j);
            if (fold_step(i, k).kind == NULL)
                continue;
            fold_publish(code, i, k, t0 + (mc_instant)i * 3600);
            n++;
            H_PUMP_UNTIL(env, H_TIMEOUT_MS, timeline_entries(code) == n);
        }
    }
    /* A: every event published before the service reads one. */
    for (int i = 0; i < N; i++) {
        fold_code(code, sizeof code, i, 0);
        for (int j = 0; j < 8; j++) {
            int k = fold_order(i, j);
            if (fold_step(i, k).kind != NULL) {
                fold_publish(code, i, k, t0 + (mc_instant)i * 3600);
                entries++;
            }
        }
    }
    H_PUMP_UNTIL(env, H_TIMEOUT_MS,
                 h_sql_int(env,
                           "SELECT count(*) FROM api.timeline WHERE dossier_code LIKE "
                           "'000.03.26.H17-240401-00%'",
                           NULL) == entries);
    assert_int_equal(
        h_sql_int(env,
                  "SELECT count(*) FROM api.dossier x JOIN api.dossier y ON "
                  "right(y.code, 4)::int = right(x.code, 4)::int + 100 WHERE x.code LIKE "
                  "'000.03.26.H17-240401-00%' AND y.code LIKE '000.03.26.H17-240401-01%' AND "
                  "(x.channel, x.procedure_code, x.procedure_name, x.receiving_agency, "
                  "x.reception_point, x.ward_code, x.unit_code, x.unit_name, x.unit_at, x.state, "
                  "x.state_at, x.received_at, x.receipt_at, x.due_at, x.finished_at, x.closed_at, "
                  "x.processing_wd) IS NOT DISTINCT FROM (y.channel, y.procedure_code, "
                  "y.procedure_name, y.receiving_agency, y.reception_point, y.ward_code, "
                  "y.unit_code, y.unit_name, y.unit_at, y.state, y.state_at, y.received_at, "
                  "y.receipt_at, y.due_at, y.finished_at, y.closed_at, y.processing_wd)",
                  NULL),
        N);
    /* Dossier 13's steps go backwards: its return a day later was read
     * before the first return, yet the working days run to the first. */
    assert_int_equal(h_sql_int(env,
                               "SELECT count(*) FROM api.dossier WHERE code IN "
                               "('000.03.26.H17-240401-0014', '000.03.26.H17-240401-0114') AND "
                               "finished_at = '2024-04-04T21:00:00+07:00' AND processing_wd = 3",
                               NULL),
                     2);
    /* The ends as the steps say: returned (also the tie's later row), a
     * result, withdrawn, and back at work after the supplement. */
    assert_int_equal(h_sql_int(env,
                               "SELECT count(DISTINCT (state, unit_code, finished_at IS NULL, "
                               "closed_at IS NULL, processing_wd IS NULL)) FROM api.dossier "
                               "WHERE code LIKE '000.03.26.H17-240401-00%'",
                               NULL),
                     4);
    assert_int_equal(h_sql_int(env,
                               "SELECT count(*) FROM api.dossier WHERE code LIKE "
                               "'000.03.26.H17-240401-00%' AND state = 'returned' AND "
                               "processing_wd IS NOT NULL AND unit_code = 'PYT'",
                               NULL),
                     12);
}

/* A unit's open dossiers by due date, in pages; late and due-soon. */
static void test_worklist_pages_and_filters(void **state)
{
    static const char *const codes[] = {
        "000.02.26.H17-300101-0001", "000.02.26.H17-300101-0002", "000.02.26.H17-300101-0003",
        "000.02.26.H17-300101-0004", "000.02.26.H17-300101-0005", "000.02.26.H17-300101-0006",
    };
    static const char *const dues[] = {
        "2030-01-10T09:00:00+07:00", "2030-01-11T09:00:00+07:00", "2030-01-12T09:00:00+07:00",
        "2030-01-13T09:00:00+07:00", "2030-01-14T09:00:00+07:00", "2030-01-15T09:00:00+07:00",
    };
    json_t *doc;
    (void)state;

    for (int i = 0; i < 6; i++) {
        received(codes[i], "04807", "2030-01-02T09:00:00+07:00", dues[i], NULL);
        assigned(codes[i], "PNV", "2030-01-02T09:00:05+07:00", dues[i]);
    }
    deadline(codes[3], "warning", "PNV", dues[3], "2030-01-12T09:00:00+07:00", NULL);
    deadline(codes[4], "overdue", "PNV", dues[4], "2030-01-14T09:00:01+07:00",
             "2030-01-20T09:00:00+07:00");
    update(codes[5], "returned", "PNV", "2030-01-05T09:00:00+07:00");
    H_PUMP_UNTIL(env, H_TIMEOUT_MS,
                 h_sql_int(env,
                           "SELECT count(*) FROM api.timeline WHERE "
                           "dossier_code LIKE '000.02.26.H17-300101-%'",
                           NULL) == 15);

    assert_int_equal(get_json("/v1/units/PNV/dossiers?limit=2", &doc, NULL, 0), 200);
    assert_int_equal(json_array_size(json_object_get(doc, "items")), 2);
    h_assert_str(json_array_get(json_object_get(doc, "items"), 0), "code", codes[0]);
    h_assert_str(json_array_get(json_object_get(doc, "items"), 1), "code", codes[1]);
    h_assert_str(doc, "next", codes[1]);
    json_decref(doc);
    assert_int_equal(
        get_json("/v1/units/PNV/dossiers?limit=2&after=000.02.26.H17-300101-0002", &doc, NULL, 0),
        200);
    h_assert_str(json_array_get(json_object_get(doc, "items"), 0), "code", codes[2]);
    h_assert_str(doc, "next", codes[3]);
    json_decref(doc);
    /* The returned dossier is no longer open: the last page has one. */
    assert_int_equal(
        get_json("/v1/units/PNV/dossiers?limit=2&after=000.02.26.H17-300101-0004", &doc, NULL, 0),
        200);
    assert_int_equal(json_array_size(json_object_get(doc, "items")), 1);
    h_assert_str(json_array_get(json_object_get(doc, "items"), 0), "code", codes[4]);
    assert_true(json_is_null(json_object_get(doc, "next")));
    json_decref(doc);

    assert_int_equal(get_json("/v1/units/PNV/dossiers?state=late", &doc, NULL, 0), 200);
    assert_int_equal(json_array_size(json_object_get(doc, "items")), 1);
    h_assert_str(json_array_get(json_object_get(doc, "items"), 0), "code", codes[4]);
    json_decref(doc);
    assert_int_equal(get_json("/v1/units/PNV/dossiers?state=due-soon", &doc, NULL, 0), 200);
    assert_int_equal(json_array_size(json_object_get(doc, "items")), 1);
    h_assert_str(json_array_get(json_object_get(doc, "items"), 0), "code", codes[3]);
    json_decref(doc);

    assert_int_equal(get_json("/v1/units/PNV/dossiers?state=soon", &doc, NULL, 0), 400);
    json_decref(doc);
    assert_int_equal(get_json("/v1/units/PNV/dossiers?limit=0", &doc, NULL, 0), 400);
    json_decref(doc);
    assert_int_equal(get_json("/v1/units/PNV/dossiers?after=nope", &doc, NULL, 0), 404);
    json_decref(doc);
}

static long long figure(const json_t *row, const char *name)
{
    return json_integer_value(json_object_get(row, name));
}

/* May 2024 at PTNMT: one finished on time, one finished late with a
 * letter, two open within their time (one online, one received on the
 * month's last day), one open past it. */
static void test_indicators_and_ranking_of_a_month(void **state)
{
    json_t *doc, *row;
    (void)state;

    received("E-240502-0001", "04807", "2024-05-02T09:00:00+07:00", "2024-05-09T09:00:00+07:00",
             NULL);
    assigned("E-240502-0001", "PTNMT", "2024-05-02T09:00:05+07:00", "2024-05-09T09:00:00+07:00");
    update("E-240502-0001", "result_ready", "PTNMT", "2024-05-06T09:00:00+07:00");
    received("E-240503-0002", "04807", "2024-05-03T09:00:00+07:00", "2024-05-10T09:00:00+07:00",
             NULL);
    assigned("E-240503-0002", "PTNMT", "2024-05-03T09:00:05+07:00", "2024-05-10T09:00:00+07:00");
    deadline("E-240503-0002", "overdue", "PTNMT", "2024-05-10T09:00:00+07:00",
             "2024-05-10T09:00:01+07:00", "2024-05-15T09:00:00+07:00");
    letter("E-240503-0002", "6f1c9a52-0d3e-4c55-9d43-0a8a4a1f2002", "13/PXL-UBND",
           "2024-05-10T09:00:01+07:00", "2024-05-15T09:00:00+07:00");
    update("E-240503-0002", "returned", "PTNMT", "2024-05-15T09:00:00+07:00");
    received("E-240520-0003", "04807", "2024-05-20T09:00:00+07:00", "2024-06-05T09:00:00+07:00",
             "online");
    assigned("E-240520-0003", "PTNMT", "2024-05-20T09:00:05+07:00", "2024-06-05T09:00:00+07:00");
    received("E-240506-0004", "04807", "2024-05-06T09:00:00+07:00", "2024-05-13T09:00:00+07:00",
             NULL);
    assigned("E-240506-0004", "PTNMT", "2024-05-06T09:00:05+07:00", "2024-05-13T09:00:00+07:00");
    /* The month's last day counts in the month (local time, +07:00). */
    received("E-240531-0005", "04807", "2024-05-31T10:00:00+07:00", "2024-06-07T10:00:00+07:00",
             NULL);
    assigned("E-240531-0005", "PTNMT", "2024-05-31T10:00:05+07:00", "2024-06-07T10:00:00+07:00");
    H_PUMP_UNTIL(env, H_TIMEOUT_MS,
                 h_sql_int(env, "SELECT count(*) FROM api.timeline WHERE dossier_code LIKE 'E-%'",
                           NULL) == 14);

    assert_int_equal(get_json("/v1/indicators?month=2024-05&unit=PTNMT", &doc, NULL, 0), 200);
    h_assert_str(doc, "month", "2024-05");
    assert_int_equal(json_array_size(json_object_get(doc, "units")), 1);
    row = json_array_get(json_object_get(doc, "units"), 0);
    h_assert_str(row, "unit/code", "PTNMT");
    assert_int_equal(figure(row, "received"), 5);
    assert_int_equal(figure(row, "online"), 1);
    assert_int_equal(figure(row, "finished"), 2);
    assert_int_equal(figure(row, "finished_on_time"), 1);
    assert_int_equal(figure(row, "finished_late"), 1);
    assert_int_equal(figure(row, "open_in_time"), 2);
    assert_int_equal(figure(row, "open_late"), 1);
    assert_int_equal(figure(row, "on_time"), 3);
    assert_int_equal(figure(row, "late"), 2);
    assert_int_equal(figure(row, "letters"), 1);
    assert_true(json_real_value(json_object_get(row, "on_time_rate")) == 0.6);
    assert_true(json_real_value(json_object_get(row, "online_share")) == 0.2);
    json_decref(doc);

    assert_int_equal(get_json("/v1/ranking?month=2024-05", &doc, NULL, 0), 200);
    row = json_array_get(json_object_get(doc, "ranking"), 0);
    h_assert_str(row, "unit/code", "PTNMT");
    assert_int_equal(figure(row, "rank"), 1);
    assert_true(json_array_size(json_object_get(doc, "ranking")) > 10);
    json_decref(doc);

    assert_int_equal(get_json("/v1/indicators?month=2024-13", &doc, NULL, 0), 400);
    json_decref(doc);
    assert_int_equal(get_json("/v1/indicators", &doc, NULL, 0), 400);
    json_decref(doc);
    assert_int_equal(get_json("/v1/indicators?month=2024-05&unit=NOPE", &doc, NULL, 0), 404);
    json_decref(doc);
}

/* ---- the event stream ---------------------------------------------------- */

struct stream_reader {
    char buf[65536];
    atomic_size_t len;
    atomic_int stop;
};

static void *stream_thread(void *arg)
{
    struct stream_reader *r = arg;
    struct sockaddr_in addr;
    struct timeval tv = {0, 100000};
    static const char req[] =
        "GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n";
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0 &&
        send(fd, req, sizeof req - 1, 0) == (ssize_t)(sizeof req - 1)) {
        while (!atomic_load(&r->stop)) {
            size_t len = atomic_load(&r->len);
            ssize_t n = recv(fd, r->buf + len, sizeof r->buf - 1 - len, 0);
            if (n > 0) {
                r->buf[len + (size_t)n] = '\0';
                atomic_store(&r->len, len + (size_t)n);
            } else if (n == 0) {
                break;
            }
        }
    }
    close(fd);
    return NULL;
}

/* The board's page and figures, and its live stream: a committed change
 * is announced with the units it touched. */
static void test_board_and_its_event_stream(void **state)
{
    static struct stream_reader r;
    pthread_t thread;
    json_t *doc;
    char head[4096], body[2048];
    (void)state;

    atomic_init(&r.len, 0);
    atomic_init(&r.stop, 0);
    assert_int_equal(pthread_create(&thread, NULL, stream_thread, &r), 0);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS, strstr(r.buf, ": motcua") != NULL);
    assert_non_null(strstr(r.buf, "text/event-stream"));
    received("000.00.26.H17-240301-0010", "04807", "2024-03-01T09:00:00+07:00",
             "2024-03-08T09:00:00+07:00", NULL);
    assigned("000.00.26.H17-240301-0010", "PTP", "2024-03-01T09:00:05+07:00",
             "2024-03-08T09:00:00+07:00");
    H_PUMP_UNTIL(env, H_TIMEOUT_MS, strstr(r.buf, "\"PTP\"") != NULL);
    assert_non_null(strstr(r.buf, "event: change\ndata: {"));
    atomic_store(&r.stop, 1);
    pthread_join(thread, NULL);

    assert_int_equal(get_json("/v1/board?month=2024-03", &doc, NULL, 0), 200);
    h_assert_str(doc, "month", "2024-03");
    assert_int_equal(json_array_size(json_object_get(doc, "trend")), 12);
    /* Twelve calendar months, 2023-04 .. 2024-03, each once. */
    h_assert_str(json_array_get(json_object_get(doc, "trend"), 0), "month", "2023-04");
    h_assert_str(json_array_get(json_object_get(doc, "trend"), 10), "month", "2024-02");
    h_assert_str(json_array_get(json_object_get(doc, "trend"), 11), "month", "2024-03");
    assert_true(json_array_size(json_object_get(doc, "units")) > 10);
    assert_true(json_array_size(json_object_get(doc, "late_list")) >= 1);
    json_decref(doc);

    assert_int_equal(h_http_request(env, port, "/board/", head, sizeof head, body, sizeof body),
                     200);
    assert_header(head, "\r\n[Cc]ontent-[Tt]ype: text/html");
    assert_int_equal(h_http_request(env, port, "/", head, sizeof head, NULL, 0), 301);
    assert_header(head, "\r\n[Ll]ocation: /board/");
    assert_int_equal(get_json("/v1/nothing", &doc, NULL, 0), 404);
    json_decref(doc);
}

/* An event the schema refuses goes to the dead letters; the others of its
 * batch are applied. */
static void test_bad_event_is_dead_lettered(void **state)
{
    static const char code[] = "000.00.26.H17-240301-0020";
    json_t *bad = h_update_event(code, "teleported", "PTCKH", "2024-03-02T09:00:00+07:00");
    json_t *dead, *mine;
    (void)state;

    publish("dossier.updates", bad);
    update(code, "processing", "PTCKH", "2024-03-02T10:00:00+07:00");
    H_PUMP_UNTIL(env, H_TIMEOUT_MS, timeline_entries(code) == 1);
    dead = h_read_topic(env, "deadletter", 1, H_TIMEOUT_MS);
    mine = h_select(dead, "payload/dossier_code", code);
    assert_int_equal(json_array_size(mine), 1);
    h_assert_str(json_array_get(mine, 0), "payload/producer", "motcua-api");
    json_decref(mine);
    json_decref(dead);
}

/* Lookups from one address beyond the burst: 429 with Retry-After. */
static void test_lookups_are_rate_limited(void **state)
{
    char head[4096];
    json_t *doc = NULL;
    int status = 0, i;
    (void)state;

    for (i = 0; i <= LOOKUP_BURST && status != 429; i++) {
        json_decref(doc);
        status = get_json("/v1/dossiers/000.00.26.H17-240301-0001?id_number=" ID_NUMBER, &doc, head,
                          sizeof head);
    }
    assert_int_equal(status, 429);
    assert_header(head, "\r\n[Rr]etry-[Aa]fter: [0-9]+");
    h_assert_str(doc, "title", "Too Many Requests");
    json_decref(doc);
}

/* A notice to a unit (unit-notice.v1, from the corpus) is kept apart from
 * the dossier's letters, also when a receipt about it came first; a unit's
 * explanation is not in the citizen's timeline. */
static void notice(const char *code, const char *notification_id)
{
    json_error_t jerr;
    json_t *ev = json_load_file(MOTCUA_SOURCE_DIR "/tests/fixtures/corpus/unit-notice.v1/valid/"
                                                  "explanation-request-email.json",
                                0, &jerr);
    char id[H_UUID_LEN];
    assert_non_null(ev);
    h_uuid(id);
    json_object_set_new(ev, "event_id", json_string(id));
    json_object_set_new(ev, "dossier_code", json_string(code));
    json_object_set_new(json_object_get(ev, "data"), "notification_id",
                        json_string(notification_id));
    json_object_set_new(json_object_get(ev, "data"), "reference",
                        json_pack("s+", code, "/explanation-request/1"));
    h_assert_schema(ev, "unit-notice.v1");
    publish("notifications", ev);
}

static void test_notices_to_units_are_not_letters(void **state)
{
    static const char *const code = "000.31.26.H17-240301-0077";
    char first[H_UUID_LEN], late[H_UUID_LEN], together[H_UUID_LEN];
    (void)state;

    h_uuid(first);
    h_uuid(late);
    h_uuid(together);
    notice(code, first);
    receipt(code, first, "delivered", "2024-03-08T09:05:00+07:00");
    /* The receipt read before its notice. */
    receipt(code, late, "delivered", "2024-03-08T09:06:00+07:00");
    H_PUMP_UNTIL(env, H_TIMEOUT_MS,
                 h_sql_int(env,
                           "SELECT count(*) FROM api.notice WHERE dossier_code = $1 AND delivery "
                           "= 'delivered'",
                           code, NULL) == 1 &&
                     h_sql_int(env, "SELECT count(*) FROM api.letter WHERE dossier_code = $1", code,
                               NULL) == 1);
    notice(code, late);
    /* A receipt and then its notice, read in one batch: the receipt's line
     * in the timeline is written at once (not with the batch's others at
     * its end), so the notice finds it and takes it back. */
    receipt(code, together, "delivered", "2024-03-08T09:07:00+07:00");
    notice(code, together);
    /* The unit's explanation is not a step of the citizen's dossier. Its
     * batch changes nothing the board shows and comes after the stream's
     * quiet interval: the commit then has nothing to announce (it leaked
     * the announcement's array; LeakSanitizer found it). */
    H_PUMP_UNTIL(env, H_TIMEOUT_MS, h_offsets_committed(env, "motcua-api", "notifications"));
    h_pump_for(env, 700); /* what the notices changed is announced */
    usleep(600 * 1000);
    update(code, "explanation", "PTCKH", "2024-03-08T10:00:00+07:00");
    H_PUMP_UNTIL(env, H_TIMEOUT_MS, h_offsets_committed(env, "motcua-api", "dossier.updates"));
    H_PUMP_UNTIL(env, H_TIMEOUT_MS,
                 h_sql_int(env,
                           "SELECT count(*) FROM api.notice WHERE dossier_code = $1 AND delivery "
                           "= 'delivered' AND kind = 'explanation-request' AND unit_code = "
                           "'PTCKH'",
                           code, NULL) == 3);
    assert_int_equal(
        h_sql_int(env, "SELECT count(*) FROM api.letter WHERE dossier_code = $1", code, NULL), 0);
    assert_int_equal(timeline_entries(code), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_projection_keeps_generic_plans),
        cmocka_unit_test(test_lookup_follows_the_dossier),
        cmocka_unit_test(test_events_in_any_order_make_the_same_dossier),
        cmocka_unit_test(test_events_folded_set_based_equal_one_by_one),
        cmocka_unit_test(test_worklist_pages_and_filters),
        cmocka_unit_test(test_indicators_and_ranking_of_a_month),
        cmocka_unit_test(test_board_and_its_event_stream),
        cmocka_unit_test(test_bad_event_is_dead_lettered),
        cmocka_unit_test(test_notices_to_units_are_not_letters),
        cmocka_unit_test(test_lookups_are_rate_limited),
    };
    return cmocka_run_group_tests_name("integration: api", tests, group_setup, group_teardown);
}
