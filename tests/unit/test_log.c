/* Unit tests of JSON-lines logging: every line parses, fields and escaping. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "motcua/log.h"

#define MAX_LINES 16

/* stderr is redirected to a temporary file while a test logs. */
struct capture {
    FILE *file;
    int saved_fd;
    json_t *lines[MAX_LINES];
    size_t nlines;
};

static void capture_begin(struct capture *c)
{
    memset(c, 0, sizeof(*c));
    c->file = tmpfile();
    assert_non_null(c->file);
    fflush(stderr);
    c->saved_fd = dup(STDERR_FILENO);
    assert_true(c->saved_fd >= 0);
    assert_int_equal(dup2(fileno(c->file), STDERR_FILENO), STDERR_FILENO);
}

/* Restores stderr and parses every captured line; each must be exactly one
 * JSON object followed by a newline. */
static void capture_end(struct capture *c)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;

    assert_int_equal(dup2(c->saved_fd, STDERR_FILENO), STDERR_FILENO);
    close(c->saved_fd);
    rewind(c->file);
    while ((n = getline(&line, &cap, c->file)) > 0) {
        json_error_t error;
        json_t *obj;

        assert_int_equal(line[n - 1], '\n');
        obj = json_loadb(line, (size_t)n - 1, 0, &error);
        if (obj == NULL)
            fail_msg("not JSON (%s): %s", error.text, line);
        assert_true(json_is_object(obj));
        assert_true(c->nlines < MAX_LINES);
        c->lines[c->nlines++] = obj;
    }
    free(line);
    fclose(c->file);
}

static void capture_free(struct capture *c)
{
    size_t i;

    for (i = 0; i < c->nlines; i++)
        json_decref(c->lines[i]);
}

static const char *field(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);

    assert_non_null(v);
    assert_true(json_is_string(v));
    return json_string_value(v);
}

/* "2024-05-01T02:03:04.567Z", within a minute of now. */
static void check_timestamp(const char *ts)
{
    struct tm tm;
    const char *rest;
    time_t t;

    assert_int_equal(strlen(ts), 24);
    memset(&tm, 0, sizeof(tm));
    rest = strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm);
    assert_non_null(rest);
    assert_true(rest[0] == '.' && rest[1] >= '0' && rest[1] <= '9' && rest[2] >= '0' &&
                rest[2] <= '9' && rest[3] >= '0' && rest[3] <= '9' && rest[4] == 'Z');
    t = timegm(&tm);
    assert_true(llabs((long long)(t - time(NULL))) < 60);
}

static void test_fields_and_levels(void **state)
{
    struct capture c;

    (void)state;
    unsetenv("MOTCUA_LOG_LEVEL");
    mc_log_init("intake");
    capture_begin(&c);
    mc_log_info("consumer started, %d partitions", 6);
    mc_log_debug("hidden at the default level");
    mc_log_warn("lag %s", "high");
    mc_log_kv(MC_LOG_ERROR, "batch failed", "count", "12", "topic", "motcua.submissions", NULL);
    capture_end(&c);

    assert_int_equal(c.nlines, 3);
    check_timestamp(field(c.lines[0], "ts"));
    assert_string_equal(field(c.lines[0], "level"), "info");
    assert_string_equal(field(c.lines[0], "service"), "intake");
    assert_string_equal(field(c.lines[0], "msg"), "consumer started, 6 partitions");
    assert_int_equal(json_object_size(c.lines[0]), 4);
    assert_string_equal(field(c.lines[1], "level"), "warn");
    assert_string_equal(field(c.lines[1], "msg"), "lag high");
    assert_string_equal(field(c.lines[2], "level"), "error");
    assert_string_equal(field(c.lines[2], "msg"), "batch failed");
    assert_string_equal(field(c.lines[2], "count"), "12");
    assert_string_equal(field(c.lines[2], "topic"), "motcua.submissions");
    assert_int_equal(json_object_size(c.lines[2]), 6);
    capture_free(&c);
}

static void test_escaping(void **state)
{
    struct capture c;
    const char nasty[] = "quote\" backslash\\ nl\n cr\r tab\t bell\a esc\x1b del\x7f";
    char long_msg[6000];

    (void)state;
    unsetenv("MOTCUA_LOG_LEVEL");
    mc_log_init("router");
    memset(long_msg, 'x', sizeof(long_msg) - 1);
    long_msg[sizeof(long_msg) - 1] = '\0';
    capture_begin(&c);
    mc_log_kv(MC_LOG_INFO, nasty, "why", nasty, "key \"k\"", "v", "null value", NULL, NULL);
    mc_log_info("Hồ sơ quá hạn: %s", "Phường Bến Nghé");
    mc_log_kv(MC_LOG_INFO, "bad utf-8", "bytes", "a\xff\xc3(b\xed\xa0\x80z", NULL);
    mc_log_info("%s", long_msg);
    capture_end(&c);

    assert_int_equal(c.nlines, 4);
    assert_string_equal(field(c.lines[0], "msg"), nasty);
    assert_string_equal(field(c.lines[0], "why"), nasty);
    assert_string_equal(field(c.lines[0], "key \"k\""), "v");
    assert_true(json_is_null(json_object_get(c.lines[0], "null value")));
    assert_string_equal(field(c.lines[1], "msg"), "Hồ sơ quá hạn: Phường Bến Nghé");
    /* Malformed UTF-8 is replaced, so the line stays valid JSON. */
    assert_string_equal(field(c.lines[2], "bytes"),
                        "a\xef\xbf\xbd\xef\xbf\xbd(b\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz");
    assert_string_equal(field(c.lines[3], "msg"), long_msg);
    capture_free(&c);
}

static void test_level_from_environment(void **state)
{
    struct capture c;

    (void)state;
    setenv("MOTCUA_LOG_LEVEL", "debug", 1);
    mc_log_init("deadline");
    capture_begin(&c);
    mc_log_debug("visible now");
    setenv("MOTCUA_LOG_LEVEL", "ERROR", 1);
    mc_log_init("deadline");
    mc_log_info("hidden");
    mc_log_warn("hidden");
    mc_log_error("shown");
    setenv("MOTCUA_LOG_LEVEL", "loud", 1);
    mc_log_init("deadline"); /* unknown: warns and falls back to info */
    mc_log_debug("hidden");
    mc_log_info("shown again");
    capture_end(&c);
    unsetenv("MOTCUA_LOG_LEVEL");

    assert_int_equal(c.nlines, 4);
    assert_string_equal(field(c.lines[0], "level"), "debug");
    assert_string_equal(field(c.lines[0], "msg"), "visible now");
    assert_string_equal(field(c.lines[1], "msg"), "shown");
    assert_string_equal(field(c.lines[2], "level"), "warn");
    assert_string_equal(field(c.lines[2], "value"), "loud");
    assert_string_equal(field(c.lines[3], "msg"), "shown again");
    capture_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields_and_levels),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_level_from_environment),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
