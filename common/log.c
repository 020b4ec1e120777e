/* JSON-lines logging to stderr: one object per line, written with one write(2). */
#include "motcua/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* A line is built in a stack buffer and moves to the heap only when it grows
 * past it. Plain malloc, not mc_xmalloc: the OOM path logs through here, and a
 * log line that cannot be built is replaced by a short fixed one. */
struct line {
    char *p;
    size_t len, cap;
    int failed;
    char stack[4096];
};

static const char *const level_names[] = {"debug", "info", "warn", "error"};

static char service_name[64] = "motcua";
static int min_level = MC_LOG_INFO;
static int initialised;

static void line_init(struct line *l)
{
    l->p = l->stack;
    l->len = 0;
    l->cap = sizeof(l->stack);
    l->failed = 0;
}

static void line_free(struct line *l)
{
    if (l->p != l->stack)
        free(l->p);
}

static void put(struct line *l, const char *s, size_t n)
{
    if (l->failed)
        return;
    if (l->len + n > l->cap) {
        size_t cap = l->cap * 2;
        char *p;

        while (cap < l->len + n)
            cap *= 2;
        p = l->p == l->stack ? malloc(cap) : realloc(l->p, cap);
        if (p == NULL) {
            l->failed = 1;
            return;
        }
        if (l->p == l->stack)
            memcpy(p, l->stack, l->len);
        l->p = p;
        l->cap = cap;
    }
    memcpy(l->p + l->len, s, n);
    l->len += n;
}

static void puts_raw(struct line *l, const char *s)
{
    put(l, s, strlen(s));
}

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF), or 0 if it is malformed. */
static size_t utf8_len(const unsigned char *s)
{
    unsigned char c = s[0];
    unsigned char lo = 0x80, hi = 0xBF;
    size_t n, i;

    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4;
    else
        return 0;
    if (c == 0xE0)
        lo = 0xA0;
    else if (c == 0xED)
        hi = 0x9F;
    else if (c == 0xF0)
        lo = 0x90;
    else if (c == 0xF4)
        hi = 0x8F;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return n;
}

/* Appends s as a JSON string (with quotes). Malformed UTF-8 becomes U+FFFD so
 * every line stays parseable. */
static void put_string(struct line *l, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    char esc[8];

    put(l, "\"", 1);
    while (*p != '\0') {
        unsigned char c = *p;
        size_t n;

        switch (c) {
        case '"':
            put(l, "\\\"", 2);
            break;
        case '\\':
            put(l, "\\\\", 2);
            break;
        case '\n':
            put(l, "\\n", 2);
            break;
        case '\r':
            put(l, "\\r", 2);
            break;
        case '\t':
            put(l, "\\t", 2);
            break;
        case '\b':
            put(l, "\\b", 2);
            break;
        case '\f':
            put(l, "\\f", 2);
            break;
        default:
            if (c < 0x20 || c == 0x7F) {
                snprintf(esc, sizeof(esc), "\\u%04x", c);
                put(l, esc, 6);
            } else if (c < 0x80) {
                put(l, (const char *)p, 1);
            } else if ((n = utf8_len(p)) > 0) {
                put(l, (const char *)p, n);
                p += n;
                continue;
            } else {
                put(l, "\\ufffd", 6);
            }
        }
        p++;
    }
    put(l, "\"", 1);
}

static void put_field(struct line *l, const char *key, const char *value)
{
    put(l, ",", 1);
    put_string(l, key);
    put(l, ":", 1);
    if (value == NULL)
        puts_raw(l, "null");
    else
        put_string(l, value);
}

/* RFC 3339 UTC with milliseconds: 2024-05-01T02:03:04.567Z. */
static void format_now(char *buf, size_t len)
{
    struct timespec ts;
    struct tm tm;
    size_t n;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000L);
}

static void write_all(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, p, n);

        if (w < 0) {
            if (errno == EINTR)
                continue;
            return; /* nowhere left to report it */
        }
        p += w;
        n -= (size_t)w;
    }
}

static void read_level_env(void)
{
    const char *env = getenv("MOTCUA_LOG_LEVEL");
    int i;

    min_level = MC_LOG_INFO;
    initialised = 1;
    if (env == NULL || *env == '\0')
        return;
    for (i = MC_LOG_DEBUG; i <= MC_LOG_ERROR; i++) {
        if (strcasecmp(env, level_names[i]) == 0) {
            min_level = i;
            return;
        }
    }
    if (strcasecmp(env, "warning") == 0) {
        min_level = MC_LOG_WARN;
        return;
    }
    mc_log_kv(MC_LOG_WARN, "unknown MOTCUA_LOG_LEVEL, using info", "value", env, NULL);
}

void mc_log_init(const char *service)
{
    snprintf(service_name, sizeof(service_name), "%s", service != NULL ? service : "motcua");
    read_level_env();
}

static int enabled(enum mc_log_level level)
{
    if (!initialised)
        read_level_env();
    return (int)level >= min_level;
}

/* Builds and writes one line; ap holds key/value string pairs ending in NULL. */
static void emit(enum mc_log_level level, const char *msg, va_list ap)
{
    struct line l;
    char ts[40];
    const char *key;

    if ((int)level < MC_LOG_DEBUG || (int)level > MC_LOG_ERROR)
        level = MC_LOG_ERROR;
    format_now(ts, sizeof(ts));
    line_init(&l);
    puts_raw(&l, "{\"ts\":\"");
    puts_raw(&l, ts);
    puts_raw(&l, "\",\"level\":\"");
    puts_raw(&l, level_names[level]);
    puts_raw(&l, "\"");
    put_field(&l, "service", service_name);
    put_field(&l, "msg", msg);
    while ((key = va_arg(ap, const char *)) != NULL)
        put_field(&l, key, va_arg(ap, const char *));
    put(&l, "}\n", 2);
    if (l.failed) {
        char fallback[256];
        int n = snprintf(fallback, sizeof(fallback),
                         "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"log line dropped: out of "
                         "memory\"}\n",
                         ts, level_names[level]);
        write_all(fallback, (size_t)n);
    } else {
        write_all(l.p, l.len);
    }
    line_free(&l);
}

static void emit_pairs(enum mc_log_level level, const char *msg, ...)
{
    va_list ap;

    va_start(ap, msg);
    emit(level, msg, ap);
    va_end(ap);
}

void mc_log_kv(enum mc_log_level level, const char *msg, ...)
{
    va_list ap;

    if (!enabled(level))
        return;
    va_start(ap, msg);
    emit(level, msg, ap);
    va_end(ap);
}

void mc_log(enum mc_log_level level, const char *fmt, ...)
{
    char stack[1024];
    char *msg = stack;
    va_list ap;
    int n;

    if (!enabled(level))
        return;
    va_start(ap, fmt);
    n = vsnprintf(stack, sizeof(stack), fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof(stack)) {
        msg = malloc((size_t)n + 1);
        if (msg != NULL) {
            va_start(ap, fmt);
            vsnprintf(msg, (size_t)n + 1, fmt, ap);
            va_end(ap);
        } else {
            msg = stack; /* truncated is better than nothing */
        }
    } else if (n < 0) {
        snprintf(stack, sizeof(stack), "(bad log format: %s)", fmt);
    }
    emit_pairs(level, msg, NULL);
    if (msg != stack)
        free(msg);
}
