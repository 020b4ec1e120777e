/* notify: turns each overdue event into exactly one apology letter (Mẫu 04,
 * "Phiếu xin lỗi và hẹn lại ngày trả kết quả"), stores it and publishes it
 * for the senders; records the senders' delivery receipts. */
#include "notify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "motcua/catalog.h"
#include "motcua/error.h"
#include "motcua/jsonutil.h"
#include "motcua/log.h"
#include "motcua/metrics.h"
#include "motcua/numbers.h"
#include "motcua/pg.h"
#include "motcua/schema.h"

#define CATALOG_MAX_AGE_S 60

struct notify {
    struct mc_schema *deadline_schema, *receipt_schema;
    struct mc_catalog *catalog;
    struct mc_metric *m_letters, *m_receipts;
    /* Document numbers: blocks of notify.letter_number (motcua/numbers.h). */
    struct mc_numbers *numbers;
    /* Read by notify_batch for the batch being applied. */
    json_t *b_sent; /* "code\x1fbreach" of letters written already */
    json_t *b_ids;  /* letter seed -> notification id (md5 of the seed) */
};

/* Reserves $2 document numbers of year $1; returns the last. */
static const char RESERVE_NUMBERS[] =
    "INSERT INTO notify.letter_number AS l (year, last) VALUES ($1::int, $2::int) "
    "ON CONFLICT (year) DO UPDATE SET last = l.last + $2::int RETURNING last";

/* The batch's (dossier, breach) pairs that have their letter already. */
static const char SELECT_SENT[] =
    "SELECT l.dossier_code || chr(31) || l.breach FROM notify.letter l JOIN "
    "jsonb_to_recordset($1::jsonb) AS x(dossier_code text, breach int) ON "
    "l.dossier_code = x.dossier_code AND l.breach = x.breach AND l.kind = 'apology'";

/* The notification ids of the batch's letter seeds. */
static const char SELECT_IDS[] =
    "SELECT s, md5(s)::uuid::text FROM jsonb_array_elements_text($1::jsonb) AS t(s)";

/* Set-based (mc_service_write_rows): the batch's letters. */
static const char INSERT_LETTERS[] =
    "INSERT INTO notify.letter (notification_id, dossier_code, kind, breach, unit_code, "
    "delivery_channel, document_number, subject, body, issued_at, new_appointment_at) SELECT "
    "notification_id, dossier_code, 'apology', breach, unit_code, delivery_channel, "
    "document_number, subject, body, issued_at, new_appointment_at FROM "
    "jsonb_to_recordset($1::jsonb) AS x(notification_id uuid, dossier_code text, breach int, "
    "unit_code text, delivery_channel text, document_number text, subject text, body text, "
    "issued_at timestamptz, new_appointment_at timestamptz) ON CONFLICT DO NOTHING";

static void *notify_init(struct mc_service *svc, PGconn *conn, char *err, size_t errlen)
{
    struct notify *n = mc_xcalloc(1, sizeof *n);
    if ((n->deadline_schema = mc_schema_load_named("dossier-deadline.v1", err, errlen)) == NULL ||
        (n->receipt_schema = mc_schema_load_named("notification-receipt.v1", err, errlen)) ==
            NULL ||
        (n->catalog = mc_catalog_load(conn, err, errlen)) == NULL) {
        mc_schema_free(n->deadline_schema);
        mc_schema_free(n->receipt_schema);
        free(n);
        return NULL;
    }
    n->m_letters = mc_metrics_counter("notify", "apology_letters_total", "apology letters issued");
    n->m_receipts = mc_metrics_counter("notify", "receipts_total", "delivery receipts recorded");
    n->numbers = mc_numbers_new(mc_service_config(svc)->pg_url, "motcua-notify", RESERVE_NUMBERS, 1,
                                mc_metrics_counter("notify", "number_reservations_total",
                                                   "blocks of document numbers reserved"));
    n->b_sent = json_object();
    n->b_ids = json_object();
    return n;
}

static void notify_fini(void *state)
{
    struct notify *n = state;
    mc_schema_free(n->deadline_schema);
    mc_schema_free(n->receipt_schema);
    mc_catalog_free(n->catalog);
    mc_numbers_free(n->numbers);
    json_decref(n->b_sent);
    json_decref(n->b_ids);
    free(n);
}

/* The letter seed of a breach: its notification id is md5(seed). */
static void letter_seed(char *buf, size_t len, const char *code, json_int_t breach)
{
    snprintf(buf, len, "notify/apology/%s/%lld", code, (long long)breach);
}

/* Reads, once for the batch, which of its breaches have their letter, and
 * the notification ids of the others; marks the document numbers. */
static int notify_batch(struct mc_service *svc, PGconn *conn, const struct mc_msg *const *msgs,
                        int n, char *err, size_t errlen, void *state)
{
    struct notify *no = state;
    json_t *pairs = json_array(), *seeds = json_array();
    char seed[256], *text[2];
    int rc = 0;
    (void)svc;

    json_object_clear(no->b_sent);
    json_object_clear(no->b_ids);
    mc_numbers_mark(no->numbers);
    for (int i = 0; i < n; i++) {
        const char *code = mc_json_str(msgs[i]->doc, "dossier_code");
        const char *type = mc_json_str(msgs[i]->doc, "type");
        json_t *breach = mc_json_at(msgs[i]->doc, "data/breach");
        if (code == NULL || type == NULL || strcmp(type, "dossier.overdue") != 0 ||
            !json_is_integer(breach))
            continue;
        json_array_append_new(pairs,
                              json_pack("{s:s, s:O}", "dossier_code", code, "breach", breach));
        letter_seed(seed, sizeof seed, code, json_integer_value(breach));
        json_array_append_new(seeds, json_string(seed));
    }
    text[0] = json_array_size(pairs) ? json_dumps(pairs, JSON_COMPACT) : NULL;
    text[1] = json_array_size(seeds) ? json_dumps(seeds, JSON_COMPACT) : NULL;
    if (text[0])
        rc = mc_pg_collect(conn, SELECT_SENT, text[0], no->b_sent, err, errlen);
    if (rc == 0 && text[1])
        rc = mc_pg_collect(conn, SELECT_IDS, text[1], no->b_ids, err, errlen);
    free(text[0]);
    free(text[1]);
    json_decref(pairs);
    json_decref(seeds);
    return rc;
}

/* The batch's transaction was surely rolled back: its numbers are unused. */
static void notify_rollback(void *state)
{
    struct notify *no = state;
    mc_numbers_rollback(no->numbers);
}

/* "17 giờ 00 phút, ngày 06 tháng 3 năm 2024" (civil time in Vietnam). */
static char *vn_datetime(mc_instant t, char *buf, size_t len)
{
    mc_instant local = t + MC_VN_OFFSET_SECONDS;
    int y, m, d;
    int64_t sod = ((local % 86400) + 86400) % 86400;
    mc_civil_from_days(mc_vn_day(t), &y, &m, &d);
    /* Decree 30/2020: months 1 and 2 are written "01", "02". */
    snprintf(buf, len,
             m < 3 ? "%02d giờ %02d phút, ngày %02d tháng %02d năm %d"
                   : "%02d giờ %02d phút, ngày %02d tháng %d năm %d",
             (int)(sod / 3600), (int)(sod / 60 % 60), d, m, y);
    return buf;
}

/* "06 tháng 3 năm 2024" (the caller writes "ngày" or "Ngày" before it). */
static char *vn_date(mc_instant t, char *buf, size_t len)
{
    int y, m, d;
    mc_civil_from_days(mc_vn_day(t), &y, &m, &d);
    snprintf(buf, len, m < 3 ? "%02d tháng %02d năm %d" : "%02d tháng %d năm %d", d, m, y);
    return buf;
}

static int has_text(const json_t *applicant, const char *key)
{
    const char *v = mc_json_str(applicant, key);
    return v && *v;
}

/* The applicant's preference first; otherwise e-mail/SMS for online dossiers
 * and the post or the counter for the others (docs/domain.md). */
static const char *delivery_channel(const json_t *data)
{
    const json_t *applicant = json_object_get(data, "applicant");
    const char *channel = mc_json_str(data, "channel");
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(data, "notify_channels"), i, c)
    {
        const char *want = json_string_value(c);
        if (want == NULL)
            continue;
        if (strcmp(want, "email") == 0 && has_text(applicant, "email"))
            return "email";
        if ((strcmp(want, "sms") == 0 || strcmp(want, "zalo") == 0) && has_text(applicant, "phone"))
            return want;
        if (strcmp(want, "post") == 0 && has_text(applicant, "address"))
            return "post";
        if (strcmp(want, "counter") == 0)
            return "counter";
    }
    if (channel && strcmp(channel, "online") == 0) {
        if (has_text(applicant, "email"))
            return "email";
        if (has_text(applicant, "phone"))
            return "sms";
    }
    return has_text(applicant, "address") ? "post" : "counter";
}

struct letter {
    char document_number[64];
    const char *authority, *place, *signer_title, *signer_name;
    const char *unit_name, *unit_head_title, *unit_head_name;
    char *subject, *body;
};

static void render(const struct notify *n, const json_t *ev, struct letter *l, mc_instant issued,
                   mc_instant received_at, mc_instant due_at, mc_instant appointment, int breach)
{
    const json_t *data = json_object_get(ev, "data");
    const json_t *applicant = json_object_get(data, "applicant");
    const char *kind = mc_json_str(applicant, "kind");
    const char *honorific = kind && strcmp(kind, "citizen") == 0 ? "Ông/Bà " : "";
    const char *you = kind && strcmp(kind, "citizen") == 0 ? "Ông/Bà" : "Quý cơ quan, tổ chức";
    const char *reason = mc_json_str(data, "reason");
    const char *address = mc_json_str(applicant, "address");
    char issued_text[64], received_text[64], due_text[96], app_text[96];
    size_t size;
    FILE *f;

    l->subject = NULL;
    f = open_memstream(&l->subject, &size);
    fprintf(f, "Phiếu xin lỗi và hẹn lại ngày trả kết quả - hồ sơ %s",
            mc_json_str(ev, "dossier_code"));
    fclose(f);

    f = open_memstream(&l->body, &size);
    fprintf(f, "%s\nCỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\nĐộc lập - Tự do - Hạnh phúc\n\n",
            l->authority);
    fprintf(f, "Số: %s\n%s, ngày %s\n\n", l->document_number, l->place,
            vn_date(issued, issued_text, sizeof issued_text));
    fprintf(f, "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ\n\n");
    fprintf(f, "Kính gửi: %s%s\n", honorific, mc_json_str(applicant, "name"));
    fprintf(f, "Địa chỉ: %s\n\n", address && *address ? address : "(không ghi)");
    fprintf(f, "Ngày %s, %s tiếp nhận hồ sơ của %s, mã hồ sơ: %s.\n",
            vn_date(received_at, received_text, sizeof received_text), l->authority, you,
            mc_json_str(ev, "dossier_code"));
    fprintf(f, "Thủ tục hành chính: %s (mã %s).\n", mc_json_str(data, "procedure/name"),
            mc_json_str(data, "procedure/code"));
    fprintf(f, "Thời gian hẹn trả kết quả giải quyết hồ sơ: %s.\n",
            vn_datetime(due_at, due_text, sizeof due_text));
    if (breach > 1)
        fprintf(f,
                "Ngày hẹn đã được điều chỉnh một lần nhưng hồ sơ vẫn chưa được giải quyết "
                "xong (lần trễ hạn thứ %d).\n",
                breach);
    fprintf(f, "Tuy nhiên đến nay, %s chưa trả kết quả giải quyết hồ sơ cho %s đúng hẹn.\n",
            l->unit_name, you);
    fprintf(f, "Lý do: %s.\n\n",
            reason && *reason ? reason : "hồ sơ chưa được giải quyết xong trong thời hạn quy định");
    fprintf(f,
            "Sự chậm trễ này đã gây phiền hà, tốn kém chi phí, công sức của %s. %s xin lỗi "
            "%s và hẹn trả kết quả vào %s.\n\n",
            you, l->authority, you, vn_datetime(appointment, app_text, sizeof app_text));
    fprintf(f, "Xin trân trọng cảm ơn sự hợp tác của %s./.\n\n", you);
    fprintf(f,
            "Nơi nhận:\n- Như trên;\n- %s %s, %s (để giải trình, chịu trách nhiệm);\n"
            "- Lưu: VT, Bộ phận Tiếp nhận và Trả kết quả.\n\n",
            l->unit_head_title, l->unit_head_name, l->unit_name);
    fprintf(f, "%s\n(Đã ký)\n%s\n", l->signer_title, l->signer_name);
    fclose(f);
}

static int on_overdue(struct mc_service *svc, PGconn *conn, struct notify *n,
                      const struct mc_msg *msg, char *err, size_t errlen)
{
    const json_t *ev = msg->doc, *data = json_object_get(ev, "data");
    const json_t *unit = json_object_get(data, "unit");
    const char *code = mc_json_str(ev, "dossier_code");
    const char *channel = delivery_channel(data);
    mc_instant issued, received_at, due_at, appointment;
    struct letter l;
    char seed[256], sent[160], year[8], ts[2][MC_RFC3339_LEN];
    const char *keys[1], *id;
    json_t *out, *row;
    int breach = (int)json_integer_value(json_object_get(data, "breach"));
    int y, m, d, rc, number;
    const json_t *unit_row =
        unit && !json_is_null(unit) ? mc_catalog_unit(n->catalog, mc_json_str(unit, "code")) : NULL;
    const char *policy = unit_row ? mc_json_str(unit_row, "signer_policy") : "city_chairman";

    memset(&l, 0, sizeof l);
    if ((rc = mc_json_time_required(ev, "occurred_at", &issued, code, err, errlen)) != 0 ||
        (rc = mc_json_time_required(data, "received_at", &received_at, code, err, errlen)) != 0 ||
        (rc = mc_json_time_required(data, "due_at", &due_at, code, err, errlen)) != 0)
        return rc;
    if (mc_json_time(data, "new_appointment_at", &appointment) != 0)
        return mc_err(err, errlen, MC_EINVAL, "overdue event of %s has no new_appointment_at",
                      code);

    letter_seed(seed, sizeof seed, code, breach);
    /* One letter per dossier and breach: a second event for it is a no-op
     * (notify_batch read which are written; this batch's are added). */
    snprintf(sent, sizeof sent, "%s\x1f%d", code, breach);
    if (json_object_get(n->b_sent, sent))
        return 0;
    if ((id = json_string_value(json_object_get(n->b_ids, seed))) == NULL)
        return mc_err(err, errlen, MC_EDB, "no notification id read for %s", seed);

    mc_civil_from_days(mc_vn_day(issued), &y, &m, &d);
    snprintf(year, sizeof year, "%d", y);
    keys[0] = year;
    if ((number = mc_numbers_take(n->numbers, keys, err, errlen)) < 0)
        return number;
    snprintf(l.document_number, sizeof l.document_number, "%d/PXL-UBND", number);

    l.authority = mc_catalog_setting(n->catalog, "issuing_authority", "ỦY BAN NHÂN DÂN");
    l.place = mc_catalog_setting(n->catalog, "letter_place", "");
    l.unit_name = unit_row ? mc_json_str(unit_row, "name") : "cơ quan giải quyết";
    l.unit_head_title = unit_row ? mc_json_str(unit_row, "head_title") : "Thủ trưởng";
    l.unit_head_name = unit_row ? mc_json_str(unit_row, "head_name") : "";
    if (strcmp(policy, "unit_head") == 0) {
        l.authority = mc_json_str(unit_row, "name");
        l.signer_title = mc_json_str(unit_row, "head_title");
        l.signer_name = mc_json_str(unit_row, "head_name");
    } else {
        l.signer_title = mc_catalog_setting(n->catalog, "chairman_title", "Chủ tịch");
        l.signer_name = mc_catalog_setting(n->catalog, "chairman_name", "");
    }
    render(n, ev, &l, issued, received_at, due_at, appointment, breach);

    mc_time_format(issued, ts[0]);
    mc_time_format(appointment, ts[1]);
    row = json_pack("{s:s, s:s, s:i, s:o, s:s, s:s, s:s, s:s, s:s, s:s}", "notification_id", id,
                    "dossier_code", code, "breach", breach, "unit_code",
                    mc_json_str_or_null(unit_row ? mc_json_str(unit_row, "code") : NULL),
                    "delivery_channel", channel, "document_number", l.document_number, "subject",
                    l.subject, "body", l.body, "issued_at", ts[0], "new_appointment_at", ts[1]);
    if (row == NULL) {
        rc = mc_err(err, errlen, MC_EINVAL, "cannot build the letter row of %s", code);
        goto out;
    }
    if ((rc = mc_service_write_rows(svc, conn, INSERT_LETTERS, row, err, errlen)) <= 0)
        goto out; /* an error, or written before (0): nothing to publish */
    json_object_set_new(n->b_sent, sent, json_true());
    out = json_pack("{s:s, s:s, s:s, s:{s:s, s:o, s:o, s:o}, s:s, s:s, s:s, s:{s:s, s:s}, s:s, "
                    "s:s, s:i}",
                    "notification_id", id, "kind", "apology", "delivery_channel", channel,
                    "recipient", "name", mc_json_str(data, "applicant/name"), "address",
                    mc_json_str_or_null(mc_json_str(data, "applicant/address")), "email",
                    mc_json_str_or_null(mc_json_str(data, "applicant/email")), "phone",
                    mc_json_str_or_null(mc_json_str(data, "applicant/phone")), "document_number",
                    l.document_number, "subject", l.subject, "body", l.body, "signer", "title",
                    l.signer_title, "name", l.signer_name, "issued_at", ts[0], "new_appointment_at",
                    ts[1], "breach", breach);
    if (out == NULL) {
        rc = mc_err(err, errlen, MC_EINVAL, "cannot build the letter of %s", code);
        goto out;
    }
    mc_service_count(svc, n->m_letters, 1);
    rc = mc_service_emit(svc, conn, "notifications", code, "notification.letter", code, issued, out,
                         seed, err, errlen);
out:
    free(l.subject);
    free(l.body);
    return rc;
}

static int on_receipt(struct mc_service *svc, PGconn *conn, struct notify *n,
                      const struct mc_msg *msg, char *err, size_t errlen)
{
    const char *params[5];
    PGresult *res;
    int found, rc;
    if ((rc = mc_schema_check(n->receipt_schema, msg->doc, "notification.receipt", err, errlen)) !=
        0)
        return rc;
    params[0] = mc_json_str(msg->doc, "event_id");
    params[1] = mc_json_str(msg->doc, "data/notification_id");
    params[2] = mc_json_str(msg->doc, "data/status");
    params[3] = mc_json_str(msg->doc, "data/detail");
    params[4] = mc_json_str(msg->doc, "occurred_at");
    if ((res = mc_pg_query(conn,
                           "UPDATE notify.letter SET status = $2 WHERE notification_id = $1 "
                           "RETURNING 1",
                           2, (const char *[]){params[1], params[2]}, err, errlen)) == NULL)
        return MC_EDB;
    found = PQntuples(res);
    PQclear(res);
    if (!found)
        return mc_err(err, errlen, MC_EINVAL, "receipt for unknown notification %s", params[1]);
    mc_service_count(svc, n->m_receipts, 1);
    return mc_pg_exec(conn,
                      "INSERT INTO notify.delivery (event_id, notification_id, status, detail, "
                      "reported_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                      5, params, err, errlen);
}

static int notify_handle(struct mc_service *svc, PGconn *conn, const struct mc_msg *msg, char *err,
                         size_t errlen, void *state)
{
    struct notify *n = state;
    const char *type;
    int rc;
    if ((rc = mc_catalog_maybe_reload(&n->catalog, conn, CATALOG_MAX_AGE_S, err, errlen)) != 0)
        return rc;
    if (strcmp(msg->topic, "notification.receipts") == 0)
        return on_receipt(svc, conn, n, msg, err, errlen);
    /* Warnings and refusals concern the units, not the citizen. */
    type = mc_json_str(msg->doc, "type");
    if (type == NULL || strcmp(type, "dossier.overdue") != 0)
        return 0;
    if ((rc = mc_schema_check(n->deadline_schema, msg->doc, "deadline event", err, errlen)) != 0)
        return rc;
    return on_overdue(svc, conn, n, msg, err, errlen);
}

static const char *const notify_topics[] = {"dossier.deadlines", "notification.receipts", NULL};

const struct mc_service_def mc_notify_def = {
    .name = "notify",
    .schema = "notify",
    .topics = notify_topics,
    .use_inbox = 1,
    .init_cb = notify_init,
    .fini_cb = notify_fini,
    .handle_cb = notify_handle,
    .batch_cb = notify_batch,
    .rollback_cb = notify_rollback,
};
