/* Routes and parameters of motcua-api's requests (schemas/openapi.yaml). */
#include "request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "motcua/http.h"

int api_code_ok(const char *s, size_t len)
{
    if (len == 0 || len > API_CODE_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              c == '.' || c == '-' || c == '_'))
            return 0;
    }
    return 1;
}

int api_month_start(const char *month, char *out, size_t len)
{
    int y, m;
    if (strlen(month) != 7 || month[4] != '-')
        return -1;
    for (int i = 0; i < 7; i++)
        if (i != 4 && (month[i] < '0' || month[i] > '9'))
            return -1;
    y = atoi(month);
    m = atoi(month + 5);
    if (y < 2000 || y > 2199 || m < 1 || m > 12)
        return -1;
    snprintf(out, len, "%04d-%02d-01T00:00:00+07:00", y, m);
    return 0;
}

static void bad(struct api_request *r, int status, const char *detail)
{
    r->route = API_BAD;
    r->status = status;
    r->title = status == 404 ? "Not Found" : status == 405 ? "Method Not Allowed" : "Bad Request";
    r->detail = detail;
}

/* The month parameter: required, or optional (has_month 0 when absent). */
static int month_param(struct api_request *r, const char *query, int required)
{
    int n = mc_http_query_param(query, "month", r->month, sizeof r->month);
    if (n == -1 && !required)
        return 0;
    if (n == -1) {
        bad(r, 400, "the query parameter month (YYYY-MM) is required");
        return -1;
    }
    if (n < -1 || api_month_start(r->month, r->month_start, sizeof r->month_start) != 0) {
        bad(r, 400, "month must be a month of 2000 to 2199 written YYYY-MM, e.g. 2024-03");
        return -1;
    }
    r->has_month = 1;
    return 0;
}

static void lookup(struct api_request *r, const char *code, const char *query)
{
    static const char not_found[] = "no dossier has this code and applicant id number";
    int n = mc_http_query_param(query, "id_number", r->id_number, sizeof r->id_number);
    if (n == -1 || n == 0) {
        bad(r, 400, "the query parameter id_number (the applicant's id number) is required");
        return;
    }
    /* An id number that cannot be (a bad escape, too long) or a code that
     * cannot be: the same 404 as a wrong one. */
    if (n < 0 || !api_code_ok(code, strlen(code))) {
        bad(r, 404, not_found);
        return;
    }
    r->route = API_LOOKUP;
    snprintf(r->code, sizeof r->code, "%s", code);
    r->has_code = 1;
}

static void worklist(struct api_request *r, const char *unit, size_t len, const char *query)
{
    char limit[16];
    int n;

    if (!api_code_ok(unit, len)) {
        bad(r, 404, "no unit has this code");
        return;
    }
    snprintf(r->code, sizeof r->code, "%.*s", (int)len, unit);
    r->has_code = 1;
    if ((n = mc_http_query_param(query, "state", r->state, sizeof r->state)) == -1)
        snprintf(r->state, sizeof r->state, "open");
    if (n < -1 || (strcmp(r->state, "open") != 0 && strcmp(r->state, "due-soon") != 0 &&
                   strcmp(r->state, "late") != 0)) {
        bad(r, 400, "state must be open, due-soon or late");
        return;
    }
    r->limit = API_PAGE_DEFAULT;
    if ((n = mc_http_query_param(query, "limit", limit, sizeof limit)) != -1) {
        char *end = NULL;
        long v = n > 0 ? strtol(limit, &end, 10) : 0;
        if (n <= 0 || *end != '\0' || v < 1 || v > API_PAGE_MAX) {
            bad(r, 400, "limit must be a whole number from 1 to 200");
            return;
        }
        r->limit = (int)v;
    }
    n = mc_http_query_param(query, "after", r->after, sizeof r->after);
    if (n != -1 && (n < 0 || !api_code_ok(r->after, (size_t)n))) {
        bad(r, 400, "after must be the code of the last dossier of the previous page");
        return;
    }
    r->has_after = n != -1;
    r->route = API_WORKLIST;
}

static void indicators(struct api_request *r, const char *query)
{
    int n;
    if (month_param(r, query, 1) != 0)
        return;
    n = mc_http_query_param(query, "unit", r->code, sizeof r->code);
    if (n != -1 && (n < 0 || !api_code_ok(r->code, (size_t)n))) {
        bad(r, 404, "no unit of the catalog has this code");
        return;
    }
    r->has_code = n != -1;
    r->route = API_INDICATORS;
}

/* path minus prefix when path starts with it, else NULL. */
static const char *after_prefix(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncmp(path, prefix, n) == 0 ? path + n : NULL;
}

void api_parse_request(const char *method, const char *path, const char *query,
                       struct api_request *r)
{
    const char *rest, *slash;

    memset(r, 0, sizeof *r);
    r->route = API_NOT_FOUND;
    if (query == NULL)
        query = "";
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        bad(r, 405, "only GET and HEAD are served");
        return;
    }
    if (strcmp(path, "/") == 0 || strcmp(path, "/board") == 0) {
        r->route = API_REDIRECT;
    } else if ((rest = after_prefix(path, "/board/")) != NULL) {
        if (strchr(rest, '/') == NULL && strlen(rest) < sizeof r->file) {
            snprintf(r->file, sizeof r->file, "%s", rest[0] ? rest : "index.html");
            r->route = API_FILE;
        }
    } else if ((rest = after_prefix(path, "/v1/dossiers/")) != NULL) {
        if (strchr(rest, '/') == NULL)
            lookup(r, rest, query);
    } else if ((rest = after_prefix(path, "/v1/units/")) != NULL) {
        if ((slash = strchr(rest, '/')) != NULL && strcmp(slash, "/dossiers") == 0)
            worklist(r, rest, (size_t)(slash - rest), query);
    } else if (strcmp(path, "/v1/indicators") == 0) {
        indicators(r, query);
    } else if (strcmp(path, "/v1/ranking") == 0) {
        if (month_param(r, query, 1) == 0)
            r->route = API_RANKING;
    } else if (strcmp(path, "/v1/board") == 0) {
        if (month_param(r, query, 0) == 0)
            r->route = API_BOARD;
    } else if (strcmp(path, "/v1/events") == 0) {
        r->route = API_EVENTS;
    }
}
