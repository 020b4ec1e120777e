/* Prometheus metrics registry (counters, gauges, histograms; gauges with
 * one series per label set for per-partition figures) and its text
 * exposition format 0.0.4. Owned by the process's one loop. */
#include "motcua/metrics.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "motcua/error.h"
#include "motcua/log.h"

enum mc_metric_type {
    MC_METRIC_COUNTER,
    MC_METRIC_GAUGE,
    MC_METRIC_HISTOGRAM,
    MC_METRIC_GAUGE_VEC
};

static const char *const type_names[] = {"counter", "gauge", "histogram", "gauge"};

struct series {
    char *labels; /* topic="t",partition="0" */
    double value;
};

struct mc_metric {
    struct mc_metric *next;
    enum mc_metric_type type;
    char *name; /* full name: motcua_<service>_<name> */
    char *help;
    double value;    /* counter, gauge; the sum for a histogram */
    double *bounds;  /* histogram: finite upper bounds, ascending */
    uint64_t *count; /* histogram: per-bucket (not cumulative), nbounds + 1 */
    size_t nbounds;
    uint64_t total;        /* histogram: number of observations */
    struct series *series; /* gauge vector: in the order first set */
    size_t nseries;
};

/* In registration order, so the exposition is stable. */
static struct mc_metric *registry_head;
static struct mc_metric **registry_tail = &registry_head;

/* A misuse of this API is a bug in the caller that a test will hit at once:
 * fail loudly instead of publishing wrong numbers. */
static void bug(const char *what, const char *name)
{
    mc_log_kv(MC_LOG_ERROR, "metrics misuse, aborting", "what", what, "metric", name, NULL);
    abort();
}

static int valid_name_part(const char *s)
{
    const char *p;

    if (s == NULL || *s == '\0' || (*s >= '0' && *s <= '9'))
        return 0;
    for (p = s; *p != '\0'; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == ':'))
            return 0;
    return 1;
}

static struct mc_metric *lookup_or_add(enum mc_metric_type type, const char *service,
                                       const char *name, const char *help)
{
    struct mc_metric *m;
    size_t len;
    char *full;

    if (!valid_name_part(service) || !valid_name_part(name))
        bug("invalid metric name", name != NULL ? name : "(null)");
    len = strlen("motcua__") + strlen(service) + strlen(name) + 1;
    full = mc_xmalloc(len);
    snprintf(full, len, "motcua_%s_%s", service, name);
    for (m = registry_head; m != NULL; m = m->next) {
        if (strcmp(m->name, full) == 0) {
            if (m->type != type)
                bug("registered again with another type", full);
            free(full);
            return m;
        }
    }
    m = mc_xcalloc(1, sizeof(*m));
    m->type = type;
    m->name = full;
    m->help = mc_xstrdup(help != NULL ? help : "");
    *registry_tail = m;
    registry_tail = &m->next;
    return m;
}

struct mc_metric *mc_metrics_counter(const char *service, const char *name, const char *help)
{
    return lookup_or_add(MC_METRIC_COUNTER, service, name, help);
}

struct mc_metric *mc_metrics_gauge(const char *service, const char *name, const char *help)
{
    return lookup_or_add(MC_METRIC_GAUGE, service, name, help);
}

struct mc_metric *mc_metrics_histogram(const char *service, const char *name, const char *help,
                                       const double *bounds, size_t nbounds)
{
    struct mc_metric *m = lookup_or_add(MC_METRIC_HISTOGRAM, service, name, help);
    size_t i;

    if (m->count != NULL)
        return m; /* already registered: keep the first bounds */
    /* A trailing +Inf is implied; accept it if given. */
    if (nbounds > 0 && isinf(bounds[nbounds - 1]) && bounds[nbounds - 1] > 0)
        nbounds--;
    for (i = 0; i < nbounds; i++)
        if (!isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1]))
            bug("histogram bounds must be finite and ascending", m->name);
    m->nbounds = nbounds;
    m->bounds = mc_xcalloc(nbounds, sizeof(*m->bounds));
    if (nbounds > 0)
        memcpy(m->bounds, bounds, nbounds * sizeof(*bounds));
    m->count = mc_xcalloc(nbounds + 1, sizeof(*m->count));
    return m;
}

struct mc_metric *mc_metrics_gauge_vec(const char *service, const char *name, const char *help)
{
    return lookup_or_add(MC_METRIC_GAUGE_VEC, service, name, help);
}

void mc_metric_vec_set(struct mc_metric *m, const char *labels, double v)
{
    size_t i;

    if (m->type != MC_METRIC_GAUGE_VEC)
        bug("vec_set on a metric without labels", m->name);
    if (labels == NULL || strpbrk(labels, "{}\n") != NULL)
        bug("labels must be name=\"value\" pairs", m->name);
    for (i = 0; i < m->nseries; i++)
        if (strcmp(m->series[i].labels, labels) == 0) {
            m->series[i].value = v;
            return;
        }
    m->series = mc_xrealloc(m->series, (m->nseries + 1) * sizeof(*m->series));
    m->series[m->nseries].labels = mc_xstrdup(labels);
    m->series[m->nseries++].value = v;
}

void mc_metric_vec_clear(struct mc_metric *m)
{
    size_t i;

    if (m->type != MC_METRIC_GAUGE_VEC)
        bug("vec_clear on a metric without labels", m->name);
    for (i = 0; i < m->nseries; i++)
        free(m->series[i].labels);
    m->nseries = 0;
}

void mc_metric_add(struct mc_metric *m, double v)
{
    if (m->type == MC_METRIC_HISTOGRAM || m->type == MC_METRIC_GAUGE_VEC)
        bug("add on a histogram or a gauge vector", m->name);
    if (m->type == MC_METRIC_COUNTER && !(v >= 0))
        bug("counter decreased or NaN", m->name);
    m->value += v;
}

void mc_metric_set(struct mc_metric *m, double v)
{
    if (m->type != MC_METRIC_GAUGE)
        bug("set on a non-gauge", m->name);
    m->value = v;
}

void mc_metric_observe(struct mc_metric *m, double v)
{
    size_t i;

    if (m->type != MC_METRIC_HISTOGRAM)
        bug("observe on a non-histogram", m->name);
    /* First bucket whose bound is >= v (le is inclusive); NaN lands in +Inf. */
    for (i = 0; i < m->nbounds && !(v <= m->bounds[i]); i++)
        ;
    m->count[i]++;
    m->total++;
    m->value += v;
}

/* Counter, gauge: the value. Histogram: the number of observations. */
double mc_metric_value(const struct mc_metric *m)
{
    return m->type == MC_METRIC_HISTOGRAM ? (double)m->total : m->value;
}

struct buf {
    char *p;
    size_t len, cap;
};

static void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            bug("bad format", fmt);
        if ((size_t)n < b->cap - b->len)
            break;
        b->cap = (b->cap + (size_t)n) * 2;
        b->p = mc_xrealloc(b->p, b->cap);
    }
    b->len += (size_t)n;
}

/* Shortest text that reads back as the same double; Prometheus spellings for
 * the infinities and NaN. */
static void format_double(char *out, size_t len, double v)
{
    if (isnan(v)) {
        snprintf(out, len, "NaN");
    } else if (isinf(v)) {
        snprintf(out, len, v > 0 ? "+Inf" : "-Inf");
    } else {
        snprintf(out, len, "%.15g", v);
        if (strtod(out, NULL) != v)
            snprintf(out, len, "%.17g", v);
    }
}

/* HELP text escapes backslash and newline (text format 0.0.4). */
static void put_help(struct buf *b, const char *help)
{
    const char *p;

    for (p = help; *p != '\0'; p++) {
        if (*p == '\\')
            buf_printf(b, "\\\\");
        else if (*p == '\n')
            buf_printf(b, "\\n");
        else
            buf_printf(b, "%c", *p);
    }
}

static void render_one(struct buf *b, const struct mc_metric *m)
{
    char num[40], le[40];
    uint64_t cumulative = 0;
    size_t i;

    buf_printf(b, "# HELP %s ", m->name);
    put_help(b, m->help);
    buf_printf(b, "\n# TYPE %s %s\n", m->name, type_names[m->type]);
    if (m->type == MC_METRIC_GAUGE_VEC) {
        for (i = 0; i < m->nseries; i++) {
            format_double(num, sizeof(num), m->series[i].value);
            buf_printf(b, "%s{%s} %s\n", m->name, m->series[i].labels, num);
        }
        return;
    }
    format_double(num, sizeof(num), m->value);
    if (m->type != MC_METRIC_HISTOGRAM) {
        buf_printf(b, "%s %s\n", m->name, num);
        return;
    }
    for (i = 0; i < m->nbounds; i++) {
        cumulative += m->count[i];
        format_double(le, sizeof(le), m->bounds[i]);
        buf_printf(b, "%s_bucket{le=\"%s\"} %llu\n", m->name, le, (unsigned long long)cumulative);
    }
    buf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n", m->name, (unsigned long long)m->total);
    buf_printf(b, "%s_sum %s\n", m->name, num);
    buf_printf(b, "%s_count %llu\n", m->name, (unsigned long long)m->total);
}

char *mc_metrics_render(void)
{
    struct buf b = {NULL, 0, 1024};
    const struct mc_metric *m;

    b.p = mc_xmalloc(b.cap);
    b.p[0] = '\0';
    for (m = registry_head; m != NULL; m = m->next)
        render_one(&b, m);
    return b.p;
}

void mc_metrics_reset(void)
{
    struct mc_metric *m = registry_head, *next;

    for (; m != NULL; m = next) {
        next = m->next;
        free(m->name);
        free(m->help);
        free(m->bounds);
        free(m->count);
        if (m->type == MC_METRIC_GAUGE_VEC)
            mc_metric_vec_clear(m);
        free(m->series);
        free(m);
    }
    registry_head = NULL;
    registry_tail = &registry_head;
}
