/* Unit tests of the JSON Schema validator and of the message contract:
 * every schema in schemas/ loads, is closed and bounded, and agrees with the
 * shared corpus in tests/fixtures/corpus (which Ajv also runs, see
 * tests/contract/ajv.sh); problems name the path and say what is wrong. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "motcua/datadir.h"
#include "motcua/error.h"
#include "motcua/schema.h"

#define SCHEMA_DIR MOTCUA_SOURCE_DIR "/schemas"
#define CORPUS_DIR MOTCUA_SOURCE_DIR "/tests/fixtures/corpus"
#define SUFFIX ".schema.json"

/* ------------------------------------------------------------ helpers */

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Sorted names in dir ending with suffix (NULL-terminated, caller frees). */
static char **list_dir(const char *dir, const char *suffix, bool dirs_only)
{
    struct dirent **entries = NULL;
    int n = scandir(dir, &entries, NULL, alphasort);
    char **names = calloc((size_t)(n > 0 ? n : 0) + 1, sizeof *names);
    size_t used = 0;

    assert_non_null(names);
    for (int i = 0; i < n; i++) {
        const char *name = entries[i]->d_name;
        bool is_dir = entries[i]->d_type == DT_DIR;
        if (name[0] != '.' && ends_with(name, suffix) && (!dirs_only || is_dir))
            names[used++] = strdup(name);
        free(entries[i]);
    }
    free(entries);
    return names;
}

static void free_list(char **names)
{
    for (size_t i = 0; names[i] != NULL; i++)
        free(names[i]);
    free(names);
}

static struct mc_schema *load(const char *name)
{
    char err[512] = "";
    struct mc_schema *schema = mc_schema_load_named(name, err, sizeof err);
    if (schema == NULL)
        fail_msg("loading %s: %s", name, err);
    return schema;
}

static json_t *load_json(const char *path)
{
    json_error_t jerr;
    json_t *doc = json_load_file(path, 0, &jerr);
    if (doc == NULL)
        fail_msg("%s:%d: %s", path, jerr.line, jerr.text);
    return doc;
}

static json_t *example(const char *schema, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/valid/%s.json", CORPUS_DIR, schema, name);
    return load_json(path);
}

static char *dump(const json_t *v)
{
    return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
}

/* Validates doc, expecting failure; returns the problems (caller decrefs). */
static json_t *problems_of(const struct mc_schema *schema, const json_t *doc)
{
    json_t *problems = NULL;
    assert_int_equal(mc_schema_validate(schema, doc, &problems), MC_EINVAL);
    assert_true(json_is_array(problems));
    assert_true(json_array_size(problems) > 0);
    return problems;
}

static void assert_valid(const struct mc_schema *schema, const json_t *doc)
{
    json_t *problems = NULL;
    int rc = mc_schema_validate(schema, doc, &problems);
    if (rc != MC_OK) {
        char *text = dump(problems);
        fail_msg("expected valid, got %s", text);
    }
    assert_null(problems);
}

/* True if some problem sits at path and its text contains needle. */
static bool has_problem(const json_t *problems, const char *path, const char *needle)
{
    size_t i;
    json_t *p;
    json_array_foreach(problems, i, p)
    {
        const char *at = json_string_value(json_object_get(p, "path"));
        const char *text = json_string_value(json_object_get(p, "problem"));
        if (at != NULL && text != NULL && strcmp(at, path) == 0 && strstr(text, needle) != NULL)
            return true;
    }
    return false;
}

static void expect_problem(const struct mc_schema *schema, const json_t *doc, const char *path,
                           const char *needle)
{
    json_t *problems = problems_of(schema, doc);
    if (!has_problem(problems, path, needle)) {
        char *text = dump(problems);
        fail_msg("expected a problem at '%s' mentioning \"%s\", got %s", path, needle, text);
    }
    json_decref(problems);
}

/* Writes schema text to a temporary file and loads it. */
static struct mc_schema *load_text(const char *text, char *err, size_t errlen)
{
    char path[] = "/tmp/motcua-test-schema-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    struct mc_schema *schema = mc_schema_load(path, err, errlen);
    unlink(path);
    return schema;
}

static struct mc_schema *load_text_ok(const char *text)
{
    char err[512] = "";
    struct mc_schema *schema = load_text(text, err, sizeof err);
    if (schema == NULL)
        fail_msg("loading inline schema: %s", err);
    return schema;
}

static int setup(void **state)
{
    unsetenv("MOTCUA_DATA_DIR");
    mc_data_dir_set(NULL);
    return 0;
}

/* ------------------------------------------------- the contract files */

static void test_every_schema_loads(void **state)
{
    char **names = list_dir(SCHEMA_DIR, SUFFIX, false);
    size_t count = 0;

    for (size_t i = 0; names[i] != NULL; i++, count++) {
        char path[1024], err[512] = "";
        snprintf(path, sizeof path, "%s/%s", SCHEMA_DIR, names[i]);
        struct mc_schema *schema = mc_schema_load(path, err, sizeof err);
        if (schema == NULL)
            fail_msg("%s", err);
        mc_schema_free(schema);
    }
    free_list(names);
    assert_true(count >= 10);
}

static bool has_type(const json_t *node, const char *type)
{
    const json_t *t = json_object_get(node, "type");
    size_t i;
    json_t *item;
    if (json_is_string(t))
        return strcmp(json_string_value(t), type) == 0;
    json_array_foreach(t, i, item)
    {
        if (strcmp(json_string_value(item), type) == 0)
            return true;
    }
    return false;
}

/* Every object closed, every string and array bounded, at every level. */
static void check_closed(const char *file, const json_t *node, const char *where)
{
    char sub[1024];
    const char *key;
    json_t *child;
    size_t i;

    if (!json_is_object(node))
        return;
    if (has_type(node, "object") && !json_is_false(json_object_get(node, "additionalProperties")))
        fail_msg("%s: %s: object without additionalProperties: false", file, where);
    if (has_type(node, "string") && json_object_get(node, "maxLength") == NULL &&
        json_object_get(node, "enum") == NULL && json_object_get(node, "const") == NULL)
        fail_msg("%s: %s: string without maxLength", file, where);
    if (has_type(node, "array") && json_object_get(node, "maxItems") == NULL)
        fail_msg("%s: %s: array without maxItems", file, where);
    json_object_foreach(json_object_get(node, "properties"), key, child)
    {
        snprintf(sub, sizeof sub, "%s/properties/%s", where, key);
        check_closed(file, child, sub);
    }
    json_object_foreach(json_object_get(node, "$defs"), key, child)
    {
        snprintf(sub, sizeof sub, "%s/$defs/%s", where, key);
        check_closed(file, child, sub);
    }
    snprintf(sub, sizeof sub, "%s/items", where);
    check_closed(file, json_object_get(node, "items"), sub);
    snprintf(sub, sizeof sub, "%s/additionalProperties", where);
    check_closed(file, json_object_get(node, "additionalProperties"), sub);
    json_array_foreach(json_object_get(node, "anyOf"), i, child)
    {
        snprintf(sub, sizeof sub, "%s/anyOf/%zu", where, i);
        check_closed(file, child, sub);
    }
    json_array_foreach(json_object_get(node, "oneOf"), i, child)
    {
        snprintf(sub, sizeof sub, "%s/oneOf/%zu", where, i);
        check_closed(file, child, sub);
    }
}

static void test_schemas_are_closed_and_described(void **state)
{
    char **names = list_dir(SCHEMA_DIR, SUFFIX, false);

    for (size_t i = 0; names[i] != NULL; i++) {
        char path[1024], id[1024];
        snprintf(path, sizeof path, "%s/%s", SCHEMA_DIR, names[i]);
        snprintf(id, sizeof id, "https://motcua.example/schemas/%s", names[i]);
        json_t *raw = load_json(path);
        assert_string_equal(json_string_value(json_object_get(raw, "$id")), id);
        assert_string_equal(json_string_value(json_object_get(raw, "$schema")),
                            "https://json-schema.org/draft/2020-12/schema");
        assert_non_null(json_string_value(json_object_get(raw, "title")));
        assert_non_null(json_string_value(json_object_get(raw, "description")));
        check_closed(names[i], raw, "");
        json_decref(raw);
    }
    free_list(names);
}

/* Runs one example; returns a failure description or NULL. */
static char *run_example(const struct mc_schema *schema, const char *path, bool expect_valid)
{
    char *why = NULL;
    json_t *problems = NULL;
    json_t *doc = load_json(path);
    int rc = mc_schema_validate(schema, doc, &problems);
    char *text = problems != NULL ? dump(problems) : NULL;

    if (expect_valid && rc != MC_OK) {
        if (asprintf(&why, "%s: should be valid: %s", path, text) < 0)
            why = NULL;
    } else if (!expect_valid && rc != MC_EINVAL) {
        if (asprintf(&why, "%s: should be invalid but validates", path) < 0)
            why = NULL;
    } else if (!expect_valid) {
        /* Each invalid example breaks exactly one rule, so exactly one
         * problem, pointing into the document unless the root is wrong. */
        const json_t *first = json_array_get(problems, 0);
        const char *at = json_string_value(json_object_get(first, "path"));
        const char *what = json_string_value(json_object_get(first, "problem"));
        bool path_ok = at != NULL && (at[0] == '/' || (at[0] == '\0' && !json_is_object(doc)));
        if (json_array_size(problems) != 1 || !path_ok || what == NULL || what[0] == '\0') {
            if (asprintf(&why, "%s: expected one problem with a path, got %s", path, text) < 0)
                why = NULL;
        }
    }
    free(text);
    json_decref(problems);
    json_decref(doc);
    return why;
}

static void test_corpus(void **state)
{
    char **schemas = list_dir(CORPUS_DIR, "", true);
    size_t failures = 0, examples = 0, nschemas = 0;

    for (size_t s = 0; schemas[s] != NULL; s++, nschemas++) {
        struct mc_schema *schema = load(schemas[s]);
        bool main_one = strcmp(schemas[s], "submission.v1") == 0 ||
                        strcmp(schemas[s], "dossier-update.v1") == 0;
        for (int expect_valid = 1; expect_valid >= 0; expect_valid--) {
            char dir[1024];
            size_t count = 0;
            snprintf(dir, sizeof dir, "%s/%s/%s", CORPUS_DIR, schemas[s],
                     expect_valid ? "valid" : "invalid");
            char **files = list_dir(dir, ".json", false);
            for (size_t f = 0; files[f] != NULL; f++, count++) {
                char path[2048];
                snprintf(path, sizeof path, "%s/%s", dir, files[f]);
                char *why = run_example(schema, path, expect_valid);
                if (why != NULL) {
                    print_error("%s\n", why);
                    free(why);
                    failures++;
                }
            }
            free_list(files);
            examples += count;
            size_t needed = expect_valid ? (main_one ? 3 : 1) : (main_one ? 6 : 2);
            if (count < needed) {
                print_error("%s: only %zu examples, want %zu\n", dir, count, needed);
                failures++;
            }
        }
        mc_schema_free(schema);
    }
    free_list(schemas);
    print_message("corpus: %zu schemas, %zu examples, %zu failures\n", nschemas, examples,
                  failures);
    assert_true(nschemas >= 10);
    assert_int_equal(failures, 0);
}

/* ------------------------------------------------- what problems say */

static void test_missing_field_is_named(void **state)
{
    struct mc_schema *schema = load("submission.v1");
    json_t *doc = example("submission.v1", "online-business-household");

    json_object_del(doc, "procedure_code");
    expect_problem(schema, doc, "/procedure_code", "required property 'procedure_code' is missing");
    json_object_del(json_object_get(doc, "applicant"), "id_number");
    expect_problem(schema, doc, "/applicant/id_number", "required property 'id_number' is missing");
    json_decref(doc);
    mc_schema_free(schema);
}

static void test_bad_enum_lists_the_choices(void **state)
{
    struct mc_schema *schema = load("submission.v1");
    json_t *doc = example("submission.v1", "online-business-household");

    json_object_set_new(doc, "channel", json_string("fax"));
    expect_problem(schema, doc, "/channel", "must be one of: counter, online, postal");
    json_decref(doc);
    mc_schema_free(schema);
}

static void test_every_problem_is_reported(void **state)
{
    struct mc_schema *schema = load("submission.v1");
    json_t *doc = example("submission.v1", "online-business-household");
    json_t *documents = json_object_get(doc, "documents");

    json_object_del(doc, "ward_code");
    json_object_set_new(json_object_get(doc, "applicant"), "kind", json_string("household"));
    json_object_set_new(json_array_get(documents, 1), "kind", json_string("photocopy"));
    json_object_set_new(doc, "priority", json_string("high"));
    json_t *problems = problems_of(schema, doc);
    assert_int_equal(json_array_size(problems), 4);
    assert_true(has_problem(problems, "/ward_code", "is missing"));
    assert_true(has_problem(problems, "/applicant/kind", "must be one of: citizen, business"));
    assert_true(has_problem(problems, "/documents/1/kind",
                            "must be one of: original, certified_copy, copy"));
    assert_true(
        has_problem(problems, "/priority", "additional property 'priority' is not allowed"));
    json_decref(problems);
    json_decref(doc);
    mc_schema_free(schema);
}

static void test_type_and_pattern_messages(void **state)
{
    struct mc_schema *submission = load("submission.v1");
    struct mc_schema *receipt = load("notification-receipt.v1");
    json_t *doc = example("submission.v1", "online-business-household");
    json_t *rcpt = example("notification-receipt.v1", "delivered");

    json_object_set_new(doc, "procedure_code", json_real(1.001612));
    expect_problem(submission, doc, "/procedure_code", "must be a string");
    json_object_set_new(doc, "procedure_code", json_string("1.001612"));
    json_object_set_new(json_object_get(doc, "applicant"), "id_number", json_string("017-190"));
    expect_problem(submission, doc, "/applicant/id_number",
                   "must match pattern ^[0-9A-Za-z]{6,20}$");
    json_object_set_new(
        doc, "notify_channels",
        json_pack("[sssssss]", "email", "sms", "zalo", "post", "counter", "sms", "email"));
    expect_problem(submission, doc, "/notify_channels", "must have at most 5 items (it has 7)");

    json_object_set_new(rcpt, "dossier_code", json_integer(42));
    expect_problem(receipt, rcpt, "/dossier_code", "must be a string or null");
    json_object_set_new(rcpt, "dossier_code", json_null());
    assert_valid(receipt, rcpt);
    json_object_set_new(json_object_get(rcpt, "data"), "status", json_string("read"));
    expect_problem(receipt, rcpt, "/data/status", "must be one of: delivered, failed, bounced");

    json_decref(rcpt);
    json_decref(doc);
    mc_schema_free(receipt);
    mc_schema_free(submission);
}

static void test_whole_document_of_wrong_type(void **state)
{
    struct mc_schema *schema = load("submission.v1");
    json_t *doc = json_pack("[]");
    expect_problem(schema, doc, "", "must be an object");
    json_decref(doc);
    mc_schema_free(schema);
}

static void test_const_and_minimum(void **state)
{
    struct mc_schema *schema = load("dossier-deadline.v1");
    json_t *doc = example("dossier-deadline.v1", "warning");
    json_t *data = json_object_get(doc, "data");

    json_object_set_new(data, "breach", json_integer(11));
    expect_problem(schema, doc, "/data/breach", "must be at most 10");
    json_object_set_new(data, "breach", json_real(2.0)); /* an integer written as 2.0 */
    assert_valid(schema, doc);
    json_object_set_new(data, "breach", json_real(2.5));
    expect_problem(schema, doc, "/data/breach", "must be an integer");
    json_object_set_new(data, "breach", json_integer(0));
    json_object_set_new(data, "deadline_version", json_integer(0));
    expect_problem(schema, doc, "/data/deadline_version", "must be at least 1");
    json_decref(doc);
    mc_schema_free(schema);

    schema = load("dossier-received.v1");
    doc = example("dossier-received.v1", "online-business-household");
    json_object_set_new(doc, "type", json_string("dossier.accepted"));
    expect_problem(schema, doc, "/type", "must be \"dossier.received\"");
    json_decref(doc);
    mc_schema_free(schema);
}

static void test_length_counts_characters_not_bytes(void **state)
{
    struct mc_schema *schema = load("submission.v1");
    json_t *doc = example("submission.v1", "online-business-household");
    json_t *applicant = json_object_get(doc, "applicant");
    char name[201 * 3 + 1] = "";

    for (int i = 0; i < 200; i++)
        strcat(name, "Ữ"); /* three bytes in UTF-8 */
    json_object_set_new(applicant, "name", json_string(name));
    assert_valid(schema, doc);
    strcat(name, "Ữ");
    json_object_set_new(applicant, "name", json_string(name));
    expect_problem(schema, doc, "/applicant/name",
                   "must be at most 200 characters long (it has 201)");
    json_object_set_new(applicant, "name", json_string(""));
    expect_problem(schema, doc, "/applicant/name", "must not be empty");
    json_decref(doc);
    mc_schema_free(schema);
}

static void test_date_time(void **state)
{
    static const struct {
        const char *text;
        bool valid;
    } cases[] = {
        {"2024-03-05T08:30:00+07:00", true},
        {"2024-03-05T08:30:00Z", true},
        {"2024-03-05t08:30:00z", true},
        {"2024-03-05T08:30:00.123456-05:30", true},
        {"2024-02-29T00:00:00+07:00", true},
        {"2000-02-29T00:00:00Z", true},
        {"2016-12-31T23:59:60Z", true},      /* leap second */
        {"2017-01-01T06:59:60+07:00", true}, /* the same one in Hà Nội */
        {"2024-03-05T08:30:60+07:00", false},
        {"2023-02-29T00:00:00+07:00", false},
        {"2100-02-29T00:00:00Z", false},
        {"2024-04-31T08:30:00+07:00", false},
        {"2024-13-01T08:30:00+07:00", false},
        {"2024-00-10T08:30:00+07:00", false},
        {"2024-03-05T08:30:00", false},
        {"2024-03-05 08:30:00+07:00", false},
        {"2024-03-05T08:30:00+0700", false},
        {"2024-03-05T08:30:00+07", false},
        {"2024-03-05T08:30:00+24:00", false},
        {"2024-03-05T24:00:00Z", false},
        {"2024-03-05T08:60:00Z", false},
        {"2024-03-05T08:30:00.+07:00", false},
        {"2024-3-5T08:30:00Z", false},
        {"2024-03-05", false},
        {"", false},
        {"05/03/2024 08:30", false},
        {"2024-03-05T08:30:00+07:00 ", false},
    };
    struct mc_schema *schema = load("clock-tick.v1");

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *doc = json_pack("{s:s}", "now", cases[i].text);
        json_t *problems = NULL;
        int rc = mc_schema_validate(schema, doc, &problems);
        if ((rc == MC_OK) != cases[i].valid)
            fail_msg("'%s' should be %s", cases[i].text, cases[i].valid ? "valid" : "invalid");
        if (!cases[i].valid)
            assert_true(has_problem(problems, "/now", "RFC 3339 date-time"));
        json_decref(problems);
        json_decref(doc);
    }
    mc_schema_free(schema);
}

static void test_problem_list_is_capped(void **state)
{
    struct mc_schema *schema = load("clock-tick.v1");
    json_t *doc = json_pack("{s:s}", "now", "2024-03-11T08:00:00+07:00");
    char key[32];

    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "extra%03d", i);
        json_object_set_new(doc, key, json_true());
    }
    json_t *problems = problems_of(schema, doc);
    assert_int_equal(json_array_size(problems), 64);
    /* Without a problem list the answer is the same. */
    assert_int_equal(mc_schema_validate(schema, doc, NULL), MC_EINVAL);
    json_decref(problems);
    json_decref(doc);
    mc_schema_free(schema);
}

static void test_long_keys_are_shortened(void **state)
{
    struct mc_schema *schema = load("clock-tick.v1");
    json_t *doc = json_pack("{s:s}", "now", "2024-03-11T08:00:00+07:00");
    char key[5001];

    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    json_object_set_new(doc, key, json_true());
    json_t *problems = problems_of(schema, doc);
    const json_t *first = json_array_get(problems, 0);
    assert_true(strlen(json_string_value(json_object_get(first, "path"))) <= 1000);
    assert_true(strlen(json_string_value(json_object_get(first, "problem"))) <= 1000);
    assert_non_null(strstr(json_string_value(json_object_get(first, "problem")), "...'"));
    json_decref(problems);
    json_decref(doc);
    mc_schema_free(schema);
}

static void test_valid_leaves_problems_null(void **state)
{
    struct mc_schema *schema = load("clock-tick.v1");
    json_t *doc = json_pack("{s:s}", "now", "2024-03-11T08:00:00+07:00");
    json_t *problems = NULL;

    assert_int_equal(mc_schema_validate(schema, doc, &problems), MC_OK);
    assert_null(problems);
    assert_int_equal(mc_schema_validate(schema, doc, NULL), MC_OK);
    json_decref(doc);
    mc_schema_free(schema);
}

/* ------------------------------------------------- the validator itself */

static void test_load_errors(void **state)
{
    static const struct {
        const char *schema;
        const char *needle;
    } cases[] = {
        {"{\"type\": \"object\", \"minProperties\": 1}", "unknown keyword 'minProperties'"},
        {"{\"properties\": {\"a\": {\"type\": \"string\", \"uniqueItems\": true}}}",
         "/properties/a: unknown keyword 'uniqueItems'"},
        {"{\"$ref\": \"#/$defs/missing\"}", "no such definition"},
        {"{\"$ref\": \"other.schema.json#/$defs/x\"}", "only local references"},
        {"{\"type\": \"string\", \"pattern\": \"[\"}", "/pattern"},
        {"{\"type\": \"string\", \"pattern\": \"^\\\\d+$\"}", "not POSIX ERE"},
        {"{\"type\": \"string\", \"pattern\": \"^[\\\\.]$\"}", "backslash inside"},
        {"{\"type\": \"string\", \"format\": \"email\"}", "only \"date-time\""},
        {"{\"$schema\": \"http://json-schema.org/draft-07/schema#\"}", "$schema"},
        {"{\"type\": \"strng\"}", "unknown type strng"},
        {"{\"type\": \"string\", \"maxLength\": -1}", "non-negative integer"},
        {"{\"type\": \"object\", \"required\": [\"a\"], \"properties\": {},"
         " \"additionalProperties\": false}",
         "'a' is required but not in properties"},
        {"{\"type\": \"string\", \"type\": \"integer\"}", "duplicate"},
        {"{\"type\": ", "end of file"},
        {"[]", "root must be a schema object"},
        {"{\"properties\": {\"a\": {\"$defs\": {}}}}", "only supported at the root"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[512] = "";
        struct mc_schema *schema = load_text(cases[i].schema, err, sizeof err);
        if (schema != NULL)
            fail_msg("schema %s should not load", cases[i].schema);
        if (strstr(err, cases[i].needle) == NULL)
            fail_msg("schema %s: error \"%s\" should mention \"%s\"", cases[i].schema, err,
                     cases[i].needle);
    }
    char err[512] = "";
    assert_null(mc_schema_load("/nonexistent/x.schema.json", err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/x.schema.json"));
}

static void test_alternatives(void **state)
{
    struct mc_schema *any = load_text_ok(
        "{\"anyOf\": [{\"type\": \"string\", \"maxLength\": 3}, {\"type\": \"integer\"}]}");
    struct mc_schema *one =
        load_text_ok("{\"oneOf\": [{\"type\": \"integer\"}, {\"type\": \"number\"}]}");
    json_t *s = json_string("abc"), *long_s = json_string("abcdef"), *i = json_integer(3);
    json_t *r = json_real(2.5);

    assert_valid(any, s);
    assert_valid(any, i);
    expect_problem(any, long_s, "", "the closest fails because must be at most 3 characters");
    assert_valid(one, r);
    expect_problem(one, i, "", "matches 2");
    json_decref(s);
    json_decref(long_s);
    json_decref(i);
    json_decref(r);
    mc_schema_free(one);
    mc_schema_free(any);
}

static void test_pointer_escaping_and_refs(void **state)
{
    struct mc_schema *schema = load_text_ok(
        "{\"$schema\": \"https://json-schema.org/draft/2020-12/schema\","
        " \"type\": \"object\", \"required\": [\"a/b~c\"], \"additionalProperties\": false,"
        " \"properties\": {\"a/b~c\": {\"$ref\": \"#/$defs/list\"}},"
        " \"$defs\": {\"list\": {\"type\": \"array\", \"minItems\": 1, \"maxItems\": 2,"
        "   \"items\": {\"$ref\": \"#/$defs/item\"}},"
        "   \"item\": {\"enum\": [1, \"x\", null]}}}");
    json_t *doc = json_pack("{s:[i,f]}", "a/b~c", 1, 1.0);

    assert_valid(schema, doc); /* 1.0 equals the enum's 1 */
    json_array_append_new(json_object_get(doc, "a/b~c"), json_string("y"));
    json_t *problems = problems_of(schema, doc);
    assert_int_equal(json_array_size(problems), 2);
    assert_true(has_problem(problems, "/a~1b~0c", "must have at most 2 items (it has 3)"));
    assert_true(has_problem(problems, "/a~1b~0c/2", "must be one of: 1, x, null"));
    json_decref(problems);
    json_object_clear(doc);
    expect_problem(schema, doc, "/a~1b~0c", "required property 'a/b~c' is missing");
    json_decref(doc);
    mc_schema_free(schema);
}

static void test_schema_dir(void **state)
{
    char err[512] = "";

    /* A build-tree binary reads the source tree's schemas. */
    assert_string_equal(mc_schema_dir(), MOTCUA_SOURCE_DIR "/schemas");
    assert_string_equal(mc_data_dir_origin(), "source tree");
    assert_int_equal(mc_data_dir_check(err, sizeof err), 0);
    setenv("MOTCUA_DATA_DIR", "/nonexistent", 1);
    mc_data_dir_set(NULL);
    assert_string_equal(mc_schema_dir(), "/nonexistent/schemas");
    assert_string_equal(mc_data_dir_origin(), "MOTCUA_DATA_DIR");
    assert_null(mc_schema_load_named("submission.v1", err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/schemas/submission.v1.schema.json"));
    assert_int_equal(mc_data_dir_check(err, sizeof err), MC_EINVAL);
    assert_non_null(strstr(err, "/nonexistent/schemas is missing; set MOTCUA_DATA_DIR"));
    unsetenv("MOTCUA_DATA_DIR");
    mc_data_dir_set(NULL);
    assert_null(mc_schema_load_named("../etc/passwd", err, sizeof err));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_every_schema_loads, setup),
        cmocka_unit_test_setup(test_schemas_are_closed_and_described, setup),
        cmocka_unit_test_setup(test_corpus, setup),
        cmocka_unit_test_setup(test_missing_field_is_named, setup),
        cmocka_unit_test_setup(test_bad_enum_lists_the_choices, setup),
        cmocka_unit_test_setup(test_every_problem_is_reported, setup),
        cmocka_unit_test_setup(test_type_and_pattern_messages, setup),
        cmocka_unit_test_setup(test_whole_document_of_wrong_type, setup),
        cmocka_unit_test_setup(test_const_and_minimum, setup),
        cmocka_unit_test_setup(test_length_counts_characters_not_bytes, setup),
        cmocka_unit_test_setup(test_date_time, setup),
        cmocka_unit_test_setup(test_problem_list_is_capped, setup),
        cmocka_unit_test_setup(test_long_keys_are_shortened, setup),
        cmocka_unit_test_setup(test_valid_leaves_problems_null, setup),
        cmocka_unit_test_setup(test_load_errors, setup),
        cmocka_unit_test_setup(test_alternatives, setup),
        cmocka_unit_test_setup(test_pointer_escaping_and_refs, setup),
        cmocka_unit_test_setup(test_schema_dir, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
