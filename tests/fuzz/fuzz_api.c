/* libFuzzer harness: the read side's request parsing
 * (services/api/request.c). The input is three lines: the method, the
 * normalised path and the raw query. Invariants: every request gets a
 * route; a problem has its status (400, 404, 405), title and detail; what
 * a route carries is what the API promises its SQL: codes of
 * [A-Za-z0-9._-]{1,64}, an id number without NUL, a page size 1..200, a
 * worklist state of three, a month start that is a local midnight of the
 * first day of a month of 2000..2199. mc_http_query_param's length is the
 * string's. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "motcua/http.h"
#include "motcua/timeutil.h"
#include "request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

static void check_month(const struct api_request *r)
{
    mc_instant t;
    CHECK(r->has_month);
    CHECK(strlen(r->month) == 7 && strncmp(r->month, r->month_start, 7) == 0);
    CHECK(strcmp(r->month_start + 7, "-01T00:00:00+07:00") == 0);
    CHECK(mc_time_parse(r->month_start, &t) == 0);
    CHECK((t + MC_VN_OFFSET_SECONDS) % 86400 == 0);
    CHECK(t >= 946659600 && t < 7258093200); /* 2000-01-01 .. 2200-01-01, +07:00 */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1), *method, *path, *query, *nl, buf[64];
    struct api_request r;
    int n;

    memcpy(text, data, size);
    text[size] = '\0';
    method = text;
    path = (nl = strchr(method, '\n')) ? (*nl = '\0', nl + 1) : (char *)"/";
    query = (nl = strchr(path, '\n')) ? (*nl = '\0', nl + 1) : (char *)"";

    n = mc_http_query_param(query, "id_number", buf, sizeof buf);
    CHECK(n >= -2 && (n < 0 || (size_t)n == strlen(buf)));

    api_parse_request(method, path, query, &r);
    switch (r.route) {
    case API_BAD:
        CHECK(r.status == 400 || r.status == 404 || r.status == 405);
        CHECK(r.title != NULL && r.detail != NULL && r.detail[0] != '\0');
        break;
    case API_LOOKUP:
        CHECK(r.has_code && api_code_ok(r.code, strlen(r.code)));
        CHECK(r.id_number[0] != '\0');
        break;
    case API_WORKLIST:
        CHECK(r.has_code && api_code_ok(r.code, strlen(r.code)));
        CHECK(r.limit >= 1 && r.limit <= API_PAGE_MAX);
        CHECK(strcmp(r.state, "open") == 0 || strcmp(r.state, "due-soon") == 0 ||
              strcmp(r.state, "late") == 0);
        CHECK(!r.has_after || api_code_ok(r.after, strlen(r.after)));
        break;
    case API_INDICATORS:
        check_month(&r);
        CHECK(!r.has_code || api_code_ok(r.code, strlen(r.code)));
        break;
    case API_RANKING:
        check_month(&r);
        break;
    case API_BOARD:
        if (r.has_month)
            check_month(&r);
        break;
    case API_FILE:
        CHECK(r.file[0] != '\0' && strchr(r.file, '/') == NULL);
        break;
    case API_REDIRECT:
    case API_EVENTS:
    case API_NOT_FOUND:
        break;
    default:
        abort();
    }
    if (r.route != API_BAD)
        CHECK(strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0);
    free(text);
    return 0;
}
