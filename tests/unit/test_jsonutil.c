/* jsonutil: the nesting-depth check made before a message is parsed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "motcua/jsonutil.h"

static int depth_ok(const char *text, int max, size_t *at)
{
    return mc_json_depth_ok(text, strlen(text), max, at);
}

/* Nesting up to the limit passes; one level more fails at the byte that
 * opened it. */
static void test_depth_limit(void **state)
{
    size_t at = 99;
    (void)state;
    assert_true(depth_ok("{}", 1, &at));
    assert_true(depth_ok("{\"a\": [1, {\"b\": []}]}", 4, &at));
    assert_false(depth_ok("{\"a\": [1, {\"b\": []}]}", 3, &at));
    assert_int_equal(at, 16); /* the '[' of the fourth level */
    assert_false(depth_ok("{\"a\": [1, {\"b\": []}]}", 2, &at));
    assert_int_equal(at, 10); /* the '{' of the third level */
    assert_true(depth_ok("[[[]], [[]], [[]]]", 3, &at));
    assert_true(depth_ok("42", 0, &at));
}

/* Brackets inside strings, escaped quotes included, do not count. */
static void test_brackets_in_strings(void **state)
{
    size_t at = 0;
    (void)state;
    assert_true(depth_ok("{\"a\": \"[[[[{{{{\"}", 1, &at));
    assert_true(depth_ok("{\"a\": \"\\\"[[[[\\\\\"}", 1, &at));
    assert_false(depth_ok("{\"a\": \"\\\\\", \"b\": [[]]}", 2, &at));
}

/* A hostile message of a million '[' is refused at byte limit, without
 * recursion (the parser never sees it). */
static void test_deep_hostile_message(void **state)
{
    size_t n = 1000000, at = 0;
    char *text = malloc(n);
    (void)state;
    assert_non_null(text);
    memset(text, '[', n);
    assert_false(mc_json_depth_ok(text, n, MC_JSON_MAX_DEPTH, &at));
    assert_int_equal(at, MC_JSON_MAX_DEPTH);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_brackets_in_strings),
        cmocka_unit_test(test_deep_hostile_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
