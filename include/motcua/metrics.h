/* A small Prometheus metrics registry: counters, gauges and histograms
 * without labels, and gauges with one series per label set for what is per
 * topic partition (never per dossier), rendered in text format 0.0.4. */
#ifndef MOTCUA_METRICS_H
#define MOTCUA_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct mc_metric; /* owned by the registry */

/* Registers a metric; the full name is "motcua_<service>_<name>", e.g.
 * mc_metrics_counter("intake", "submissions_total", "help"). Registering the
 * same name twice returns the same metric. Not thread-safe: one loop owns it. */
struct mc_metric *mc_metrics_counter(const char *service, const char *name, const char *help);
struct mc_metric *mc_metrics_gauge(const char *service, const char *name, const char *help);
/* Histogram with bucket upper bounds (ascending, +Inf added). */
struct mc_metric *mc_metrics_histogram(const char *service, const char *name, const char *help,
                                       const double *bounds, size_t nbounds);

/* A gauge with one series per label set, e.g. consumer lag per partition:
 * mc_metric_vec_set(m, "topic=\"motcua.submissions\",partition=\"3\"", 12).
 * labels are rendered as given (no braces, no newline). */
struct mc_metric *mc_metrics_gauge_vec(const char *service, const char *name, const char *help);
void mc_metric_vec_set(struct mc_metric *m, const char *labels, double v);
/* Forgets every series (partitions revoked). */
void mc_metric_vec_clear(struct mc_metric *m);

void mc_metric_add(struct mc_metric *m, double v);     /* counter or gauge */
void mc_metric_set(struct mc_metric *m, double v);     /* gauge */
void mc_metric_observe(struct mc_metric *m, double v); /* histogram */
double mc_metric_value(const struct mc_metric *m);

/* Renders every registered metric. Returns a malloc'd string (caller frees). */
char *mc_metrics_render(void);

/* Frees every metric (tests). */
void mc_metrics_reset(void);

#endif
