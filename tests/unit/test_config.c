/* Configuration: MOTCUA_REQUIRE_TLS refuses plaintext to PostgreSQL and
 * Kafka before anything connects. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_require_tls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
