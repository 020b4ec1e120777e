/* Unit tests of the health/metrics HTTP server: real sockets, real loop. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "motcua/http.h"
#include "motcua/metrics.h"

struct reply {
    int status;
    char content_type[128];
    char body[4096];
};

/* What the client thread saw; checked by the main thread after join (cmocka
 * must not fail from another thread). */
struct client {
    int port;
    uv_async_t *stop;
    struct reply livez, readyz1, readyz2, metrics, nope, livez_sub, post, head;
    int kept_alive_status; /* reply on the keep-alive connection before stop */
    int kept_alive_eof;    /* 1 if the server closed it after stop */
    int setup_error;
};

struct ready_state {
    int calls;
};

static int ready_cb(char *why, size_t whylen, void *opaque)
{
    struct ready_state *st = opaque;

    /* Not ready on the first probe, ready afterwards. */
    if (st->calls++ == 0) {
        snprintf(why, whylen, "kafka: not caught up");
        return 0;
    }
    return 1;
}

static int connect_local(int port)
{
    struct sockaddr_in sin;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0)
        return -1;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int send_all(int fd, const char *s)
{
    size_t n = strlen(s);

    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w <= 0)
            return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads with a 5 s guard; returns bytes read, 0 on EOF, -1 on error/timeout. */
static ssize_t read_some(int fd, char *buf, size_t len)
{
    struct pollfd pfd = {fd, POLLIN, 0};

    if (poll(&pfd, 1, 5000) <= 0)
        return -1;
    return read(fd, buf, len);
}

/* Parses "HTTP/1.1 <status> ...", content-type and the body (by content-length). */
static int parse_reply(const char *raw, size_t rawlen, struct reply *r)
{
    const char *end = strstr(raw, "\r\n\r\n");
    const char *p;
    long clen = -1;

    memset(r, 0, sizeof(*r));
    if (end == NULL || sscanf(raw, "HTTP/1.%*d %d", &r->status) != 1)
        return -1;
    for (p = strstr(raw, "\r\n") + 2; p < end; p = strstr(p, "\r\n") + 2) {
        if (strncasecmp(p, "content-type:", 13) == 0)
            sscanf(p + 13, " %127[^\r]", r->content_type);
        else if (strncasecmp(p, "content-length:", 15) == 0)
            clen = strtol(p + 15, NULL, 10);
    }
    end += 4;
    if (clen < 0 || (size_t)(end - raw) + (size_t)clen > rawlen)
        return -1; /* incomplete */
    if ((size_t)clen >= sizeof(r->body))
        clen = sizeof(r->body) - 1;
    memcpy(r->body, end, (size_t)clen);
    r->body[clen] = '\0';
    return 0;
}

/* One request on one connection; reads until a complete reply (or EOF). */
static int exchange(int fd, const char *request, struct reply *r, int until_eof)
{
    char raw[16384];
    size_t len = 0;
    ssize_t n;

    if (send_all(fd, request) != 0)
        return -1;
    for (;;) {
        n = read_some(fd, raw + len, sizeof(raw) - 1 - len);
        if (n < 0)
            return -1;
        len += (size_t)n;
        raw[len] = '\0';
        if (n == 0 || (!until_eof && parse_reply(raw, len, r) == 0))
            break;
    }
    return parse_reply(raw, len, r);
}

static void get(int port, const char *method, const char *path, struct reply *r)
{
    char request[256];
    int fd = connect_local(port);

    r->status = -1;
    if (fd < 0)
        return;
    snprintf(request, sizeof(request),
             "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", method, path);
    if (exchange(fd, request, r, 1) != 0)
        r->status = -1;
    close(fd);
}

static void *client_main(void *arg)
{
    struct client *c = arg;
    struct reply r;
    char byte;
    int fd;

    get(c->port, "GET", "/livez", &c->livez);
    get(c->port, "GET", "/readyz", &c->readyz1);
    get(c->port, "GET", "/readyz", &c->readyz2);
    get(c->port, "GET", "/metrics", &c->metrics);
    get(c->port, "GET", "/nope", &c->nope);
    get(c->port, "GET", "/livez/extra", &c->livez_sub);
    get(c->port, "POST", "/livez", &c->post);

    /* A keep-alive connection (a Prometheus scraper) is open when we stop:
     * stopping must close it rather than wait for it. */
    fd = connect_local(c->port);
    if (fd < 0) {
        c->setup_error = 1;
        uv_async_send(c->stop);
        return NULL;
    }
    if (exchange(fd, "GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", &r, 0) == 0)
        c->kept_alive_status = r.status;
    uv_async_send(c->stop);
    c->kept_alive_eof = read_some(fd, &byte, 1) == 0;
    close(fd);
    return NULL;
}

static struct mc_http *running_http;

static void on_stop(uv_async_t *async)
{
    mc_http_stop(running_http);
    uv_close((uv_handle_t *)async, NULL);
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_endpoints_and_stop(void **state)
{
    uv_loop_t loop;
    uv_async_t stop;
    struct ready_state ready = {0};
    struct client c;
    pthread_t thread;
    char err[256] = "";
    struct mc_metric *requests;
    double started;

    (void)state;
    memset(&c, 0, sizeof(c));
    requests = mc_metrics_counter("test", "requests_total", "Requests seen.");
    mc_metric_add(requests, 42);

    assert_int_equal(uv_loop_init(&loop), 0);
    running_http = mc_http_start(&loop, "127.0.0.1", 0, ready_cb, &ready, err, sizeof(err));
    assert_non_null(running_http);
    c.port = mc_http_port(running_http);
    assert_true(c.port > 0 && c.port < 65536);
    assert_int_equal(uv_async_init(&loop, &stop, on_stop), 0);
    c.stop = &stop;
    assert_int_equal(pthread_create(&thread, NULL, client_main, &c), 0);

    started = now_s();
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0); /* returns: nothing left open */
    assert_true(now_s() - started < 5.0);
    pthread_join(thread, NULL);
    assert_int_equal(uv_loop_close(&loop), 0);

    assert_int_equal(c.setup_error, 0);
    assert_int_equal(c.livez.status, 200);
    assert_string_equal(c.livez.body, "ok");
    assert_non_null(strstr(c.livez.content_type, "text/plain"));

    assert_int_equal(c.readyz1.status, 503);
    assert_string_equal(c.readyz1.body, "kafka: not caught up");
    assert_int_equal(c.readyz2.status, 200);
    assert_string_equal(c.readyz2.body, "ready");
    assert_int_equal(ready.calls, 2);

    assert_int_equal(c.metrics.status, 200);
    assert_non_null(strstr(c.metrics.content_type, "text/plain; version=0.0.4"));
    assert_non_null(strstr(c.metrics.body, "# TYPE motcua_test_requests_total counter\n"
                                           "motcua_test_requests_total 42\n"));

    assert_int_equal(c.nope.status, 404);
    assert_int_equal(c.livez_sub.status, 404);
    assert_int_equal(c.post.status, 405);

    assert_int_equal(c.kept_alive_status, 200);
    assert_int_equal(c.kept_alive_eof, 1);
    mc_metrics_reset();
}

static void test_stop_idle_server_ends_loop(void **state)
{
    uv_loop_t loop;
    char err[256] = "";
    struct mc_http *http;

    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    http = mc_http_start(&loop, "127.0.0.1", 0, NULL, NULL, err, sizeof(err));
    assert_non_null(http);
    mc_http_stop(http);
    mc_http_stop(NULL);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

struct stop_with_uv_stop {
    struct mc_http *http;
    uv_timer_t stopper, ticker;
    int ticks;
};

static void on_tick(uv_timer_t *timer)
{
    struct stop_with_uv_stop *t = timer->data;

    if (++t->ticks == 200)
        uv_close((uv_handle_t *)timer, NULL);
}

static void on_stopper(uv_timer_t *timer)
{
    struct stop_with_uv_stop *t = timer->data;

    mc_http_stop(t->http);
    uv_stop(timer->loop);
    uv_close((uv_handle_t *)timer, NULL);
}

/* libh2o's context dispose runs a nested uv_run; a uv_stop() pending at the
 * time must still end the caller's uv_run, and nothing may be left behind. */
static void test_stop_keeps_pending_uv_stop(void **state)
{
    uv_loop_t loop;
    char err[256] = "";
    struct stop_with_uv_stop t;

    (void)state;
    memset(&t, 0, sizeof(t));
    assert_int_equal(uv_loop_init(&loop), 0);
    t.http = mc_http_start(&loop, "127.0.0.1", 0, NULL, NULL, err, sizeof(err));
    assert_non_null(t.http);
    uv_timer_init(&loop, &t.stopper);
    uv_timer_init(&loop, &t.ticker);
    t.stopper.data = t.ticker.data = &t;
    uv_timer_start(&t.stopper, on_stopper, 5, 0);
    uv_timer_start(&t.ticker, on_tick, 1, 1);
    assert_int_not_equal(uv_run(&loop, UV_RUN_DEFAULT), 0); /* stopped, ticker still alive */
    assert_true(t.ticks < 200);
    uv_close((uv_handle_t *)&t.ticker, NULL);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_start_errors(void **state)
{
    uv_loop_t loop;
    char err[256] = "";
    struct mc_http *http, *second;

    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_null(mc_http_start(&loop, "localhost", 0, NULL, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "numeric"));
    assert_null(mc_http_start(&loop, "127.0.0.1", 70000, NULL, NULL, err, sizeof(err)));

    http = mc_http_start(&loop, "127.0.0.1", 0, NULL, NULL, err, sizeof(err));
    assert_non_null(http);
    err[0] = '\0';
    second = mc_http_start(&loop, "127.0.0.1", mc_http_port(http), NULL, NULL, err, sizeof(err));
    assert_null(second);
    assert_non_null(strstr(err, "in use"));
    mc_http_stop(http);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_endpoints_and_stop),
        cmocka_unit_test(test_stop_idle_server_ends_loop),
        cmocka_unit_test(test_stop_keeps_pending_uv_stop),
        cmocka_unit_test(test_start_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
