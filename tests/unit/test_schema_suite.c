/* The C JSON Schema validator against the official JSON-Schema-Test-Suite
 * (Debian's json-schema-test-suite, /usr/share/json-schema-test-suite),
 * for every keyword the validator claims. Debian ships drafts 3 to 7 only,
 * so the draft-7 cases are used for the keywords whose meaning is the same
 * in 2020-12 (schemas/README.md lists them). A case whose schema the
 * validator refuses to compile (a keyword or form it does not support, such
 * as "definitions" or an array-valued "items") is skipped and counted; a
 * case it compiles must be judged as the suite says. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "motcua/schema.h"

#define SUITE_DIR "/usr/share/json-schema-test-suite/tests/draft7"

/* Claimed keywords, by their suite file; draft 7 and 2020-12 agree on them. */
static const char *const files[] = {
    "type.json",           "properties.json",
    "required.json",       "additionalProperties.json",
    "items.json",          "minItems.json",
    "maxItems.json",       "enum.json",
    "const.json",          "minLength.json",
    "maxLength.json",      "pattern.json",
    "minimum.json",        "maximum.json",
    "oneOf.json",          "anyOf.json",
    "boolean_schema.json", "optional/format/date-time.json",
};

struct tally {
    int passed, failed, skipped_cases, skipped_tests;
};

static void run_file(const char *file, struct tally *all)
{
    char path[512], err[512];
    json_error_t jerr;
    json_t *groups, *group;
    struct tally t = {0};
    size_t gi;

    snprintf(path, sizeof path, "%s/%s", SUITE_DIR, file);
    if ((groups = json_load_file(path, 0, &jerr)) == NULL)
        fail_msg("%s: %s (install the Debian package json-schema-test-suite; tests/run does)", path,
                 jerr.text);
    json_array_foreach(groups, gi, group)
    {
        const json_t *schema_doc = json_object_get(group, "schema");
        const json_t *tests = json_object_get(group, "tests"), *test;
        const char *about = json_string_value(json_object_get(group, "description"));
        struct mc_schema *schema = NULL;
        size_t ti;

        schema = mc_schema_compile(schema_doc, about, err, sizeof err);
        if (schema == NULL) {
            t.skipped_cases++;
            t.skipped_tests += (int)json_array_size(tests);
            continue;
        }
        json_array_foreach(tests, ti, test)
        {
            int want = json_is_true(json_object_get(test, "valid"));
            int got = mc_schema_validate(schema, json_object_get(test, "data"), NULL) == 0;
            if (got == want) {
                t.passed++;
            } else {
                t.failed++;
                fprintf(stderr, "  FAIL %s: \"%s\" / \"%s\": expected %s\n", file, about,
                        json_string_value(json_object_get(test, "description")),
                        want ? "valid" : "invalid");
            }
        }
        mc_schema_free(schema);
    }
    json_decref(groups);
    printf("  %-32s %3d passed, %d failed, %d skipped (%d cases not compiled)\n", file, t.passed,
           t.failed, t.skipped_tests, t.skipped_cases);
    all->passed += t.passed;
    all->failed += t.failed;
    all->skipped_tests += t.skipped_tests;
    all->skipped_cases += t.skipped_cases;
}

static void test_draft7_cases_of_claimed_keywords(void **state)
{
    struct tally all = {0};
    (void)state;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        run_file(files[i], &all);
    printf("  JSON-Schema-Test-Suite draft 7: %d passed, %d failed, %d skipped\n", all.passed,
           all.failed, all.skipped_tests);
    assert_int_equal(all.failed, 0);
    /* Not vacuous: most of the claimed keywords' cases compile and run. */
    assert_true(all.passed >= 190);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_draft7_cases_of_claimed_keywords),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
