/* The lookup's rate limit: a token bucket per client address. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "ratelimit.h"

static void test_burst_then_refill(void **state)
{
    struct mc_ratelimit *rl = mc_ratelimit_new(6, 3, 100); /* one token every 10 s */
    int retry = 0;
    (void)state;
    for (int i = 0; i < 3; i++)
        assert_int_equal(mc_ratelimit_take(rl, "10.0.0.1", 1000, &retry), 1);
    assert_int_equal(mc_ratelimit_take(rl, "10.0.0.1", 1000, &retry), 0);
    assert_int_equal(retry, 10);
    /* Another address has its own bucket. */
    assert_int_equal(mc_ratelimit_take(rl, "10.0.0.2", 1000, &retry), 1);
    assert_int_equal(mc_ratelimit_take(rl, "10.0.0.1", 6000, &retry), 0);
    assert_int_equal(retry, 5);
    assert_int_equal(mc_ratelimit_take(rl, "10.0.0.1", 11000, &retry), 1);
    assert_int_equal(mc_ratelimit_take(rl, "10.0.0.1", 11000, &retry), 0);
    mc_ratelimit_free(rl);
}

/* The table is bounded: idle clients are forgotten; when every tracked
 * client is still limited, a new one is refused rather than tracked. */
static void test_bounded_clients(void **state)
{
    struct mc_ratelimit *rl = mc_ratelimit_new(60, 1, 2);
    int retry = 0;
    (void)state;
    assert_int_equal(mc_ratelimit_take(rl, "a", 0, &retry), 1);
    assert_int_equal(mc_ratelimit_take(rl, "b", 0, &retry), 1);
    assert_int_equal(mc_ratelimit_take(rl, "c", 0, &retry), 0);
    assert_int_equal(mc_ratelimit_clients(rl), 2);
    /* A second later a and b are full again and forgotten. */
    assert_int_equal(mc_ratelimit_take(rl, "c", 1000, &retry), 1);
    assert_int_equal(mc_ratelimit_clients(rl), 1);
    mc_ratelimit_free(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_refill),
        cmocka_unit_test(test_bounded_clients),
    };
    return cmocka_run_group_tests_name("unit: api rate limit", tests, NULL, NULL);
}
