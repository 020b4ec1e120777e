/* intake: validates submissions, assigns dossier codes, computes the official
 * due date, stores the dossier and publishes dossier.received (or a rejection). */
#include "intake.h"
#include "rules.h"

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

static int intake_handle(struct mc_service *svc, PGconn *conn, const struct mc_msg *msg, char *err,
                         size_t errlen, void *state)
{
    struct intake *in = state;
    const json_t *sub = msg->doc, *agency_unit;
    struct mc_intake_verdict v;
    struct mc_intake_times t;
    json_t *data, *row;
    const char *source, *external_id, *channel, *rp;
    char code[96], day[16], seed[256], ts[4][MC_RFC3339_LEN], known[200];
    const char *keys[2];
    int number, y, m, d, rc;

    if ((rc = mc_catalog_maybe_reload(&in->catalog, conn, CATALOG_MAX_AGE_S, err, errlen)) != 0)
        return rc;
    mc_intake_judge(in->schema, in->catalog, sub, &v);
    if (v.problems)
        return reject(svc, conn, in, msg, v.problems, err, errlen);
    source = mc_json_str(sub, "source");
    external_id = mc_json_str(sub, "external_id");
    channel = mc_json_str(sub, "channel");
    rp = mc_json_str(sub, "reception_point");

    /* A resent submission creates nothing (intake_batch read which are
     * stored; earlier copies in this batch were added as accepted). */
    known_key(known, sizeof known, source, external_id);
    if (json_object_get(in->known, known)) {
        mc_service_count(svc, in->m_duplicates, 1);
        return 0;
    }

    if ((rc = mc_intake_times(in->catalog, sub, &v, &t, err, errlen)) != 0)
        return rc;
    agency_unit = t.agency_unit;
    mc_civil_from_days(v.vn_day, &y, &m, &d);
    snprintf(day, sizeof day, "%04d-%02d-%02d", y, m, d);
    keys[0] = mc_json_str(agency_unit, "agency_id");
    keys[1] = day;
    number = mc_numbers_take(in->numbers, keys, err, errlen);
    if (number < 0)
        return number;
    snprintf(code, sizeof code, "%s-%02d%02d%02d-%04d", mc_json_str(agency_unit, "agency_id"),
             y % 100, m, d, number);

    row = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:O}",
                    "code", code, "source", source, "external_id", external_id, "channel", channel,
                    "procedure_code", mc_json_str(sub, "procedure_code"), "ward_code",
                    mc_json_str(sub, "ward_code"), "reception_point", mc_json_str_or_null(rp),
                    "receiving_agency", mc_json_str(agency_unit, "agency_id"), "submitted_at",
                    mc_time_format(v.submitted_at, ts[0]), "received_at",
                    mc_time_format(v.received_at, ts[1]), "receipt_at",
                    mc_time_format(t.receipt_at, ts[2]), "due_at", mc_time_format(t.due_at, ts[3]),
                    "statutory_time", t.statutory, "rule_set", mc_json_str(v.rule_set, "code"),
                    "submission", sub);
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
        mc_json_str(v.procedure, "code"), "name", mc_json_str(v.procedure, "name"), "field",
        mc_json_str(v.procedure, "field"), "level", mc_json_str(v.procedure, "level"), "time",
        t.statutory, "ward_code", mc_json_str(sub, "ward_code"), "reception_point",
        mc_json_str_or_null(rp), "receiving_agency", mc_json_str(agency_unit, "agency_id"),
        "applicant", applicant_copy(sub), "summary",
        mc_json_str_or_null(mc_json_str(sub, "summary")), "documents",
        json_object_get(sub, "documents") ? json_deep_copy(json_object_get(sub, "documents"))
                                          : json_array(),
        "notify_channels",
        json_object_get(sub, "notify_channels")
            ? json_deep_copy(json_object_get(sub, "notify_channels"))
            : json_array(),
        "submitted_at", ts[0], "received_at", ts[1], "receipt_at", ts[2], "due_at", ts[3],
        "rule_set", "code", mc_json_str(v.rule_set, "code"), "supplement_policy",
        mc_json_str(v.rule_set, "supplement_policy"));
    if (data == NULL)
        return mc_err(err, errlen, MC_EDB, "cannot build dossier.received");
    snprintf(seed, sizeof seed, "intake/received/%s/%s", source, external_id);
    mc_service_count(svc, in->m_received, 1);
    return mc_service_emit(svc, conn, "dossier.received", code, "dossier.received", code,
                           v.received_at, data, seed, err, errlen);
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
