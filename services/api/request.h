/* What an HTTP request to motcua-api asks for, checked before anything is
 * read: the route and its parameters, or the problem to answer (400, 404,
 * 405). Pure: no database, no I/O (tests/fuzz/fuzz_api.c). */
#ifndef MOTCUA_API_REQUEST_H
#define MOTCUA_API_REQUEST_H

#include <stddef.h>

#define API_CODE_MAX 64

enum api_route {
    API_NOT_FOUND,  /* status 404 */
    API_BAD,        /* status 400, 404 or 405: answer the problem */
    API_REDIRECT,   /* "/" and "/board": 301 to /board/ */
    API_FILE,       /* a file of the board: file */
    API_LOOKUP,     /* code, id_number */
    API_WORKLIST,   /* code (the unit), state, limit, after */
    API_INDICATORS, /* month, code (the unit) when has_code */
    API_RANKING,    /* month */
    API_BOARD,      /* month when has_month, else the current one */
    API_EVENTS,
};

struct api_request {
    enum api_route route;
    int status;         /* API_BAD: 400, 404 or 405 */
    const char *title;  /* API_BAD: "Bad Request", ... */
    const char *detail; /* API_BAD: what is wrong (a constant) */
    char code[API_CODE_MAX + 1];
    int has_code;
    char id_number[64];
    char file[128];
    char state[16]; /* open, due-soon, late */
    int limit;      /* 1..200 */
    char after[API_CODE_MAX + 1];
    int has_after;
    char month[8];        /* YYYY-MM (2000..2199) */
    char month_start[32]; /* its first local midnight, RFC 3339 */
    int has_month;
};

#define API_PAGE_DEFAULT 50
#define API_PAGE_MAX 200

/* Parses method, path (normalised, without its query) and query into out.
 * Always fills out->route (and out->status etc. for API_BAD). */
void api_parse_request(const char *method, const char *path, const char *query,
                       struct api_request *out);

/* A dossier or unit code: [A-Za-z0-9._-], 1..API_CODE_MAX bytes. */
int api_code_ok(const char *s, size_t len);

/* "YYYY-MM" (2000..2199) -> "YYYY-MM-01T00:00:00+07:00". 0 or -1. */
int api_month_start(const char *month, char *out, size_t len);

#endif
