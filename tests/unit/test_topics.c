/* The topic table's per-topic message limits and MOTCUA_MESSAGE_MAX_BYTES. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "motcua/topics.h"

/* Each topic has its own limit; MOTCUA_MESSAGE_MAX_BYTES (0: unset) lowers
 * every limit and never raises one. */
static void test_max_bytes(void **state)
{
    struct mc_config cfg;
    (void)state;
    memset(&cfg, 0, sizeof cfg);
    assert_int_equal(mc_topic_max_bytes(&cfg, "submissions"), 256 * 1024);
    assert_int_equal(mc_topic_max_bytes(&cfg, "dossier.received"), 512 * 1024);
    assert_int_equal(mc_topic_max_bytes(&cfg, "clock"), 4 * 1024);
    cfg.message_max_bytes = 2048;
    assert_int_equal(mc_topic_max_bytes(&cfg, "submissions"), 2048);
    cfg.message_max_bytes = 8 << 20;
    assert_int_equal(mc_topic_max_bytes(&cfg, "dossier.updates"), 64 * 1024);
}

/* Every topic has a limit, and a dead letter of any consumed message fits
 * the deadletter topic's: its copy is cut at 384 KiB (base64: 512 KiB) and
 * its text copy is at most 256 KiB. */
static void test_every_topic_has_a_limit(void **state)
{
    struct mc_config cfg;
    (void)state;
    memset(&cfg, 0, sizeof cfg);
    for (size_t i = 0; i < mc_topic_count; i++)
        assert_true(mc_topics[i].max_message_bytes >= 1024);
    assert_true(mc_topic_max_bytes(&cfg, "deadletter") >= 512 * 1024 + 256 * 1024 + 16 * 1024);
}

/* What may carry personal data: everything but assignments (codes and the
 * unit) and clock ticks. */
static void test_personal_data(void **state)
{
    (void)state;
    for (size_t i = 0; i < mc_topic_count; i++) {
        const char *n = mc_topics[i].name;
        assert_int_equal(mc_topics[i].personal_data,
                         strcmp(n, "dossier.assigned") != 0 && strcmp(n, "clock") != 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_max_bytes),
        cmocka_unit_test(test_every_topic_has_a_limit),
        cmocka_unit_test(test_personal_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
