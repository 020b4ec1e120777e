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

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    struct mc_http *http = ((struct handler *)self)->http;
    h2o_iovec_t path = req->path_normalized;
    int known = path_is(path, "/livez") || path_is(path, "/readyz") || path_is(path, "/metrics");

    if (!known) {
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

void mc_http_stop(struct mc_http *http)
{
    struct conn *conn;

    if (http == NULL || http->stopping)
        return;
    http->stopping = 1;
    uv_close((uv_handle_t *)&http->listener, on_listener_closed);
    for (conn = http->conns; conn != NULL; conn = conn->next) {
        uv_os_fd_t fd;

        if (!uv_is_closing((uv_handle_t *)&conn->tcp) &&
            uv_fileno((uv_handle_t *)&conn->tcp, &fd) == 0)
            shutdown(fd, SHUT_RD);
    }
}
