/* libFuzzer harness: the bytes of one HTTP/1.x connection to the server
 * of every service (/livez, /readyz, /metrics on libh2o) with the read
 * side's routes beside them (services/api/request.c parses each request;
 * the app answers what it parsed, or a problem, and /v1/events opens an
 * event stream fed by a broadcast), served on the process's own libuv loop
 * over a real loopback socket, as the services serve them. Invariants:
 * whatever was sent, the server answers with an HTTP/1.x status line or
 * closes, or holds an event stream; it never crashes or hangs; an event
 * stream is let go once its client leaves. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>

#include "motcua/http.h"
#include "motcua/metrics.h"
#include "request.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uv_loop_t loop;
static struct mc_http *http;
static int port;

static int ready_cb(char *why, size_t whylen, void *opaque)
{
    (void)opaque;
    snprintf(why, whylen, "catching up with the backlog");
    return 0;
}

/* The read side's routing without its database: what was parsed. */
static int app_cb(struct mc_http_req *req, void *opaque)
{
    struct api_request r;
    char body[256];
    (void)opaque;
    api_parse_request(mc_http_req_method(req), mc_http_req_path(req), mc_http_req_query(req), &r);
    (void)mc_http_req_header(req, "accept");
    switch (r.route) {
    case API_NOT_FOUND:
        return -1;
    case API_BAD:
        snprintf(body, sizeof body, "{\"status\":%d,\"detail\":\"%s\"}", r.status, r.detail);
        mc_http_reply(req, r.status, "application/problem+json", body, strlen(body), NULL);
        return 0;
    case API_EVENTS:
        if (mc_http_stream_start(req, "text/event-stream", 4096, 4) != 0) {
            mc_http_reply(req, 503, "text/plain", "busy", 4, NULL);
            return 0;
        }
        mc_http_broadcast(http, "event: change\ndata: {}\n\n", 24);
        return 0;
    default: {
        static const char *const headers[] = {"x-route", "parsed", NULL};
        snprintf(body, sizeof body, "%d %s %s %d %s", (int)r.route, r.code, r.month_start, r.limit,
                 mc_http_req_peer(req));
        mc_http_reply(req, 200, "text/plain", body, strlen(body), headers);
        return 0;
    }
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[256];
    (void)argc;
    (void)argv;
    uv_loop_init(&loop);
    mc_metric_add(mc_metrics_counter("fuzz", "requests_total", "requests"), 1);
    if ((http = mc_http_start(&loop, "127.0.0.1", 0, ready_cb, NULL, err, sizeof err)) == NULL) {
        fprintf(stderr, "fuzz_http: %s\n", err);
        abort();
    }
    port = mc_http_port(http);
    mc_http_set_app(http, app_cb, NULL);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct linger no_linger = {1, 0}; /* RST on close: no TIME_WAIT per input */
    char reply[16];
    size_t got = 0, sent = 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0), closed = 0;

    if (fd < 0)
        abort();
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &no_linger, sizeof no_linger);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 && errno != EINPROGRESS)
        abort();
    /* The server runs on this thread: turn the loop while talking to it. */
    for (int turn = 0; turn < 20000 && !closed; turn++) {
        ssize_t n;
        uv_run(&loop, UV_RUN_NOWAIT);
        if (sent < size) {
            n = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
            if (n > 0)
                sent += (size_t)n;
            else if (n < 0 && errno != EAGAIN && errno != ENOTCONN && errno != EINPROGRESS)
                break; /* the server closed early: allowed */
            if (sent == size)
                shutdown(fd, SHUT_WR);
        }
        if (size == 0 && turn == 0)
            shutdown(fd, SHUT_WR);
        while ((n = recv(fd, got < sizeof reply ? reply + got : (char[256]){0},
                         got < sizeof reply ? sizeof reply - got : 256, 0)) > 0)
            got += (size_t)n;
        if (n == 0 || (n < 0 && errno != EAGAIN))
            closed = 1;
    }
    close(fd);
    for (int turn = 0; turn < 50; turn++)
        uv_run(&loop, UV_RUN_NOWAIT);
    if (!closed && mc_http_stream_count(http) == 0)
        abort(); /* the server neither finished nor closed: a hang */
    /* An event stream ends when its client has left and the server writes
     * to it (libh2o reads nothing while a response is under way: the
     * services' heartbeats do the writing). */
    for (int turn = 0; turn < 20000 && mc_http_stream_count(http) > 0; turn++) {
        if (turn % 100 == 0)
            mc_http_broadcast(http, ": heartbeat\n\n", 13);
        uv_run(&loop, UV_RUN_NOWAIT);
    }
    if (mc_http_stream_count(http) > 0)
        abort();
    if (got >= 9 && memcmp(reply, "HTTP/1.", 7) != 0)
        abort();
    return 0;
}
