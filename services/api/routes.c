/* The read side's HTTP API (schemas/openapi.yaml) and the board's files.
 * Requests read the projection on a connection of their own, as the role
 * motcua_api_read in read-only transactions; each statement is bounded
 * (statement_timeout) and each answer is small (pages, capped lists). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "api.h"
#include "motcua/config.h"
#include "motcua/datadir.h"
#include "motcua/error.h"
#include "motcua/http.h"
#include "motcua/jsonutil.h"
#include "motcua/log.h"
#include "motcua/metrics.h"
#include "motcua/pg.h"
#include "motcua/timeutil.h"
#include "national.h"
#include "ratelimit.h"
#include "request.h"

#define STREAM_MAX_PENDING (256 * 1024)
#define BOARD_CACHE_MS 1000 /* the board's answer is reused this long */
#define FILE_MAX (4 * 1024 * 1024)

/* ---- statements (run as motcua_api_read) --------------------------------- */

/* $1 code, $2 id number: whether they match (the first column), and the
 * citizen's view of the dossier as JSON. */
#define LOOKUP_REST(X) X(LK_DOC, "doc", LOOKUP_DOC)
#define LOOKUP_DOC                                                                                 \
    "jsonb_build_object('code', d.code, 'state', d.state, "                                        \
    "'procedure', jsonb_build_object('code', d.procedure_code, 'name', d.procedure_name), "        \
    "'channel', d.channel, 'receiving_agency', d.receiving_agency, "                               \
    "'reception_point', d.reception_point, "                                                       \
    "'unit', CASE WHEN d.unit_code IS NULL THEN NULL "                                             \
    "ELSE jsonb_build_object('code', d.unit_code, 'name', d.unit_name) END, "                      \
    "'received_at', public.motcua_rfc3339(d.received_at), "                                        \
    "'receipt_at', public.motcua_rfc3339(d.receipt_at), "                                          \
    "'due_at', public.motcua_rfc3339(d.due_at), "                                                  \
    "'rescheduled_due_at', public.motcua_rfc3339(d.rescheduled_due_at), "                          \
    "'finished_at', public.motcua_rfc3339(d.finished_at), 'late', d.late, "                        \
    "'timeline', coalesce((SELECT jsonb_agg(jsonb_build_object('at', "                             \
    "public.motcua_rfc3339(t.at), 'kind', t.kind) || CASE WHEN t.unit_code IS NULL THEN "          \
    "'{}'::jsonb ELSE jsonb_build_object('unit_code', t.unit_code) END || t.detail "               \
    "ORDER BY t.at, t.id) FROM (SELECT * FROM api.timeline WHERE dossier_code = d.code "           \
    "ORDER BY at, id LIMIT 200) t), '[]'::jsonb), "                                                \
    "'letters', coalesce((SELECT jsonb_agg(jsonb_build_object('notification_id', "                 \
    "l.notification_id, 'kind', l.kind, 'document_number', l.document_number, 'channel', "         \
    "l.channel, 'issued_at', public.motcua_rfc3339(l.issued_at), 'delivery', l.delivery, "         \
    "'delivery_at', public.motcua_rfc3339(l.delivery_at)) ORDER BY l.issued_at, "                  \
    "l.notification_id) FROM api.letter l WHERE l.dossier_code = d.code), '[]'::jsonb))::text"
enum { LK_MATCHES, LOOKUP_REST(MC_PG_COL_ENUM) LK_COUNT };
static const char LOOKUP[] =
    "SELECT d.id_check IS NOT NULL AND "
    "d.id_check = encode(sha256(convert_to($1 || ':' || $2, 'UTF8')), 'hex') AS "
    "matches" LOOKUP_REST(MC_PG_COL_SQL) " FROM api.dossier d WHERE d.code = $1";

/* $1 unit, $2 state (open, due-soon, late), $3 now, $4 after (code or
 * NULL), $5 limit. Dossiers without a due date yet sort last. */
static const char WORKLIST[] =
    "SELECT jsonb_build_object('code', d.code, 'state', d.state, 'procedure_code', "
    "d.procedure_code, 'procedure_name', d.procedure_name, 'receipt_at', "
    "public.motcua_rfc3339(d.receipt_at), 'due_at', public.motcua_rfc3339(d.due_at), "
    "'rescheduled_due_at', public.motcua_rfc3339(d.rescheduled_due_at), "
    "'late', d.late OR coalesce(d.due_at < $3::timestamptz, false), 'warned', "
    "d.warned_at IS NOT NULL)::text, "
    "d.state, d.code FROM api.dossier d WHERE d.unit_code = $1 AND d.closed_at IS NULL "
    "AND CASE $2 WHEN 'late' THEN d.late OR d.due_at < $3::timestamptz "
    "WHEN 'due-soon' THEN NOT (d.late OR d.due_at < $3::timestamptz) "
    "AND d.warned_at IS NOT NULL ELSE true END "
    "AND ($4::text IS NULL OR (coalesce(d.due_at, 'infinity'), d.code) > "
    "(SELECT coalesce(a.due_at, 'infinity'), a.code FROM api.dossier a WHERE a.code = $4)) "
    "ORDER BY coalesce(d.due_at, 'infinity'), d.code LIMIT $5::int";

static const char AFTER_EXISTS[] = "SELECT 1 FROM api.dossier WHERE code = $1 AND unit_code = $2";

/* The figures of one unit-month row of api.unit_month as JSON. */
#define UNIT_MONTH_JSON                                                                            \
    "jsonb_build_object('unit', jsonb_build_object('code', m.unit_code, 'name', m.unit_name, "     \
    "'kind', m.unit_kind), 'received', m.received, 'online', m.online, 'online_share', "           \
    "CASE WHEN m.received > 0 THEN round(m.online::numeric / m.received, 4) END, "                 \
    "'finished', m.finished, 'finished_on_time', m.finished_on_time, 'finished_late', "            \
    "m.finished_late, 'open_in_time', m.open_in_time, 'open_late', m.open_late, "                  \
    "'on_time', m.finished_on_time + m.open_in_time, 'late', m.finished_late + m.open_late, "      \
    "'on_time_rate', CASE WHEN m.finished_on_time + m.open_in_time + m.finished_late + "           \
    "m.open_late > 0 THEN round((m.finished_on_time + m.open_in_time)::numeric / "                 \
    "(m.finished_on_time + m.open_in_time + m.finished_late + m.open_late), 4) END, "              \
    "'letters', m.letters, 'average_processing_wd', m.average_processing_wd)"

/* $1 month start, $2 cut, $3 unit or NULL. */
static const char INDICATORS[] =
    "SELECT coalesce(jsonb_agg(" UNIT_MONTH_JSON " ORDER BY m.unit_code), '[]'::jsonb)::text "
    "FROM api.unit_month($1::timestamptz, $2::timestamptz, $3) m";

/* $1 month start, $2 cut: units by on-time rate (none counted last), then
 * fewer late dossiers, fewer letters, code. */
static const char RANKING[] =
    "SELECT coalesce(jsonb_agg(r.j || jsonb_build_object('rank', r.rank) ORDER BY r.rank), "
    "'[]'::jsonb)::text FROM (SELECT " UNIT_MONTH_JSON " AS j, row_number() OVER (ORDER BY "
    "CASE WHEN m.finished_on_time + m.open_in_time + m.finished_late + m.open_late > 0 THEN "
    "(m.finished_on_time + m.open_in_time)::numeric / (m.finished_on_time + m.open_in_time + "
    "m.finished_late + m.open_late) END DESC NULLS LAST, m.finished_late + m.open_late, "
    "m.letters, m.unit_code) AS rank FROM api.unit_month($1::timestamptz, $2::timestamptz, "
    "NULL) m) r";

/* $1 month start, $2 now. Per unit: open, due today, late now, the
 * month's on-time rate; the late list; the on-time rate of the last 12
 * months, city-wide. */
static const char BOARD[] =
    "WITH m AS (SELECT * FROM api.unit_month($1::timestamptz, $2::timestamptz, NULL)), "
    "today AS (SELECT (date_trunc('day', $2::timestamptz AT TIME ZONE 'Asia/Ho_Chi_Minh') "
    "AT TIME ZONE 'Asia/Ho_Chi_Minh') AS s), "
    "o AS (SELECT d.unit_code, count(*) AS open, count(*) FILTER (WHERE d.due_at >= today.s AND "
    "d.due_at < today.s + interval '1 day') AS due_today, count(*) FILTER (WHERE d.late OR "
    "d.due_at < $2::timestamptz) AS late FROM api.dossier d, today WHERE d.closed_at IS NULL "
    "AND d.receipt_at IS NOT NULL GROUP BY d.unit_code) "
    "SELECT jsonb_build_object('now', public.motcua_rfc3339($2::timestamptz), 'month', "
    "to_char($1::timestamptz AT TIME ZONE 'Asia/Ho_Chi_Minh', 'YYYY-MM'), "
    "'units', coalesce((SELECT jsonb_agg(jsonb_build_object('code', m.unit_code, 'name', "
    "m.unit_name, 'kind', m.unit_kind, 'open', coalesce(o.open, 0), 'due_today', "
    "coalesce(o.due_today, 0), 'late', coalesce(o.late, 0), 'received', m.received, "
    "'on_time', m.finished_on_time + m.open_in_time, 'late_month', m.finished_late + "
    "m.open_late, 'letters', m.letters, 'on_time_rate', CASE WHEN m.finished_on_time + "
    "m.open_in_time + m.finished_late + m.open_late > 0 THEN round((m.finished_on_time + "
    "m.open_in_time)::numeric / (m.finished_on_time + m.open_in_time + m.finished_late + "
    "m.open_late), 4) END) ORDER BY m.unit_code) FROM m LEFT JOIN o ON o.unit_code = "
    "m.unit_code), '[]'::jsonb), "
    "'late_list', coalesce((SELECT jsonb_agg(jsonb_build_object('code', x.code, 'unit', "
    "jsonb_build_object('code', x.unit_code, 'name', x.unit_name), 'procedure_name', "
    "x.procedure_name, 'due_at', public.motcua_rfc3339(x.due_at), 'late_at', "
    "public.motcua_rfc3339(x.late_at), 'rescheduled_due_at', "
    "public.motcua_rfc3339(x.rescheduled_due_at), 'state', x.state, 'letter', x.letter) "
    "ORDER BY x.late_at DESC, x.code) FROM (SELECT d.*, (SELECT jsonb_build_object("
    "'document_number', l.document_number, 'channel', l.channel, 'issued_at', "
    "public.motcua_rfc3339(l.issued_at), 'delivery', l.delivery) FROM api.letter l WHERE "
    "l.dossier_code = d.code ORDER BY l.issued_at DESC NULLS LAST LIMIT 1) AS letter "
    "FROM api.dossier d WHERE d.late AND (d.closed_at IS NULL OR d.closed_at >= "
    "$1::timestamptz) ORDER BY d.late_at DESC, d.code LIMIT 50) x), '[]'::jsonb), "
    "'trend', (SELECT jsonb_agg(jsonb_build_object('month', to_char(t.s AT TIME ZONE "
    "'Asia/Ho_Chi_Minh', 'YYYY-MM'), 'on_time', t.on_time, 'late', t.late, 'on_time_rate', "
    "CASE WHEN t.on_time + t.late > 0 THEN round(t.on_time / (t.on_time + t.late), 4) END) "
    "ORDER BY t.s) FROM (SELECT u.month_start AS s, sum(u.finished_on_time + u.open_in_time) "
    "AS on_time, sum(u.finished_late + u.open_late) AS late FROM api.unit_months((("
    "$1::timestamptz AT TIME ZONE 'Asia/Ho_Chi_Minh') - interval '11 months') AT TIME ZONE "
    "'Asia/Ho_Chi_Minh', 12, $2::timestamptz, NULL) u GROUP BY u.month_start) t))::text";

/* ---- answers ------------------------------------------------------------- */

static void reply_json(struct api *api, struct mc_http_req *req, int status, const char *body)
{
    mc_metric_add(api->m_requests, 1);
    mc_http_reply(req, status, "application/json", body, strlen(body), NULL);
}

/* An RFC 9457 problem: status, a title per kind, what is wrong. */
static void problem(struct api *api, struct mc_http_req *req, int status, const char *title,
                    const char *detail, const char *const *headers)
{
    json_t *doc = json_pack("{s:s, s:s, s:i, s:s}", "type", "about:blank", "title", title, "status",
                            status, "detail", detail);
    char *text = json_dumps(doc, JSON_COMPACT);
    mc_metric_add(api->m_requests, 1);
    mc_http_reply(req, status, "application/problem+json", text, strlen(text), headers);
    free(text);
    json_decref(doc);
}

static void unavailable(struct api *api, struct mc_http_req *req, const char *err)
{
    static const char *const retry[] = {"retry-after", "5", NULL};
    mc_log_kv(MC_LOG_WARN, "api request failed", "path", mc_http_req_path(req), "error", err, NULL);
    problem(api, req, 503, "Service Unavailable",
            "the projection cannot be read just now; try again shortly", retry);
}

/* The requests' connection: motcua_api_read, read-only, bounded. */
static PGconn *reader(struct api *api, char *err, size_t errlen)
{
    static const char *const setup[] = {
        "SET ROLE motcua_api_read",
        "SET default_transaction_read_only = on",
        "SET statement_timeout = '5s'",
        /* JIT compiling took 1.5 s of a 26 ms indicators query (PostgreSQL
         * 15 compiles plans above jit_above_cost; these are short reads). */
        "SET jit = off",
    };
    if (mc_pg_alive(api->reader))
        return api->reader;
    PQfinish(api->reader);
    api->reader =
        mc_pg_connect(mc_service_config(api->svc)->pg_url, "motcua-api-read", err, errlen);
    for (size_t i = 0; api->reader && i < sizeof setup / sizeof setup[0]; i++)
        if (mc_pg_exec(api->reader, setup[i], 0, NULL, err, errlen) != 0) {
            PQfinish(api->reader);
            api->reader = NULL;
        }
    return api->reader;
}

/* Runs a read; NULL after answering 503. */
static PGresult *read_sql(struct api *api, struct mc_http_req *req, const char *sql, int n,
                          const char *const *params)
{
    char err[512];
    PGconn *conn = reader(api, err, sizeof err);
    PGresult *res = conn ? mc_pg_query(conn, sql, n, params, err, sizeof err) : NULL;
    if (res == NULL)
        unavailable(api, req, err);
    return res;
}

static void add_national(json_t *obj)
{
    struct mc_national n;
    if (mc_api_national(mc_json_str(obj, "state"), &n) == 0)
        json_object_set_new(obj, "national_status",
                            json_pack("{s:i, s:s}", "code", n.code, "key", n.key));
}

static mc_instant service_now(struct api *api)
{
    mc_instant now;
    return mc_service_now(api->svc, &now) == 0 ? now : mc_time_now();
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- endpoints ----------------------------------------------------------- */

/* GET /v1/dossiers/{code}?id_number=...: the citizen's lookup. The same
 * 404 for an unknown code and a wrong id number (request.c answers the
 * same for those that cannot be). */
static void get_dossier(struct api *api, struct mc_http_req *req, const struct api_request *r)
{
    const char *params[2] = {r->code, r->id_number};
    PGresult *res;
    json_t *doc;
    char *text;

    if ((res = read_sql(api, req, LOOKUP, 2, params)) == NULL)
        return;
    if (PQntuples(res) == 0 || strcmp(PQgetvalue(res, 0, LK_MATCHES), "t") != 0) {
        PQclear(res);
        problem(api, req, 404, "Not Found", "no dossier has this code and applicant id number",
                NULL);
        return;
    }
    doc = json_loads(PQgetvalue(res, 0, LK_DOC), 0, NULL);
    PQclear(res);
    add_national(doc);
    text = json_dumps(doc, JSON_COMPACT);
    reply_json(api, req, 200, text);
    free(text);
    json_decref(doc);
}

/* GET /v1/units/{unit}/dossiers?state=open|due-soon|late&limit=&after=. */
static void get_worklist(struct api *api, struct mc_http_req *req, const struct api_request *r)
{
    char now_text[MC_RFC3339_LEN], fetch[16];
    const char *params[5];
    PGresult *res;
    json_t *items, *doc;
    char *text;

    if (r->has_after) {
        params[0] = r->after;
        params[1] = r->code;
        if ((res = read_sql(api, req, AFTER_EXISTS, 2, params)) == NULL)
            return;
        if (PQntuples(res) == 0) {
            PQclear(res);
            problem(api, req, 404, "Not Found",
                    "after names no dossier of this unit: start again without it", NULL);
            return;
        }
        PQclear(res);
    }
    mc_time_format(service_now(api), now_text);
    snprintf(fetch, sizeof fetch, "%d", r->limit + 1);
    params[0] = r->code;
    params[1] = r->state;
    params[2] = now_text;
    params[3] = r->has_after ? r->after : NULL;
    params[4] = fetch;
    if ((res = read_sql(api, req, WORKLIST, 5, params)) == NULL)
        return;
    items = json_array();
    for (int i = 0; i < PQntuples(res) && i < r->limit; i++) {
        json_t *item = json_loads(PQgetvalue(res, i, 0), 0, NULL);
        add_national(item);
        json_array_append_new(items, item);
    }
    doc = json_pack(
        "{s:s, s:s, s:o, s:o}", "unit", r->code, "state", r->state, "items", items, "next",
        PQntuples(res) > r->limit ? json_string(PQgetvalue(res, r->limit - 1, 2)) : json_null());
    PQclear(res);
    text = json_dumps(doc, JSON_COMPACT);
    reply_json(api, req, 200, text);
    free(text);
    json_decref(doc);
}

/* GET /v1/indicators, /v1/ranking and /v1/board: one JSON document built
 * by the database. */
static void get_figures(struct api *api, struct mc_http_req *req, const struct api_request *r)
{
    char start[32], now_text[MC_RFC3339_LEN];
    const char *params[3];
    mc_instant now = service_now(api);
    PGresult *res;
    char *body;

    if (r->has_month) {
        snprintf(start, sizeof start, "%s", r->month_start);
    } else { /* the board's default: the current month */
        int y, m, d;
        mc_civil_from_days(mc_vn_day(now), &y, &m, &d);
        snprintf(start, sizeof start, "%04d-%02d-01T00:00:00+07:00", y, m);
    }
    if (r->route == API_BOARD && api->board_body && strcmp(api->board_month, start) == 0 &&
        now_ms() - api->board_at_ms < BOARD_CACHE_MS) {
        reply_json(api, req, 200, api->board_body);
        return;
    }
    mc_time_format(now, now_text);
    params[0] = start;
    params[1] = now_text;
    params[2] = r->has_code ? r->code : NULL;
    res = read_sql(api, req,
                   r->route == API_BOARD        ? BOARD
                   : r->route == API_INDICATORS ? INDICATORS
                                                : RANKING,
                   r->route == API_INDICATORS ? 3 : 2, params);
    if (res == NULL)
        return;
    if (r->route == API_BOARD) {
        body = mc_xstrdup(PQgetvalue(res, 0, 0));
        free(api->board_body);
        api->board_body = mc_xstrdup(body);
        snprintf(api->board_month, sizeof api->board_month, "%s", start);
        api->board_at_ms = now_ms();
    } else {
        json_t *list = json_loads(PQgetvalue(res, 0, 0), 0, NULL), *doc;
        if (r->has_code && json_array_size(list) == 0) {
            PQclear(res);
            json_decref(list);
            problem(api, req, 404, "Not Found", "no unit of the catalog has this code", NULL);
            return;
        }
        doc = json_pack("{s:s%, s:o}", "month", start, (size_t)7,
                        r->route == API_RANKING ? "ranking" : "units", list);
        body = json_dumps(doc, JSON_COMPACT);
        json_decref(doc);
    }
    PQclear(res);
    reply_json(api, req, 200, body);
    free(body);
}

/* ---- the board's files --------------------------------------------------- */

static const char *type_of(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},   {".svg", "image/svg+xml"},
        {".json", "application/json"},
    };
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return NULL;
}

int api_load_files(struct api *api, char *err, size_t errlen)
{
    char dir[4096];
    DIR *d;
    struct dirent *e;

    snprintf(dir, sizeof dir, "%s/board", mc_data_dir());
    if ((d = opendir(dir)) == NULL)
        return mc_err(err, errlen, MC_EINVAL,
                      "the board's files are missing: no directory %s (data directory from %s)",
                      dir, mc_data_dir_origin());
    while ((e = readdir(d)) != NULL) {
        char path[8192];
        struct stat st;
        FILE *f;
        const char *type = type_of(e->d_name);
        if (e->d_name[0] == '.' || type == NULL)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > FILE_MAX ||
            (f = fopen(path, "rb")) == NULL)
            continue;
        api->files = mc_xrealloc(api->files, (size_t)(api->nfiles + 1) * sizeof *api->files);
        api->files[api->nfiles].name = mc_xstrdup(e->d_name);
        api->files[api->nfiles].type = type;
        api->files[api->nfiles].body = mc_xmalloc((size_t)st.st_size + 1);
        api->files[api->nfiles].len = fread(api->files[api->nfiles].body, 1, (size_t)st.st_size, f);
        api->nfiles++;
        fclose(f);
    }
    closedir(d);
    for (int i = 0; i < api->nfiles; i++)
        if (strcmp(api->files[i].name, "index.html") == 0)
            return 0;
    return mc_err(err, errlen, MC_EINVAL, "the board's files are missing: no %s/index.html", dir);
}

void api_free_files(struct api *api)
{
    for (int i = 0; i < api->nfiles; i++) {
        free(api->files[i].name);
        free(api->files[i].body);
    }
    free(api->files);
    api->files = NULL;
    api->nfiles = 0;
}

static int get_file(struct api *api, struct mc_http_req *req, const char *name)
{
    static const char *const headers[] = {"cache-control", "no-cache", NULL};
    for (int i = 0; i < api->nfiles; i++)
        if (strcmp(api->files[i].name, name) == 0) {
            mc_metric_add(api->m_requests, 1);
            mc_http_reply(req, 200, api->files[i].type, api->files[i].body, api->files[i].len,
                          headers);
            return 0;
        }
    return -1;
}

/* ---- routing ------------------------------------------------------------- */

int api_http(struct mc_service *svc, struct mc_http_req *req, void *state)
{
    struct api *api = state;
    struct api_request r;
    int retry_s;

    if (api == NULL) {
        static const char body[] = "{\"type\":\"about:blank\",\"title\":\"Service Unavailable\","
                                   "\"status\":503,\"detail\":\"starting: the database is not "
                                   "reachable yet\"}";
        mc_http_reply(req, 503, "application/problem+json", body, sizeof body - 1, NULL);
        return 0;
    }
    api_parse_request(mc_http_req_method(req), mc_http_req_path(req), mc_http_req_query(req), &r);
    /* Every lookup counts, also those refused: guessing is what is limited. */
    if ((r.route == API_LOOKUP ||
         (r.route == API_BAD && strncmp(mc_http_req_path(req), "/v1/dossiers/", 13) == 0)) &&
        !mc_ratelimit_take(api->lookups, mc_http_req_peer(req), now_ms(), &retry_s)) {
        char retry[16];
        const char *headers[] = {"retry-after", retry, NULL};
        snprintf(retry, sizeof retry, "%d", retry_s);
        mc_metric_add(api->m_limited, 1);
        problem(api, req, 429, "Too Many Requests",
                "too many lookups from this address; try again after the time in Retry-After",
                headers);
        return 0;
    }
    switch (r.route) {
    case API_BAD: {
        static const char *const allow[] = {"allow", "GET, HEAD", NULL};
        problem(api, req, r.status, r.title, r.detail, r.status == 405 ? allow : NULL);
        return 0;
    }
    case API_REDIRECT: {
        static const char *const location[] = {"location", "/board/", NULL};
        mc_http_reply(req, 301, "text/plain; charset=utf-8", "/board/", 7, location);
        return 0;
    }
    case API_FILE:
        if (get_file(api, req, r.file) == 0)
            return 0;
        break;
    case API_LOOKUP:
        get_dossier(api, req, &r);
        return 0;
    case API_WORKLIST:
        get_worklist(api, req, &r);
        return 0;
    case API_INDICATORS:
    case API_RANKING:
    case API_BOARD:
        get_figures(api, req, &r);
        return 0;
    case API_EVENTS:
        mc_metric_add(api->m_requests, 1);
        if (mc_http_stream_start(req, "text/event-stream", STREAM_MAX_PENDING,
                                 mc_service_config(svc)->api_streams_max) != 0) {
            static const char *const retry[] = {"retry-after", "10", NULL};
            problem(api, req, 503, "Service Unavailable",
                    "too many event streams are open; try again later", retry);
        }
        return 0;
    case API_NOT_FOUND:
        break;
    }
    problem(api, req, 404, "Not Found", "no such resource (see schemas/openapi.yaml)", NULL);
    return 0;
}
