/* notify: turns each overdue event into exactly one apology letter (Mẫu 04,
 * "Phiếu xin lỗi và hẹn lại ngày trả kết quả"), stores it and publishes it
 * for the senders (notification.v2); drives its lifecycle from the senders'
 * receipts: created, sending, delivered, or a failure. A temporary or
 * technical failure is retried on the same channel after the retry
 * schedule (MOTCUA_NOTIFY_RETRY_SCHEDULE); a permanent failure, or retries
 * used up, moves the letter to the next of its channels, the counter last.
 * Each delivery is an attempt of the same notification_id. */
#include "notify.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unicase.h>

#include "motcua/calendar.h"
#include "motcua/catalog.h"
#include "motcua/error.h"
#include "motcua/jsonutil.h"
#include "motcua/log.h"
#include "motcua/metrics.h"
#include "motcua/numbers.h"
#include "motcua/pg.h"
#include "motcua/schema.h"

#define CATALOG_MAX_AGE_S 60
/* The heading of a letter's and a notice's text: the issuing authority
 * (%s), then the national motto (Decree 30/2020). */
#define LETTERHEAD "%s\nCỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\nĐộc lập - Tự do - Hạnh phúc\n\n"
/* The apology letter's template (the text render() writes) version. */
#define APOLOGY_VERSION 1
/* Retries claimed per transaction, and the longest sleep between looks
 * for due retries (another instance may have scheduled one). */
#define RETRY_CLAIM 100
#define RETRY_POLL_MS 5000
/* The longest sleep between looks for explanation deadlines passed. */
#define ESCALATE_POLL_MS 30000

struct notify {
    struct mc_schema *deadline_schema, *receipt_schema, *update_schema;
    struct mc_catalog *catalog;
    long long cal_revision; /* catalog.calendar_revision when the catalog was read */
    struct mc_metric *m_letters, *m_receipts, *m_retries, *m_fallbacks;
    struct mc_metric *m_notices, *m_explanations, *m_escalations;
    /* Document numbers: blocks of notify.letter_number (motcua/numbers.h). */
    struct mc_numbers *numbers;
    /* Read by notify_batch for the batch being applied. */
    json_t *b_sent;            /* "code\x1fbreach" of letters written already */
    json_t *b_ids;             /* letter seed -> notification id (md5 of the seed) */
    struct tracked *b_tracked; /* the notifications of the batch's receipts, by id */
    int b_ntracked;
    /* When (monotonic ms) the retry work next looks for due retries: it
     * runs after every batch, but queries only when one may be due (one
     * this instance scheduled, or the poll for other instances'). */
    int64_t retry_look_ms;
    /* The earliest explanation deadline known (clock time), and when (monotonic
     * ms) to look anyway. */
    mc_instant escalate_at;
    int64_t escalate_look_ms;
};

static int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reserves $3 document numbers of series $1 (the signer's: UBND, or the
 * unit whose head signs) and year $2; returns the last. */
static const char RESERVE_NUMBERS[] =
    "INSERT INTO notify.letter_number AS l (series, year, last) VALUES ($1, $2::int, $3::int) "
    "ON CONFLICT (series, year) DO UPDATE SET last = l.last + $3::int RETURNING last";

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
    "delivery_channel, document_number, subject, body, issued_at, new_appointment_at, channels, "
    "message) SELECT notification_id, dossier_code, 'apology', breach, unit_code, "
    "delivery_channel, document_number, subject, body, issued_at, new_appointment_at, channels, "
    "message FROM jsonb_to_recordset($1::jsonb) AS x(notification_id uuid, dossier_code text, "
    "breach int, unit_code text, delivery_channel text, document_number text, subject text, "
    "body text, issued_at timestamptz, new_appointment_at timestamptz, channels text[], "
    "message jsonb) ON CONFLICT DO NOTHING";

/* Set-based (mc_service_write_rows): the attempts started. */
static const char INSERT_ATTEMPTS[] =
    "INSERT INTO notify.attempt (notification_id, attempt, channel, reason, started_at) SELECT "
    "notification_id, attempt, channel, reason, started_at FROM jsonb_to_recordset($1::jsonb) "
    "AS x(notification_id uuid, attempt int, channel text, reason text, started_at timestamptz) "
    "ON CONFLICT DO NOTHING";

/* The lifecycle's statements on one table: notify.letter (the citizens'
 * letters) or notify.notice (the units' notices), which have the same
 * lifecycle columns.
 *   store: what receipts changed (set-based, mc_service_write_rows): the
 *     status, attempt, channel and retries, and when the next retry is due
 *     (delay seconds from now; null: none);
 *   update_attempt: a new attempt on channel $3 (the same for a retry, the
 *     next for a fallback); retries restart on a new channel;
 *   select_due: retries that are due, claimed for this instance. */
struct lifecycle {
    const char *store, *update_attempt, *select_due;
};

#define LC_STORE(T)                                                                                \
    "UPDATE notify." T " t SET status = x.status, attempt = x.attempt, retries = x.retries, "      \
    "delivery_channel = x.delivery_channel, next_attempt_at = now() + make_interval(secs => "      \
    "x.delay) FROM jsonb_to_recordset($1::jsonb) AS x(notification_id uuid, status text, "         \
    "attempt int, retries int, delivery_channel text, delay int) WHERE t.notification_id = "       \
    "x.notification_id"
#define LC_UPDATE_ATTEMPT(T)                                                                       \
    "UPDATE notify." T " SET attempt = attempt + 1, delivery_channel = $3, status = 'created', "   \
    "next_attempt_at = NULL, retries = CASE WHEN delivery_channel = $3 THEN retries ELSE 0 END "   \
    "WHERE notification_id = $1 AND attempt = $2::int"
#define DUE_RETRY_REST(X)                                                                          \
    X(DR_CODE, "dossier_code", "dossier_code")                                                     \
    X(DR_ATTEMPT, "attempt", "attempt")                                                            \
    X(DR_CHANNEL, "delivery_channel", "delivery_channel")                                          \
    X(DR_MESSAGE, "message", "message::text")
enum { DR_ID, DUE_RETRY_REST(MC_PG_COL_ENUM) DR_COUNT };
#define LC_SELECT_DUE(T)                                                                           \
    "SELECT notification_id" DUE_RETRY_REST(                                                       \
        MC_PG_COL_SQL) " FROM notify." T " WHERE "                                                 \
                       "next_attempt_at <= now() ORDER BY next_attempt_at LIMIT $1::int FOR "      \
                       "UPDATE SKIP LOCKED"
#define LIFECYCLE(T)                                                                               \
    {                                                                                              \
        LC_STORE(T), LC_UPDATE_ATTEMPT(T), LC_SELECT_DUE(T)                                        \
    }

static const struct lifecycle letters = LIFECYCLE("letter"), notices = LIFECYCLE("notice");

/* The notifications receipts are about ($1, a uuid[] literal), locked for
 * their transitions, in one round trip: letters to citizens and notices to
 * units (TR_TABLE says which table). */
#define TRACKED_REST(X)                                                                            \
    X(TR_CODE, "dossier_code", "dossier_code")                                                     \
    X(TR_STATUS, "status", "status")                                                               \
    X(TR_ATTEMPT, "attempt", "attempt")                                                            \
    X(TR_RETRIES, "retries", "retries")                                                            \
    X(TR_CHANNEL, "delivery_channel", "delivery_channel")                                          \
    X(TR_CHANNELS, "channels", "array_to_json(channels)::text")                                    \
    X(TR_MESSAGE, "message", "message::text")
enum { TR_ID, TRACKED_REST(MC_PG_COL_ENUM) TR_TABLE };
#define TRACKED_COLUMNS "notification_id::text AS notification_id" TRACKED_REST(MC_PG_COL_SQL)
static const char SELECT_TRACKED[] =
    "WITH l AS (SELECT " TRACKED_COLUMNS " FROM notify.letter WHERE notification_id = "
    "ANY($1::uuid[]) ORDER BY notification_id FOR UPDATE), n AS (SELECT " TRACKED_COLUMNS
    " FROM notify.notice WHERE notification_id = ANY($1::uuid[]) ORDER BY notification_id FOR "
    "UPDATE) SELECT *, 'letter' AS tbl FROM l UNION ALL SELECT *, 'notice' FROM n";

/* Set-based (mc_service_write_rows): every receipt, with the attempt and
 * channel it reports on. */
static const char INSERT_DELIVERIES[] =
    "INSERT INTO notify.delivery (event_id, notification_id, status, detail, reported_at, "
    "attempt, channel) SELECT event_id, notification_id, status, detail, reported_at, attempt, "
    "channel FROM jsonb_to_recordset($1::jsonb) AS x(event_id uuid, notification_id uuid, "
    "status text, detail text, reported_at timestamptz, attempt int, channel text) ON CONFLICT "
    "DO NOTHING";

/* Milliseconds until the earliest retry of a letter or a notice (NULL:
 * none waits). */
static const char SELECT_NEXT_DUE[] =
    "SELECT greatest(0, extract(epoch FROM least((SELECT min(next_attempt_at) FROM "
    "notify.letter), (SELECT min(next_attempt_at) FROM notify.notice)) - now()) * 1000)::bigint";

/* Set-based (mc_service_write_rows): the batch's notices to units. */
static const char INSERT_NOTICES[] =
    "INSERT INTO notify.notice (notification_id, dossier_code, kind, breach, rung, unit_code, "
    "recipient_unit, subject, body, issued_at, delivery_channel, channels, message) SELECT "
    "notification_id, dossier_code, kind, breach, rung, unit_code, recipient_unit, subject, body, "
    "issued_at, delivery_channel, channels, message FROM jsonb_to_recordset($1::jsonb) AS "
    "x(notification_id uuid, dossier_code text, kind text, breach int, rung text, unit_code text, "
    "recipient_unit text, subject text, body text, issued_at timestamptz, delivery_channel text, "
    "channels text[], message jsonb) ON CONFLICT DO NOTHING";

/* Set-based: the requests for an explanation, one per breach. */
static const char INSERT_EXPLANATIONS[] =
    "INSERT INTO notify.explanation (dossier_code, breach, unit_code, requested_at, due_at, "
    "request_id) SELECT dossier_code, breach, unit_code, requested_at, due_at, request_id FROM "
    "jsonb_to_recordset($1::jsonb) AS x(dossier_code text, breach int, unit_code text, "
    "requested_at timestamptz, due_at timestamptz, request_id uuid) ON CONFLICT DO NOTHING";

/* Set-based: the explanations the units recorded. */
static const char INSERT_GIVEN[] =
    "INSERT INTO notify.explanation_given (event_id, dossier_code, unit_code, officer, text, "
    "occurred_at) SELECT event_id, dossier_code, unit_code, officer, text, occurred_at FROM "
    "jsonb_to_recordset($1::jsonb) AS x(event_id uuid, dossier_code text, unit_code text, "
    "officer text, text text, occurred_at timestamptz) ON CONFLICT DO NOTHING";

/* Requests whose deadline passed ($1, the clock's now) and not settled yet,
 * claimed for this instance; whether the unit asked gave an explanation in
 * time (from the request to its deadline); the escalation's notification
 * id and what its text needs. */
#define DUE_EXPLANATION_REST(X)                                                                    \
    X(DX_BREACH, "breach", "e.breach")                                                             \
    X(DX_UNIT, "unit_code", "e.unit_code")                                                         \
    X(DX_REQUESTED, "requested_at", "motcua_rfc3339(e.requested_at)")                              \
    X(DX_DEADLINE, "explanation_due", "motcua_rfc3339(e.due_at)")                                  \
    X(DX_ID, "escalation_id",                                                                      \
      "md5('notify/notice/' || e.dossier_code || '/escalation/' || e.breach)::uuid::text")         \
    X(DX_DOSSIER_DUE, "dossier_due", "r.message->>'due_at'")                                       \
    X(DX_NUMBER, "letter_number", "coalesce(l.document_number, '')")                               \
    X(DX_EXPLAINED, "explained",                                                                   \
      "EXISTS (SELECT 1 FROM notify.explanation_given g WHERE g.dossier_code = e.dossier_code "    \
      "AND g.unit_code = e.unit_code AND g.occurred_at >= e.requested_at AND g.occurred_at <= "    \
      "e.due_at)")
enum { DX_CODE, DUE_EXPLANATION_REST(MC_PG_COL_ENUM) DX_COUNT };
static const char SELECT_DUE_EXPLANATIONS[] = "SELECT e.dossier_code" DUE_EXPLANATION_REST(
    MC_PG_COL_SQL) " FROM notify.explanation e JOIN notify.notice r ON r.notification_id = "
                   "e.request_id LEFT JOIN notify.letter l ON l.dossier_code = e.dossier_code AND "
                   "l.breach = "
                   "e.breach WHERE e.outcome IS NULL AND e.due_at <= $1::timestamptz ORDER BY "
                   "e.due_at "
                   "LIMIT $2::int FOR UPDATE OF e SKIP LOCKED";

/* $1 code, $2 breach, $3 outcome, $4 when (clock), $5 the escalation's id. */
static const char SETTLE_EXPLANATION[] =
    "UPDATE notify.explanation SET outcome = $3, settled_at = $4::timestamptz, escalation_id = "
    "$5::uuid WHERE dossier_code = $1 AND breach = $2::int";

/* The earliest deadline of a request not settled yet (clock time, Unix
 * seconds; NULL: none). */
static const char SELECT_NEXT_ESCALATION[] =
    "SELECT extract(epoch FROM min(due_at))::bigint FROM notify.explanation WHERE outcome IS NULL";

/* The catalog's calendar revision; -1 on error. */
static long long calendar_revision(PGconn *conn, char *err, size_t errlen)
{
    PGresult *res =
        mc_pg_query(conn, "SELECT revision FROM catalog.calendar_revision", 0, NULL, err, errlen);
    long long revision = res && PQntuples(res) ? atoll(PQgetvalue(res, 0, 0)) : -1;
    PQclear(res);
    return revision;
}

static void *notify_init(struct mc_service *svc, PGconn *conn, char *err, size_t errlen)
{
    struct notify *n = mc_xcalloc(1, sizeof *n);
    if ((n->deadline_schema = mc_schema_load_named("dossier-deadline.v1", err, errlen)) == NULL ||
        (n->receipt_schema = mc_schema_load_named("notification-receipt.v2", err, errlen)) ==
            NULL ||
        (n->update_schema = mc_schema_load_named("dossier-update.v1", err, errlen)) == NULL ||
        (n->cal_revision = calendar_revision(conn, err, errlen)) < 0 ||
        (n->catalog = mc_catalog_load(conn, err, errlen)) == NULL) {
        mc_schema_free(n->deadline_schema);
        mc_schema_free(n->receipt_schema);
        mc_schema_free(n->update_schema);
        free(n);
        return NULL;
    }
    n->m_notices = mc_metrics_counter("notify", "unit_notices_total",
                                      "notices to units: warnings, explanation requests, "
                                      "escalations");
    n->m_explanations =
        mc_metrics_counter("notify", "explanations_total", "explanations the units recorded");
    n->m_escalations =
        mc_metrics_counter("notify", "escalations_total",
                           "explanations not given in time, escalated to the Chairman's office");
    n->m_letters = mc_metrics_counter("notify", "apology_letters_total", "apology letters issued");
    n->m_receipts = mc_metrics_counter("notify", "receipts_total", "delivery receipts recorded");
    n->m_retries = mc_metrics_counter("notify", "retries_total",
                                      "notifications sent again after a temporary failure");
    n->m_fallbacks = mc_metrics_counter("notify", "fallbacks_total",
                                        "notifications moved to their next channel");
    n->numbers = mc_numbers_new(mc_service_config(svc)->pg_url, "motcua-notify", RESERVE_NUMBERS, 2,
                                mc_metrics_counter("notify", "number_reservations_total",
                                                   "blocks of document numbers reserved"));
    n->b_sent = json_object();
    n->b_ids = json_object();
    return n;
}

struct tracked;
static void tracked_free(struct tracked *t, int n);

static void notify_fini(void *state)
{
    struct notify *n = state;
    mc_schema_free(n->deadline_schema);
    mc_schema_free(n->receipt_schema);
    mc_schema_free(n->update_schema);
    mc_catalog_free(n->catalog);
    mc_numbers_free(n->numbers);
    json_decref(n->b_sent);
    json_decref(n->b_ids);
    tracked_free(n->b_tracked, n->b_ntracked);
    free(n);
}

/* The letter seed of a breach: its notification id is md5(seed). */
static void letter_seed(char *buf, size_t len, const char *code, json_int_t breach)
{
    snprintf(buf, len, "notify/apology/%s/%lld", code, (long long)breach);
}

/* A notice's reference (free of personal data): "<code>/<kind>/<breach>",
 * and for a warning "/<deadline version>/<rung>" after it. Its seed is
 * "notify/notice/<reference>", its notification id md5(seed). */
static void notice_reference(char *buf, size_t len, const char *code, const char *kind, int breach,
                             int version, const char *rung)
{
    if (rung)
        snprintf(buf, len, "%s/%s/%d/%d/%s", code, kind, breach, version, rung);
    else
        snprintf(buf, len, "%s/%s/%d", code, kind, breach);
}

static void notice_seed(char *buf, size_t len, const char *reference)
{
    snprintf(buf, len, "notify/notice/%s", reference);
}

/* Reads, once for the batch, which of its breaches have their letter, and
 * the notification ids of the others; marks the document numbers. */
/* A notification receipts move, as read (and locked) from its table:
 * what the lifecycle needs, changed in memory and stored once. */
struct tracked {
    char id[40], code[96], status[24], channel[24];
    char *channels, *message; /* JSON text; message NULL: written before retries existed */
    const struct lifecycle *lc;
    int attempt, retries;
    int delay;   /* seconds until the next retry; -1: none */
    int changed; /* to be stored */
    int left;    /* the batch's receipts about it not handled yet */
};

static int tracked_cmp(const void *a, const void *b)
{
    return strcmp(((const struct tracked *)a)->id, ((const struct tracked *)b)->id);
}

static void tracked_free(struct tracked *t, int n)
{
    for (int i = 0; i < n; i++) {
        free(t[i].channels);
        free(t[i].message);
    }
    free(t);
}

/* 1 when s is a uuid in its canonical text form (what SELECT_TRACKED's
 * array may hold without the cast failing for the whole batch). */
static int uuid_text(const char *s)
{
    size_t i;
    for (i = 0; s && s[i]; i++)
        if ((i == 8 || i == 13 || i == 18 || i == 23) ? s[i] != '-'
                                                      : !isxdigit((unsigned char)s[i]))
            return 0;
    return s && i == 36;
}

/* Reads the notifications of ids (a uuid[] literal) into *out, sorted by
 * id; *n gets how many. */
static int load_tracked(PGconn *conn, const char *ids, struct tracked **out, int *n, char *err,
                        size_t errlen)
{
    PGresult *res = mc_pg_query(conn, SELECT_TRACKED, 1, &ids, err, errlen);
    struct tracked *t;
    if (res == NULL)
        return MC_EDB;
    *n = PQntuples(res);
    t = mc_xcalloc((size_t)(*n ? *n : 1), sizeof *t);
    for (int i = 0; i < *n; i++) {
        snprintf(t[i].id, sizeof t[i].id, "%s", PQgetvalue(res, i, TR_ID));
        snprintf(t[i].code, sizeof t[i].code, "%s", PQgetvalue(res, i, TR_CODE));
        snprintf(t[i].status, sizeof t[i].status, "%s", PQgetvalue(res, i, TR_STATUS));
        t[i].attempt = atoi(PQgetvalue(res, i, TR_ATTEMPT));
        t[i].retries = atoi(PQgetvalue(res, i, TR_RETRIES));
        snprintf(t[i].channel, sizeof t[i].channel, "%s", PQgetvalue(res, i, TR_CHANNEL));
        t[i].channels = mc_xstrdup(PQgetvalue(res, i, TR_CHANNELS));
        t[i].message =
            mc_pg_value(res, i, TR_MESSAGE) ? mc_xstrdup(mc_pg_value(res, i, TR_MESSAGE)) : NULL;
        t[i].lc = strcmp(PQgetvalue(res, i, TR_TABLE), "notice") == 0 ? &notices : &letters;
        t[i].delay = -1;
    }
    PQclear(res);
    qsort(t, (size_t)*n, sizeof *t, tracked_cmp);
    *out = t;
    return 0;
}

static struct tracked *find_tracked(struct tracked *t, int n, const char *id)
{
    struct tracked key;
    if (t == NULL || id == NULL)
        return NULL;
    snprintf(key.id, sizeof key.id, "%s", id);
    return bsearch(&key, t, (size_t)n, sizeof *t, tracked_cmp);
}

/* A new status (and the next retry delay seconds, -1: none). */
static void set_status(struct tracked *t, const char *status, int delay)
{
    snprintf(t->status, sizeof t->status, "%s", status);
    t->delay = delay;
    t->changed = 1;
}

/* Stores a tracked notification (set-based within a batch). */
static int store_tracked(struct mc_service *svc, PGconn *conn, const struct tracked *t, char *err,
                         size_t errlen)
{
    json_t *row =
        json_pack("{s:s, s:s, s:i, s:i, s:s, s:o}", "notification_id", t->id, "status", t->status,
                  "attempt", t->attempt, "retries", t->retries, "delivery_channel", t->channel,
                  "delay", t->delay < 0 ? json_null() : json_integer(t->delay));
    int rc;
    if (row == NULL)
        return mc_err(err, errlen, MC_EINVAL, "cannot build the row of %s", t->id);
    rc = mc_service_write_rows(svc, conn, t->lc->store, row, err, errlen);
    return rc < 0 ? rc : 0;
}

/* The notifications the batch's receipts are about, read and locked once
 * for the set-based batch, with how many receipts each has in it. */
static int read_receipts_of(struct mc_service *svc, PGconn *conn, struct notify *no,
                            const struct mc_msg *const *msgs, int n, char *err, size_t errlen)
{
    json_t *count = json_object();
    char *ids = NULL;
    size_t idslen = 0;
    FILE *f;
    const char *key;
    json_t *v;
    int rc = 0;

    tracked_free(no->b_tracked, no->b_ntracked);
    no->b_tracked = NULL;
    no->b_ntracked = 0;
    if (!mc_service_set_based(svc)) {
        json_decref(count);
        return 0;
    }
    for (int i = 0; i < n; i++) {
        const char *id = mc_json_str(msgs[i]->doc, "data/notification_id");
        if (strcmp(msgs[i]->topic, "notification.receipts") == 0 && uuid_text(id))
            json_object_set_new(count, id,
                                json_integer(json_integer_value(json_object_get(count, id)) + 1));
    }
    if (json_object_size(count) > 0) {
        int first = 1;
        if ((f = open_memstream(&ids, &idslen)) == NULL) {
            json_decref(count);
            return mc_err(err, errlen, MC_EDB, "out of memory");
        }
        json_object_foreach(count, key, v)
        {
            fprintf(f, "%s%s", first ? "{" : ",", key);
            first = 0;
        }
        fputc('}', f);
        fclose(f);
        rc = load_tracked(conn, ids, &no->b_tracked, &no->b_ntracked, err, errlen);
        free(ids);
        for (int i = 0; rc == 0 && i < no->b_ntracked; i++)
            no->b_tracked[i].left =
                (int)json_integer_value(json_object_get(count, no->b_tracked[i].id));
    }
    json_decref(count);
    return rc;
}

static int notify_batch(struct mc_service *svc, PGconn *conn, const struct mc_msg *const *msgs,
                        int n, char *err, size_t errlen, void *state)
{
    struct notify *no = state;
    json_t *pairs, *seeds;
    char seed[256], *text[2];
    long long revision;
    int rc = 0;

    /* A day off announced or office hours changed (the revision moved):
     * the catalog, whose calendar sets explanation deadlines, is read
     * again now rather than at its age limit. */
    if ((revision = calendar_revision(conn, err, errlen)) < 0)
        return MC_EDB;
    if (revision != no->cal_revision) {
        if ((rc = mc_catalog_maybe_reload(&no->catalog, conn, 0, err, errlen)) != 0)
            return rc;
        no->cal_revision = revision;
    }
    pairs = json_array();
    seeds = json_array();
    json_object_clear(no->b_sent);
    json_object_clear(no->b_ids);
    mc_numbers_mark(no->numbers);
    if ((rc = read_receipts_of(svc, conn, no, msgs, n, err, errlen)) != 0) {
        json_decref(pairs);
        json_decref(seeds);
        return rc;
    }
    for (int i = 0; i < n; i++) {
        const char *code = mc_json_str(msgs[i]->doc, "dossier_code");
        const char *type = mc_json_str(msgs[i]->doc, "type");
        json_t *breach = mc_json_at(msgs[i]->doc, "data/breach");
        const char *rung = mc_json_str(msgs[i]->doc, "data/rung");
        json_t *version = mc_json_at(msgs[i]->doc, "data/deadline_version");
        char reference[160];
        if (code == NULL || type == NULL || !json_is_integer(breach))
            continue;
        if (strcmp(type, "dossier.warning") == 0 && rung && json_is_integer(version)) {
            notice_reference(reference, sizeof reference, code, "warning",
                             (int)json_integer_value(breach), (int)json_integer_value(version),
                             rung);
            notice_seed(seed, sizeof seed, reference);
            json_array_append_new(seeds, json_string(seed));
        }
        if (strcmp(type, "dossier.overdue") != 0)
            continue;
        json_array_append_new(pairs,
                              json_pack("{s:s, s:O}", "dossier_code", code, "breach", breach));
        letter_seed(seed, sizeof seed, code, json_integer_value(breach));
        json_array_append_new(seeds, json_string(seed));
        notice_reference(reference, sizeof reference, code, "explanation-request",
                         (int)json_integer_value(breach), 0, NULL);
        notice_seed(seed, sizeof seed, reference);
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

/* The channel `want` if the applicant can be reached on it, else NULL. */
static const char *reachable(const json_t *applicant, const char *want)
{
    if (strcmp(want, "email") == 0)
        return has_text(applicant, "email") ? "email" : NULL;
    if (strcmp(want, "sms") == 0)
        return has_text(applicant, "phone") ? "sms" : NULL;
    if (strcmp(want, "zalo") == 0)
        return has_text(applicant, "phone") ? "zalo" : NULL;
    if (strcmp(want, "post") == 0)
        return has_text(applicant, "address") ? "post" : NULL;
    return strcmp(want, "counter") == 0 ? "counter" : NULL;
}

/* The channels a letter tries, in order, into out (at most 5, the counter
 * last): those of the applicant's preference (notify_channels) that can
 * reach them, up to the counter if it is among them; without any, e-mail or else SMS for online
 * dossiers, the post for the others with an address (docs/domain.md); then the counter, where a
 * printed letter waits at the reception desk. Returns how many. */
static int letter_channels(const json_t *data, const char *out[5])
{
    const json_t *applicant = json_object_get(data, "applicant");
    const char *channel = mc_json_str(data, "channel");
    int n = 0;
    size_t i;
    json_t *c;

    json_array_foreach(json_object_get(data, "notify_channels"), i, c)
    {
        const char *got = json_string_value(c) ? reachable(applicant, json_string_value(c)) : NULL;
        int dup = 0;
        for (int k = 0; k < n; k++)
            dup |= got && strcmp(out[k], got) == 0;
        if (got && strcmp(got, "counter") == 0)
            break; /* the counter ends the list wherever it is preferred */
        if (got && !dup && n < 4)
            out[n++] = got;
    }
    if (n == 0 && channel && strcmp(channel, "online") == 0) {
        if (has_text(applicant, "email"))
            out[n++] = "email";
        else if (has_text(applicant, "phone"))
            out[n++] = "sms";
    }
    if (n == 0 && has_text(applicant, "address"))
        out[n++] = "post";
    out[n++] = "counter";
    return n;
}

/* Appends s to f with HTML's five special characters escaped. */
static void html_escape(FILE *f, const char *s)
{
    for (; *s; s++) {
        const char *e = *s == '&'    ? "&amp;"
                        : *s == '<'  ? "&lt;"
                        : *s == '>'  ? "&gt;"
                        : *s == '"'  ? "&quot;"
                        : *s == '\'' ? "&#39;"
                                     : NULL;
        if (e)
            fputs(e, f);
        else
            fputc(*s, f);
    }
}

/* The letter's text as an HTML document: a paragraph per block of lines. */
static char *letter_html(const char *subject, const char *body)
{
    char *html = NULL, *copy = mc_xstrdup(body), *save = NULL, *block;
    size_t size;
    FILE *f = open_memstream(&html, &size);
    fputs("<!DOCTYPE html>\n<html lang=\"vi\">\n<head><meta charset=\"utf-8\"><title>", f);
    html_escape(f, subject);
    fputs("</title></head>\n<body>\n", f);
    /* Blocks are separated by blank lines; lines within one by <br>. */
    for (char *p = copy; p; p = save) {
        char *line, *lsave = NULL;
        int first = 1;
        block = p;
        save = strstr(p, "\n\n");
        if (save) {
            *save = '\0';
            save += 2;
        }
        if (*block == '\0')
            continue;
        fputs("<p>", f);
        for (line = strtok_r(block, "\n", &lsave); line; line = strtok_r(NULL, "\n", &lsave)) {
            if (!first)
                fputs("<br>\n", f);
            html_escape(f, line);
            first = 0;
        }
        fputs("</p>\n", f);
    }
    fputs("</body>\n</html>\n", f);
    fclose(f);
    free(copy);
    return html;
}

/* The text of one attempt for its channel: the whole letter for e-mail
 * (also as HTML), the post and the counter; a short notice for SMS and
 * Zalo, which point to the letter. */
static json_t *render_channel(const json_t *data, const char *channel)
{
    const json_t *p = json_object_get(data, "personalisation");
    if (strcmp(channel, "sms") == 0 || strcmp(channel, "zalo") == 0) {
        char *text = NULL;
        size_t size;
        FILE *f = open_memstream(&text, &size);
        json_t *out;
        fprintf(f,
                "%s xin lỗi %s: hồ sơ %s chưa được trả kết quả đúng hẹn. Hẹn trả kết quả mới: "
                "%s. Phiếu xin lỗi số %s.",
                mc_json_str(p, "authority"), mc_json_str(p, "addressee"),
                mc_json_str(p, "dossier_code"), mc_json_str(p, "new_appointment_at"),
                mc_json_str(p, "document_number"));
        fclose(f);
        out = json_pack("{s:s}", "text", text);
        free(text);
        return out;
    }
    if (strcmp(channel, "email") == 0) {
        char *html = letter_html(mc_json_str(data, "subject"), mc_json_str(data, "body"));
        json_t *out = json_pack("{s:s, s:s}", "text", mc_json_str(data, "body"), "html", html);
        free(html);
        return out;
    }
    return json_pack("{s:s}", "text", mc_json_str(data, "body"));
}

struct letter {
    char document_number[64];
    const char *authority, *place, *signer_title, *signer_name;
    const char *signer_delegation; /* "KT. CHỦ TỊCH" for a deputy; "" otherwise */
    const char *unit_name, *unit_head_title, *unit_head_name;
    char *subject, *body;
    json_t *personalisation; /* the fields the template filled in */
};

/* Appends a paragraph, formatted, to the array a. */
static void para(json_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void para(json_t *a, const char *fmt, ...)
{
    char *text = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&text, fmt, ap) < 0)
        text = NULL;
    va_end(ap);
    if (text)
        json_array_append_new(a, json_string(text));
    free(text);
}

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
    char issued_text[64], received_text[64], due_text[96], app_text[96], recipient[768];
    size_t size, k, facts;
    json_t *paras, *p;
    FILE *f;

    l->subject = NULL;
    f = open_memstream(&l->subject, &size);
    fprintf(f, "Phiếu xin lỗi và hẹn lại ngày trả kết quả - hồ sơ %s",
            mc_json_str(ev, "dossier_code"));
    fclose(f);

    vn_date(issued, issued_text, sizeof issued_text);
    vn_date(received_at, received_text, sizeof received_text);
    vn_datetime(due_at, due_text, sizeof due_text);
    vn_datetime(appointment, app_text, sizeof app_text);
    /* The paragraphs between "Kính gửi" and "Nơi nhận"; a blank line in
     * the text after the facts and after the apology. */
    paras = json_array();
    para(paras, "Ngày %s, %s tiếp nhận hồ sơ của %s, mã hồ sơ: %s.", received_text, l->authority,
         you, mc_json_str(ev, "dossier_code"));
    para(paras, "Thủ tục hành chính: %s (mã %s).", mc_json_str(data, "procedure/name"),
         mc_json_str(data, "procedure/code"));
    para(paras, "Thời gian hẹn trả kết quả giải quyết hồ sơ: %s.", due_text);
    if (breach > 1)
        para(paras,
             "Ngày hẹn đã được điều chỉnh một lần nhưng hồ sơ vẫn chưa được giải quyết xong (lần "
             "trễ hạn thứ %d).",
             breach);
    para(paras, "Tuy nhiên đến nay, %s chưa trả kết quả giải quyết hồ sơ cho %s đúng hẹn.",
         l->unit_name, you);
    if (reason == NULL || *reason == '\0')
        reason = "hồ sơ chưa được giải quyết xong trong thời hạn quy định";
    /* The unit's reason may end its sentence itself. */
    para(paras, reason[strlen(reason) - 1] == '.' ? "Lý do: %s" : "Lý do: %s.", reason);
    facts = json_array_size(paras);
    para(paras,
         "Sự chậm trễ này đã gây phiền hà, tốn kém chi phí, công sức của %s. %s xin lỗi %s và hẹn "
         "trả kết quả vào %s.",
         you, l->authority, you, app_text);
    para(paras, "Xin trân trọng cảm ơn sự hợp tác của %s./.", you);

    /* The late unit's head, to explain (no name: the unit is not known). */
    if (l->unit_head_name && *l->unit_head_name)
        snprintf(recipient, sizeof recipient, "%s %s, %s (để giải trình, chịu trách nhiệm);",
                 l->unit_head_title, l->unit_head_name, l->unit_name);
    else
        snprintf(recipient, sizeof recipient, "%s %s (để giải trình, chịu trách nhiệm);",
                 l->unit_head_title, l->unit_name);

    f = open_memstream(&l->body, &size);
    fprintf(f, LETTERHEAD, l->authority);
    fprintf(f, "Số: %s\n%s, ngày %s\n\n", l->document_number, l->place, issued_text);
    fprintf(f, "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ\n\n");
    fprintf(f, "Kính gửi: %s%s\n", honorific, mc_json_str(applicant, "name"));
    fprintf(f, "Địa chỉ: %s\n\n", address && *address ? address : "(không ghi)");
    json_array_foreach(paras, k, p)
    {
        fprintf(f, "%s\n", json_string_value(p));
        if (k + 1 == facts || k + 2 == json_array_size(paras))
            fputc('\n', f);
    }
    fprintf(f, "\nNơi nhận:\n- Như trên;\n- %s\n- Lưu: VT, Bộ phận Tiếp nhận và Trả kết quả.\n\n",
            recipient);
    if (*l->signer_delegation) {
        size_t ulen = 0;
        uint8_t *upper = u8_toupper((const uint8_t *)l->signer_title, strlen(l->signer_title), "vi",
                                    NULL, NULL, &ulen);
        fprintf(f, "%s\n%.*s\n(Đã ký)\n%s\n", l->signer_delegation, (int)ulen,
                upper ? (const char *)upper : l->signer_title, l->signer_name);
        free(upper);
    } else {
        fprintf(f, "%s\n(Đã ký)\n%s\n", l->signer_title, l->signer_name);
    }
    fclose(f);

    l->personalisation = json_pack(
        "{s:s, s:s, s:s, s:s, s:s+, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, "
        "s:[s, s, s]}",
        "authority", l->authority, "place", l->place, "issued_date", issued_text, "document_number",
        l->document_number, "addressee", honorific, mc_json_str(applicant, "name"), "address",
        address ? address : "", "received_date", received_text, "dossier_code",
        mc_json_str(ev, "dossier_code"), "procedure_name", mc_json_str(data, "procedure/name"),
        "procedure_code", mc_json_str(data, "procedure/code"), "due_at", due_text, "unit_name",
        l->unit_name, "reason",
        reason && *reason ? reason : "hồ sơ chưa được giải quyết xong trong thời hạn quy định",
        "new_appointment_at", app_text, "signer_delegation", l->signer_delegation, "signer_title",
        l->signer_title, "signer_name", l->signer_name, "recipients", "Như trên;", recipient,
        "Lưu: VT, Bộ phận Tiếp nhận và Trả kết quả.");
    json_object_set_new(l->personalisation, "paragraphs", paras);
}

/* Publishes attempt `attempt` of a notification on channel, made from its
 * first attempt's data (message, borrowed), at instant `at`, and records
 * it (reason: first, retry or fallback). The event id is stable per
 * attempt, so a retried transaction publishes it once. */
static int publish_attempt(struct mc_service *svc, PGconn *conn, const char *code,
                           const json_t *message, int attempt, const char *channel,
                           const char *reason, mc_instant at, char *err, size_t errlen)
{
    json_t *out = json_deep_copy(message), *text = render_channel(message, channel), *row;
    char seed[256], started[MC_RFC3339_LEN];
    int rc;
    int breach = (int)json_integer_value(json_object_get(message, "breach"));
    int is_notice = strcmp(mc_json_str(message, "kind"), "apology") != 0;
    if (out == NULL || text == NULL) {
        json_decref(out);
        json_decref(text);
        return mc_err(err, errlen, MC_EINVAL, "cannot build attempt %d of %s's %s", attempt, code,
                      mc_json_str(message, "kind"));
    }
    json_object_set_new(out, "attempt", json_integer(attempt));
    json_object_set_new(out, "delivery_channel", json_string(channel));
    json_object_set_new(out, "rendered", text);
    mc_time_format(at, started);
    row = json_pack("{s:s, s:i, s:s, s:s, s:s}", "notification_id",
                    mc_json_str(message, "notification_id"), "attempt", attempt, "channel", channel,
                    "reason", reason, "started_at", started);
    if ((rc = mc_service_write_rows(svc, conn, INSERT_ATTEMPTS, row, err, errlen)) < 0) {
        json_decref(out);
        return rc;
    }
    if (is_notice)
        snprintf(seed, sizeof seed, "notify/notice/%s", mc_json_str(message, "reference"));
    else
        letter_seed(seed, sizeof seed, code, breach);
    if (attempt > 1) {
        size_t len = strlen(seed);
        snprintf(seed + len, sizeof seed - len, "/attempt/%d", attempt);
    }
    return mc_service_emit(svc, conn, "notifications", code,
                           is_notice ? "notification.notice" : "notification.letter", code, at, out,
                           seed, err, errlen);
}

/* ---- rounds of periodic work (retries, escalations) ------------------- */

/* Commits a round that claimed `claimed` rows (at most RETRY_CLAIM). A full
 * claim leaves *full 1: more is due at once. Otherwise *value is next_sql's
 * one value (-1: NULL), when the next round is due. */
static int finish_round(PGconn *conn, int claimed, const char *next_sql, long long *value,
                        int *full, char *err, size_t errlen)
{
    PGresult *res;
    int rc;
    if ((rc = mc_pg_exec(conn, "COMMIT", 0, NULL, err, errlen)) != 0)
        return rc;
    if ((*full = claimed == RETRY_CLAIM))
        return 0;
    if ((res = mc_pg_query(conn, next_sql, 0, NULL, err, errlen)) == NULL)
        return MC_EDB;
    *value = mc_pg_value(res, 0, 0) ? atoll(mc_pg_value(res, 0, 0)) : -1;
    PQclear(res);
    return 0;
}

/* A round failed: rolled back (when in_tx), logged; returns rc. */
static int fail_round(PGconn *conn, int in_tx, const char *what, const char *err, int rc)
{
    char e2[128];
    if (in_tx)
        mc_pg_exec(conn, "ROLLBACK", 0, NULL, e2, sizeof e2);
    mc_log_kv(MC_LOG_ERROR, what, "error", err, NULL);
    return rc;
}

/* ---- notices to the units (accountability) ---------------------------- */

/* What a warning rung means, in a sentence's words. */
static void rung_text(const char *rung, char *buf, size_t len)
{
    size_t n = strlen(rung);
    if (strcmp(rung, "due-day") == 0)
        snprintf(buf, len, "hôm nay là ngày hẹn trả kết quả");
    else if (n > 2 && strcmp(rung + n - 2, "wd") == 0)
        snprintf(buf, len, "còn %.*s ngày làm việc đến ngày hẹn trả kết quả", (int)(n - 2), rung);
    else if (n > 1 && rung[n - 1] == '%')
        snprintf(buf, len, "đã sử dụng %s thời gian giải quyết theo quy định", rung);
    else
        snprintf(buf, len, "mốc cảnh báo %s", rung);
}

/* "Trưởng phòng Đinh Thị Thu Hà, Phòng Tài chính - Kế hoạch": a unit's
 * head and the unit. */
static void head_of(const json_t *unit, char *buf, size_t len)
{
    const char *head = mc_json_str(unit, "head_name");
    if (head && *head)
        snprintf(buf, len, "%s %s, %s", mc_json_str(unit, "head_title"), head,
                 mc_json_str(unit, "name"));
    else
        snprintf(buf, len, "%s %s", mc_json_str(unit, "head_title"), mc_json_str(unit, "name"));
}

struct notice {
    const char *kind, *template_id, *rung; /* rung: a warning's, else NULL */
    int breach, version;
    const json_t *about, *to; /* catalog rows: the unit it is about, the unit addressed */
    const char *to_name;      /* how it is addressed */
    mc_instant issued, due_at, explanation_due; /* explanation_due 0: none */
    const char *id;                             /* its notification id */
    char *subject, *body;                       /* owned */
};

/* The heading of a notice's text, up to its title. */
static void notice_heading(FILE *f, const struct notify *n, mc_instant issued, const char *title,
                           const char *about)
{
    char date[64];
    fprintf(f, LETTERHEAD, mc_catalog_setting(n->catalog, "issuing_authority", "ỦY BAN NHÂN DÂN"));
    fprintf(f, "%s, ngày %s\n\n%s\n%s\n\n", mc_catalog_setting(n->catalog, "letter_place", ""),
            vn_date(issued, date, sizeof date), title, about);
}

/* Stores a notice and publishes its first attempt: by e-mail when the unit
 * addressed has an address, else (and after a failed e-mail) on paper. */
static int write_notice(struct mc_service *svc, PGconn *conn, struct notify *n, const char *code,
                        const struct notice *x, char *err, size_t errlen)
{
    const char *email = mc_json_str(x->to, "email");
    const char *address = mc_json_str(x->to, "address");
    char reference[160], rung[64], ts[3][MC_RFC3339_LEN];
    json_t *chans = json_array(), *message, *row;
    int rc;

    if (email && *email)
        json_array_append_new(chans, json_string("email"));
    json_array_append_new(chans, json_string("post"));
    notice_reference(reference, sizeof reference, code, x->kind, x->breach, x->version, x->rung);
    snprintf(rung, sizeof rung, "%d/%s", x->version, x->rung ? x->rung : "");
    mc_time_format(x->issued, ts[0]);
    mc_time_format(x->due_at, ts[1]);
    if (x->explanation_due)
        mc_time_format(x->explanation_due, ts[2]);
    message = json_pack(
        "{s:s, s:s, s:{s:s, s:i}, s:s, s:i, s:s, s:O, s:{s:s, s:s, s:o, s:o, s:n}, s:s, s:s, s:s, "
        "s:s, s:i, s:o, s:s, s:o}",
        "notification_id", x->id, "kind", x->kind, "template", "id", x->template_id, "version", 1,
        "reference", reference, "attempt", 1, "delivery_channel",
        json_string_value(json_array_get(chans, 0)), "channels", chans, "recipient", "unit_code",
        mc_json_str(x->to, "code"), "name", x->to_name, "email",
        mc_json_str_or_null(email && *email ? email : NULL), "address",
        mc_json_str_or_null(address && *address ? address : NULL), "phone", "about_unit",
        mc_json_str(x->about, "code"), "subject", x->subject, "body", x->body, "issued_at", ts[0],
        "breach", x->breach, "rung", mc_json_str_or_null(x->rung), "due_at", ts[1],
        "explanation_due_at", mc_json_str_or_null(x->explanation_due ? ts[2] : NULL));
    row =
        message == NULL
            ? NULL
            : json_pack("{s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:O, s:O}",
                        "notification_id", x->id, "dossier_code", code, "kind", x->kind, "breach",
                        x->breach, "rung", x->rung ? rung : "", "unit_code",
                        mc_json_str(x->about, "code"), "recipient_unit", mc_json_str(x->to, "code"),
                        "subject", x->subject, "body", x->body, "issued_at", ts[0],
                        "delivery_channel", json_string_value(json_array_get(chans, 0)), "channels",
                        chans, "message", message);
    if (row == NULL) {
        rc = mc_err(err, errlen, MC_EINVAL, "cannot build the %s notice of %s", x->kind, code);
        goto out;
    }
    if ((rc = mc_service_write_rows(svc, conn, INSERT_NOTICES, row, err, errlen)) <= 0)
        goto out; /* an error, or written before */
    mc_service_count(svc, n->m_notices, 1);
    rc = publish_attempt(svc, conn, code, message, 1, json_string_value(json_array_get(chans, 0)),
                         "first", x->issued, err, errlen);
out:
    json_decref(chans);
    json_decref(message);
    return rc;
}

/* A warning rung fired: the processing unit is told, not the citizen. */
static int on_warning(struct mc_service *svc, PGconn *conn, struct notify *n,
                      const struct mc_msg *msg, char *err, size_t errlen)
{
    const json_t *ev = msg->doc, *data = json_object_get(ev, "data");
    const char *code = mc_json_str(ev, "dossier_code");
    const char *unit_code = mc_json_str(data, "unit/code");
    const json_t *unit = unit_code ? mc_catalog_unit(n->catalog, unit_code) : NULL;
    struct notice x = {.kind = "warning", .template_id = "unit-warning"};
    char reference[160], seed[200], received[64], due[96], what[160], about[256];
    mc_instant received_at, rescheduled = 0;
    size_t size;
    FILE *f;
    int rc;

    if (unit == NULL)
        return 0; /* no unit holds the dossier yet: nobody to warn */
    x.rung = mc_json_str(data, "rung");
    x.breach = (int)json_integer_value(json_object_get(data, "breach"));
    x.version = (int)json_integer_value(json_object_get(data, "deadline_version"));
    if (x.rung == NULL)
        return mc_err(err, errlen, MC_EINVAL, "warning of %s has no rung", code);
    if ((rc = mc_json_time_required(ev, "occurred_at", &x.issued, code, err, errlen)) != 0 ||
        (rc = mc_json_time_required(data, "received_at", &received_at, code, err, errlen)) != 0 ||
        (rc = mc_json_time_required(data, "due_at", &x.due_at, code, err, errlen)) != 0)
        return rc;
    /* A warning after a reschedule warns of the new date. */
    if (mc_json_time(data, "rescheduled_due_at", &rescheduled) == 0)
        x.due_at = rescheduled;
    notice_reference(reference, sizeof reference, code, x.kind, x.breach, x.version, x.rung);
    notice_seed(seed, sizeof seed, reference);
    if ((x.id = json_string_value(json_object_get(n->b_ids, seed))) == NULL)
        return mc_err(err, errlen, MC_EDB, "no notification id read for %s", seed);
    x.about = x.to = unit;
    x.to_name = mc_json_str(unit, "name");

    f = open_memstream(&x.subject, &size);
    fprintf(f, "Hồ sơ %s sắp đến hạn trả kết quả", code);
    fclose(f);
    rung_text(x.rung, what, sizeof what);
    snprintf(about, sizeof about, "Về việc hồ sơ %s sắp đến hạn trả kết quả", code);
    f = open_memstream(&x.body, &size);
    notice_heading(f, n, x.issued, "THÔNG BÁO", about);
    fprintf(f, "Kính gửi: %s\n\n", x.to_name);
    fprintf(f,
            "Hồ sơ %s của %s, thủ tục %s (mã %s), tiếp nhận ngày %s, hẹn trả kết quả vào %s%s.\n",
            code, mc_json_str(data, "applicant/name"), mc_json_str(data, "procedure/name"),
            mc_json_str(data, "procedure/code"), vn_date(received_at, received, sizeof received),
            vn_datetime(x.due_at, due, sizeof due),
            x.due_at == rescheduled ? " (ngày hẹn đã điều chỉnh)" : "");
    fprintf(f, "Hồ sơ chưa được giải quyết xong: %s.\n", what);
    fprintf(f,
            "Đề nghị %s khẩn trương giải quyết, trả kết quả đúng hẹn. Trường hợp không thể trả "
            "kết quả đúng hẹn, đơn vị phải thông báo lý do và đề nghị hẹn lại ngày trả kết quả "
            "chậm nhất 01 ngày làm việc trước ngày hẹn (ngày hẹn chỉ được điều chỉnh một "
            "lần).\n\n",
            x.to_name);
    fprintf(f, "Nơi nhận:\n- Như trên;\n- Lưu: VT, Bộ phận Tiếp nhận và Trả kết quả.\n");
    fclose(f);
    rc = write_notice(svc, conn, n, code, &x, err, errlen);
    free(x.subject);
    free(x.body);
    return rc;
}

/* At a breach, after its apology letter: the late unit's head is asked to
 * explain in writing to the Chairman within MOTCUA_EXPLANATION_WORKING_DAYS
 * working days of the breach, and the request is recorded for the
 * escalation. */
static int request_explanation(struct mc_service *svc, PGconn *conn, struct notify *n,
                               const json_t *ev, const json_t *unit, const struct letter *l,
                               mc_instant breached_at, mc_instant received_at, mc_instant due_at,
                               mc_instant appointment, char *err, size_t errlen)
{
    const struct mc_calendar *cal;
    const json_t *data = json_object_get(ev, "data");
    const char *code = mc_json_str(ev, "dossier_code");
    const json_t *office =
        mc_catalog_unit(n->catalog, mc_catalog_setting(n->catalog, "accountability_office", "VP"));
    const char *chairman = mc_catalog_setting(n->catalog, "chairman_title", "Chủ tịch");
    int days = mc_service_config(svc)->explanation_wd;
    struct notice x = {.kind = "explanation-request", .template_id = "explanation-request"};
    char reference[160], seed[200], to[512], received[64], due[96], at[96], app[96], by[96],
        about[256], ts[2][MC_RFC3339_LEN];
    size_t size;
    FILE *f;
    int rc;

    x.breach = (int)json_integer_value(json_object_get(data, "breach"));
    x.version = (int)json_integer_value(json_object_get(data, "deadline_version"));
    x.issued = breached_at;
    /* A second breach missed the unit's rescheduled date. */
    if (x.breach < 2 || mc_json_time(data, "rescheduled_due_at", &x.due_at) != 0)
        x.due_at = due_at;
    cal = mc_catalog_calendar(n->catalog);
    x.explanation_due = mc_calendar_add_working(cal, mc_calendar_receipt_at(cal, breached_at),
                                                (int64_t)days * MC_WORKING_DAY_SECONDS);
    notice_reference(reference, sizeof reference, code, x.kind, x.breach, 0, NULL);
    notice_seed(seed, sizeof seed, reference);
    if ((x.id = json_string_value(json_object_get(n->b_ids, seed))) == NULL)
        return mc_err(err, errlen, MC_EDB, "no notification id read for %s", seed);
    x.about = x.to = unit;
    head_of(unit, to, sizeof to);
    x.to_name = to;

    f = open_memstream(&x.subject, &size);
    fprintf(f, "Yêu cầu giải trình việc hồ sơ %s trễ hạn", code);
    fclose(f);
    snprintf(about, sizeof about, "Về việc hồ sơ %s trễ hạn", code);
    f = open_memstream(&x.body, &size);
    notice_heading(f, n, x.issued, "YÊU CẦU GIẢI TRÌNH", about);
    fprintf(f, "Kính gửi: %s\n\n", to);
    fprintf(f,
            "Hồ sơ %s của %s, thủ tục %s (mã %s), tiếp nhận ngày %s, hẹn trả kết quả vào %s, "
            "đến %s chưa được giải quyết xong (lần trễ hạn thứ %d).\n",
            code, mc_json_str(data, "applicant/name"), mc_json_str(data, "procedure/name"),
            mc_json_str(data, "procedure/code"), vn_date(received_at, received, sizeof received),
            vn_datetime(x.due_at, due, sizeof due), vn_datetime(breached_at, at, sizeof at),
            x.breach);
    fprintf(f,
            "%s đã gửi Phiếu xin lỗi và hẹn lại ngày trả kết quả số %s đến người nộp hồ sơ, hẹn "
            "trả kết quả vào %s.\n",
            l->authority, l->document_number, vn_datetime(appointment, app, sizeof app));
    fprintf(f,
            "Đề nghị %s %s giải trình bằng văn bản với %s về nguyên nhân chậm trễ và trách "
            "nhiệm của tổ chức, cá nhân có liên quan, trước %s (%d ngày làm việc). Quá thời hạn "
            "trên mà không có giải trình, việc chậm trễ sẽ được báo cáo %s để tham mưu xử lý "
            "trách nhiệm theo quy định.\n\n",
            mc_json_str(unit, "head_title"), mc_json_str(unit, "name"), chairman,
            vn_datetime(x.explanation_due, by, sizeof by), days,
            office ? mc_json_str(office, "name") : "Văn phòng Ủy ban nhân dân");
    fprintf(f, "Nơi nhận:\n- Như trên;\n- %s;\n- Lưu: VT.\n\n%s\n(Đã ký)\n%s\n",
            office ? mc_json_str(office, "name") : "Văn phòng Ủy ban nhân dân", chairman,
            mc_catalog_setting(n->catalog, "chairman_name", ""));
    fclose(f);

    mc_time_format(breached_at, ts[0]);
    mc_time_format(x.explanation_due, ts[1]);
    rc =
        mc_service_write_rows(svc, conn, INSERT_EXPLANATIONS,
                              json_pack("{s:s, s:i, s:s, s:s, s:s, s:s}", "dossier_code", code,
                                        "breach", x.breach, "unit_code", mc_json_str(unit, "code"),
                                        "requested_at", ts[0], "due_at", ts[1], "request_id", x.id),
                              err, errlen);
    if (rc > 0) {
        rc = write_notice(svc, conn, n, code, &x, err, errlen);
        if (x.explanation_due < n->escalate_at)
            n->escalate_at = x.explanation_due;
    }
    free(x.subject);
    free(x.body);
    return rc < 0 ? rc : 0;
}

/* A unit recorded its explanation (dossier.updates, status explanation):
 * it answers the requests made to that unit for that dossier before it. */
static int on_explanation(struct mc_service *svc, PGconn *conn, struct notify *n,
                          const struct mc_msg *msg, char *err, size_t errlen)
{
    const json_t *ev = msg->doc;
    const char *code = mc_json_str(ev, "dossier_code");
    const char *text = mc_json_str(ev, "data/reason");
    int rc;

    if ((rc = mc_schema_check(n->update_schema, ev, "dossier update", err, errlen)) != 0)
        return rc;
    if (text == NULL)
        return mc_err(err, errlen, MC_EINVAL,
                      "the explanation of %s by %s has no text: an explanation needs reason", code,
                      mc_json_str(ev, "data/unit_code"));
    rc = mc_service_write_rows(svc, conn, INSERT_GIVEN,
                               json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "event_id",
                                         mc_json_str(ev, "event_id"), "dossier_code", code,
                                         "unit_code", mc_json_str(ev, "data/unit_code"), "officer",
                                         mc_json_str(ev, "data/officer"), "text", text,
                                         "occurred_at", mc_json_str(ev, "occurred_at")),
                               err, errlen);
    if (rc > 0)
        mc_service_count(svc, n->m_explanations, 1);
    return rc < 0 ? rc : 0;
}

/* One request whose deadline passed without an explanation: the Chairman's
 * office is told (row: SELECT_DUE_EXPLANATIONS's). */
static int escalate(struct mc_service *svc, PGconn *conn, struct notify *n, const PGresult *res,
                    int i, mc_instant now, char *err, size_t errlen)
{
    const char *code = PQgetvalue(res, i, DX_CODE), *number = PQgetvalue(res, i, DX_NUMBER);
    const json_t *unit = mc_catalog_unit(n->catalog, PQgetvalue(res, i, DX_UNIT));
    const json_t *office =
        mc_catalog_unit(n->catalog, mc_catalog_setting(n->catalog, "accountability_office", "VP"));
    const char *chairman = mc_catalog_setting(n->catalog, "chairman_title", "Chủ tịch");
    struct notice x = {.kind = "escalation", .template_id = "explanation-escalation"};
    char to[512], late[512], requested[64], by[96], at[96], about[256], when[MC_RFC3339_LEN];
    mc_instant requested_at;
    size_t size;
    FILE *f;
    int rc;

    if (unit == NULL || office == NULL)
        return mc_err(err, errlen, MC_EINVAL,
                      "cannot escalate %s's explanation: unit %s or the accountability office "
                      "(setting accountability_office) is not in the catalog",
                      code, PQgetvalue(res, i, DX_UNIT));
    x.breach = atoi(PQgetvalue(res, i, DX_BREACH));
    x.issued = now;
    x.id = PQgetvalue(res, i, DX_ID);
    if (mc_time_parse(PQgetvalue(res, i, DX_REQUESTED), &requested_at) != 0 ||
        mc_time_parse(PQgetvalue(res, i, DX_DEADLINE), &x.explanation_due) != 0 ||
        mc_time_parse(PQgetvalue(res, i, DX_DOSSIER_DUE), &x.due_at) != 0)
        return mc_err(err, errlen, MC_EDB, "the explanation request of %s has bad dates", code);
    x.about = unit;
    x.to = office;
    head_of(office, to, sizeof to);
    x.to_name = to;
    head_of(unit, late, sizeof late);

    f = open_memstream(&x.subject, &size);
    fprintf(f, "Quá hạn giải trình việc hồ sơ %s trễ hạn - %s", code, mc_json_str(unit, "name"));
    fclose(f);
    snprintf(about, sizeof about, "Về việc quá hạn giải trình hồ sơ %s trễ hạn", code);
    f = open_memstream(&x.body, &size);
    notice_heading(f, n, now, "BÁO CÁO", about);
    fprintf(f, "Kính gửi: %s\n\n", to);
    fprintf(f,
            "Ngày %s, %s được yêu cầu giải trình với %s việc hồ sơ %s trễ hạn (lần trễ hạn thứ "
            "%d%s%s), hạn giải trình: %s.\n",
            vn_date(requested_at, requested, sizeof requested), late, chairman, code, x.breach,
            *number ? "; Phiếu xin lỗi số " : "", number,
            vn_datetime(x.explanation_due, by, sizeof by));
    fprintf(f, "Đến %s, chưa nhận được giải trình của %s.\n", vn_datetime(now, at, sizeof at),
            mc_json_str(unit, "name"));
    fprintf(f,
            "Đề nghị %s tham mưu %s xem xét, xử lý trách nhiệm của người đứng đầu %s theo quy "
            "định và đưa vào kết quả đánh giá, xếp loại thi đua của đơn vị.\n\n",
            mc_json_str(office, "name"), chairman, mc_json_str(unit, "name"));
    fprintf(f, "Nơi nhận:\n- Như trên;\n- %s;\n- Lưu: VT.\n", late);
    fclose(f);

    mc_time_format(now, when);
    rc = write_notice(svc, conn, n, code, &x, err, errlen);
    if (rc == 0)
        rc = mc_pg_exec(
            conn, SETTLE_EXPLANATION, 5,
            (const char *[]){code, PQgetvalue(res, i, DX_BREACH), "escalated", when, x.id}, err,
            errlen);
    if (rc == 0)
        mc_service_count(svc, n->m_escalations, 1);
    free(x.subject);
    free(x.body);
    return rc;
}

/* Requests whose deadline passed on the services' clock: each escalated
 * once (claimed, notice written and published, marked, in one
 * transaction). Looks only when the clock passed the earliest deadline
 * known, or every ESCALATE_POLL_MS (another instance may have asked). */
static int escalation_work(struct mc_service *svc, PGconn *conn, struct notify *n, int64_t *next_ms)
{
    char err[1024], limit[16], now_s[MC_RFC3339_LEN];
    PGresult *res;
    mc_instant now;
    int64_t mono = monotonic_ms();
    long long next = -1;
    int rc, claimed, full;

    *next_ms = ESCALATE_POLL_MS;
    if (mc_service_now(svc, &now) != 0)
        return 0; /* the topic clock has not ticked yet */
    if (now < n->escalate_at && mono < n->escalate_look_ms) {
        *next_ms = n->escalate_look_ms - mono;
        return 0;
    }
    snprintf(limit, sizeof limit, "%d", RETRY_CLAIM);
    mc_time_format(now, now_s);
    if ((rc = mc_pg_exec(conn, "BEGIN", 0, NULL, err, sizeof err)) != 0)
        return fail_round(conn, 0, "notify escalations failed", err, rc);
    if ((res = mc_pg_query(conn, SELECT_DUE_EXPLANATIONS, 2, (const char *[]){now_s, limit}, err,
                           sizeof err)) == NULL)
        return fail_round(conn, 1, "notify escalations failed", err, MC_EDB);
    claimed = PQntuples(res);
    for (int i = 0; i < claimed; i++) {
        if (strcmp(PQgetvalue(res, i, DX_EXPLAINED), "t") == 0)
            rc = mc_pg_exec(conn, SETTLE_EXPLANATION, 5,
                            (const char *[]){PQgetvalue(res, i, DX_CODE),
                                             PQgetvalue(res, i, DX_BREACH), "explained", now_s,
                                             NULL},
                            err, sizeof err);
        else
            rc = escalate(svc, conn, n, res, i, now, err, sizeof err);
        if (rc != 0) {
            PQclear(res);
            return fail_round(conn, 1, "notify escalations failed", err, rc);
        }
    }
    PQclear(res);
    if ((rc = finish_round(conn, claimed, SELECT_NEXT_ESCALATION, &next, &full, err, sizeof err)) !=
        0)
        return fail_round(conn, 0, "notify escalations failed", err, rc);
    if (full) {
        *next_ms = 0;
        return 0;
    }
    /* One another instance holds is settled by it: look again past now. */
    n->escalate_at = next >= 0 ? (mc_instant)next : INT64_MAX;
    if (n->escalate_at <= now)
        n->escalate_at = now + 1;
    n->escalate_look_ms = mono + ESCALATE_POLL_MS;
    return 0;
}

static int on_overdue(struct mc_service *svc, PGconn *conn, struct notify *n,
                      const struct mc_msg *msg, char *err, size_t errlen)
{
    const json_t *ev = msg->doc, *data = json_object_get(ev, "data");
    const json_t *unit = json_object_get(data, "unit");
    const char *code = mc_json_str(ev, "dossier_code");
    const char *channels[5], *channel;
    int nch = letter_channels(data, channels);
    mc_instant issued, received_at, due_at, appointment;
    struct letter l;
    char seed[256], sent[160], year[8], ts[2][MC_RFC3339_LEN], reference[96], signer_line[200];
    const char *keys[2], *id;
    json_t *row, *message = NULL, *chans = NULL;
    int breach = (int)json_integer_value(json_object_get(data, "breach"));
    int y, m, d, rc, number;
    const json_t *unit_row =
        unit && !json_is_null(unit) ? mc_catalog_unit(n->catalog, mc_json_str(unit, "code")) : NULL;
    const char *policy = unit_row ? mc_json_str(unit_row, "signer_policy") : "city_chairman";

    channel = channels[0];
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

    /* Numbered per signer per year: the Chairman's series (his deputies
     * sign on his behalf), or the unit's own when its head signs. */
    mc_civil_from_days(mc_vn_day(issued), &y, &m, &d);
    snprintf(year, sizeof year, "%d", y);
    keys[0] = strcmp(policy, "unit_head") == 0 && unit_row ? mc_json_str(unit_row, "code") : "UBND";
    keys[1] = year;
    if ((number = mc_numbers_take(n->numbers, keys, err, errlen)) < 0)
        return number;
    snprintf(l.document_number, sizeof l.document_number, "%d/PXL-%s", number, keys[0]);

    l.authority = mc_catalog_setting(n->catalog, "issuing_authority", "ỦY BAN NHÂN DÂN");
    l.place = mc_catalog_setting(n->catalog, "letter_place", "");
    l.unit_name = unit_row ? mc_json_str(unit_row, "name") : "cơ quan giải quyết";
    l.unit_head_title = unit_row ? mc_json_str(unit_row, "head_title") : "Thủ trưởng";
    l.unit_head_name = unit_row ? mc_json_str(unit_row, "head_name") : "";
    if (strcmp(policy, "unit_head") == 0) {
        l.authority = mc_json_str(unit_row, "name");
        l.signer_title = mc_json_str(unit_row, "head_title");
        l.signer_name = mc_json_str(unit_row, "head_name");
    } else if (strcmp(policy, "city_deputy") == 0 && mc_json_str(unit_row, "deputy_name")) {
        /* A Vice-Chairman signs on the Chairman's behalf (Decree 30/2020:
         * "KT. CHỦ TỊCH" above "PHÓ CHỦ TỊCH"). */
        l.signer_delegation = mc_catalog_setting(n->catalog, "signer_delegation", "KT. CHỦ TỊCH");
        l.signer_title = mc_catalog_setting(n->catalog, "deputy_title", "Phó Chủ tịch");
        l.signer_name = mc_json_str(unit_row, "deputy_name");
    } else {
        l.signer_title = mc_catalog_setting(n->catalog, "chairman_title", "Chủ tịch");
        l.signer_name = mc_catalog_setting(n->catalog, "chairman_name", "");
    }
    if (l.signer_delegation == NULL)
        l.signer_delegation = "";
    render(n, ev, &l, issued, received_at, due_at, appointment, breach);

    mc_time_format(issued, ts[0]);
    mc_time_format(appointment, ts[1]);
    snprintf(reference, sizeof reference, "%s/apology/%d", code, breach);
    /* The signer on one line: "KT. Chủ tịch, Phó Chủ tịch" for a deputy. */
    if (*l.signer_delegation)
        snprintf(signer_line, sizeof signer_line, "KT. %s, %s",
                 mc_catalog_setting(n->catalog, "chairman_title_short", "Chủ tịch"),
                 l.signer_title);
    else
        snprintf(signer_line, sizeof signer_line, "%s", l.signer_title);
    chans = json_array();
    for (int k = 0; k < nch; k++)
        json_array_append_new(chans, json_string(channels[k]));
    /* The first attempt's data; later attempts are made from it. */
    message = json_pack(
        "{s:s, s:{s:s, s:i}, s:s, s:s, s:i, s:s, s:O, s:{s:s, s:o, s:o, s:o}, s:s, s:s, s:s, "
        "s:{s:s, s:s}, s:s, s:s, s:i, s:O}",
        "notification_id", id, "template", "id", "apology-letter", "version", APOLOGY_VERSION,
        "kind", "apology", "reference", reference, "attempt", 1, "delivery_channel", channel,
        "channels", chans, "recipient", "name", mc_json_str(data, "applicant/name"), "address",
        mc_json_str_or_null(mc_json_str(data, "applicant/address")), "email",
        mc_json_str_or_null(mc_json_str(data, "applicant/email")), "phone",
        mc_json_str_or_null(mc_json_str(data, "applicant/phone")), "document_number",
        l.document_number, "subject", l.subject, "body", l.body, "signer", "title", signer_line,
        "name", l.signer_name, "issued_at", ts[0], "new_appointment_at", ts[1], "breach", breach,
        "personalisation", l.personalisation);
    row =
        message == NULL
            ? NULL
            : json_pack("{s:s, s:s, s:i, s:o, s:s, s:s, s:s, s:s, s:s, s:s, s:O, s:O}",
                        "notification_id", id, "dossier_code", code, "breach", breach, "unit_code",
                        mc_json_str_or_null(unit_row ? mc_json_str(unit_row, "code") : NULL),
                        "delivery_channel", channel, "document_number", l.document_number,
                        "subject", l.subject, "body", l.body, "issued_at", ts[0],
                        "new_appointment_at", ts[1], "channels", chans, "message", message);
    if (row == NULL) {
        rc = mc_err(err, errlen, MC_EINVAL, "cannot build the letter of %s", code);
        goto out;
    }
    if ((rc = mc_service_write_rows(svc, conn, INSERT_LETTERS, row, err, errlen)) <= 0)
        goto out; /* an error, or written before (0): nothing to publish */
    json_object_set_new(n->b_sent, sent, json_true());
    mc_service_count(svc, n->m_letters, 1);
    rc = publish_attempt(svc, conn, code, message, 1, channel, "first", issued, err, errlen);
    /* The late unit's head answers for it (no unit: nobody to ask). */
    if (rc == 0 && unit_row)
        rc = request_explanation(svc, conn, n, ev, unit_row, &l, issued, received_at, due_at,
                                 appointment, err, errlen);
out:
    json_decref(chans);
    json_decref(message);
    json_decref(l.personalisation);
    free(l.subject);
    free(l.body);
    return rc;
}

/* v1's words for v2's statuses. */
static const char *receipt_status(const char *status)
{
    if (strcmp(status, "failed") == 0)
        return "temporary-failure";
    if (strcmp(status, "bounced") == 0)
        return "permanent-failure";
    return status;
}

/* The channel after `current` in the JSON array text `channels`, or NULL
 * (into buf). */
static const char *next_channel(const char *channels, const char *current, char *buf, size_t len)
{
    json_t *a = json_loads(channels ? channels : "[]", 0, NULL);
    size_t i, n = json_array_size(a);
    const char *next = NULL;
    for (i = 0; i < n; i++)
        if (strcmp(json_string_value(json_array_get(a, i)), current) == 0)
            break;
    if (i + 1 < n) {
        snprintf(buf, len, "%s", json_string_value(json_array_get(a, i + 1)));
        next = buf;
    }
    json_decref(a);
    return next;
}

/* Starts attempt `attempt` + 1 on channel (a retry: the same channel; a
 * fallback: the next), at once, from the stored first attempt. */
static int next_attempt(struct mc_service *svc, PGconn *conn, const struct lifecycle *lc,
                        const char *id, const char *code, const char *message, int attempt,
                        const char *channel, const char *reason, mc_instant at, char *err,
                        size_t errlen)
{
    char a[16];
    json_t *m;
    int rc;
    snprintf(a, sizeof a, "%d", attempt);
    if ((rc = mc_pg_exec(conn, lc->update_attempt, 3, (const char *[]){id, a, channel}, err,
                         errlen)) != 0)
        return rc;
    if ((m = json_loads(message, 0, NULL)) == NULL)
        return mc_err(err, errlen, MC_EDB, "the stored letter %s is not JSON", id);
    rc = publish_attempt(svc, conn, code, m, attempt + 1, channel, reason, at, err, errlen);
    json_decref(m);
    return rc;
}

/* A receipt moves its letter through the lifecycle. Every receipt is
 * recorded; only one about the current attempt changes the letter (a late
 * one about an earlier attempt may still say it was delivered), and
 * nothing changes a delivered letter. Within a set-based batch the
 * notification is the one notify_batch read, stored after the batch's
 * last receipt about it; else it is read and stored here. */
static int on_receipt(struct mc_service *svc, PGconn *conn, struct notify *n,
                      const struct mc_msg *msg, char *err, size_t errlen)
{
    const struct mc_config *cfg = mc_service_config(svc);
    const json_t *ev = msg->doc;
    const char *id = mc_json_str(ev, "data/notification_id");
    const char *status;
    char nextbuf[24];
    struct tracked *t, *own = NULL;
    mc_instant at;
    json_t *row;
    int rc, reported, own_n = 0;

    if ((rc = mc_schema_check(n->receipt_schema, ev, "notification.receipt", err, errlen)) != 0)
        return rc;
    if ((rc = mc_json_time_required(ev, "occurred_at", &at, id, err, errlen)) != 0)
        return rc;
    status = receipt_status(mc_json_str(ev, "data/status"));
    if (mc_service_set_based(svc))
        t = find_tracked(n->b_tracked, n->b_ntracked, id);
    else {
        char ids[64];
        snprintf(ids, sizeof ids, "{%s}", id);
        if ((rc = load_tracked(conn, ids, &own, &own_n, err, errlen)) != 0)
            return rc;
        t = own_n == 1 ? own : NULL;
    }
    if (t == NULL) {
        tracked_free(own, own_n);
        return mc_err(err, errlen, MC_EINVAL, "receipt for unknown notification %s", id);
    }
    reported = json_is_integer(mc_json_at(ev, "data/attempt"))
                   ? (int)json_integer_value(mc_json_at(ev, "data/attempt"))
                   : t->attempt;
    mc_service_count(svc, n->m_receipts, 1);
    row = json_pack("{s:s, s:s, s:s, s:o, s:s, s:i, s:o}", "event_id", mc_json_str(ev, "event_id"),
                    "notification_id", id, "status", status, "detail",
                    mc_json_str_or_null(mc_json_str(ev, "data/detail")), "reported_at",
                    mc_json_str(ev, "occurred_at"), "attempt", reported, "channel",
                    mc_json_str_or_null(mc_json_str(ev, "data/delivery_channel")));
    if (row == NULL)
        rc = mc_err(err, errlen, MC_EINVAL, "cannot build the delivery of %s", id);
    else if ((rc = mc_service_write_rows(svc, conn, INSERT_DELIVERIES, row, err, errlen)) > 0)
        rc = 0;
    if (rc < 0)
        goto out;

    if (strcmp(t->status, "delivered") == 0) {
        /* delivered once: nothing after it counts */
    } else if (strcmp(status, "delivered") == 0) {
        set_status(t, status, -1);
    } else if (reported != t->attempt) {
        /* about an earlier attempt, which a later one replaced */
    } else if (strcmp(status, "sending") == 0) {
        if (strcmp(t->status, "created") == 0)
            set_status(t, status, -1);
    } else if (strcmp(status, "permanent-failure") != 0 && t->retries < cfg->notify_retries) {
        /* Temporary or technical: the same channel again, later. */
        int delay = cfg->notify_retry[t->retries];
        set_status(t, status, delay);
        t->retries++;
        if (monotonic_ms() + delay * 1000LL < n->retry_look_ms)
            n->retry_look_ms = monotonic_ms() + delay * 1000LL;
    } else if (t->message && next_channel(t->channels, t->channel, nextbuf, sizeof nextbuf)) {
        /* Permanent, or retries used up: the next channel... */
        json_t *m = json_loads(t->message, 0, NULL);
        mc_service_count(svc, n->m_fallbacks, 1);
        if (m == NULL) {
            rc = mc_err(err, errlen, MC_EDB, "the stored letter %s is not JSON", id);
            goto out;
        }
        if (strcmp(t->channel, nextbuf) != 0)
            t->retries = 0;
        t->attempt++;
        snprintf(t->channel, sizeof t->channel, "%s", nextbuf);
        set_status(t, "created", -1);
        rc = publish_attempt(svc, conn, t->code, m, t->attempt, nextbuf, "fallback", at, err,
                             errlen);
        json_decref(m);
        if (rc != 0)
            goto out;
    } else {
        /* ... or the end. */
        set_status(t, status, -1);
    }
    if ((own != NULL || --t->left <= 0) && t->changed)
        rc = store_tracked(svc, conn, t, err, errlen);
out:
    tracked_free(own, own_n);
    return rc;
}

/* Due retries: claims them, starts their next attempt on the same channel
 * and sleeps until the earliest other one (at most RETRY_POLL_MS). */
static int notify_retry(struct mc_service *svc, PGconn *conn, int64_t *next_ms, void *state)
{
    struct notify *n = state;
    char err[1024], limit[16];
    PGresult *res;
    long long next = -1;
    int rc, claimed = 0, full;
    struct timespec ts;
    int64_t now = monotonic_ms();

    if (now < n->retry_look_ms) {
        *next_ms = n->retry_look_ms - now;
        return 0;
    }
    snprintf(limit, sizeof limit, "%d", RETRY_CLAIM);
    if ((rc = mc_pg_exec(conn, "BEGIN", 0, NULL, err, sizeof err)) != 0)
        return fail_round(conn, 0, "notify retries failed", err, rc);
    clock_gettime(CLOCK_REALTIME, &ts);
    for (int t = 0; t < 2; t++) {
        const struct lifecycle *lc = t == 0 ? &letters : &notices;
        int got;
        if ((res = mc_pg_query(conn, lc->select_due, 1, (const char *[]){limit}, err,
                               sizeof err)) == NULL)
            return fail_round(conn, 1, "notify retries failed", err, MC_EDB);
        got = PQntuples(res);
        for (int i = 0; i < got; i++) {
            const char *message = mc_pg_value(res, i, DR_MESSAGE);
            if (message == NULL)
                continue; /* written before retries existed */
            if ((rc = next_attempt(
                     svc, conn, lc, PQgetvalue(res, i, DR_ID), PQgetvalue(res, i, DR_CODE), message,
                     atoi(PQgetvalue(res, i, DR_ATTEMPT)), PQgetvalue(res, i, DR_CHANNEL), "retry",
                     (mc_instant)ts.tv_sec, err, sizeof err)) != 0) {
                PQclear(res);
                return fail_round(conn, 1, "notify retries failed", err, rc);
            }
            mc_service_count(svc, n->m_retries, 1);
        }
        if (got > claimed)
            claimed = got;
        PQclear(res);
    }
    if ((rc = finish_round(conn, claimed, SELECT_NEXT_DUE, &next, &full, err, sizeof err)) != 0)
        return fail_round(conn, 0, "notify retries failed", err, rc);
    *next_ms = full ? 0 : next >= 0 && next < RETRY_POLL_MS ? next : RETRY_POLL_MS;
    n->retry_look_ms = monotonic_ms() + *next_ms;
    return 0;
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
    if (strcmp(msg->topic, "dossier.updates") == 0) {
        /* Only explanations concern notify; router and deadline answer for
         * the other updates (and dead-letter the bad ones). */
        const char *status = mc_json_str(msg->doc, "data/status");
        return status && strcmp(status, "explanation") == 0
                   ? on_explanation(svc, conn, n, msg, err, errlen)
                   : 0;
    }
    /* A warning goes to the processing unit; a breach makes the citizen's
     * letter and the unit's request for an explanation. Refusals and moved
     * deadlines concern the units' software, which reads them itself. */
    type = mc_json_str(msg->doc, "type");
    if (type == NULL || (strcmp(type, "dossier.overdue") != 0 && strcmp(type, "dossier.warning")))
        return 0;
    if ((rc = mc_schema_check(n->deadline_schema, msg->doc, "deadline event", err, errlen)) != 0)
        return rc;
    if (strcmp(type, "dossier.warning") == 0)
        return on_warning(svc, conn, n, msg, err, errlen);
    return on_overdue(svc, conn, n, msg, err, errlen);
}

/* The periodic work: due retries, then explanation deadlines passed. */
static int notify_work(struct mc_service *svc, PGconn *conn, int64_t *next_ms, void *state)
{
    int64_t retry_ms = RETRY_POLL_MS, escalate_ms = ESCALATE_POLL_MS;
    int rc = notify_retry(svc, conn, &retry_ms, state);
    if (rc == 0)
        rc = escalation_work(svc, conn, state, &escalate_ms);
    *next_ms = retry_ms < escalate_ms ? retry_ms : escalate_ms;
    return rc;
}

static const char *const notify_topics[] = {"dossier.deadlines", "notification.receipts",
                                            "dossier.updates", NULL};

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
    .work_cb = notify_work,
    .use_clock = 1,
};
