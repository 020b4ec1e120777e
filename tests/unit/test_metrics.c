/* Unit tests of the metrics registry and its Prometheus text rendering. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "motcua/metrics.h"

static int reset(void **state)
{
    (void)state;
    mc_metrics_reset();
    return 0;
}

static void test_counter_and_gauge(void **state)
{
    struct mc_metric *received, *again, *lag;
    char *text;

    (void)state;
    received = mc_metrics_counter("intake", "submissions_total", "Submissions consumed.");
    again = mc_metrics_counter("intake", "submissions_total", "ignored");
    assert_ptr_equal(received, again);
    mc_metric_add(received, 1);
    mc_metric_add(again, 11);
    assert_true(mc_metric_value(received) == 12);

    lag = mc_metrics_gauge("intake", "consumer_lag_messages", "Messages behind.");
    mc_metric_set(lag, 250);
    mc_metric_add(lag, -50.5);
    assert_true(mc_metric_value(lag) == 199.5);

    text = mc_metrics_render();
    assert_string_equal(text, "# HELP motcua_intake_submissions_total Submissions consumed.\n"
                              "# TYPE motcua_intake_submissions_total counter\n"
                              "motcua_intake_submissions_total 12\n"
                              "# HELP motcua_intake_consumer_lag_messages Messages behind.\n"
                              "# TYPE motcua_intake_consumer_lag_messages gauge\n"
                              "motcua_intake_consumer_lag_messages 199.5\n");
    free(text);
}

/* One series per partition; a rebalance forgets them all. */
static void test_gauge_vector(void **state)
{
    struct mc_metric *lag;
    char *text;

    (void)state;
    lag = mc_metrics_gauge_vec("router", "consumer_lag", "Messages behind.");
    mc_metric_vec_set(lag, "topic=\"t\",partition=\"0\"", 3);
    mc_metric_vec_set(lag, "topic=\"t\",partition=\"1\"", 0);
    mc_metric_vec_set(lag, "topic=\"t\",partition=\"0\"", 7);
    text = mc_metrics_render();
    assert_string_equal(text, "# HELP motcua_router_consumer_lag Messages behind.\n"
                              "# TYPE motcua_router_consumer_lag gauge\n"
                              "motcua_router_consumer_lag{topic=\"t\",partition=\"0\"} 7\n"
                              "motcua_router_consumer_lag{topic=\"t\",partition=\"1\"} 0\n");
    free(text);
    mc_metric_vec_clear(lag);
    text = mc_metrics_render();
    assert_string_equal(text, "# HELP motcua_router_consumer_lag Messages behind.\n"
                              "# TYPE motcua_router_consumer_lag gauge\n");
    free(text);
}

static void test_histogram(void **state)
{
    const double bounds[] = {0.005, 0.1, 1, 10};
    struct mc_metric *latency;
    char *text;

    (void)state;
    latency = mc_metrics_histogram("router", "batch_seconds", "Batch duration.", bounds, 4);
    mc_metric_observe(latency, 0.005); /* le is inclusive: first bucket */
    mc_metric_observe(latency, 0.05);
    mc_metric_observe(latency, 0.5);
    mc_metric_observe(latency, 0.5);
    mc_metric_observe(latency, 100);
    assert_true(mc_metric_value(latency) == 5);

    text = mc_metrics_render();
    assert_string_equal(text, "# HELP motcua_router_batch_seconds Batch duration.\n"
                              "# TYPE motcua_router_batch_seconds histogram\n"
                              "motcua_router_batch_seconds_bucket{le=\"0.005\"} 1\n"
                              "motcua_router_batch_seconds_bucket{le=\"0.1\"} 2\n"
                              "motcua_router_batch_seconds_bucket{le=\"1\"} 4\n"
                              "motcua_router_batch_seconds_bucket{le=\"10\"} 4\n"
                              "motcua_router_batch_seconds_bucket{le=\"+Inf\"} 5\n"
                              "motcua_router_batch_seconds_sum 101.055\n"
                              "motcua_router_batch_seconds_count 5\n");
    free(text);
}

static void test_histogram_explicit_inf_and_no_bounds(void **state)
{
    const double bounds[] = {1, INFINITY};
    struct mc_metric *h, *bare;
    char *text;

    (void)state;
    h = mc_metrics_histogram("notify", "size_bytes", "h", bounds, 2);
    bare = mc_metrics_histogram("notify", "bare", "b", NULL, 0);
    mc_metric_observe(h, 2);
    mc_metric_observe(bare, 3);
    text = mc_metrics_render();
    /* +Inf appears exactly once per histogram. */
    assert_non_null(strstr(text, "motcua_notify_size_bytes_bucket{le=\"1\"} 0\n"
                                 "motcua_notify_size_bytes_bucket{le=\"+Inf\"} 1\n"
                                 "motcua_notify_size_bytes_sum 2\n"));
    assert_non_null(strstr(text, "# TYPE motcua_notify_bare histogram\n"
                                 "motcua_notify_bare_bucket{le=\"+Inf\"} 1\n"
                                 "motcua_notify_bare_sum 3\n"
                                 "motcua_notify_bare_count 1\n"));
    free(text);
}

static void test_help_escaping_and_values(void **state)
{
    struct mc_metric *g;
    char *text;

    (void)state;
    g = mc_metrics_gauge("deadline", "ratio", "Line one\nback\\slash");
    mc_metric_set(g, 0.1);
    text = mc_metrics_render();
    assert_string_equal(text, "# HELP motcua_deadline_ratio Line one\\nback\\\\slash\n"
                              "# TYPE motcua_deadline_ratio gauge\n"
                              "motcua_deadline_ratio 0.1\n");
    free(text);
    mc_metric_set(g, 1e21);
    text = mc_metrics_render();
    assert_non_null(strstr(text, "motcua_deadline_ratio 1e+21\n"));
    free(text);
    mc_metric_set(g, -INFINITY);
    text = mc_metrics_render();
    assert_non_null(strstr(text, "motcua_deadline_ratio -Inf\n"));
    free(text);
    mc_metric_set(g, NAN);
    text = mc_metrics_render();
    assert_non_null(strstr(text, "motcua_deadline_ratio NaN\n"));
    free(text);
}

static void test_render_empty_and_reset(void **state)
{
    char *text;

    (void)state;
    text = mc_metrics_render();
    assert_string_equal(text, "");
    free(text);
    mc_metric_add(mc_metrics_counter("intake", "a_total", "a"), 1);
    mc_metrics_reset();
    text = mc_metrics_render();
    assert_string_equal(text, "");
    free(text);
    /* After a reset the name is free again and starts from zero. */
    assert_true(mc_metric_value(mc_metrics_counter("intake", "a_total", "a")) == 0);
}

static void test_large_registry(void **state)
{
    char name[32], *text;
    int i;

    (void)state;
    for (i = 0; i < 200; i++) {
        snprintf(name, sizeof(name), "m%03d_total", i);
        mc_metric_add(mc_metrics_counter("bench", name, "A counter with a long help text."), i);
    }
    text = mc_metrics_render();
    assert_non_null(strstr(text, "motcua_bench_m000_total 0\n"));
    assert_non_null(strstr(text, "motcua_bench_m199_total 199\n"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_counter_and_gauge, reset),
        cmocka_unit_test_teardown(test_gauge_vector, reset),
        cmocka_unit_test_teardown(test_histogram, reset),
        cmocka_unit_test_teardown(test_histogram_explicit_inf_and_no_bounds, reset),
        cmocka_unit_test_teardown(test_help_escaping_and_values, reset),
        cmocka_unit_test_teardown(test_render_empty_and_reset, reset),
        cmocka_unit_test_teardown(test_large_registry, reset),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
