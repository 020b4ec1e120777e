/* intake: validates submissions, assigns dossier codes, computes the official
 * due date, stores the dossier and publishes dossier.received (or a rejection). */
#include "intake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uninorm.h>

#include "motcua/catalog.h"
#include "motcua/error.h"
#include "motcua/jsonutil.h"
#include "motcua/log.h"
#include "motcua/metrics.h"
#include "motcua/numbers.h"
#include "motcua/pg.h"
#include "motcua/schema.h"

#define CATALOG_MAX_AGE_S 60

struct intake {
    struct mc_schema *schema;
    struct mc_catalog *catalog;
    struct mc_metric *m_received, *m_rejected, *m_duplicates;
    /* Dossier numbers: blocks of intake.code_sequence (motcua/numbers.h). */
    struct mc_numbers *numbers;
    /* The batch's submissions already stored ("source\x1fexternal_id"),
     * read set-based by intake_batch and grown as the batch accepts more. */
    json_t *known;
};

/* Set-based: one row object per dossier (mc_service_write_rows). */
static const char INSERT_DOSSIERS[] =
    "INSERT INTO intake.dossier (code, source, external_id, channel, procedure_code, ward_code, "
    "reception_point, receiving_agency, submitted_at, received_at, receipt_at, due_at, "
    "statutory_time, rule_set, submission) "
    "SELECT code, source, external_id, channel, procedure_code, ward_code, reception_point, "
    "receiving_agency, submitted_at, received_at, receipt_at, due_at, statutory_time, rule_set, "
    "submission FROM jsonb_to_recordset($1::jsonb) AS x(code text, source text, external_id text, "
    "channel text, procedure_code text, ward_code text, reception_point text, receiving_agency "
    "text, submitted_at timestamptz, received_at timestamptz, receipt_at timestamptz, due_at "
    "timestamptz, statutory_time text, rule_set text, submission jsonb) "
    "ON CONFLICT (source, external_id) DO NOTHING";

/* The batch's (source, external_id) pairs already stored. */
static const char SELECT_KNOWN[] =
    "SELECT d.source || chr(31) || d.external_id FROM intake.dossier d "
    "JOIN jsonb_to_recordset($1::jsonb) AS x(source text, external_id text) "
    "ON d.source = x.source AND d.external_id = x.external_id";

/* Reserves $3 numbers of agency $1's sequence for day $2; returns the last. */
static const char RESERVE_NUMBERS[] =
    "INSERT INTO intake.code_sequence AS s (agency_id, day, last) VALUES ($1, $2::date, $3::int) "
    "ON CONFLICT (agency_id, day) DO UPDATE SET last = s.last + $3::int RETURNING last";

static void *intake_init(struct mc_service *svc, PGconn *conn, char *err, size_t errlen)
{
    struct intake *in = mc_xcalloc(1, sizeof *in);
    if ((in->schema = mc_schema_load_named("submission.v1", err, errlen)) == NULL ||
        (in->catalog = mc_catalog_load(conn, err, errlen)) == NULL) {
        mc_schema_free(in->schema);
        free(in);
        return NULL;
    }
    in->m_received = mc_metrics_counter("intake", "dossiers_received_total", "dossiers accepted");
    in->m_rejected =
        mc_metrics_counter("intake", "submissions_rejected_total", "submissions rejected");
    in->m_duplicates = mc_metrics_counter("intake", "submissions_duplicate_total",
                                          "submissions already received (same source/external_id)");
    /* Named as the service, so operators see it among intake's. */
    in->numbers =
        mc_numbers_new(mc_service_config(svc)->pg_url, "motcua-intake", RESERVE_NUMBERS, 2,
                       mc_metrics_counter("intake", "number_reservations_total",
                                          "blocks of dossier numbers reserved"));
    in->known = json_object();
    return in;
}

static void intake_fini(void *state)
{
    struct intake *in = state;
    mc_schema_free(in->schema);
    mc_catalog_free(in->catalog);
    mc_numbers_free(in->numbers);
    json_decref(in->known);
    free(in);
}

static void known_key(char *buf, size_t len, const char *source, const char *external_id)
{
    snprintf(buf, len, "%s\x1f%s", source, external_id);
}

/* Reads which of the batch's submissions are stored already, in one query,
 * and marks every number block, so a rolled-back batch gives its numbers
 * again. */
static int intake_batch(struct mc_service *svc, PGconn *conn, const struct mc_msg *const *msgs,
                        int n, char *err, size_t errlen, void *state)
{
    struct intake *in = state;
    json_t *pairs = json_array();
    char *text;
    int rc;
    (void)svc;

    json_object_clear(in->known);
    mc_numbers_mark(in->numbers);
    for (int i = 0; i < n; i++) {
        const char *source = mc_json_str(msgs[i]->doc, "source");
        const char *external_id = mc_json_str(msgs[i]->doc, "external_id");
        if (source && external_id)
            json_array_append_new(
                pairs, json_pack("{s:s, s:s}", "source", source, "external_id", external_id));
    }
    if (json_array_size(pairs) == 0) {
        json_decref(pairs);
        return 0;
    }
    text = json_dumps(pairs, JSON_COMPACT);
    json_decref(pairs);
    rc = mc_pg_collect(conn, SELECT_KNOWN, text, in->known, err, errlen);
    free(text);
    return rc;
}

/* The batch's transaction was rolled back: its numbers were not used. */
static void intake_rollback(void *state)
{
    struct intake *in = state;
    mc_numbers_rollback(in->numbers);
}

/* Adds {"path", "problem": what + quoted subject + rest}. */
static void add_problem(json_t *problems, const char *path, const char *what, const char *subject,
                        const char *rest)
{
    char text[512];
    if (subject)
        snprintf(text, sizeof text, "%s%s'%.200s' %s", what, *what ? " " : "", subject, rest);
    else
        snprintf(text, sizeof text, "%s", what);
    json_array_append_new(problems, json_pack("{s:s, s:s}", "path", path, "problem", text));
}

/* Publishes submission.rejected naming every problem, for the submission
 * source/external_id (either may be NULL) read at msg's offset; a
 * redelivered submission is answered once. Steals problems. */
static int reject_as(struct mc_service *svc, PGconn *conn, struct intake *in,
                     const struct mc_msg *msg, const char *source, const char *external_id,
                     json_t *problems, char *err, size_t errlen)
{
    const char *params[4];
    char seed[256], key[400], where[320], *ptext;
    PGresult *res;
    int fresh;
    json_t *data;

    if (source && strlen(source) > 64)
        source = NULL;
    if (external_id && strlen(external_id) > 128)
        external_id = NULL;
    snprintf(where, sizeof where, "%s%s/%d/%lld", mc_service_config(svc)->topic_prefix, msg->topic,
             (int)msg->partition, (long long)msg->offset);
    if (source && external_id)
        snprintf(key, sizeof key, "%s/%s", source, external_id);
    else /* where the submission was read, as the AsyncAPI document says */
        snprintf(key, sizeof key, "%s", where);
    ptext = json_dumps(problems, JSON_COMPACT);
    params[0] = source;
    params[1] = external_id;
    params[2] = ptext;
    params[3] = where;
    /* Keyed by where it was read: a redelivered submission is answered once. */
    res = mc_pg_query(conn,
                      "INSERT INTO intake.rejection (source, external_id, problems, read_from) "
                      "VALUES ($1, $2, $3::jsonb, $4) ON CONFLICT (read_from) DO NOTHING "
                      "RETURNING 1",
                      4, params, err, errlen);
    free(ptext);
    if (res == NULL) {
        json_decref(problems);
        return MC_EDB;
    }
    fresh = PQntuples(res);
    PQclear(res);
    if (!fresh) {
        json_decref(problems);
        return 0;
    }
    data = json_pack("{s:o, s:o, s:o}", "source", mc_json_str_or_null(source), "external_id",
                     mc_json_str_or_null(external_id), "problems", problems);
    snprintf(seed, sizeof seed, "intake/rejected/%s/%d/%lld", msg->topic, (int)msg->partition,
             (long long)msg->offset);
    mc_service_count(svc, in->m_rejected, 1);
    return mc_service_emit(svc, conn, "submission.rejected", key, "submission.rejected", NULL,
                           mc_time_now(), data, seed, err, errlen);
}

/* reject_as with the source and external_id the submission carries. */
static int reject(struct mc_service *svc, PGconn *conn, struct intake *in, const struct mc_msg *msg,
                  json_t *problems, char *err, size_t errlen)
{
    return reject_as(svc, conn, in, msg, mc_json_str(msg->doc, "source"),
                     mc_json_str(msg->doc, "external_id"), problems, err, errlen);
}

/* 1 if s is valid UTF-8 without control characters. */
static int printable_utf8(const char *s)
{
    json_t *probe = json_string(s); /* NULL unless valid UTF-8 */
    int ok = probe != NULL;
    json_decref(probe);
    for (; ok && *s; s++)
        ok = (unsigned char)*s >= 0x20 && *s != 0x7f;
    return ok;
}

/* A message the runtime dead-lettered (too large, not JSON, refused by the
 * database) is answered to its portal too, when its key names the
 * submission as source/external_id: the portal never reads dead letters.
 * A key that names no submission leaves the dead letter alone. */
static int intake_deadletter(struct mc_service *svc, PGconn *conn, const struct mc_msg *msg,
                             const char *reason, char *err, size_t errlen, void *state)
{
    char source[65], external_id[129];
    const char *slash = msg->key ? strchr(msg->key, '/') : NULL;
    size_t slen = slash ? (size_t)(slash - msg->key) : 0, elen = slash ? strlen(slash + 1) : 0;
    json_t *problems;

    if (slash == NULL || slen < 1 || slen > 64 || elen < 1 || elen > 128 ||
        strspn(msg->key, "abcdefghijklmnopqrstuvwxyz0123456789._-") != slen || msg->key[0] == '.' ||
        msg->key[0] == '_' || msg->key[0] == '-' || !printable_utf8(slash + 1))
        return 0;
    snprintf(source, sizeof source, "%.*s", (int)slen, msg->key);
    snprintf(external_id, sizeof external_id, "%s", slash + 1);
    problems = json_pack("[{s:s, s:s}]", "path", "", "problem", reason);
    return reject_as(svc, conn, state, msg, source, external_id, problems, err, errlen);
}

/* s in Unicode NFC, as a new JSON string. Vietnamese arrives composed
 * ("ễ" as U+1EC5) and decomposed (e + U+0302 + U+0303); letters and
 * look-ups must see one form. */
static json_t *nfc_string(const char *s)
{
    size_t len = 0;
    uint8_t *norm = u8_normalize(UNINORM_NFC, (const uint8_t *)s, strlen(s), NULL, &len);
    json_t *out = norm ? json_stringn((const char *)norm, len) : NULL;
    free(norm);
    return out ? out : json_string(s); /* valid UTF-8 always normalises */
}

/* The applicant as the events carry it: name and address in NFC. */
static json_t *applicant_copy(const json_t *sub)
{
    static const char *const texts[] = {"name", "address", NULL};
    json_t *applicant = json_deep_copy(json_object_get(sub, "applicant"));
    for (const char *const *k = texts; *k; k++) {
        const char *v = json_string_value(json_object_get(applicant, *k));
        if (v != NULL)
            json_object_set_new(applicant, *k, nfc_string(v));
    }
    return applicant;
}

/* The position (in characters, from 1) of the first control character of
 * s (U+0000-U+001F, U+007F-U+009F), or 0 when there is none. */
static size_t control_at(const char *s, unsigned *code)
{
    size_t chars = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p & 0xC0) != 0x80)
            chars++;
        if (*p < 0x20 || *p == 0x7f) {
            *code = *p;
            return chars;
        }
        if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
            *code = p[1];
            return chars;
        }
    }
    return 0;
}

/* Names and addresses go into letters and onto envelopes: no control
 * characters (a tab, a line break, an escape) in them. */
static void check_printable(json_t *problems, const json_t *sub)
{
    static const char *const paths[] = {"/applicant/name", "/applicant/address", NULL};
    const json_t *docs = json_object_get(sub, "documents"), *doc;
    char text[160], path[64];
    unsigned code = 0;
    size_t at, i;
    for (const char *const *p = paths; *p; p++) {
        const char *v = mc_json_str(sub, *p + 1);
        if (v && (at = control_at(v, &code)) > 0) {
            snprintf(text, sizeof text, "contains a control character (U+%04X) at character %zu",
                     code, at);
            add_problem(problems, *p, text, NULL, NULL);
        }
    }
    json_array_foreach(docs, i, doc)
    {
        const char *v = json_string_value(json_object_get(doc, "name"));
        if (v && (at = control_at(v, &code)) > 0) {
            snprintf(path, sizeof path, "/documents/%zu/name", i);
            snprintf(text, sizeof text, "contains a control character (U+%04X) at character %zu",
                     code, at);
            add_problem(problems, path, text, NULL, NULL);
        }
    }
}

static int intake_handle(struct mc_service *svc, PGconn *conn, const struct mc_msg *msg, char *err,
                         size_t errlen, void *state)
{
    struct intake *in = state;
    const json_t *sub = msg->doc, *procedure, *ward, *rp_unit = NULL, *agency_unit, *rule_set;
    json_t *problems = NULL, *data;
    const char *source, *external_id, *channel, *rp;
    mc_instant submitted_at, received_at, receipt_at, due_at;
    struct mc_duration dur;
    const struct mc_calendar *cal;
    char code[96], day[16], seed[256], dur_text[16], ts[4][MC_RFC3339_LEN], known[200];
    const char *keys[2];
    json_t *row;
    int number, y, m, d, rc;
    int32_t vn_day;
    json_int_t amount;

    if ((rc = mc_catalog_maybe_reload(&in->catalog, conn, CATALOG_MAX_AGE_S, err, errlen)) != 0)
        return rc;
    if (mc_schema_validate(in->schema, sub, &problems) != 0)
        return reject(svc, conn, in, msg, problems, err, errlen);

    /* The schema holds; now the rules it cannot say, and those that need
     * the catalog. */
    problems = json_array();
    check_printable(problems, sub);
    source = mc_json_str(sub, "source");
    external_id = mc_json_str(sub, "external_id");
    channel = mc_json_str(sub, "channel");
    rp = mc_json_str(sub, "reception_point");
    procedure = mc_catalog_procedure(in->catalog, mc_json_str(sub, "procedure_code"));
    ward = mc_catalog_unit(in->catalog, mc_json_str(sub, "ward_code"));
    if (procedure == NULL)
        add_problem(problems, "/procedure_code", "procedure", mc_json_str(sub, "procedure_code"),
                    "is not in the catalog");
    if (ward == NULL || (strcmp(mc_json_str(ward, "kind"), "ward") != 0 &&
                         strcmp(mc_json_str(ward, "kind"), "commune") != 0))
        add_problem(problems, "/ward_code", "", mc_json_str(sub, "ward_code"),
                    "is not a ward or commune of the catalog");
    if (rp && ((rp_unit = mc_catalog_unit(in->catalog, rp)) == NULL ||
               strcmp(mc_json_str(rp_unit, "kind"), "reception") != 0))
        add_problem(problems, "/reception_point", "", rp,
                    "is not a reception point of the catalog");
    /* The schema's date-time is what mc_time_parse accepts, so these hold;
     * checked all the same, never used unparsed. */
    if (mc_json_time(sub, "submitted_at", &submitted_at) != 0) {
        add_problem(problems, "/submitted_at", "is not an RFC 3339 date-time with an offset", NULL,
                    NULL);
        return reject(svc, conn, in, msg, problems, err, errlen);
    }
    received_at = submitted_at;
    if (json_object_get(sub, "received_at") &&
        mc_json_time(sub, "received_at", &received_at) != 0) {
        add_problem(problems, "/received_at", "is not an RFC 3339 date-time with an offset", NULL,
                    NULL);
        return reject(svc, conn, in, msg, problems, err, errlen);
    }
    if (received_at < submitted_at)
        add_problem(problems, "/received_at", "must not be before submitted_at", NULL, NULL);
    vn_day = mc_vn_day(received_at);
    rule_set = mc_catalog_rule_set_on(in->catalog, vn_day);
    if (rule_set == NULL)
        add_problem(problems, "/received_at", "no rule set of the catalog is in force on this date",
                    NULL, NULL);
    if (json_array_size(problems) > 0)
        return reject(svc, conn, in, msg, problems, err, errlen);
    json_decref(problems);

    /* A resent submission creates nothing (intake_batch read which are
     * stored; earlier copies in this batch were added as accepted). */
    known_key(known, sizeof known, source, external_id);
    if (json_object_get(in->known, known)) {
        mc_service_count(svc, in->m_duplicates, 1);
        return 0;
    }

    agency_unit = mc_catalog_receiving_unit(in->catalog, rp, mc_json_str(sub, "ward_code"),
                                            mc_json_str(procedure, "level"));
    if (agency_unit == NULL)
        return mc_err(err, errlen, MC_EINVAL, "no receiving agency: set default_reception");
    mc_civil_from_days(vn_day, &y, &m, &d);
    snprintf(day, sizeof day, "%04d-%02d-%02d", y, m, d);
    keys[0] = mc_json_str(agency_unit, "agency_id");
    keys[1] = day;
    number = mc_numbers_take(in->numbers, keys, err, errlen);
    if (number < 0)
        return number;
    snprintf(code, sizeof code, "%s-%02d%02d%02d-%04d", mc_json_str(agency_unit, "agency_id"),
             y % 100, m, d, number);

    amount = json_integer_value(json_object_get(procedure, "time_amount"));
    if (strcmp(channel, "online") == 0 &&
        json_is_integer(json_object_get(procedure, "online_time_amount")))
        amount = json_integer_value(json_object_get(procedure, "online_time_amount"));
    snprintf(dur_text, sizeof dur_text, "%lld%s", (long long)amount,
             mc_json_str(procedure, "time_unit"));
    if (mc_duration_parse(dur_text, &dur, err, errlen) != 0)
        return mc_err(err, errlen, MC_EINVAL, "procedure %s has a bad statutory time %s",
                      mc_json_str(procedure, "code"), dur_text);
    /* The receiving desk's working calendar starts the clock. */
    cal = mc_catalog_calendar_for(in->catalog, mc_json_str(agency_unit, "code"));
    receipt_at = mc_calendar_receipt_at(cal, received_at);
    due_at = mc_calendar_due_at(cal, received_at, &dur);

    row = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:O}", "code", code,
        "source", source, "external_id", external_id, "channel", channel, "procedure_code",
        mc_json_str(sub, "procedure_code"), "ward_code", mc_json_str(sub, "ward_code"),
        "reception_point", mc_json_str_or_null(rp), "receiving_agency",
        mc_json_str(agency_unit, "agency_id"), "submitted_at", mc_time_format(submitted_at, ts[0]),
        "received_at", mc_time_format(received_at, ts[1]), "receipt_at",
        mc_time_format(receipt_at, ts[2]), "due_at", mc_time_format(due_at, ts[3]),
        "statutory_time", dur_text, "rule_set", mc_json_str(rule_set, "code"), "submission", sub);
    if (row == NULL)
        return mc_err(err, errlen, MC_EDB, "cannot build the dossier row of %s", code);
    /* The look-up above may race with a copy read by another instance
     * during a rebalance: the unique key settles it, and the loser creates
     * nothing (its number is a tolerated gap). */
    if ((rc = mc_service_write_rows(svc, conn, INSERT_DOSSIERS, row, err, errlen)) < 0)
        return rc;
    if (rc == 0) {
        mc_service_count(svc, in->m_duplicates, 1);
        return 0;
    }
    json_object_set_new(in->known, known, json_true());

    data = json_pack(
        "{s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s}, s:s, s:o, s:s, s:o, s:o, s:o, s:o, "
        "s:s, s:s, s:s, s:s, s:{s:s, s:s}}",
        "source", source, "external_id", external_id, "channel", channel, "procedure", "code",
        mc_json_str(procedure, "code"), "name", mc_json_str(procedure, "name"), "field",
        mc_json_str(procedure, "field"), "level", mc_json_str(procedure, "level"), "time", dur_text,
        "ward_code", mc_json_str(sub, "ward_code"), "reception_point", mc_json_str_or_null(rp),
        "receiving_agency", mc_json_str(agency_unit, "agency_id"), "applicant", applicant_copy(sub),
        "summary", mc_json_str_or_null(mc_json_str(sub, "summary")), "documents",
        json_object_get(sub, "documents") ? json_deep_copy(json_object_get(sub, "documents"))
                                          : json_array(),
        "notify_channels",
        json_object_get(sub, "notify_channels")
            ? json_deep_copy(json_object_get(sub, "notify_channels"))
            : json_array(),
        "submitted_at", ts[0], "received_at", ts[1], "receipt_at", ts[2], "due_at", ts[3],
        "rule_set", "code", mc_json_str(rule_set, "code"), "supplement_policy",
        mc_json_str(rule_set, "supplement_policy"));
    if (data == NULL)
        return mc_err(err, errlen, MC_EDB, "cannot build dossier.received");
    snprintf(seed, sizeof seed, "intake/received/%s/%s", source, external_id);
    mc_service_count(svc, in->m_received, 1);
    return mc_service_emit(svc, conn, "dossier.received", code, "dossier.received", code,
                           received_at, data, seed, err, errlen);
}

/* Retention: the answers given (rejections) are kept as long as finished
 * dossiers' history; a redelivery that old is answered again, harmlessly. */
static int intake_prune(struct mc_service *svc, PGconn *conn, long long *pruned, char *err,
                        size_t errlen, void *state)
{
    char days[16];
    const char *params[2] = {NULL, days};
    (void)state;
    snprintf(days, sizeof days, "%d", mc_service_config(svc)->retain_finished_days);
    return mc_service_delete_chunks(conn,
                                    "DELETE FROM intake.rejection WHERE id IN (SELECT id FROM "
                                    "intake.rejection WHERE rejected_at < now() - "
                                    "make_interval(days => $2::int) LIMIT $1::int)",
                                    2, params, pruned, err, errlen);
}

static const char *const intake_topics[] = {"submissions", NULL};

const struct mc_service_def mc_intake_def = {
    .name = "intake",
    .schema = "intake",
    .topics = intake_topics,
    .use_inbox = 0, /* submissions carry no event_id: (source, external_id) is the key */
    .init_cb = intake_init,
    .fini_cb = intake_fini,
    .handle_cb = intake_handle,
    .batch_cb = intake_batch,
    .rollback_cb = intake_rollback,
    .deadletter_cb = intake_deadletter,
    .prune_cb = intake_prune,
};
