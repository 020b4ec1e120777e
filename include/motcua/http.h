/* The health and metrics endpoints (/livez, /readyz, /metrics), served by
 * libh2o on the process's libuv loop. */
#ifndef MOTCUA_HTTP_H
#define MOTCUA_HTTP_H

#include <stddef.h>
#include <uv.h>

/* Returns 1 when ready, 0 otherwise; may write a short reason into why. */
typedef int (*mc_http_ready_cb)(char *why, size_t whylen, void *opaque);

struct mc_http;

/* Starts listening on addr:port (port 0 picks a free port) on loop.
 * GET /livez -> 200 "ok"; GET /readyz -> 200 "ready" or 503 "<why>";
 * GET /metrics -> 200 mc_metrics_render(); anything else 404.
 * Returns NULL with a reason in err. */
struct mc_http *mc_http_start(uv_loop_t *loop, const char *addr, int port,
                              mc_http_ready_cb ready_cb, void *opaque, char *err, size_t errlen);
/* The port actually bound (useful with port 0). */
int mc_http_port(const struct mc_http *http);
/* Stops listening and closes connections; the loop must run afterwards for the
 * close callbacks, after which the memory is freed. NULL ok. */
void mc_http_stop(struct mc_http *http);

#endif
