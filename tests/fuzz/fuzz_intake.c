/* libFuzzer harness: bytes as intake reads a submission (the depth check,
 * Jansson with duplicate keys refused), judged by intake's rules
 * (services/intake/rules.c) against an in-memory catalog
 * (tests/fuzz/catalog/intake.json), with the statutory times of every
 * accepted one. Invariants: a rejection names 1 to 64 problems, each with a
 * path and a problem; an accepted submission has parsed instants within
 * years 1..9999, received no earlier than submitted, a receiving desk, a
 * statutory time, and receipt and due dates that follow the receipt. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "motcua/catalog.h"
#include "motcua/jsonutil.h"
#include "motcua/schema.h"
#include "rules.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct mc_schema *schema;
static struct mc_catalog *catalog;

/* 0001-01-01 and 9999-12-31T23:59:59 in Unix seconds. */
#define YEAR_1 (-62135596800LL)
#define YEAR_9999_END (253402300799LL)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char path[4096], err[512];
    json_error_t jerr;
    json_t *doc;
    (void)argc;
    (void)argv;
    snprintf(path, sizeof path, "%s/submission.v1.schema.json", mc_schema_dir());
    if ((schema = mc_schema_load(path, err, sizeof err)) == NULL) {
        fprintf(stderr, "fuzz_intake: %s\n", err);
        abort();
    }
    snprintf(path, sizeof path, "%s/tests/fuzz/catalog/intake.json", MOTCUA_SOURCE_DIR);
    if ((doc = json_load_file(path, 0, &jerr)) == NULL) {
        fprintf(stderr, "fuzz_intake: %s: %s\n", path, jerr.text);
        abort();
    }
    if ((catalog = mc_catalog_from_json(doc, err, sizeof err)) == NULL) {
        fprintf(stderr, "fuzz_intake: %s\n", err);
        abort();
    }
    json_decref(doc);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mc_intake_verdict v;
    struct mc_intake_times t;
    json_error_t jerr;
    json_t *sub;
    size_t at, i, n;
    json_t *p;
    char err[256];

    if (!mc_json_depth_ok((const char *)data, size, MC_JSON_MAX_DEPTH, &at))
        return 0;
    sub = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
    if (sub == NULL || !json_is_object(sub)) {
        json_decref(sub);
        return 0;
    }
    mc_intake_judge(schema, catalog, sub, &v);
    if (v.problems) {
        n = json_array_size(v.problems);
        if (n < 1 || n > 64)
            abort();
        json_array_foreach(v.problems, i, p)
        {
            if (!json_is_string(json_object_get(p, "path")) ||
                !json_is_string(json_object_get(p, "problem")))
                abort();
        }
        json_decref(v.problems);
        json_decref(sub);
        return 0;
    }
    if (v.procedure == NULL || v.rule_set == NULL || v.submitted_at < YEAR_1 ||
        v.received_at > YEAR_9999_END || v.received_at < v.submitted_at)
        abort();
    if (mc_intake_times(catalog, sub, &v, &t, err, sizeof err) == 0) {
        if (t.agency_unit == NULL || t.statutory[0] == '\0' || t.receipt_at < v.received_at ||
            t.due_at < t.receipt_at)
            abort();
    }
    json_decref(sub);
    return 0;
}
