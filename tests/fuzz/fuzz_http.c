/* libFuzzer harness: the bytes of one HTTP/1.x connection to the
 * health and metrics server (/livez, /readyz, /metrics on libh2o), served
 * on the process's own libuv loop over a real loopback socket, as the
 * services serve them. Invariant: whatever was sent, the server answers
 * with an HTTP/1.x status line or closes; it never crashes or hangs. */
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
    if (!closed)
        abort(); /* the server neither finished nor closed: a hang */
    if (got >= 9 && memcmp(reply, "HTTP/1.", 7) != 0)
        abort();
    return 0;
}
