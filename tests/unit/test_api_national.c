/* The read side's status vocabulary: every transition of motcua's events
 * to the state it leaves, and every state to its national code (the
 * lifecycle table of docs/domain.md). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "national.h"

static void test_every_state_has_its_national_code(void **state)
{
    static const struct {
        const char *state;
        int code;
        const char *key;
        int final;
    } table[] = {
        {"received", 2, "new", 0},
        {"processing", 4, "processing", 0},
        {"supplement_requested", 5, "waiting", 0},
        {"paying", 6, "paying", 0},
        {"withdrawn", 7, "cancelled", 1},
        {"stopped", 8, "unresolved", 1},
        {"result_ready", 9, "releasing", 0},
        {"returned", 10, "done", 1},
    };
    struct mc_national n;
    (void)state;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        assert_int_equal(mc_api_national(table[i].state, &n), 0);
        assert_int_equal(n.code, table[i].code);
        assert_string_equal(n.key, table[i].key);
        assert_int_equal(mc_api_state_final(table[i].state), table[i].final);
    }
    assert_int_equal(mc_api_national("late", &n), -1);
    assert_int_equal(mc_api_national(NULL, &n), -1);
}

/* Every status of dossier-update.v1 and the services' own transitions. */
static void test_every_transition_leaves_a_state(void **state)
{
    static const struct {
        const char *transition, *state;
    } table[] = {
        {"received", "received"},
        {"assigned", NULL},
        {"processing", "processing"},
        {"supplement_requested", "supplement_requested"},
        {"supplement_received", "processing"},
        {"paying", "paying"},
        {"result_ready", "result_ready"},
        {"returned", "returned"},
        {"withdrawn", "withdrawn"},
        {"stopped", "stopped"},
        {"transfer", "processing"},
        {"reschedule", NULL},
        {"teleported", NULL},
    };
    (void)state;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        const char *got = mc_api_state_after(table[i].transition);
        if (table[i].state == NULL)
            assert_null(got);
        else
            assert_string_equal(got, table[i].state);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_state_has_its_national_code),
        cmocka_unit_test(test_every_transition_leaves_a_state),
    };
    return cmocka_run_group_tests_name("unit: api national status", tests, NULL, NULL);
}
