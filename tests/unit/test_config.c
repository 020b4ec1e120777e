/* Configuration: MOTCUA_REQUIRE_TLS refuses plaintext to PostgreSQL and
 * Kafka before anything connects; the retry schedule's parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "motcua/config.h"

static int load(char *err, size_t errlen)
{
    struct mc_config cfg;
    int rc = mc_config_load(&cfg, "intake", err, errlen);
    if (rc == 0)
        mc_config_free(&cfg);
    return rc;
}

static void test_require_tls(void **state)
{
    char err[512];
    (void)state;
    unsetenv("MOTCUA_CONFIG_FILE");
    setenv("MOTCUA_PG_URL", "postgresql://motcua_intake@db.example/motcua", 1);
    setenv("MOTCUA_KAFKA_PROPS", "", 1);
    unsetenv("MOTCUA_REQUIRE_TLS");
    assert_int_equal(load(err, sizeof err), 0); /* not asked: plaintext allowed */

    setenv("MOTCUA_REQUIRE_TLS", "1", 1);
    assert_int_not_equal(load(err, sizeof err), 0);
    assert_non_null(strstr(err, "MOTCUA_PG_URL must say sslmode=verify-full"));

    setenv("MOTCUA_PG_URL", "postgresql://motcua_intake@db.example/motcua?sslmode=require", 1);
    assert_int_not_equal(load(err, sizeof err), 0);
    assert_non_null(strstr(err, "sslmode=verify-full"));

    setenv("MOTCUA_PG_URL",
           "postgresql://motcua_intake@db.example/motcua?sslmode=verify-full&sslrootcert=/ca.pem",
           1);
    assert_int_not_equal(load(err, sizeof err), 0);
    assert_non_null(strstr(err, "MOTCUA_KAFKA_PROPS must say security.protocol=ssl"));

    setenv("MOTCUA_KAFKA_PROPS", "security.protocol=plaintext,sasl.mechanisms=PLAIN", 1);
    assert_int_not_equal(load(err, sizeof err), 0);

    setenv("MOTCUA_KAFKA_PROPS",
           "security.protocol=SASL_SSL,sasl.mechanisms=SCRAM-SHA-512,ssl.ca.location=/ca.pem", 1);
    assert_int_equal(load(err, sizeof err), 0);
    setenv("MOTCUA_KAFKA_PROPS", "ssl.ca.location=/ca.pem,security.protocol=ssl", 1);
    assert_int_equal(load(err, sizeof err), 0);

    setenv("MOTCUA_REQUIRE_TLS", "yes", 1);
    assert_int_not_equal(load(err, sizeof err), 0);
    assert_non_null(strstr(err, "MOTCUA_REQUIRE_TLS=yes"));
    unsetenv("MOTCUA_REQUIRE_TLS");
}

/* A key in the config file that is not a key is an error naming it and its
 * line: a typo (MOTCUA_BATCH_MAXX) would otherwise leave the default in
 * force without a word. Known keys in the file are read. */
static void test_notify_retry_schedule(void **state)
{
    static const char *const bad[] = {"0", "60,,300", "60,", "60,x", "60;300", "604801",
                                      "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1"};
    struct mc_config cfg;
    char err[512];
    (void)state;
    unsetenv("MOTCUA_CONFIG_FILE");
    unsetenv("MOTCUA_REQUIRE_TLS");
    unsetenv("MOTCUA_NOTIFY_RETRY_SCHEDULE");
    assert_int_equal(mc_config_load(&cfg, "notify", err, sizeof err), 0);
    assert_int_equal(cfg.notify_retries, 5);
    assert_int_equal(cfg.notify_retry[0], 60);
    assert_int_equal(cfg.notify_retry[4], 21600);
    mc_config_free(&cfg);

    setenv("MOTCUA_NOTIFY_RETRY_SCHEDULE", "1,2,604800", 1);
    assert_int_equal(mc_config_load(&cfg, "notify", err, sizeof err), 0);
    assert_int_equal(cfg.notify_retries, 3);
    assert_int_equal(cfg.notify_retry[2], 604800);
    mc_config_free(&cfg);

    /* Empty: no retries, the next channel at once. */
    setenv("MOTCUA_NOTIFY_RETRY_SCHEDULE", "", 1);
    assert_int_equal(mc_config_load(&cfg, "notify", err, sizeof err), 0);
    assert_int_equal(cfg.notify_retries, 0);
    mc_config_free(&cfg);

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("MOTCUA_NOTIFY_RETRY_SCHEDULE", bad[i], 1);
        if (load(err, sizeof err) == 0)
            fail_msg("MOTCUA_NOTIFY_RETRY_SCHEDULE=%s was accepted", bad[i]);
        assert_non_null(strstr(err, "MOTCUA_NOTIFY_RETRY_SCHEDULE"));
    }
    unsetenv("MOTCUA_NOTIFY_RETRY_SCHEDULE");
}

static void test_unknown_key_in_file(void **state)
{
    char path[] = "/tmp/motcua-test-config-XXXXXX", err[512];
    struct mc_config cfg;
    int fd = mkstemp(path);
    FILE *f;
    (void)state;
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    fputs("# a comment\nMOTCUA_BATCH_MAX=7\n", f);
    fclose(f);
    unsetenv("MOTCUA_BATCH_MAX");
    unsetenv("MOTCUA_REQUIRE_TLS");
    setenv("MOTCUA_CONFIG_FILE", path, 1);
    assert_int_equal(mc_config_load(&cfg, "intake", err, sizeof err), 0);
    assert_int_equal(cfg.batch_max, 7);
    mc_config_free(&cfg);

    f = fopen(path, "a");
    fputs("MOTCUA_BATCH_MAXX=5\n", f);
    fclose(f);
    assert_int_not_equal(mc_config_load(&cfg, "intake", err, sizeof err), 0);
    assert_non_null(strstr(err, ":3: unknown key MOTCUA_BATCH_MAXX"));
    unsetenv("MOTCUA_CONFIG_FILE");
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_require_tls),
        cmocka_unit_test(test_unknown_key_in_file),
        cmocka_unit_test(test_notify_retry_schedule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
