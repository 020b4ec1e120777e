/* /livez, /readyz and /metrics served by libh2o (2.2.x, libuv build) on the
 * process's own loop.
 *
 * Stopping, and what libh2o 2.2.5 imposes on it:
 * - h2o_context_dispose() asserts that no connection still holds a timeout
 *   entry, so every connection must be closed first. HTTP/1 in h2o has no
 *   "close your connections" call (h2o_context_request_shutdown does nothing
 *   for HTTP/1), so we track the sockets we accept and shutdown(SHUT_RD)
 *   each one: h2o reads EOF (after finishing any response it is writing) and
 *   closes the connection through its own path.
 * - h2o_context_dispose() closes its uv timers (embedded in the context) and
 *   then calls uv_run(loop, UV_RUN_NOWAIT) itself so that their close
 *   callbacks run before the memory can go. That is a nested uv_run; we make
 *   it happen only from a close callback (never from inside I/O polling), and
 *   protect a pending uv_stop() from it (see dispose()).
 * - libuv writes with write(2): a client that hangs up mid-response raises
 *   SIGPIPE, so mc_http_start ignores SIGPIPE if it is still at its default. */
#include "motcua/http.h"

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#if !defined(H2O_USE_LIBUV) || !H2O_USE_LIBUV
#error "libh2o must be used with H2O_USE_LIBUV=1 (the motcua_common target defines it)"
#endif
#include <h2o.h>

#include "motcua/error.h"
#include "motcua/log.h"
#include "motcua/metrics.h"

struct conn {
    uv_tcp_t tcp; /* first: h2o hands us the uv handle when the socket closes */
    struct mc_http *http;
    struct conn *prev, *next;
};

struct handler {
    h2o_handler_t super;
    struct mc_http *http;
};

/* An event stream (mc_http_stream_start). h2o writes one buffer at a time
 * and asks for the next with proceed(): what is broadcast meanwhile waits
 * in pending. proceed() and stop() may be called from inside h2o_send(). */
struct stream {
    h2o_generator_t gen; /* first: h2o hands it back to proceed() and stop() */
    h2o_req_t *req;
    struct mc_http *http;
    struct stream *prev, *next;
    char *inflight; /* handed to h2o_send, kept until proceed() */
    char *pending;
    size_t pending_len, pending_cap, max_pending;
    int idle;    /* proceed() came and nothing was sent since */
    int closing; /* end the response at the next proceed() */
};

struct mc_http_req {
    h2o_req_t *req;
    struct mc_http *http;
    const char *method, *path, *query;
    char peer[64];
};

struct mc_http {
    uv_loop_t *loop;
    h2o_globalconf_t config;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    uv_tcp_t listener;
    int port;
    mc_http_ready_cb ready_cb;
    void *opaque;
    struct conn *conns;
    struct stream *streams;
    int nstreams;
    mc_http_app_cb app_cb;
    void *app_opaque;
    int ctx_ready;       /* h2o_context_init done */
    int listener_closed; /* its close callback ran */
    int stopping;
};

static void respond(h2o_req_t *req, int status, const char *reason, const char *type,
                    const char *body, size_t len)
{
    req->res.status = status;
    req->res.reason = reason;
    req->res.content_length = len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, type, strlen(type));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
                   H2O_STRLIT("no-store"));
    h2o_send_inline(req, body, len); /* copies body into the request's pool */
}

static int path_is(h2o_iovec_t path, const char *want)
{
    return h2o_memis(path.base, path.len, want, strlen(want));
}

static void respond_text(h2o_req_t *req, int status, const char *reason, const char *body)
{
    respond(req, status, reason, "text/plain; charset=utf-8", body, strlen(body));
}

/* A NUL-terminated copy in the request's memory. */
static const char *pool_str(h2o_req_t *req, const char *p, size_t len)
{
    char *s = h2o_mem_alloc_pool(&req->pool, len + 1);
    memcpy(s, p, len);
    s[len] = '\0';
    return s;
}

static void peer_text(h2o_req_t *req, char *buf, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sslen = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);

    snprintf(buf, len, "unknown");
    if (sslen == 0)
        return;
    if (ss.ss_family == AF_INET)
        uv_ip4_name((struct sockaddr_in *)&ss, buf, len);
    else if (ss.ss_family == AF_INET6)
        uv_ip6_name((struct sockaddr_in6 *)&ss, buf, len);
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    struct mc_http *http = ((struct handler *)self)->http;
    h2o_iovec_t path = req->path_normalized;
    int known = path_is(path, "/livez") || path_is(path, "/readyz") || path_is(path, "/metrics");

    if (!known) {
        if (http->app_cb != NULL && !http->stopping) {
            struct mc_http_req r = {.req = req, .http = http};
            r.method = pool_str(req, req->method.base, req->method.len);
            r.path = pool_str(req, path.base, path.len);
            r.query = req->query_at == SIZE_MAX ? ""
                                                : pool_str(req, req->path.base + req->query_at + 1,
                                                           req->path.len - req->query_at - 1);
            peer_text(req, r.peer, sizeof r.peer);
            if (http->app_cb(&r, http->app_opaque) == 0)
                return 0;
        }
        respond_text(req, 404, "Not Found", "not found");
        return 0;
    }
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) &&
        !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL,
                       H2O_STRLIT("GET, HEAD"));
        respond_text(req, 405, "Method Not Allowed", "method not allowed");
        return 0;
    }
    if (path_is(path, "/livez")) {
        respond_text(req, 200, "OK", "ok");
    } else if (path_is(path, "/readyz")) {
        char why[256] = "";
        int ready = http->ready_cb == NULL || http->ready_cb(why, sizeof(why), http->opaque);

        why[sizeof(why) - 1] = '\0';
        if (ready)
            respond_text(req, 200, "OK", "ready");
        else
            respond_text(req, 503, "Service Unavailable", why[0] != '\0' ? why : "not ready");
    } else {
        char *body = mc_metrics_render();

        respond(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", body, strlen(body));
        free(body);
    }
    return 0;
}

/* Runs in a close callback (see the top of the file). */
static void dispose(struct mc_http *http)
{
    uv_loop_t *loop = http->loop;
    /* h2o's nested uv_run(NOWAIT) would skip its iteration, and so leave the
     * context's timers half-closed when we free them, if uv_stop() is pending;
     * it also clears that flag. Run it unstopped, then put the flag back. */
    unsigned int stop_flag = loop->stop_flag;

    loop->stop_flag = 0;
    h2o_context_dispose(&http->ctx);
    loop->stop_flag = stop_flag;
    h2o_config_dispose(&http->config);
    free(http);
}

static void maybe_finish(struct mc_http *http)
{
    if (http->stopping && http->listener_closed && http->conns == NULL) {
        if (http->ctx_ready) {
            dispose(http);
        } else {
            h2o_config_dispose(&http->config);
            free(http);
        }
    }
}

static void on_conn_closed(uv_handle_t *handle)
{
    struct conn *conn = (struct conn *)handle;
    struct mc_http *http = conn->http;

    if (conn->prev != NULL)
        conn->prev->next = conn->next;
    else
        http->conns = conn->next;
    if (conn->next != NULL)
        conn->next->prev = conn->prev;
    free(conn);
    maybe_finish(http);
}

static void on_accept(uv_stream_t *listener, int status)
{
    struct mc_http *http = listener->data;
    struct conn *conn;
    h2o_socket_t *sock;
    int rc;

    if (status != 0) {
        mc_log_kv(MC_LOG_WARN, "http accept failed", "error", uv_strerror(status), NULL);
        return;
    }
    conn = mc_xcalloc(1, sizeof(*conn));
    conn->http = http;
    conn->next = http->conns;
    if (http->conns != NULL)
        http->conns->prev = conn;
    http->conns = conn;
    uv_tcp_init(http->loop, &conn->tcp);
    if ((rc = uv_accept(listener, (uv_stream_t *)&conn->tcp)) != 0) {
        mc_log_kv(MC_LOG_WARN, "http accept failed", "error", uv_strerror(rc), NULL);
        uv_close((uv_handle_t *)&conn->tcp, on_conn_closed);
        return;
    }
    sock = h2o_uv_socket_create((uv_stream_t *)&conn->tcp, on_conn_closed);
    h2o_accept(&http->accept_ctx, sock);
}

static void on_listener_closed(uv_handle_t *handle)
{
    struct mc_http *http = handle->data;

    http->listener_closed = 1;
    maybe_finish(http);
}

/* Binds and listens on a plain socket first, so that a bad address or a busy
 * port fails before any uv handle exists (nothing to close asynchronously). */
static int open_listen_socket(const char *addr, int port, int *bound_port, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    int fd = -1, one = 1, family;

    memset(&ss, 0, sizeof(ss));
    if (uv_ip4_addr(addr, port, (struct sockaddr_in *)&ss) == 0) {
        family = AF_INET;
        sslen = sizeof(struct sockaddr_in);
    } else if (uv_ip6_addr(addr, port, (struct sockaddr_in6 *)&ss) == 0) {
        family = AF_INET6;
        sslen = sizeof(struct sockaddr_in6);
    } else {
        return mc_err(err, errlen, MC_EINVAL,
                      "http address \"%s\" is not a numeric IPv4 or IPv6 "
                      "address",
                      addr);
    }
    if ((fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
        return mc_err(err, errlen, MC_EIO, "http socket: %s", strerror(errno));
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, sslen) != 0) {
        mc_err(err, errlen, MC_EIO, "http bind %s:%d: %s", addr, port, strerror(errno));
        goto fail;
    }
    if (listen(fd, 128) != 0) {
        mc_err(err, errlen, MC_EIO, "http listen %s:%d: %s", addr, port, strerror(errno));
        goto fail;
    }
    sslen = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sslen) != 0) {
        mc_err(err, errlen, MC_EIO, "http getsockname: %s", strerror(errno));
        goto fail;
    }
    *bound_port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                          : ((struct sockaddr_in6 *)&ss)->sin6_port);
    return fd;
fail:
    close(fd);
    return MC_EIO;
}

struct mc_http *mc_http_start(uv_loop_t *loop, const char *addr, int port,
                              mc_http_ready_cb ready_cb, void *opaque, char *err, size_t errlen)
{
    struct mc_http *http = NULL;
    h2o_hostconf_t *hostconf;
    h2o_pathconf_t *pathconf;
    struct handler *handler;
    struct sigaction sa;
    int fd, bound_port = 0, rc;

    if (addr == NULL || port < 0 || port > 65535) {
        mc_err(err, errlen, MC_EINVAL, "http: need a numeric address and a port in 0..65535");
        return NULL;
    }
    if ((fd = open_listen_socket(addr, port, &bound_port, err, errlen)) < 0)
        return NULL;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
        signal(SIGPIPE, SIG_IGN);

    http = mc_xcalloc(1, sizeof(*http));
    http->loop = loop;
    http->port = bound_port;
    http->ready_cb = ready_cb;
    http->opaque = opaque;

    h2o_config_init(&http->config);
    hostconf =
        h2o_config_register_host(&http->config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    /* One handler for every path, so that the paths we do not serve get our
     * 404 and "/livez/x" does not match "/livez" as a prefix. */
    pathconf = h2o_config_register_path(hostconf, "/", 0);
    handler = (struct handler *)h2o_create_handler(pathconf, sizeof(*handler));
    handler->super.on_req = on_req;
    handler->http = http;

    uv_tcp_init(loop, &http->listener);
    http->listener.data = http;
    if ((rc = uv_tcp_open(&http->listener, fd)) != 0 ||
        (rc = uv_listen((uv_stream_t *)&http->listener, 128, on_accept)) != 0) {
        mc_err(err, errlen, MC_EIO, "http listen %s:%d: %s", addr, port, uv_strerror(rc));
        /* The handle must close through the loop; it frees the rest. */
        if (uv_fileno((uv_handle_t *)&http->listener, &(uv_os_fd_t){0}) != 0)
            close(fd);
        http->stopping = 1;
        uv_close((uv_handle_t *)&http->listener, on_listener_closed);
        return NULL;
    }

    h2o_context_init(&http->ctx, loop, &http->config);
    http->ctx_ready = 1;
    http->accept_ctx.ctx = &http->ctx;
    http->accept_ctx.hosts = http->config.hosts;
    return http;
}

int mc_http_port(const struct mc_http *http)
{
    return http->port;
}

/* ---- the application's requests ----------------------------------------- */

void mc_http_set_app(struct mc_http *http, mc_http_app_cb cb, void *opaque)
{
    http->app_cb = cb;
    http->app_opaque = opaque;
}

const char *mc_http_req_method(const struct mc_http_req *req)
{
    return req->method;
}

const char *mc_http_req_path(const struct mc_http_req *req)
{
    return req->path;
}

const char *mc_http_req_query(const struct mc_http_req *req)
{
    return req->query;
}

const char *mc_http_req_header(const struct mc_http_req *req, const char *name)
{
    ssize_t i = h2o_find_header_by_str(&req->req->headers, name, strlen(name), -1);
    if (i < 0)
        return NULL;
    return pool_str(req->req, req->req->headers.entries[i].value.base,
                    req->req->headers.entries[i].value.len);
}

const char *mc_http_req_peer(const struct mc_http_req *req)
{
    return req->peer;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int mc_http_query_param(const char *query, const char *name, char *buf, size_t buflen)
{
    size_t nlen = strlen(name);
    const char *p = query;

    while (p != NULL && *p != '\0') {
        const char *end = strchr(p, '&');
        size_t plen = end ? (size_t)(end - p) : strlen(p);
        if (plen > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
            size_t o = 0;
            for (const char *c = p + nlen + 1; c < p + plen; c++) {
                int ch = (unsigned char)*c;
                if (ch == '%') {
                    int hi = c + 2 < p + plen ? hexval(c[1]) : -1;
                    int lo = hi >= 0 ? hexval(c[2]) : -1;
                    if (lo < 0)
                        return -2;
                    ch = hi * 16 + lo;
                    c += 2;
                } else if (ch == '+') {
                    ch = ' ';
                }
                if (ch == 0 || o + 1 >= buflen)
                    return -2;
                buf[o++] = (char)ch;
            }
            if (buflen == 0)
                return -2;
            buf[o] = '\0';
            return (int)o;
        }
        p = end ? end + 1 : NULL;
    }
    return -1;
}

static const char *reason_of(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 301:
        return "Moved Permanently";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Status";
    }
}

static void add_headers(h2o_req_t *req, const char *const *headers)
{
    for (int i = 0; headers != NULL && headers[i] != NULL && headers[i + 1] != NULL; i += 2) {
        const char *name = pool_str(req, headers[i], strlen(headers[i]));
        h2o_add_header_by_str(&req->pool, &req->res.headers, name, strlen(name), 1, NULL,
                              headers[i + 1], strlen(headers[i + 1]));
    }
}

void mc_http_reply(struct mc_http_req *r, int status, const char *type, const char *body,
                   size_t len, const char *const *headers)
{
    add_headers(r->req, headers);
    respond(r->req, status, reason_of(status), type, body, len);
}

static void stream_unlink(struct stream *s)
{
    struct mc_http *http = s->http;
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        http->streams = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    http->nstreams--;
    free(s->inflight);
    free(s->pending);
    free(s);
}

/* Hands what is pending to h2o. s may be gone when this returns. */
static void stream_send(struct stream *s)
{
    h2o_iovec_t buf = h2o_iovec_init(s->pending, s->pending_len);
    h2o_req_t *req = s->req;

    s->inflight = s->pending;
    s->pending = NULL;
    s->pending_len = s->pending_cap = 0;
    s->idle = 0;
    h2o_send(req, &buf, 1, H2O_SEND_STATE_IN_PROGRESS);
}

/* Ends the response; s is freed. Only when idle. */
static void stream_end(struct stream *s)
{
    h2o_req_t *req = s->req;
    stream_unlink(s);
    h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
}

static void stream_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    struct stream *s = (struct stream *)gen;
    (void)req;
    free(s->inflight);
    s->inflight = NULL;
    s->idle = 1;
    if (s->closing)
        stream_end(s);
    else if (s->pending_len > 0)
        stream_send(s);
}

static void stream_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    (void)req;
    stream_unlink((struct stream *)gen);
}

static void stream_append(struct stream *s, const char *data, size_t len)
{
    if (s->pending_len + len > s->pending_cap) {
        s->pending_cap = (s->pending_len + len) * 2;
        s->pending = mc_xrealloc(s->pending, s->pending_cap);
    }
    memcpy(s->pending + s->pending_len, data, len);
    s->pending_len += len;
}

int mc_http_stream_start(struct mc_http_req *r, const char *type, size_t max_pending,
                         int max_streams)
{
    struct mc_http *http = r->http;
    struct stream *s;
    static const char hello[] = ": motcua\n\n"; /* a comment: the headers go out now */

    if (http->nstreams >= max_streams)
        return -1;
    s = mc_xcalloc(1, sizeof *s);
    s->gen.proceed = stream_proceed;
    s->gen.stop = stream_stop;
    s->req = r->req;
    s->http = http;
    s->max_pending = max_pending;
    s->next = http->streams;
    if (http->streams != NULL)
        http->streams->prev = s;
    http->streams = s;
    http->nstreams++;
    r->req->res.status = 200;
    r->req->res.reason = "OK";
    h2o_add_header(&r->req->pool, &r->req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, type,
                   strlen(type));
    h2o_add_header(&r->req->pool, &r->req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
                   H2O_STRLIT("no-store"));
    h2o_start_response(r->req, &s->gen);
    stream_append(s, hello, sizeof hello - 1);
    stream_send(s);
    return 0;
}

void mc_http_broadcast(struct mc_http *http, const char *data, size_t len)
{
    for (struct stream *s = http->streams, *next; s != NULL; s = next) {
        next = s->next;
        if (s->closing)
            continue;
        if (s->pending_len + len > s->max_pending) {
            /* A client that does not read: let it go (it reconnects). */
            s->closing = 1;
            s->pending_len = 0;
            if (s->idle)
                stream_end(s);
            continue;
        }
        stream_append(s, data, len);
        if (s->idle)
            stream_send(s);
    }
}

int mc_http_stream_count(const struct mc_http *http)
{
    return http->nstreams;
}

void mc_http_stop(struct mc_http *http)
{
    struct conn *conn;

    if (http == NULL || http->stopping)
        return;
    http->stopping = 1;
    uv_close((uv_handle_t *)&http->listener, on_listener_closed);
    /* Event streams never end by themselves: end them, so that h2o then
     * reads the EOF below and closes their connections. */
    for (struct stream *s = http->streams, *next; s != NULL; s = next) {
        next = s->next;
        s->closing = 1;
        s->pending_len = 0;
        if (s->idle)
            stream_end(s);
    }
    for (conn = http->conns; conn != NULL; conn = conn->next) {
        uv_os_fd_t fd;

        if (!uv_is_closing((uv_handle_t *)&conn->tcp) &&
            uv_fileno((uv_handle_t *)&conn->tcp, &fd) == 0)
            shutdown(fd, SHUT_RD);
    }
}
