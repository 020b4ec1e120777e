/* The health and metrics endpoints (/livez, /readyz, /metrics), served by
 * libh2o on the process's libuv loop, and the requests of an application
 * beside them (the read side's API): replies, and event streams
 * (Server-Sent Events) fed by broadcasts. */
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
/* A request handed to the application (mc_http_set_app). Valid until the
 * handler returns; its strings live in the request's memory. */
struct mc_http_req;

/* Handles a request other than /livez, /readyz and /metrics: answers it
 * (mc_http_reply or mc_http_stream_start) and returns 0, or returns -1 for
 * the server's 404. */
typedef int (*mc_http_app_cb)(struct mc_http_req *req, void *opaque);
void mc_http_set_app(struct mc_http *http, mc_http_app_cb cb, void *opaque);

const char *mc_http_req_method(const struct mc_http_req *req);
/* The path without its query, normalised (no "." or ".." segments). */
const char *mc_http_req_path(const struct mc_http_req *req);
/* The raw query after '?', "" when there is none. */
const char *mc_http_req_query(const struct mc_http_req *req);
/* The value of header name (lower case), or NULL. */
const char *mc_http_req_header(const struct mc_http_req *req, const char *name);
/* The client's address as text ("127.0.0.1", "::1"). */
const char *mc_http_req_peer(const struct mc_http_req *req);

/* The query parameter name of query, percent-decoded ('+' is a space) into
 * buf. Returns its length, -1 when absent, -2 when it is malformed (a bad
 * escape, a NUL) or does not fit in buf. */
int mc_http_query_param(const char *query, const char *name, char *buf, size_t buflen);

/* Answers req: status, Content-Type, the body (copied) and extra headers
 * as name, value pairs ending with NULL (NULL for none). */
void mc_http_reply(struct mc_http_req *req, int status, const char *type, const char *body,
                   size_t len, const char *const *headers);

/* Answers req with an endless stream of type (text/event-stream) fed by
 * mc_http_broadcast, until the client leaves or the server stops. A client
 * that lets more than max_pending bytes wait is disconnected (it
 * reconnects). Returns 0, or -1 when max_streams are open already (the
 * caller answers 503). */
int mc_http_stream_start(struct mc_http_req *req, const char *type, size_t max_pending,
                         int max_streams);
/* Sends data (copied) to every open stream. */
void mc_http_broadcast(struct mc_http *http, const char *data, size_t len);
/* Streams open. */
int mc_http_stream_count(const struct mc_http *http);

/* The port actually bound (useful with port 0). */
int mc_http_port(const struct mc_http *http);
/* Stops listening and closes connections; the loop must run afterwards for the
 * close callbacks, after which the memory is freed. NULL ok. */
void mc_http_stop(struct mc_http *http);

#endif
