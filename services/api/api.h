/* motcua-api, the read side: a projection of the dossier topics into its
 * own schema (api.c) and the HTTP API and board served from it (routes.c). */
#ifndef MOTCUA_API_H
#define MOTCUA_API_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdint.h>

#include "motcua/service.h"

extern const struct mc_service_def mc_api_def;

struct mc_catalog;
struct mc_metric;
struct mc_ratelimit;

/* A file of the board (<data dir>/board/), read once at start. */
struct api_file {
    char *name; /* "index.html" */
    const char *type;
    char *body;
    size_t len;
};

struct api {
    struct mc_service *svc;
    struct mc_schema *s_received, *s_assigned, *s_update, *s_deadline, *s_letter, *s_receipt,
        *s_notice;
    struct mc_catalog *catalog;
    struct mc_metric *m_events, *m_requests, *m_limited, *m_streams;

    /* The event stream: units the batch being applied changes, then those
     * committed and not yet announced (sets: unit code -> true). */
    json_t *batch_units, *unsent_units;
    int batch_changes, unsent_changes;
    int batch_rows; /* dossier rows the batch folded so far: their order ("n") */
    uint64_t last_broadcast_ms;
    int64_t announced_minute; /* the clock's minute the stream last announced */

    /* The board's last answer: every screen refetches it after the same
     * change, so it is computed once for them all. */
    char *board_body;
    char board_month[40];
    uint64_t board_at_ms;

    /* The requests' own connection, as motcua_api_read, read-only. */
    PGconn *reader;
    struct mc_ratelimit *lookups;
    struct api_file *files;
    int nfiles;
};

/* routes.c: answers a request (mc_service_def.http_cb). */
int api_http(struct mc_service *svc, struct mc_http_req *req, void *state);
/* Reads the board's files; 0 or MC_EINVAL naming what is missing. */
int api_load_files(struct api *api, char *err, size_t errlen);
void api_free_files(struct api *api);

#endif
