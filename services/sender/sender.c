/* sender: the reference notification sender. Reads each attempt of a
 * notification from the notifications topic, keeps it as a job (keyed by
 * notification_id and attempt: a redelivered attempt is not delivered
 * twice) and answers "sending" on notification.receipts; then delivers
 * the job through its channel's driver (channels.c) outside the batch and
 * answers with the outcome: delivered, or a failure that notify retries or
 * falls back from.
 *
 * A job is claimed with FOR UPDATE SKIP LOCKED and its outcome committed
 * with its receipt in one transaction, so instances share the jobs and a
 * crash before the commit delivers the job again: at least once, with the
 * same Message-ID or Idempotency-Key, by which a mail server or gateway
 * may recognise it. */
#include "sender.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "motcua/error.h"
#include "motcua/jsonutil.h"
#include "motcua/log.h"
#include "motcua/metrics.h"
#include "motcua/pg.h"
#include "motcua/schema.h"
#include "letters.h"

/* The longest a work round delivers before it lets the loop serve
 * consumption and HTTP again, and how often it looks for jobs otherwise. */
#define ROUND_BUDGET_MS 1000
#define IDLE_POLL_MS 1000

struct sender {
    struct mc_schema *letter_schema, *notice_schema; /* citizens' letters, units' notices */
    struct mc_signer *signer;                        /* NULL: letters go unsigned */
    CURL *smtp;                                      /* e-mail: its connection is kept */
    struct mc_metric *m_jobs, *m_delivered, *m_failed;
};

/* Set-based (mc_service_write_rows): the batch's new jobs. */
static const char INSERT_JOBS[] =
    "INSERT INTO sender.job (notification_id, attempt, channel, dossier_code, message) SELECT "
    "notification_id, attempt, channel, dossier_code, message FROM jsonb_to_recordset($1::jsonb) "
    "AS x(notification_id uuid, attempt int, channel text, dossier_code text, message jsonb) "
    "ON CONFLICT DO NOTHING";

/* The oldest pending job, claimed for this instance until its outcome. */
#define JOB_REST(X)                                                                                \
    X(JB_ATTEMPT, "attempt", "attempt")                                                            \
    X(JB_CODE, "dossier_code", "dossier_code")                                                     \
    X(JB_MESSAGE, "message", "message::text")
enum { JB_ID, JOB_REST(MC_PG_COL_ENUM) JB_COUNT };
static const char CLAIM_JOB[] = "SELECT notification_id::text" JOB_REST(
    MC_PG_COL_SQL) " FROM sender.job "
                   "WHERE state = 'pending' ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED";

static const char FINISH_JOB[] =
    "UPDATE sender.job SET state = 'done', outcome = $3, detail = $4, done_at = now() "
    "WHERE notification_id = $1::uuid AND attempt = $2::int";

static void *sender_init(struct mc_service *svc, PGconn *conn, char *err, size_t errlen)
{
    const struct mc_config *cfg = mc_service_config(svc);
    struct sender *s;
    (void)conn;
    if ((*cfg->sender_sms_url || *cfg->sender_zalo_url) && *cfg->sender_webhook_secret == '\0') {
        mc_err(err, errlen, MC_EINVAL,
               "MOTCUA_SENDER_WEBHOOK_SECRET is empty: webhooks (MOTCUA_SENDER_SMS_URL, "
               "MOTCUA_SENDER_ZALO_URL) are signed with it");
        return NULL;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        mc_err(err, errlen, MC_EINVAL, "cannot initialise libcurl");
        return NULL;
    }
    if (!*cfg->sender_signing_cert != !*cfg->sender_signing_key) {
        mc_err(err, errlen, MC_EINVAL,
               "MOTCUA_SENDER_SIGNING_CERT and MOTCUA_SENDER_SIGNING_KEY go together");
        return NULL;
    }
    s = mc_xcalloc(1, sizeof *s);
    if (*cfg->sender_signing_cert &&
        (s->signer = mc_signer_pem(cfg->sender_signing_cert, cfg->sender_signing_key, err,
                                   errlen)) == NULL) {
        free(s);
        return NULL;
    }
    if ((s->letter_schema = mc_schema_load_named("notification.v2", err, errlen)) == NULL ||
        (s->notice_schema = mc_schema_load_named("unit-notice.v1", err, errlen)) == NULL) {
        mc_schema_free(s->letter_schema);
        mc_signer_free(s->signer);
        free(s);
        return NULL;
    }
    if ((s->smtp = curl_easy_init()) == NULL) {
        mc_schema_free(s->letter_schema);
        mc_schema_free(s->notice_schema);
        mc_signer_free(s->signer);
        free(s);
        curl_global_cleanup();
        mc_err(err, errlen, MC_EINVAL, "cannot initialise libcurl");
        return NULL;
    }
    if (s->signer)
        mc_log_kv(MC_LOG_INFO, "letters are signed", "signer", s->signer->name, NULL);
    else
        mc_log_kv(MC_LOG_WARN, "letters go unsigned: MOTCUA_SENDER_SIGNING_CERT is not set", NULL);
    s->m_jobs = mc_metrics_counter("sender", "jobs_total", "attempts of notifications taken");
    s->m_delivered = mc_metrics_counter("sender", "delivered_total", "attempts delivered");
    s->m_failed = mc_metrics_counter("sender", "failed_total",
                                     "attempts that failed (temporary, permanent, technical)");
    return s;
}

static void sender_fini(void *state)
{
    struct sender *s = state;
    mc_schema_free(s->letter_schema);
    mc_schema_free(s->notice_schema);
    mc_signer_free(s->signer);
    curl_easy_cleanup(s->smtp); /* says QUIT */
    free(s);
    curl_global_cleanup();
}

/* A receipt about one attempt, in the transaction; its event id is stable
 * per attempt and status. */
static int receipt(struct mc_service *svc, PGconn *conn, const char *id, const char *code,
                   const json_t *data, const char *status, const char *detail, char *err,
                   size_t errlen)
{
    char seed[160];
    json_t *out;
    json_int_t attempt = json_integer_value(json_object_get(data, "attempt"));
    snprintf(seed, sizeof seed, "sender/%s/%lld/%s", id, (long long)attempt, status);
    out = json_pack("{s:s, s:s, s:s, s:I, s:s}", "notification_id", id, "delivery_channel",
                    mc_json_str(data, "delivery_channel"), "status", status, "attempt", attempt,
                    "detail", detail);
    if (out == NULL)
        return mc_err(err, errlen, MC_EINVAL, "cannot build the receipt of %s", id);
    return mc_service_emit(svc, conn, "notification.receipts", code ? code : id,
                           "notification.receipt", code, time(NULL), out, seed, err, errlen);
}

/* Each attempt becomes a job (once), answered "sending". */
static int sender_handle(struct mc_service *svc, PGconn *conn, const struct mc_msg *msg, char *err,
                         size_t errlen, void *state)
{
    struct sender *s = state;
    const json_t *data = json_object_get(msg->doc, "data");
    const char *code = mc_json_str(msg->doc, "dossier_code");
    const char *type = mc_json_str(msg->doc, "type");
    json_t *row;
    int rc;

    /* A letter to a citizen, or a notice to a unit (delivered alike; a
     * notice has no personalisation, so no PDF). */
    if (type && strcmp(type, "notification.notice") == 0)
        rc = mc_schema_check(s->notice_schema, msg->doc, "notice", err, errlen);
    else
        rc = mc_schema_check(s->letter_schema, msg->doc, "notification", err, errlen);
    if (rc != 0)
        return rc;
    if (!json_is_integer(json_object_get(data, "attempt")))
        return mc_err(err, errlen, MC_EINVAL,
                      "notification %s has no attempt: a v1 letter (motcua before 1.1.0)",
                      mc_json_str(data, "notification_id"));
    row = json_pack("{s:s, s:O, s:s, s:s?, s:O}", "notification_id",
                    mc_json_str(data, "notification_id"), "attempt",
                    json_object_get(data, "attempt"), "channel",
                    mc_json_str(data, "delivery_channel"), "dossier_code", code, "message", data);
    if (row == NULL)
        return mc_err(err, errlen, MC_EINVAL, "cannot build the job of %s", code);
    if ((rc = mc_service_write_rows(svc, conn, INSERT_JOBS, row, err, errlen)) <= 0)
        return rc; /* an error, or this attempt is a job already */
    mc_service_count(svc, s->m_jobs, 1);
    return receipt(svc, conn, mc_json_str(data, "notification_id"), code, data, "sending",
                   "taken by motcua-sender", err, errlen);
}

/* The letter of a notification as a PDF, signed when a signer is
 * configured; 0, or -1 with the reason in out (a technical failure). */
static int make_doc(struct sender *s, const char *code, const json_t *data, struct sender_doc *doc,
                    struct sender_outcome *out)
{
    const char *reference = mc_json_str(data, "reference");
    char err[512];
    snprintf(doc->name, sizeof doc->name, "%s-%lld.pdf", reference ? reference : code,
             (long long)json_integer_value(json_object_get(data, "attempt")));
    for (char *p = doc->name; *p; p++)
        if (*p == '/')
            *p = '_';
    if (mc_letter_pdf(json_object_get(data, "personalisation"), &doc->pdf, &doc->pdf_len, err,
                      sizeof err) != 0 ||
        (s->signer && mc_signer_sign(s->signer, doc->pdf, doc->pdf_len, &doc->sig, &doc->sig_len,
                                     err, sizeof err) != 0)) {
        out->status = "technical-failure";
        snprintf(out->detail, sizeof out->detail, "the letter as a PDF: %.400s", err);
        return -1;
    }
    return 0;
}

/* Delivers one job through its channel's driver; the e-mail, the post and
 * the counter carry the letter as a (signed) PDF. */
static void deliver(struct sender *s, const struct mc_config *cfg, const char *code,
                    const json_t *data, struct sender_outcome *out)
{
    const char *channel = mc_json_str(data, "delivery_channel");
    struct sender_doc doc = {.pdf = NULL, .sig = NULL};
    int has_doc = json_is_object(json_object_get(data, "personalisation")) &&
                  strcmp(channel, "sms") != 0 && strcmp(channel, "zalo") != 0;
    if (has_doc && make_doc(s, code, data, &doc, out) != 0)
        goto out;
    if (strcmp(channel, "email") == 0)
        sender_email(cfg, s->smtp, data, has_doc ? &doc : NULL, out);
    else if (strcmp(channel, "sms") == 0)
        sender_webhook(cfg, cfg->sender_sms_url, code, data, out);
    else if (strcmp(channel, "zalo") == 0)
        sender_webhook(cfg, cfg->sender_zalo_url, code, data, out);
    else
        sender_print(cfg, code, data, has_doc ? &doc : NULL, out);
out:
    free(doc.pdf);
    free(doc.sig);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One job: claimed, delivered, its outcome and receipt committed. *found
 * is 0 when no job waits. */
static int work_one(struct mc_service *svc, PGconn *conn, struct sender *s, int *found, char *err,
                    size_t errlen)
{
    struct sender_outcome out = {.status = NULL};
    PGresult *res;
    json_t *data = NULL;
    const char *id, *code;
    int rc;

    *found = 0;
    if ((rc = mc_pg_exec(conn, "BEGIN", 0, NULL, err, errlen)) != 0)
        return rc;
    if ((res = mc_pg_query(conn, CLAIM_JOB, 0, NULL, err, errlen)) == NULL) {
        rc = MC_EDB;
        goto rollback;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        return mc_pg_exec(conn, "COMMIT", 0, NULL, err, errlen);
    }
    *found = 1;
    id = PQgetvalue(res, 0, JB_ID);
    code = mc_pg_value(res, 0, JB_CODE);
    if ((data = json_loads(PQgetvalue(res, 0, JB_MESSAGE), 0, NULL)) == NULL) {
        rc = mc_err(err, errlen, MC_EDB, "job %s holds no JSON", id);
        PQclear(res);
        goto rollback;
    }
    deliver(s, mc_service_config(svc), code, data, &out);
    mc_log_kv(strcmp(out.status, "delivered") == 0 ? MC_LOG_INFO : MC_LOG_WARN, "delivery",
              "reference", mc_json_str(data, "reference"), "channel",
              mc_json_str(data, "delivery_channel"), "status", out.status, NULL);
    mc_service_count(svc, strcmp(out.status, "delivered") == 0 ? s->m_delivered : s->m_failed, 1);
    {
        const char *p[4] = {id, PQgetvalue(res, 0, JB_ATTEMPT), out.status, out.detail};
        rc = mc_pg_exec(conn, FINISH_JOB, 4, p, err, errlen);
    }
    if (rc == 0)
        rc = receipt(svc, conn, id, code, data, out.status, out.detail, err, errlen);
    PQclear(res);
    json_decref(data);
    if (rc != 0)
        goto rollback;
    return mc_pg_exec(conn, "COMMIT", 0, NULL, err, errlen);
rollback : {
    char e2[128];
    mc_pg_exec(conn, "ROLLBACK", 0, NULL, e2, sizeof e2);
    return rc;
}
}

/* Delivers waiting jobs for at most ROUND_BUDGET_MS, then lets the loop
 * serve the rest; comes back at once while jobs wait. */
static int sender_work(struct mc_service *svc, PGconn *conn, int64_t *next_ms, void *state)
{
    struct sender *s = state;
    int64_t start = now_ms();
    char err[1024];
    int found = 1, rc = 0;

    while (found && now_ms() - start < ROUND_BUDGET_MS)
        if ((rc = work_one(svc, conn, s, &found, err, sizeof err)) != 0)
            break;
    if (rc != 0) {
        mc_log_kv(MC_LOG_ERROR, "delivery round failed", "error", err, NULL);
        return rc;
    }
    *next_ms = found ? 0 : IDLE_POLL_MS;
    return 0;
}

static const char *const sender_topics[] = {"notifications", NULL};

const struct mc_service_def mc_sender_def = {
    .name = "sender",
    .schema = "sender",
    .topics = sender_topics,
    .use_inbox = 1,
    .init_cb = sender_init,
    .fini_cb = sender_fini,
    .handle_cb = sender_handle,
    .work_cb = sender_work,
    .optional = 1,
};
