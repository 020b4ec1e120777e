/* notify against PostgreSQL and the embedded broker: one apology letter
 * (Mẫu 04) per breach, redeliveries, the notification lifecycle driven by
 * receipts (retries, fallbacks to the next channel), dead letters. */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

#include "motcua/jsonutil.h"
#include "notify.h"

#define GROUP "motcua-notify"
#define CODE "000.31.26.H17-240301-0007"
#define TITLE "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ"

static struct h_env *env;

/* A deadline event as motcua-deadline publishes it: kind overdue (breach
 * >= 1, with a new appointment) or warning (breach 0, none). */
static json_t *deadline_event(const char *code, const char *kind, int breach, const char *rung,
                              const char *fired_at, const char *new_appointment_at)
{
    char id[H_UUID_LEN], type[64];
    json_t *ev;
    h_uuid(id);
    snprintf(type, sizeof type, "dossier.%s", kind);
    ev = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:i, s:s, s:i, s:s, s:[s], "
        "s:{s:s, s:s, s:s, s:s, s:s, s:s}, s:{s:s, s:s}, s:o, s:s, s:s, s:s, s:n, s:o, s:s, s:n}}",
        "event_id", id, "type", type, "occurred_at", fired_at, "producer", "motcua-deadline",
        "dossier_code", code, "data", "kind", kind, "breach", breach, "rung", rung,
        "deadline_version", 1, "channel", "counter", "notify_channels", "email", "applicant",
        "kind", "citizen", "name", "Trần Văn Bình", "id_number", "017085001234", "phone",
        "0987654321", "email", "binh.tran@example.vn", "address",
        "Tổ 5, phường Phương Lâm, thành phố Hòa Bình", "procedure", "code", "1.001612", "name",
        "Đăng ký thành lập hộ kinh doanh", "unit", h_unit_json(env, "PTCKH"), "received_at",
        "2024-03-01T16:00:00+07:00", "receipt_at", "2024-03-01T16:00:00+07:00", "due_at",
        "2024-03-06T16:00:00+07:00", "rescheduled_due_at", "new_appointment_at",
        new_appointment_at ? json_string(new_appointment_at) : json_null(), "fired_at", fired_at,
        "reason");
    assert_non_null(ev);
    h_assert_schema(ev, "dossier-deadline.v1");
    return ev;
}

/* A v1 receipt (no attempt: about the current one). */
static json_t *receipt_event(const char *code, const char *notification_id, const char *status)
{
    char id[H_UUID_LEN];
    json_t *ev;
    h_uuid(id);
    ev = json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s}}", "event_id", id, "type",
                   "notification.receipt", "occurred_at", "2024-03-06T16:45:00+07:00", "producer",
                   "sender-email", "dossier_code", code, "data", "notification_id", notification_id,
                   "delivery_channel", "email", "status", status, "detail", "250 2.0.0 OK");
    assert_non_null(ev);
    h_assert_schema(ev, "notification-receipt.v1");
    return ev;
}

/* A v2 receipt about one attempt, sent. */
static void send_receipt(const char *code, const char *notification_id, int attempt,
                         const char *channel, const char *status)
{
    char id[H_UUID_LEN];
    json_t *ev;
    h_uuid(id);
    ev = json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:i, s:s}}", "event_id", id, "type",
                   "notification.receipt", "occurred_at", "2024-03-06T16:45:00+07:00", "producer",
                   "motcua-sender", "dossier_code", code, "data", "notification_id",
                   notification_id, "delivery_channel", channel, "status", status, "attempt",
                   attempt, "detail", status);
    assert_non_null(ev);
    h_assert_schema(ev, "notification-receipt.v2");
    h_produce_json(env, "notification.receipts", code, ev, NULL, NULL);
    json_decref(ev);
}

static long long letters(const char *code)
{
    return h_sql_int(env, "SELECT count(*) FROM notify.letter WHERE dossier_code = $1", code, NULL);
}

/* The dossier's events of one type on the notifications topic. */
static json_t *events_of(const char *code, const char *type)
{
    json_t *all = h_read_topic(env, "notifications", 0, 1000);
    json_t *mine = h_select(all, "payload/dossier_code", code);
    json_t *typed = h_select(mine, "payload/type", type);
    json_decref(all);
    json_decref(mine);
    return typed;
}

/* The letters to the citizen (not the notices to the units). */
static json_t *letter_events(const char *code)
{
    return events_of(code, "notification.letter");
}

/* The notices of one kind to the units. */
static json_t *notice_events(const char *code, const char *kind)
{
    json_t *all = events_of(code, "notification.notice");
    json_t *mine = h_select(all, "payload/data/kind", kind);
    json_decref(all);
    return mine;
}

static void send_deadline_event(const json_t *ev)
{
    h_produce_json(env, "dossier.deadlines", mc_json_str(ev, "dossier_code"), ev, NULL, NULL);
}

static void assert_contains(const char *haystack, const char *needle)
{
    if (haystack == NULL || strstr(haystack, needle) == NULL)
        fail_msg("the letter does not contain \"%s\":\n%s", needle, haystack ? haystack : "(null)");
}

static int group_setup(void **state)
{
    struct mc_config *cfg;
    (void)state;
    if ((env = h_env_new("notify")) == NULL)
        return -1;
    /* Two retries, a second apart (MOTCUA_NOTIFY_RETRY_SCHEDULE=1,1). */
    cfg = h_config_new(env, "notify");
    cfg->notify_retry[0] = cfg->notify_retry[1] = 1;
    cfg->notify_retries = 2;
    /* Explanation deadlines follow the topic clock (h_tick). */
    cfg->clock = MC_CLOCK_TOPIC;
    /* Phòng Tư pháp's letters are signed by a Vice-Chairman on the
     * Chairman's behalf (the signer policy city_deputy). */
    h_sql_exec(env,
               "UPDATE catalog.unit SET signer_policy = 'city_deputy', deputy_name = 'Trần Thị "
               "Thanh' WHERE code = 'PTP'",
               NULL);
    /* Phòng Nội vụ's head signs its letters himself: numbered in a series
     * of the unit's own (N/PXL-PNV). */
    h_sql_exec(env, "UPDATE catalog.unit SET signer_policy = 'unit_head' WHERE code = 'PNV'", NULL);
    h_service_new(env, &mc_notify_def, cfg);
    h_wait_ready(env, H_JOIN_TIMEOUT_MS);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    h_env_free(env);
    return 0;
}

/* A breach becomes one letter, stored and published, in Vietnamese, signed
 * by the Chairman (the department's signer policy). */
static void test_overdue_makes_one_apology_letter(void **state)
{
    json_t *overdue = deadline_event(CODE, "overdue", 1, "overdue", "2024-03-06T16:30:00+07:00",
                                     "2024-03-11T16:30:00+07:00");
    json_t *events, *ev;
    const char *body;
    char *id, *stored_body;
    (void)state;

    send_deadline_event(overdue);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS,
                 letters(CODE) == 1 && h_offsets_committed(env, GROUP, "dossier.deadlines"));
    assert_int_equal(h_sql_int(env,
                               "SELECT count(*) FROM notify.letter WHERE dossier_code = $1 AND "
                               "kind = 'apology' AND breach = 1 AND status = 'created' AND "
                               "attempt = 1 AND channels = '{email,counter}' AND "
                               "unit_code = 'PTCKH' AND delivery_channel = 'email' AND "
                               "new_appointment_at = '2024-03-11T16:30:00+07:00' AND "
                               "issued_at = '2024-03-06T16:30:00+07:00'",
                               CODE, NULL),
                     1);
    id = h_sql_text(env, "SELECT notification_id::text FROM notify.letter WHERE dossier_code = $1",
                    CODE, NULL);
    stored_body =
        h_sql_text(env, "SELECT body FROM notify.letter WHERE dossier_code = $1", CODE, NULL);

    events = letter_events(CODE);
    assert_int_equal(json_array_size(events), 1);
    h_assert_str(json_array_get(events, 0), "key", CODE);
    ev = json_object_get(json_array_get(events, 0), "payload");
    h_assert_schema(ev, "notification.v2");
    h_assert_str(ev, "type", "notification.letter");
    h_assert_str(ev, "producer", "motcua-notify");
    h_assert_str(ev, "dossier_code", CODE);
    h_assert_str(ev, "data/notification_id", id);
    h_assert_str(ev, "data/kind", "apology");
    h_assert_str(ev, "data/delivery_channel", "email");
    h_assert_str(ev, "data/recipient/name", "Trần Văn Bình");
    h_assert_str(ev, "data/recipient/email", "binh.tran@example.vn");
    h_assert_str(ev, "data/signer/name", "Nguyễn Văn Thành");
    h_assert_str(ev, "data/signer/title", "Chủ tịch Ủy ban nhân dân thành phố");
    h_assert_str(ev, "data/new_appointment_at", "2024-03-11T16:30:00+07:00");
    assert_int_equal(json_integer_value(mc_json_at(ev, "data/breach")), 1);
    assert_true(h_matches("^[0-9]+/PXL-UBND$", mc_json_str(ev, "data/document_number")));
    assert_non_null(strstr(mc_json_str(ev, "data/subject"), CODE));

    /* v2: the template, a reference without personal data, the attempt,
     * the channels in order (the counter last), the text for e-mail (also
     * as HTML), the fields of the form. */
    h_assert_str(ev, "data/template/id", "apology-letter");
    assert_int_equal(json_integer_value(mc_json_at(ev, "data/template/version")), 1);
    h_assert_str(ev, "data/reference", CODE "/apology/1");
    assert_int_equal(json_integer_value(mc_json_at(ev, "data/attempt")), 1);
    assert_int_equal(json_array_size(mc_json_at(ev, "data/channels")), 2);
    assert_string_equal(json_string_value(json_array_get(mc_json_at(ev, "data/channels"), 0)),
                        "email");
    assert_string_equal(json_string_value(json_array_get(mc_json_at(ev, "data/channels"), 1)),
                        "counter");
    h_assert_str(ev, "data/rendered/text", stored_body);
    assert_contains(mc_json_str(ev, "data/rendered/html"), "<!DOCTYPE html>");
    assert_contains(mc_json_str(ev, "data/rendered/html"), "<p>" TITLE "</p>");
    assert_contains(mc_json_str(ev, "data/rendered/html"),
                    "Chủ tịch Ủy ban nhân dân thành phố<br>\n(Đã ký)<br>\nNguyễn Văn Thành");
    h_assert_str(ev, "data/personalisation/addressee", "Ông/Bà Trần Văn Bình");
    h_assert_str(ev, "data/personalisation/dossier_code", CODE);
    h_assert_str(ev, "data/personalisation/new_appointment_at",
                 "16 giờ 30 phút, ngày 11 tháng 3 năm 2024");
    h_assert_str(ev, "data/personalisation/unit_name", "Phòng Tài chính - Kế hoạch");
    h_assert_str(ev, "data/personalisation/signer_name", "Nguyễn Văn Thành");
    h_assert_str(ev, "data/personalisation/document_number",
                 mc_json_str(ev, "data/document_number"));
    assert_int_equal(json_array_size(mc_json_at(ev, "data/personalisation/recipients")), 3);
    /* The paragraphs are the body's, in order. */
    assert_int_equal(json_array_size(mc_json_at(ev, "data/personalisation/paragraphs")), 7);
    for (size_t i = 0; i < 7; i++)
        assert_contains(stored_body, json_string_value(json_array_get(
                                         mc_json_at(ev, "data/personalisation/paragraphs"), i)));

    body = mc_json_str(ev, "data/body");
    h_assert_str(ev, "data/body", stored_body);
    assert_contains(body, TITLE);
    assert_contains(body, CODE);
    assert_contains(body, "Kính gửi: Ông/Bà Trần Văn Bình");
    assert_contains(body, "Đăng ký thành lập hộ kinh doanh");
    assert_contains(body, "16 giờ 00 phút, ngày 06 tháng 3 năm 2024"); /* the missed date */
    assert_contains(body, "16 giờ 30 phút, ngày 11 tháng 3 năm 2024"); /* the new one */
    assert_contains(body, "Phòng Tài chính - Kế hoạch");
    assert_contains(body, "Chủ tịch Ủy ban nhân dân thành phố\n(Đã ký)\nNguyễn Văn Thành");
    json_decref(events);
    json_decref(overdue);
    free(id);
    free(stored_body);
}

/* The same overdue event again, the same breach under another event_id,
 * and a warning: no second letter, no letter for a warning. */
static void test_redelivered_overdue_makes_no_second_letter(void **state)
{
    const char *warned = "000.31.26.H17-240301-0008";
    json_t *overdue = deadline_event(CODE, "overdue", 1, "overdue", "2024-03-06T16:30:00+07:00",
                                     "2024-03-11T16:30:00+07:00");
    json_t *warning =
        deadline_event(warned, "warning", 0, "1wd", "2024-03-05T16:00:00+07:00", NULL);
    json_t *events;
    (void)state;

    assert_int_equal(letters(CODE), 1); /* from the previous test */
    send_deadline_event(overdue);
    send_deadline_event(overdue);
    send_deadline_event(warning);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS, h_offsets_committed(env, GROUP, "dossier.deadlines"));
    h_pump_for(env, 300);

    assert_int_equal(letters(CODE), 1);
    assert_int_equal(letters(warned), 0);
    events = letter_events(CODE);
    assert_int_equal(json_array_size(events), 1);
    json_decref(events);
    events = letter_events(warned);
    assert_int_equal(json_array_size(events), 0);
    json_decref(events);
    json_decref(overdue);
    json_decref(warning);
}

/* The sender reports delivery: the letter is delivered, the attempt kept. */
static void test_delivery_receipt_marks_the_letter(void **state)
{
    char *id = h_sql_text(
        env, "SELECT notification_id::text FROM notify.letter WHERE dossier_code = $1", CODE, NULL);
    json_t *receipt;
    (void)state;

    assert_non_null(id);
    receipt = receipt_event(CODE, id, "delivered");
    h_produce_json(env, "notification.receipts", CODE, receipt, NULL, NULL);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS,
                 h_sql_int(env,
                           "SELECT count(*) FROM notify.letter WHERE notification_id = $1::uuid "
                           "AND status = 'delivered'",
                           id, NULL) == 1);
    assert_int_equal(h_sql_int(env,
                               "SELECT count(*) FROM notify.delivery WHERE notification_id = "
                               "$1::uuid AND status = 'delivered' AND event_id = $2::uuid AND "
                               "detail = '250 2.0.0 OK'",
                               id, mc_json_str(receipt, "event_id"), NULL),
                     1);
    json_decref(receipt);
    free(id);
}

/* A receipt for a letter notify never wrote goes to the dead letters. */
static void test_receipt_for_unknown_notification_is_dead_lettered(void **state)
{
    char topic[256];
    char unknown[H_UUID_LEN];
    json_t *receipt, *all, *mine, *dl;
    (void)state;

    h_uuid(unknown);
    receipt = receipt_event(CODE, unknown, "delivered");
    h_produce_json(env, "notification.receipts", CODE, receipt, NULL, NULL);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS, h_offsets_committed(env, GROUP, "notification.receipts"));
    assert_int_equal(h_sql_int(env,
                               "SELECT count(*) FROM notify.delivery WHERE notification_id = "
                               "$1::uuid",
                               unknown, NULL),
                     0);

    all = h_read_topic(env, "deadletter", 1, 10000);
    mine = h_select(all, "payload/data/topic",
                    h_topic_name(env, "notification.receipts", topic, sizeof topic));
    assert_int_equal(json_array_size(mine), 1);
    dl = json_object_get(json_array_get(mine, 0), "payload");
    h_assert_schema(dl, "deadletter.v1");
    h_assert_str(dl, "producer", "motcua-notify");
    h_assert_str(dl, "dossier_code", CODE);
    assert_non_null(strstr(mc_json_str(dl, "data/reason"), unknown));
    assert_non_null(strstr(mc_json_str(dl, "data/original_text"), unknown));
    json_decref(mine);
    json_decref(all);
    json_decref(receipt);
}

/* Missing the rescheduled date too is a second breach: a second letter. */
static void test_second_breach_makes_a_second_letter(void **state)
{
    json_t *overdue = deadline_event(CODE, "overdue", 2, "overdue-rescheduled",
                                     "2024-03-11T16:30:00+07:00", "2024-03-14T16:30:00+07:00");
    json_t *events, *ev;
    (void)state;

    /* The unit's rescheduled date, missed. */
    json_object_set_new(json_object_get(overdue, "data"), "rescheduled_due_at",
                        json_string("2024-03-11T16:00:00+07:00"));
    h_assert_schema(overdue, "dossier-deadline.v1");
    send_deadline_event(overdue);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS, letters(CODE) == 2);
    events = letter_events(CODE);
    assert_int_equal(json_array_size(events), 2);
    ev = json_object_get(json_array_get(events, 1), "payload");
    h_assert_schema(ev, "notification.v2");
    assert_int_equal(json_integer_value(mc_json_at(ev, "data/breach")), 2);
    h_assert_str(ev, "data/reference", CODE "/apology/2");
    assert_contains(mc_json_str(ev, "data/body"), "16 giờ 30 phút, ngày 14 tháng 3 năm 2024");
    assert_contains(mc_json_str(ev, "data/body"), "lần trễ hạn thứ 2");
    assert_false(strcmp(mc_json_str(ev, "data/document_number"),
                        mc_json_str(json_array_get(events, 0), "payload/data/document_number")) ==
                 0);
    json_decref(events);
    /* The unit is asked again, about the date it set itself. */
    events = notice_events(CODE, "explanation-request");
    assert_int_equal(json_array_size(events), 2);
    ev = json_object_get(json_array_get(events, 1), "payload");
    h_assert_str(ev, "data/reference", CODE "/explanation-request/2");
    h_assert_str(ev, "data/due_at", "2024-03-11T16:00:00+07:00");
    assert_contains(mc_json_str(ev, "data/body"),
                    "hẹn trả kết quả vào 16 giờ 00 phút, ngày 11 tháng 3 năm 2024, đến 16 giờ 30 "
                    "phút, ngày 11 tháng 3 năm 2024 chưa được giải quyết xong (lần trễ hạn thứ 2)");
    json_decref(events);
    json_decref(overdue);
}

/* Thirty breaches in one go, one of them delivered twice: thirty letters,
 * one each, with thirty consecutive document numbers (one instance takes
 * its numbers from blocks it reserved, in order). */
static void test_many_breaches_make_one_letter_each(void **state)
{
    enum { N = 30 };
    char code[64];
    json_t *evs[N], *mine;
    char *span;
    (void)state;

    for (int i = 0; i < N; i++) {
        snprintf(code, sizeof code, "000.31.26.H17-240301-%04d", 200 + i);
        evs[i] = deadline_event(code, "overdue", 1, "overdue", "2024-03-06T16:30:00+07:00",
                                "2024-03-11T16:30:00+07:00");
        send_deadline_event(evs[i]);
        if (i == 3)
            send_deadline_event(evs[i]); /* delivered twice */
    }
    H_PUMP_UNTIL(env, H_TIMEOUT_MS,
                 h_sql_int(env,
                           "SELECT count(*) FROM notify.letter WHERE dossier_code LIKE "
                           "'000.31.26.H17-240301-02%'",
                           NULL) == N &&
                     h_offsets_committed(env, GROUP, "dossier.deadlines"));
    span = h_sql_text(env,
                      "SELECT count(DISTINCT document_number) || ' ' || (max(split_part("
                      "document_number, '/', 1)::int) - min(split_part(document_number, '/', "
                      "1)::int)) FROM notify.letter WHERE dossier_code LIKE "
                      "'000.31.26.H17-240301-02%'",
                      NULL);
    assert_string_equal(span, "30 29");
    free(span);
    for (int i = 0; i < N; i++) {
        snprintf(code, sizeof code, "000.31.26.H17-240301-%04d", 200 + i);
        mine = letter_events(code);
        assert_int_equal(json_array_size(mine), 1);
        json_decref(mine);
        json_decref(evs[i]);
    }
}

/* Sends the first breach of code (due 6 March 16:00, new appointment 11
 * March) held by unit (a catalog unit's JSON, or JSON null; stolen), with
 * reason (NULL: none), and waits for its letter. */
static void breach_and_letter(const char *code, json_t *unit, const char *reason)
{
    json_t *overdue = deadline_event(code, "overdue", 1, "overdue", "2024-03-06T16:30:00+07:00",
                                     "2024-03-11T16:30:00+07:00");
    json_object_set_new(json_object_get(overdue, "data"), "unit", unit);
    if (reason)
        json_object_set_new(json_object_get(overdue, "data"), "reason", json_string(reason));
    send_deadline_event(overdue);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS, letters(code) == 1);
    json_decref(overdue);
}

/* A dossier no unit holds yet, and a reason that ends its sentence: the
 * letter reads right ("Lý do: ... ." once; the recipients' line names the
 * head of the deciding body without an empty name). */
static void test_letter_of_an_unassigned_dossier_reads_right(void **state)
{
    const char *code = "000.31.26.H17-240301-0101";
    char *body;
    (void)state;

    breach_and_letter(code, json_null(), "Cần xác minh thực địa.");
    body = h_sql_text(env, "SELECT body FROM notify.letter WHERE dossier_code = $1", code, NULL);
    assert_contains(body, "Lý do: Cần xác minh thực địa.\n");
    assert_null(strstr(body, ".."));
    assert_contains(body, "- Thủ trưởng cơ quan giải quyết (để giải trình, chịu trách nhiệm);");
    assert_null(strstr(body, " ,"));
    free(body);
}

/* A unit whose letters a Vice-Chairman signs on the Chairman's behalf:
 * "KT. CHỦ TỊCH / PHÓ CHỦ TỊCH" above the deputy's name, in the text and
 * in the fields the PDF is laid out from. */
static void test_deputy_signs_on_the_chairmans_behalf(void **state)
{
    const char *code = "000.31.26.H17-240301-0102";
    json_t *events, *ev;
    (void)state;

    breach_and_letter(code, h_unit_json(env, "PTP"), NULL);
    events = letter_events(code);
    assert_int_equal(json_array_size(events), 1);
    ev = json_object_get(json_array_get(events, 0), "payload");
    h_assert_schema(ev, "notification.v2");
    assert_contains(mc_json_str(ev, "data/body"),
                    "KT. CHỦ TỊCH\nPHÓ CHỦ TỊCH\n(Đã ký)\nTrần Thị Thanh");
    h_assert_str(ev, "data/signer/title", "KT. Chủ tịch, Phó Chủ tịch");
    h_assert_str(ev, "data/signer/name", "Trần Thị Thanh");
    h_assert_str(ev, "data/personalisation/signer_delegation", "KT. CHỦ TỊCH");
    h_assert_str(ev, "data/personalisation/signer_title", "Phó Chủ tịch");
    h_assert_str(ev, "data/personalisation/signer_name", "Trần Thị Thanh");
    json_decref(events);
}

/* Letters are numbered per signer per year: a unit whose head signs has
 * a series of its own, N/PXL-<unit>, from 1; the Chairman's (and his
 * deputies', on his behalf) is N/PXL-UBND. */
static void test_letters_are_numbered_per_signer(void **state)
{
    static const char *const codes[] = {"000.31.26.H17-240301-0103", "000.31.26.H17-240301-0104"};
    char *numbers;
    (void)state;

    for (int i = 0; i < 2; i++)
        breach_and_letter(codes[i], h_unit_json(env, "PNV"), NULL);
    numbers = h_sql_text(env,
                         "SELECT string_agg(document_number, ' ' ORDER BY dossier_code) FROM "
                         "notify.letter WHERE dossier_code IN ($1, $2)",
                         codes[0], codes[1], NULL);
    assert_string_equal(numbers, "1/PXL-PNV 2/PXL-PNV");
    free(numbers);
    assert_int_equal(h_sql_int(env,
                               "SELECT count(*) FROM notify.letter WHERE unit_code <> 'PNV' AND "
                               "document_number NOT LIKE '%/PXL-UBND'",
                               NULL),
                     0);
}

/* The letter of `code` in the row's words: "status attempt retries channel". */
static char *letter_state(const char *code)
{
    return h_sql_text(
        env,
        "SELECT status || ' ' || attempt || ' ' || retries || ' ' || delivery_channel "
        "FROM notify.letter WHERE dossier_code = $1",
        code, NULL);
}

static int letter_state_is(const char *code, const char *want)
{
    char *got = letter_state(code);
    int same = got && strcmp(got, want) == 0;
    free(got);
    return same;
}

/* The lifecycle: sending; a temporary failure retried on the same channel
 * after the schedule (twice here); a technical failure with the retries
 * used up moves to the next channel (SMS, with a short text); a permanent
 * failure to the next (the counter), where it is delivered. A late failure
 * of an earlier attempt and a second "delivered" change nothing. Every
 * attempt is the same notification with its own event. */
static void test_failures_are_retried_then_fall_back_to_the_next_channel(void **state)
{
    const char *code = "000.31.26.H17-240301-0100";
    static const char *const want_channel[] = {"email", "email", "email", "sms", "counter"};
    json_t *overdue = deadline_event(code, "overdue", 1, "overdue", "2024-03-06T16:30:00+07:00",
                                     "2024-03-11T16:30:00+07:00");
    json_t *events;
    char *id, *history;
    (void)state;

    json_object_set_new(json_object_get(overdue, "data"), "notify_channels",
                        json_pack("[s, s, s]", "email", "sms", "counter"));
    send_deadline_event(overdue);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS, letters(code) == 1);
    id = h_sql_text(env, "SELECT notification_id::text FROM notify.letter WHERE dossier_code = $1",
                    code, NULL);
    assert_true(letter_state_is(code, "created 1 0 email"));

    send_receipt(code, id, 1, "email", "sending");
    H_PUMP_UNTIL(env, H_TIMEOUT_MS, letter_state_is(code, "sending 1 0 email"));
    send_receipt(code, id, 1, "email", "temporary-failure");
    H_PUMP_UNTIL(env, H_TIMEOUT_MS, letter_state_is(code, "temporary-failure 1 1 email"));
    assert_int_equal(h_sql_int(env,
                               "SELECT count(*) FROM notify.letter WHERE dossier_code = $1 AND "
                               "next_attempt_at > now() - interval '1 second'",
                               code, NULL),
                     1);
    /* The retry is due a second later: attempt 2 on e-mail again. */
    H_PUMP_UNTIL(env, H_TIMEOUT_MS, letter_state_is(code, "created 2 1 email"));
    send_receipt(code, id, 2, "email", "temporary-failure");
    H_PUMP_UNTIL(env, H_TIMEOUT_MS, letter_state_is(code, "created 3 2 email"));
    /* Retries used up: the next channel at once. */
    send_receipt(code, id, 3, "email", "technical-failure");
    H_PUMP_UNTIL(env, H_TIMEOUT_MS, letter_state_is(code, "created 4 0 sms"));
    send_receipt(code, id, 4, "sms", "permanent-failure");
    H_PUMP_UNTIL(env, H_TIMEOUT_MS, letter_state_is(code, "created 5 0 counter"));
    send_receipt(code, id, 5, "counter", "delivered");
    H_PUMP_UNTIL(env, H_TIMEOUT_MS, letter_state_is(code, "delivered 5 0 counter"));
    /* Late news of an earlier attempt, and a second delivery report. */
    send_receipt(code, id, 2, "email", "permanent-failure");
    send_receipt(code, id, 5, "counter", "delivered");
    H_PUMP_UNTIL(env, H_TIMEOUT_MS,
                 h_sql_int(env, "SELECT count(*) FROM notify.delivery WHERE notification_id = $1",
                           id, NULL) == 8);
    h_pump_for(env, 300);
    assert_true(letter_state_is(code, "delivered 5 0 counter"));
    history = h_sql_text(env,
                         "SELECT string_agg(attempt || ':' || status, ' ' ORDER BY attempt, "
                         "status) FROM notify.delivery WHERE notification_id = $1",
                         id, NULL);
    assert_string_equal(history, "1:sending 1:temporary-failure 2:permanent-failure "
                                 "2:temporary-failure 3:technical-failure 4:permanent-failure "
                                 "5:delivered 5:delivered");
    free(history);
    history = h_sql_text(env,
                         "SELECT string_agg(attempt || ':' || channel || ':' || reason, ' ' ORDER "
                         "BY attempt) FROM notify.attempt WHERE notification_id = $1",
                         id, NULL);
    assert_string_equal(history, "1:email:first 2:email:retry 3:email:retry 4:sms:fallback "
                                 "5:counter:fallback");
    free(history);

    events = letter_events(code);
    assert_int_equal(json_array_size(events), 5);
    for (int i = 0; i < 5; i++) {
        json_t *ev = json_object_get(json_array_get(events, i), "payload");
        h_assert_schema(ev, "notification.v2");
        h_assert_str(ev, "data/notification_id", id);
        assert_int_equal(json_integer_value(mc_json_at(ev, "data/attempt")), i + 1);
        h_assert_str(ev, "data/delivery_channel", want_channel[i]);
        h_assert_str(ev, "data/reference", "000.31.26.H17-240301-0100/apology/1");
        if (i > 0)
            assert_string_not_equal(mc_json_str(ev, "event_id"),
                                    mc_json_str(json_array_get(events, i - 1), "payload/event_id"));
    }
    /* The SMS is a short notice pointing to the letter; the counter gets
     * the letter itself. */
    {
        const json_t *sms = json_object_get(json_array_get(events, 3), "payload");
        const json_t *counter = json_object_get(json_array_get(events, 4), "payload");
        assert_contains(mc_json_str(sms, "data/rendered/text"), "xin lỗi Ông/Bà Trần Văn Bình");
        assert_contains(mc_json_str(sms, "data/rendered/text"),
                        mc_json_str(sms, "data/document_number"));
        assert_true(strlen(mc_json_str(sms, "data/rendered/text")) < 400);
        assert_null(mc_json_at(sms, "data/rendered/html"));
        h_assert_str(counter, "data/rendered/text", mc_json_str(counter, "data/body"));
    }
    json_decref(events);
    json_decref(overdue);
    free(id);
}

/* Receipts sent back to back, several about one letter in a batch (as the
 * sender reports "sending" then the outcome): applied in order, as one by
 * one. Even letters: sending, delivered. Odd ones: sending, a permanent
 * failure (the next channel at once: the counter, the applicant having no
 * phone), then the counter's sending, delivered. */
static void test_receipts_back_to_back_apply_in_order(void **state)
{
    enum { K = 12 };
    char code[K][64], *id[K];
    (void)state;

    for (int i = 0; i < K; i++) {
        json_t *overdue;
        snprintf(code[i], sizeof code[i], "000.31.26.H17-240301-%04d", 200 + i);
        overdue = deadline_event(code[i], "overdue", 1, "overdue", "2024-03-06T16:30:00+07:00",
                                 "2024-03-11T16:30:00+07:00");
        json_object_set_new(json_object_get(overdue, "data"), "notify_channels",
                            json_pack("[s, s]", "email", "sms"));
        send_deadline_event(overdue);
        json_decref(overdue);
    }
    for (int i = 0; i < K; i++) {
        H_PUMP_UNTIL(env, H_TIMEOUT_MS, letters(code[i]) == 1);
        id[i] = h_sql_text(
            env, "SELECT notification_id::text FROM notify.letter WHERE dossier_code = $1", code[i],
            NULL);
    }
    for (int i = 0; i < K; i++) {
        send_receipt(code[i], id[i], 1, "email", "sending");
        if (i % 2 == 0) {
            send_receipt(code[i], id[i], 1, "email", "delivered");
            continue;
        }
        send_receipt(code[i], id[i], 1, "email", "permanent-failure");
        send_receipt(code[i], id[i], 2, "counter", "sending");
        send_receipt(code[i], id[i], 2, "counter", "delivered");
    }
    for (int i = 0; i < K; i++)
        H_PUMP_UNTIL(
            env, H_TIMEOUT_MS,
            letter_state_is(code[i], i % 2 ? "delivered 2 0 counter" : "delivered 1 0 email"));
    for (int i = 0; i < K; i++) {
        char *history = h_sql_text(env,
                                   "SELECT string_agg(attempt || ':' || status, ' ' ORDER BY "
                                   "reported_at, attempt, status) FROM notify.delivery WHERE "
                                   "notification_id = $1",
                                   id[i], NULL);
        json_t *events = letter_events(code[i]);
        assert_string_equal(history, i % 2 ? "1:permanent-failure 1:sending 2:delivered 2:sending"
                                           : "1:delivered 1:sending");
        assert_int_equal(json_array_size(events), i % 2 ? 2 : 1);
        if (i % 2)
            h_assert_str(json_object_get(json_array_get(events, 1), "payload"),
                         "data/delivery_channel", "counter");
        json_decref(events);
        free(history);
        free(id[i]);
    }
}

/* An update from a unit's software: its explanation of a breach. */
static void send_explanation(const char *code, const char *unit, const char *at, const char *text)
{
    char id[H_UUID_LEN];
    json_t *ev;
    h_uuid(id);
    ev = json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s*}}", "event_id", id, "type",
                   "dossier.update", "occurred_at", at, "producer", "iGate-TCKH", "dossier_code",
                   code, "data", "status", "explanation", "unit_code", unit, "officer",
                   "Đinh Thị Thu Hà", "reason", text);
    assert_non_null(ev);
    h_assert_schema(ev, "dossier-update.v1");
    h_produce_json(env, "dossier.updates", code, ev, NULL, NULL);
    json_decref(ev);
}

static long long explanations(const char *code, const char *outcome)
{
    if (outcome == NULL) /* pending */
        return h_sql_int(env,
                         "SELECT count(*) FROM notify.explanation WHERE dossier_code = $1 AND "
                         "outcome IS NULL",
                         code, NULL);
    return h_sql_int(env,
                     "SELECT count(*) FROM notify.explanation WHERE dossier_code = $1 AND outcome "
                     "= $2",
                     code, outcome, NULL);
}

/* Accountability: a warning goes to the processing unit; a breach asks the
 * late unit's head to explain within 3 working days; the unit that
 * explains in time is left alone, the one that does not is escalated to
 * the Chairman's office, once, when the clock passes the deadline. */
static void test_units_are_warned_asked_to_explain_and_escalated(void **state)
{
    static const char *const A = "000.31.26.H17-240301-0801", *const B =
                                                                  "000.31.26.H17-240301-0802";
    json_t *ev, *got, *n;
    char *body;
    (void)state;

    /* The warning of A, a working day before its due date. */
    ev = deadline_event(A, "warning", 0, "1wd", "2024-03-05T16:00:00+07:00", NULL);
    send_deadline_event(ev);
    json_decref(ev);
    H_PUMP_UNTIL(
        env, H_TIMEOUT_MS,
        h_sql_int(env, "SELECT count(*) FROM notify.notice WHERE dossier_code = $1", A, NULL) == 1);
    got = notice_events(A, "warning");
    assert_int_equal(json_array_size(got), 1);
    n = json_object_get(json_array_get(got, 0), "payload");
    h_assert_schema(n, "unit-notice.v1");
    h_assert_str(n, "type", "notification.notice");
    h_assert_str(n, "data/recipient/unit_code", "PTCKH");
    h_assert_str(n, "data/recipient/name", "Phòng Tài chính - Kế hoạch");
    h_assert_str(n, "data/recipient/email", "ptckh@hoabinh.example.vn");
    h_assert_str(n, "data/delivery_channel", "email");
    h_assert_str(n, "data/reference", "000.31.26.H17-240301-0801/warning/0/1/1wd");
    h_assert_str(n, "data/subject", "Hồ sơ 000.31.26.H17-240301-0801 sắp đến hạn trả kết quả");
    assert_contains(mc_json_str(n, "data/body"), "Kính gửi: Phòng Tài chính - Kế hoạch");
    assert_contains(mc_json_str(n, "data/body"),
                    "Hồ sơ chưa được giải quyết xong: còn 1 ngày làm việc đến ngày hẹn trả kết "
                    "quả.");
    assert_contains(mc_json_str(n, "data/rendered/html"), "<p>");
    assert_null(strstr(mc_json_str(n, "data/body"), "ngày hẹn đã điều chỉnh"));
    json_decref(got);
    /* After a reschedule, the warning is of the unit's new date. */
    ev = deadline_event(A, "warning", 1, "due-day", "2024-03-12T07:30:00+07:00", NULL);
    json_object_set_new(json_object_get(ev, "data"), "rescheduled_due_at",
                        json_string("2024-03-12T16:30:00+07:00"));
    json_object_set_new(json_object_get(ev, "data"), "deadline_version", json_integer(2));
    h_assert_schema(ev, "dossier-deadline.v1");
    send_deadline_event(ev);
    json_decref(ev);
    H_PUMP_UNTIL(
        env, H_TIMEOUT_MS,
        h_sql_int(env, "SELECT count(*) FROM notify.notice WHERE dossier_code = $1", A, NULL) == 2);
    got = notice_events(A, "warning");
    assert_int_equal(json_array_size(got), 2);
    n = json_object_get(json_array_get(got, 1), "payload");
    h_assert_str(n, "data/reference", "000.31.26.H17-240301-0801/warning/1/2/due-day");
    assert_contains(mc_json_str(n, "data/body"),
                    "hẹn trả kết quả vào 16 giờ 30 phút, ngày 12 tháng 3 năm 2024 (ngày hẹn đã "
                    "điều chỉnh).");
    assert_contains(mc_json_str(n, "data/body"), "hôm nay là ngày hẹn trả kết quả");
    json_decref(got);
    /* The citizen is not told of a warning. */
    got = letter_events(A);
    assert_int_equal(json_array_size(got), 0);
    json_decref(got);

    /* Both breach on Thursday 7 March 2024 at 07:30. */
    ev = deadline_event(A, "overdue", 1, "overdue", "2024-03-07T07:30:00+07:00",
                        "2024-03-12T16:30:00+07:00");
    send_deadline_event(ev);
    json_decref(ev);
    ev = deadline_event(B, "overdue", 1, "overdue", "2024-03-07T07:30:00+07:00",
                        "2024-03-12T16:30:00+07:00");
    send_deadline_event(ev);
    json_decref(ev);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS, explanations(A, NULL) == 1 && explanations(B, NULL) == 1);
    got = notice_events(B, "explanation-request");
    assert_int_equal(json_array_size(got), 1);
    n = json_object_get(json_array_get(got, 0), "payload");
    h_assert_schema(n, "unit-notice.v1");
    h_assert_str(n, "data/recipient/name",
                 "Trưởng phòng Đinh Thị Thu Hà, Phòng Tài chính - Kế hoạch");
    h_assert_str(n, "data/about_unit", "PTCKH");
    /* Three working days: Thursday, Friday and Monday (the weekend does not
     * count), so by the end of Monday 11 March, i.e. Tuesday's opening. */
    h_assert_str(n, "data/explanation_due_at", "2024-03-12T07:30:00+07:00");
    body = h_sql_text(env, "SELECT document_number FROM notify.letter WHERE dossier_code = $1", B,
                      NULL);
    assert_contains(mc_json_str(n, "data/body"), body);
    free(body);
    assert_contains(mc_json_str(n, "data/body"), "YÊU CẦU GIẢI TRÌNH");
    assert_contains(mc_json_str(n, "data/body"),
                    "Đề nghị Trưởng phòng Phòng Tài chính - Kế hoạch giải trình bằng văn bản với "
                    "Chủ tịch Ủy ban nhân dân thành phố");
    assert_contains(mc_json_str(n, "data/body"),
                    "trước 07 giờ 30 phút, ngày 12 tháng 3 năm 2024 (3 ngày làm việc)");
    json_decref(got);

    /* A explains on Friday; an explanation without its text is refused. */
    send_explanation(A, "PTCKH", "2024-03-08T09:00:00+07:00",
                     "Hồ sơ phải xác minh với cơ quan thuế; đã chấn chỉnh việc phân công.");
    send_explanation(B, "PTCKH", "2024-03-08T09:00:00+07:00", NULL);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS, h_offsets_committed(env, GROUP, "dossier.updates"));
    assert_int_equal(h_sql_int(env,
                               "SELECT count(*) FROM notify.explanation_given WHERE dossier_code "
                               "IN ($1, $2)",
                               A, B, NULL),
                     1);
    got = h_read_topic(env, "deadletter", 1, 10000);
    n = h_select(got, "payload/dossier_code", B);
    assert_int_equal(json_array_size(n), 1);
    assert_contains(mc_json_str(json_array_get(n, 0), "payload/data/reason"),
                    "an explanation needs reason");
    json_decref(n);
    json_decref(got);

    /* Before the deadline nothing is settled; after it, B is escalated. */
    h_tick(env, "2024-03-11T16:00:00+07:00");
    h_tick(env, "2024-03-12T08:00:00+07:00");
    H_PUMP_UNTIL(env, H_TIMEOUT_MS,
                 explanations(B, "escalated") == 1 && explanations(A, "explained") == 1);
    got = notice_events(B, "escalation");
    assert_int_equal(json_array_size(got), 1);
    n = json_object_get(json_array_get(got, 0), "payload");
    h_assert_schema(n, "unit-notice.v1");
    h_assert_str(n, "data/recipient/unit_code", "VP");
    h_assert_str(n, "data/recipient/email", "vp@hoabinh.example.vn");
    h_assert_str(n, "data/about_unit", "PTCKH");
    h_assert_str(n, "occurred_at", "2024-03-12T08:00:00+07:00");
    assert_contains(mc_json_str(n, "data/body"), "BÁO CÁO");
    assert_contains(mc_json_str(n, "data/body"),
                    "Đến 08 giờ 00 phút, ngày 12 tháng 3 năm 2024, chưa nhận được giải trình của "
                    "Phòng Tài chính - Kế hoạch.");
    json_decref(got);
    got = notice_events(A, "escalation");
    assert_int_equal(json_array_size(got), 0);
    json_decref(got);

    /* A later tick escalates nothing again; the notice's receipts drive its
     * lifecycle as a letter's do. */
    h_tick(env, "2024-03-13T08:00:00+07:00");
    body = h_sql_text(env,
                      "SELECT notification_id::text FROM notify.notice WHERE dossier_code = $1 "
                      "AND kind = 'escalation'",
                      B, NULL);
    send_receipt(B, body, 1, "email", "delivered");
    H_PUMP_UNTIL(env, H_TIMEOUT_MS,
                 h_sql_int(env,
                           "SELECT count(*) FROM notify.notice WHERE notification_id = $1::uuid "
                           "AND status = 'delivered'",
                           body, NULL) == 1);
    free(body);
    assert_int_equal(h_sql_int(env,
                               "SELECT count(*) FROM notify.notice WHERE kind = 'escalation' AND "
                               "dossier_code IN ($1, $2)",
                               A, B, NULL),
                     1);
    got = notice_events(B, "escalation");
    assert_int_equal(json_array_size(got), 1);
    json_decref(got);
}

/* A day off announced while notify runs (it moves the catalog's calendar
 * revision) counts in the next request for an explanation, without a
 * restart: a breach on Thursday 7 March 2024 is due by Tuesday's opening;
 * with Monday 11 March off, by Wednesday's. */
static void test_explanation_deadline_follows_a_new_day_off(void **state)
{
    static const char *const C = "000.31.26.H17-240301-0803";
    json_t *ev, *got;
    (void)state;

    /* notify has read the calendar by now (the tests before breached). */
    h_sql_exec(env,
               "INSERT INTO catalog.calendar_day (agency_code, day, kind, name, source) "
               "VALUES (NULL, '2024-03-11', 'off', 'Nghỉ đột xuất (test)', 'operator')",
               NULL);
    ev = deadline_event(C, "overdue", 1, "overdue", "2024-03-07T07:30:00+07:00",
                        "2024-03-12T16:30:00+07:00");
    send_deadline_event(ev);
    json_decref(ev);
    H_PUMP_UNTIL(env, H_TIMEOUT_MS,
                 h_sql_int(env,
                           "SELECT count(*) FROM notify.notice WHERE dossier_code = $1 AND kind = "
                           "'explanation-request'",
                           C, NULL) == 1);
    got = notice_events(C, "explanation-request");
    h_sql_exec(env, "DELETE FROM catalog.calendar_day WHERE day = '2024-03-11'", NULL);
    assert_int_equal(json_array_size(got), 1);
    h_assert_str(json_object_get(json_array_get(got, 0), "payload"), "data/explanation_due_at",
                 "2024-03-13T07:30:00+07:00");
    json_decref(got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_overdue_makes_one_apology_letter),
        cmocka_unit_test(test_redelivered_overdue_makes_no_second_letter),
        cmocka_unit_test(test_delivery_receipt_marks_the_letter),
        cmocka_unit_test(test_receipt_for_unknown_notification_is_dead_lettered),
        cmocka_unit_test(test_second_breach_makes_a_second_letter),
        cmocka_unit_test(test_many_breaches_make_one_letter_each),
        cmocka_unit_test(test_failures_are_retried_then_fall_back_to_the_next_channel),
        cmocka_unit_test(test_receipts_back_to_back_apply_in_order),
        cmocka_unit_test(test_letter_of_an_unassigned_dossier_reads_right),
        cmocka_unit_test(test_deputy_signs_on_the_chairmans_behalf),
        cmocka_unit_test(test_letters_are_numbered_per_signer),
        cmocka_unit_test(test_units_are_warned_asked_to_explain_and_escalated),
        cmocka_unit_test(test_explanation_deadline_follows_a_new_day_off),
    };
    return cmocka_run_group_tests_name("integration: notify", tests, group_setup, group_teardown);
}
