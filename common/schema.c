/* JSON Schema validator for the draft 2020-12 subset described in
 * include/motcua/schema.h: every message is checked with it at the boundary. */
#include "motcua/schema.h"
#include "motcua/datadir.h"
#include "motcua/error.h"
#include "motcua/timeutil.h"

#include <limits.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DRAFT_2020_12 "https://json-schema.org/draft/2020-12/schema"
#define MAX_PROBLEMS 64
/* Reported paths and problem texts stay below the 1024 characters that
 * submission-rejected.v1 allows, whatever the offending document holds. */
#define MAX_PATH_BYTES 1000
#define MAX_TEXT_BYTES 1000
#define MAX_NAME_BYTES 64
/* Bounds recursion through $ref/anyOf cycles in a (bad) schema. */
#define MAX_DEPTH 256

enum {
    T_OBJECT = 1 << 0,
    T_ARRAY = 1 << 1,
    T_STRING = 1 << 2,
    T_INTEGER = 1 << 3,
    T_NUMBER = 1 << 4,
    T_BOOLEAN = 1 << 5,
    T_NULL = 1 << 6,
};

static const struct {
    const char *name;
    const char *article; /* for messages: "must be an object" */
    unsigned bit;
} type_names[] = {
    {"object", "an object", T_OBJECT}, {"array", "an array", T_ARRAY},
    {"string", "a string", T_STRING},  {"integer", "an integer", T_INTEGER},
    {"number", "a number", T_NUMBER},  {"boolean", "a boolean", T_BOOLEAN},
    {"null", "null", T_NULL},
};

struct node;

struct prop {
    const char *name; /* borrowed from the schema document */
    struct node *schema;
};

/* One compiled schema object. Strings and JSON values are borrowed from the
 * schema document, which lives as long as the struct mc_schema. */
struct node {
    bool always_false; /* the boolean schema `false` */
    unsigned types;    /* T_* bits; 0 = any type */
    struct prop *props;
    size_t nprops;
    const char **required;
    size_t nrequired;
    bool closed;             /* additionalProperties: false */
    struct node *additional; /* additionalProperties: <schema> */
    struct node *items;
    long long min_items, max_items;   /* -1 = unset */
    long long min_length, max_length; /* -1 = unset; in code points */
    const json_t *enum_values;
    const json_t *const_value; /* NULL = no const (const null is json_null()) */
    bool has_pattern;
    regex_t pattern;
    const char *pattern_src;
    bool has_minimum, has_maximum;
    double minimum, maximum;
    bool date_time;
    const char *ref_name; /* "<name>" of "#/$defs/<name>" */
    struct node *ref;
    struct node **any_of;
    size_t nany_of;
    struct node **one_of;
    size_t none_of;
};

struct mc_schema {
    char *path;
    json_t *doc;
    struct node **nodes; /* every node, freed together */
    size_t nnodes, capnodes;
    struct prop *defs; /* root $defs */
    size_t ndefs;
    struct node *root;
};

/* ------------------------------------------------------------------ utils */

/* Cuts s (NUL-terminated UTF-8) to at most max bytes on a character boundary. */
static void utf8_truncate(char *s, size_t max)
{
    size_t len = strlen(s);
    if (len <= max)
        return;
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    s[max] = '\0';
}

static size_t utf8_code_points(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            n++;
    return n;
}

/* A property name quoted in a message, shortened so a hostile key cannot
 * blow up the report. */
static void short_name(char *buf, size_t buflen, const char *name)
{
    snprintf(buf, buflen, "%s", name);
    utf8_truncate(buf, MAX_NAME_BYTES);
    if (strlen(name) > strlen(buf) && strlen(buf) + 4 <= buflen - 1)
        strcat(buf, "...");
}

static void format_number(char *buf, size_t buflen, double x)
{
    if (x == floor(x) && fabs(x) < 1e15)
        snprintf(buf, buflen, "%lld", (long long)x);
    else
        snprintf(buf, buflen, "%.17g", x);
}

static bool is_integral(const json_t *v)
{
    if (json_is_integer(v))
        return true;
    if (!json_is_real(v))
        return false;
    double x = json_real_value(v);
    return isfinite(x) && x == floor(x);
}

/* JSON equality as JSON Schema means it: 1 and 1.0 are equal. */
static bool values_equal(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b)) {
        if (json_is_integer(a) && json_is_integer(b))
            return json_integer_value(a) == json_integer_value(b);
        return json_number_value(a) == json_number_value(b);
    }
    if (json_typeof(a) != json_typeof(b))
        return false;
    if (json_is_array(a)) {
        if (json_array_size(a) != json_array_size(b))
            return false;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!values_equal(json_array_get(a, i), json_array_get(b, i)))
                return false;
        return true;
    }
    if (json_is_object(a)) {
        const char *key;
        json_t *va;
        if (json_object_size(a) != json_object_size(b))
            return false;
        json_object_foreach((json_t *)a, key, va)
        {
            const json_t *vb = json_object_get(b, key);
            if (vb == NULL || !values_equal(va, vb))
                return false;
        }
        return true;
    }
    return json_equal((json_t *)a, (json_t *)b);
}

/* Writes a value for a message: strings bare, anything else as compact JSON. */
static void describe_value(char *buf, size_t buflen, const json_t *v, bool quote_strings)
{
    if (json_is_string(v)) {
        snprintf(buf, buflen, quote_strings ? "\"%s\"" : "%s", json_string_value(v));
        return;
    }
    char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    snprintf(buf, buflen, "%s", text != NULL ? text : "?");
    free(text);
}

/* RFC 3339 date-time with an offset, as the services parse it: one
 * parser (mc_time_parse) decides, so a value the schema accepts is always
 * an instant the services can use. */
static bool is_date_time(const char *s, size_t len)
{
    mc_instant t;
    return memchr(s, '\0', len) == NULL && mc_time_parse(s, &t) == 0;
}

/* ---------------------------------------------------------- compiling */

static struct node *new_node(struct mc_schema *schema)
{
    if (schema->nnodes == schema->capnodes) {
        schema->capnodes = schema->capnodes ? schema->capnodes * 2 : 32;
        schema->nodes = mc_xrealloc(schema->nodes, schema->capnodes * sizeof *schema->nodes);
    }
    struct node *n = mc_xcalloc(1, sizeof *n);
    n->min_items = n->max_items = n->min_length = n->max_length = -1;
    schema->nodes[schema->nnodes++] = n;
    return n;
}

/* Where in the schema file a keyword sits, for load errors. */
static void child_where(char *buf, size_t buflen, const char *where, const char *key)
{
    snprintf(buf, buflen, "%s/%s", where, key);
}

/* A POSIX ERE is also compiled by JavaScript validators (the contract test
 * runs Ajv on the same files), so refuse syntax the two read differently. */
static const char *pattern_unportable(const char *p)
{
    bool in_bracket = false;
    for (size_t i = 0; p[i] != '\0'; i++) {
        char c = p[i];
        if (in_bracket) {
            if (c == '\\')
                return "a backslash inside [...] is literal in POSIX but an escape in JavaScript";
            if (c == '[' && (p[i + 1] == ':' || p[i + 1] == '.' || p[i + 1] == '='))
                return "POSIX [: :] classes are not understood by JavaScript";
            if (c == ']')
                in_bracket = false;
            continue;
        }
        if (c == '\\') {
            char next = p[i + 1];
            if (next == '\0')
                return "it ends with a backslash";
            if ((next >= '0' && next <= '9') || (next >= 'a' && next <= 'z') ||
                (next >= 'A' && next <= 'Z'))
                return "escapes like \\d, \\w, \\s, \\b or back-references are not POSIX ERE; "
                       "write [0-9] and the like";
            i++;
            continue;
        }
        if (c == '(' && p[i + 1] == '?')
            return "(?...) groups are not POSIX ERE";
        if ((c == '*' || c == '+' || c == '?' || c == '}') && p[i + 1] == '?')
            return "lazy quantifiers are not POSIX ERE";
        if (c == '[') {
            in_bracket = true;
            if (p[i + 1] == '^')
                i++;
            if (p[i + 1] == ']')
                i++; /* a leading ']' is a literal member */
        }
    }
    return NULL;
}

static int compile(struct mc_schema *schema, const json_t *js, const char *where, bool is_root,
                   struct node **out, char *err, size_t errlen);

static int want_count(const json_t *val, const char *where, const char *key, long long *out,
                      char *err, size_t errlen)
{
    if (!is_integral(val) || json_number_value(val) < 0)
        return mc_err(err, errlen, MC_EINVAL, "%s/%s: must be a non-negative integer", where, key);
    *out = (long long)json_number_value(val);
    return 0;
}

static int compile_type(struct node *n, const json_t *val, const char *where, char *err,
                        size_t errlen)
{
    const json_t *names = val;
    json_t *wrapped = NULL;
    int rc = 0;

    if (json_is_string(val)) {
        wrapped = json_array();
        json_array_append(wrapped, (json_t *)val);
        names = wrapped;
    }
    if (!json_is_array(names) || json_array_size(names) == 0) {
        rc = mc_err(err, errlen, MC_EINVAL,
                    "%s/type: must be a type name or a non-empty array of them", where);
        goto out;
    }
    for (size_t i = 0; i < json_array_size(names); i++) {
        const char *name = json_string_value(json_array_get(names, i));
        size_t k;
        for (k = 0; name != NULL && k < sizeof type_names / sizeof type_names[0]; k++)
            if (strcmp(name, type_names[k].name) == 0)
                break;
        if (name == NULL || k == sizeof type_names / sizeof type_names[0]) {
            rc = mc_err(err, errlen, MC_EINVAL, "%s/type: unknown type %s", where,
                        name != NULL ? name : "(not a string)");
            goto out;
        }
        n->types |= type_names[k].bit;
    }
out:
    json_decref(wrapped);
    return rc;
}

static int compile_list(struct mc_schema *schema, const json_t *val, const char *where,
                        const char *key, struct node ***list, size_t *count, char *err,
                        size_t errlen)
{
    char sub[512];
    if (!json_is_array(val) || json_array_size(val) == 0)
        return mc_err(err, errlen, MC_EINVAL, "%s/%s: must be a non-empty array of schemas", where,
                      key);
    *count = json_array_size(val);
    *list = mc_xcalloc(*count, sizeof **list);
    for (size_t i = 0; i < *count; i++) {
        snprintf(sub, sizeof sub, "%s/%s/%zu", where, key, i);
        int rc = compile(schema, json_array_get(val, i), sub, false, &(*list)[i], err, errlen);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int compile_properties(struct mc_schema *schema, struct node *n, const json_t *val,
                              const char *where, char *err, size_t errlen)
{
    char sub[512];
    const char *key;
    json_t *prop;
    size_t i = 0;

    if (!json_is_object(val))
        return mc_err(err, errlen, MC_EINVAL, "%s/properties: must be an object", where);
    n->nprops = json_object_size(val);
    n->props = mc_xcalloc(n->nprops ? n->nprops : 1, sizeof *n->props);
    json_object_foreach((json_t *)val, key, prop)
    {
        snprintf(sub, sizeof sub, "%s/properties/%s", where, key);
        n->props[i].name = key;
        int rc = compile(schema, prop, sub, false, &n->props[i].schema, err, errlen);
        if (rc != 0)
            return rc;
        i++;
    }
    return 0;
}

static int compile_required(struct node *n, const json_t *val, const char *where, char *err,
                            size_t errlen)
{
    if (!json_is_array(val))
        return mc_err(err, errlen, MC_EINVAL, "%s/required: must be an array of names", where);
    n->nrequired = json_array_size(val);
    n->required = mc_xcalloc(n->nrequired ? n->nrequired : 1, sizeof *n->required);
    for (size_t i = 0; i < n->nrequired; i++) {
        n->required[i] = json_string_value(json_array_get(val, i));
        if (n->required[i] == NULL)
            return mc_err(err, errlen, MC_EINVAL, "%s/required/%zu: must be a string", where, i);
    }
    return 0;
}

static int compile_pattern(struct node *n, const json_t *val, const char *where, char *err,
                           size_t errlen)
{
    const char *why;
    int rc;

    if (!json_is_string(val))
        return mc_err(err, errlen, MC_EINVAL, "%s/pattern: must be a string", where);
    n->pattern_src = json_string_value(val);
    why = pattern_unportable(n->pattern_src);
    if (why != NULL)
        return mc_err(err, errlen, MC_EINVAL, "%s/pattern: %s: %s", where, n->pattern_src, why);
    rc = regcomp(&n->pattern, n->pattern_src, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char msg[256];
        regerror(rc, &n->pattern, msg, sizeof msg);
        return mc_err(err, errlen, MC_EINVAL, "%s/pattern: %s: %s", where, n->pattern_src, msg);
    }
    n->has_pattern = true;
    return 0;
}

static int compile_keyword(struct mc_schema *schema, struct node *n, const char *key,
                           const json_t *val, const char *where, bool is_root, char *err,
                           size_t errlen)
{
    char sub[512];

    if (strcmp(key, "$schema") == 0) {
        if (!is_root || !json_is_string(val) || strcmp(json_string_value(val), DRAFT_2020_12) != 0)
            return mc_err(err, errlen, MC_EINVAL, "%s/$schema: only %s at the root is supported",
                          where, DRAFT_2020_12);
        return 0;
    }
    if (strcmp(key, "$id") == 0 || strcmp(key, "title") == 0 || strcmp(key, "description") == 0 ||
        strcmp(key, "$comment") == 0) {
        if (!json_is_string(val))
            return mc_err(err, errlen, MC_EINVAL, "%s/%s: must be a string", where, key);
        return 0;
    }
    if (strcmp(key, "examples") == 0) {
        if (!json_is_array(val))
            return mc_err(err, errlen, MC_EINVAL, "%s/examples: must be an array", where);
        return 0;
    }
    if (strcmp(key, "default") == 0)
        return 0;
    if (strcmp(key, "$defs") == 0) {
        const char *name;
        json_t *def;
        size_t i = 0;
        if (!is_root)
            return mc_err(err, errlen, MC_EINVAL, "%s/$defs: only supported at the root", where);
        if (!json_is_object(val))
            return mc_err(err, errlen, MC_EINVAL, "%s/$defs: must be an object", where);
        schema->ndefs = json_object_size(val);
        schema->defs = mc_xcalloc(schema->ndefs ? schema->ndefs : 1, sizeof *schema->defs);
        json_object_foreach((json_t *)val, name, def)
        {
            snprintf(sub, sizeof sub, "%s/$defs/%s", where, name);
            schema->defs[i].name = name;
            int rc = compile(schema, def, sub, false, &schema->defs[i].schema, err, errlen);
            if (rc != 0)
                return rc;
            i++;
        }
        return 0;
    }
    if (strcmp(key, "$ref") == 0) {
        const char *ref = json_string_value(val);
        if (ref == NULL || strncmp(ref, "#/$defs/", 8) != 0 || ref[8] == '\0' ||
            strchr(ref + 8, '/') != NULL || strchr(ref + 8, '~') != NULL)
            return mc_err(err, errlen, MC_EINVAL,
                          "%s/$ref: only local references \"#/$defs/<name>\" are supported", where);
        n->ref_name = ref + 8;
        return 0;
    }
    if (strcmp(key, "type") == 0)
        return compile_type(n, val, where, err, errlen);
    if (strcmp(key, "properties") == 0)
        return compile_properties(schema, n, val, where, err, errlen);
    if (strcmp(key, "required") == 0)
        return compile_required(n, val, where, err, errlen);
    if (strcmp(key, "additionalProperties") == 0) {
        if (json_is_false(val)) {
            n->closed = true;
            return 0;
        }
        child_where(sub, sizeof sub, where, key);
        return compile(schema, val, sub, false, &n->additional, err, errlen);
    }
    if (strcmp(key, "items") == 0) {
        child_where(sub, sizeof sub, where, key);
        return compile(schema, val, sub, false, &n->items, err, errlen);
    }
    if (strcmp(key, "minItems") == 0)
        return want_count(val, where, key, &n->min_items, err, errlen);
    if (strcmp(key, "maxItems") == 0)
        return want_count(val, where, key, &n->max_items, err, errlen);
    if (strcmp(key, "minLength") == 0)
        return want_count(val, where, key, &n->min_length, err, errlen);
    if (strcmp(key, "maxLength") == 0)
        return want_count(val, where, key, &n->max_length, err, errlen);
    if (strcmp(key, "enum") == 0) {
        if (!json_is_array(val) || json_array_size(val) == 0)
            return mc_err(err, errlen, MC_EINVAL, "%s/enum: must be a non-empty array", where);
        n->enum_values = val;
        return 0;
    }
    if (strcmp(key, "const") == 0) {
        n->const_value = val;
        return 0;
    }
    if (strcmp(key, "pattern") == 0)
        return compile_pattern(n, val, where, err, errlen);
    if (strcmp(key, "minimum") == 0 || strcmp(key, "maximum") == 0) {
        if (!json_is_number(val))
            return mc_err(err, errlen, MC_EINVAL, "%s/%s: must be a number", where, key);
        if (key[1] == 'i') {
            n->has_minimum = true;
            n->minimum = json_number_value(val);
        } else {
            n->has_maximum = true;
            n->maximum = json_number_value(val);
        }
        return 0;
    }
    if (strcmp(key, "format") == 0) {
        if (!json_is_string(val) || strcmp(json_string_value(val), "date-time") != 0)
            return mc_err(err, errlen, MC_EINVAL, "%s/format: only \"date-time\" is supported",
                          where);
        n->date_time = true;
        return 0;
    }
    if (strcmp(key, "anyOf") == 0)
        return compile_list(schema, val, where, key, &n->any_of, &n->nany_of, err, errlen);
    if (strcmp(key, "oneOf") == 0)
        return compile_list(schema, val, where, key, &n->one_of, &n->none_of, err, errlen);
    return mc_err(err, errlen, MC_EINVAL, "%s: unknown keyword '%s'", where[0] ? where : "/", key);
}

static int compile(struct mc_schema *schema, const json_t *js, const char *where, bool is_root,
                   struct node **out, char *err, size_t errlen)
{
    struct node *n = new_node(schema);
    const char *key;
    json_t *val;

    *out = n;
    if (json_is_boolean(js)) {
        n->always_false = json_is_false(js);
        return 0;
    }
    if (!json_is_object(js))
        return mc_err(err, errlen, MC_EINVAL, "%s: a schema must be an object or a boolean",
                      where[0] ? where : "/");
    json_object_foreach((json_t *)js, key, val)
    {
        int rc = compile_keyword(schema, n, key, val, where, is_root, err, errlen);
        if (rc != 0)
            return rc;
    }
    /* A closed object requiring a property it does not declare can never
     * validate: that is a mistake in the schema, not in messages. */
    for (size_t i = 0; n->closed && i < n->nrequired; i++) {
        size_t k;
        for (k = 0; k < n->nprops; k++)
            if (strcmp(n->props[k].name, n->required[i]) == 0)
                break;
        if (k == n->nprops)
            return mc_err(err, errlen, MC_EINVAL,
                          "%s/required: '%s' is required but not in properties", where,
                          n->required[i]);
    }
    return 0;
}

static int resolve_refs(struct mc_schema *schema, char *err, size_t errlen)
{
    for (size_t i = 0; i < schema->nnodes; i++) {
        struct node *n = schema->nodes[i];
        if (n->ref_name == NULL)
            continue;
        for (size_t k = 0; k < schema->ndefs; k++)
            if (strcmp(schema->defs[k].name, n->ref_name) == 0)
                n->ref = schema->defs[k].schema;
        if (n->ref == NULL)
            return mc_err(err, errlen, MC_EINVAL, "$ref \"#/$defs/%s\": no such definition",
                          n->ref_name);
    }
    return 0;
}

/* Compiles schema->doc (owned by schema), naming it path in errors. */
static struct mc_schema *compile_doc(struct mc_schema *schema, const char *path, char *err,
                                     size_t errlen);

struct mc_schema *mc_schema_load(const char *path, char *err, size_t errlen)
{
    struct mc_schema *schema = mc_xcalloc(1, sizeof *schema);
    json_error_t jerr;

    schema->path = mc_xstrdup(path);
    schema->doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (schema->doc == NULL) {
        mc_err(err, errlen, MC_EINVAL, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
        mc_schema_free(schema);
        return NULL;
    }
    if (!json_is_object(schema->doc)) { /* a message schema file describes an object */
        mc_err(err, errlen, MC_EINVAL, "%s: the root must be a schema object", path);
        mc_schema_free(schema);
        return NULL;
    }
    return compile_doc(schema, path, err, errlen);
}

struct mc_schema *mc_schema_compile(const json_t *doc, const char *name, char *err, size_t errlen)
{
    struct mc_schema *schema = mc_xcalloc(1, sizeof *schema);
    schema->path = mc_xstrdup(name);
    schema->doc = json_deep_copy(doc);
    return compile_doc(schema, name, err, errlen);
}

static struct mc_schema *compile_doc(struct mc_schema *schema, const char *path, char *err,
                                     size_t errlen)
{
    char why[512];
    if (!json_is_object(schema->doc) && !json_is_boolean(schema->doc)) {
        mc_err(err, errlen, MC_EINVAL, "%s: the root must be a schema object or a boolean", path);
        goto fail;
    }
    if (compile(schema, schema->doc, "", true, &schema->root, why, sizeof why) != 0 ||
        resolve_refs(schema, why, sizeof why) != 0) {
        mc_err(err, errlen, MC_EINVAL, "%s: %s", path, why);
        goto fail;
    }
    return schema;
fail:
    mc_schema_free(schema);
    return NULL;
}

const char *mc_schema_dir(void)
{
    static char dir[PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s/schemas", mc_data_dir());
    return dir;
}

struct mc_schema *mc_schema_load_named(const char *name, char *err, size_t errlen)
{
    char path[4096];

    if (name[0] == '\0' || strchr(name, '/') != NULL) {
        mc_err(err, errlen, MC_EINVAL, "bad schema name '%s'", name);
        return NULL;
    }
    if ((size_t)snprintf(path, sizeof path, "%s/%s.schema.json", mc_schema_dir(), name) >=
        sizeof path) {
        mc_err(err, errlen, MC_EINVAL, "schema path for '%s' is too long", name);
        return NULL;
    }
    return mc_schema_load(path, err, errlen);
}

void mc_schema_free(struct mc_schema *schema)
{
    if (schema == NULL)
        return;
    for (size_t i = 0; i < schema->nnodes; i++) {
        struct node *n = schema->nodes[i];
        if (n->has_pattern)
            regfree(&n->pattern);
        free(n->props);
        free((void *)n->required);
        free(n->any_of);
        free(n->one_of);
        free(n);
    }
    free(schema->nodes);
    free(schema->defs);
    json_decref(schema->doc);
    free(schema->path);
    free(schema);
}

/* ---------------------------------------------------------- validating */

/* The JSON pointer of the value being checked, grown and shrunk in place. */
struct path {
    char *buf;
    size_t len, cap;
};

struct ctx {
    struct path *path;
    json_t *list; /* problems, up to MAX_PROBLEMS; NULL = only count */
    size_t found; /* all problems, listed or not */
    int depth;
};

static void path_append(struct path *p, const char *s, size_t n)
{
    if (p->len + n + 1 > p->cap) {
        p->cap = (p->len + n + 1) * 2;
        p->buf = mc_xrealloc(p->buf, p->cap);
    }
    memcpy(p->buf + p->len, s, n);
    p->len += n;
    p->buf[p->len] = '\0';
}

/* Appends "/<key>" (escaped per RFC 6901); returns the length to restore. */
static size_t path_push_key(struct path *p, const char *key)
{
    size_t mark = p->len;
    path_append(p, "/", 1);
    for (const char *c = key; *c != '\0'; c++) {
        if (*c == '~')
            path_append(p, "~0", 2);
        else if (*c == '/')
            path_append(p, "~1", 2);
        else
            path_append(p, c, 1);
    }
    return mark;
}

static size_t path_push_index(struct path *p, size_t index)
{
    char buf[32];
    size_t mark = p->len;
    int n = snprintf(buf, sizeof buf, "/%zu", index);
    path_append(p, buf, (size_t)n);
    return mark;
}

static void path_pop(struct path *p, size_t mark)
{
    p->len = mark;
    p->buf[mark] = '\0';
}

static void problem(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void problem(struct ctx *c, const char *fmt, ...)
{
    char text[MAX_TEXT_BYTES + 64];
    char where[MAX_PATH_BYTES + 8];
    va_list ap;

    c->found++;
    if (c->list == NULL || json_array_size(c->list) >= MAX_PROBLEMS)
        return;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    utf8_truncate(text, MAX_TEXT_BYTES);
    snprintf(where, sizeof where, "%s", c->path->buf);
    utf8_truncate(where, MAX_PATH_BYTES);
    json_t *entry = json_pack("{s:s, s:s}", "path", where, "problem", text);
    if (entry == NULL) /* only if a caller-built document held invalid UTF-8 */
        entry = json_pack("{s:s, s:s}", "path", "", "problem", "(not valid UTF-8)");
    json_array_append_new(c->list, entry);
}

static void describe_types(char *buf, size_t buflen, unsigned types)
{
    size_t count = 0, total = 0, used = 0;
    for (size_t k = 0; k < sizeof type_names / sizeof type_names[0]; k++)
        if (types & type_names[k].bit)
            total++;
    buf[0] = '\0';
    for (size_t k = 0; k < sizeof type_names / sizeof type_names[0]; k++) {
        if (!(types & type_names[k].bit))
            continue;
        count++;
        const char *sep = count == 1 ? "" : count == total ? " or " : ", ";
        int n = snprintf(buf + used, buflen - used, "%s%s", sep, type_names[k].article);
        if (n < 0 || (size_t)n >= buflen - used)
            return;
        used += (size_t)n;
    }
}

static bool type_matches(unsigned types, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return types & T_OBJECT;
    case JSON_ARRAY:
        return types & T_ARRAY;
    case JSON_STRING:
        return types & T_STRING;
    case JSON_INTEGER:
        return types & (T_INTEGER | T_NUMBER);
    case JSON_REAL:
        return (types & T_NUMBER) || ((types & T_INTEGER) && is_integral(v));
    case JSON_TRUE:
    case JSON_FALSE:
        return types & T_BOOLEAN;
    case JSON_NULL:
        return types & T_NULL;
    }
    return false;
}

static void check(const struct node *n, const json_t *v, struct ctx *c);

static bool check_choices(const struct node *n, const json_t *v, struct ctx *c)
{
    char list[MAX_TEXT_BYTES], item[MAX_TEXT_BYTES];
    size_t used = 0;

    if (n->const_value != NULL && !values_equal(n->const_value, v)) {
        describe_value(item, sizeof item, n->const_value, true);
        problem(c, "must be %s", item);
        return false;
    }
    if (n->enum_values == NULL)
        return true;
    for (size_t i = 0; i < json_array_size(n->enum_values); i++)
        if (values_equal(json_array_get(n->enum_values, i), v))
            return true;
    list[0] = '\0';
    for (size_t i = 0; i < json_array_size(n->enum_values) && used < sizeof list; i++) {
        describe_value(item, sizeof item, json_array_get(n->enum_values, i), false);
        int k = snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", item);
        if (k < 0)
            break;
        used += (size_t)k;
    }
    problem(c, "must be one of: %s", list);
    return false;
}

static void check_string(const struct node *n, const json_t *v, struct ctx *c)
{
    const char *s = json_string_value(v);
    size_t bytes = json_string_length(v);
    size_t chars = utf8_code_points(s, bytes);

    if (n->min_length >= 0 && chars < (size_t)n->min_length) {
        if (n->min_length == 1)
            problem(c, "must not be empty");
        else
            problem(c, "must be at least %lld characters long", n->min_length);
    }
    if (n->max_length >= 0 && chars > (size_t)n->max_length)
        problem(c, "must be at most %lld characters long (it has %zu)", n->max_length, chars);
    /* regexec stops at a NUL, so a string holding one cannot be matched whole. */
    if (n->has_pattern && (strlen(s) != bytes || regexec(&n->pattern, s, 0, NULL, 0) != 0))
        problem(c, "must match pattern %s", n->pattern_src);
    if (n->date_time && !is_date_time(s, bytes))
        problem(c, "must be an RFC 3339 date-time with a UTC offset, "
                   "like 2024-03-05T08:30:00+07:00");
}

static void check_number(const struct node *n, const json_t *v, struct ctx *c)
{
    char limit[64];
    double x = json_number_value(v);

    if (n->has_minimum && x < n->minimum) {
        format_number(limit, sizeof limit, n->minimum);
        problem(c, "must be at least %s", limit);
    }
    if (n->has_maximum && x > n->maximum) {
        format_number(limit, sizeof limit, n->maximum);
        problem(c, "must be at most %s", limit);
    }
}

static const struct node *find_prop(const struct node *n, const char *key)
{
    for (size_t i = 0; i < n->nprops; i++)
        if (strcmp(n->props[i].name, key) == 0)
            return n->props[i].schema;
    return NULL;
}

static void check_object(const struct node *n, const json_t *v, struct ctx *c)
{
    char name[MAX_NAME_BYTES + 8];
    const char *key;
    json_t *member;
    size_t mark;

    /* Problems about a member (missing, unexpected) point at the member. */
    for (size_t i = 0; i < n->nrequired; i++) {
        if (json_object_get(v, n->required[i]) != NULL)
            continue;
        mark = path_push_key(c->path, n->required[i]);
        short_name(name, sizeof name, n->required[i]);
        problem(c, "required property '%s' is missing", name);
        path_pop(c->path, mark);
    }
    json_object_foreach((json_t *)v, key, member)
    {
        const struct node *sub = find_prop(n, key);
        if (sub == NULL && !n->closed && n->additional == NULL)
            continue;
        mark = path_push_key(c->path, key);
        if (sub != NULL) {
            check(sub, member, c);
        } else if (n->closed) {
            short_name(name, sizeof name, key);
            problem(c, "additional property '%s' is not allowed", name);
        } else {
            check(n->additional, member, c);
        }
        path_pop(c->path, mark);
    }
}

static void check_array(const struct node *n, const json_t *v, struct ctx *c)
{
    size_t size = json_array_size(v);

    if (n->min_items >= 0 && size < (size_t)n->min_items)
        problem(c, "must have at least %lld item%s", n->min_items, n->min_items == 1 ? "" : "s");
    if (n->max_items >= 0 && size > (size_t)n->max_items)
        problem(c, "must have at most %lld items (it has %zu)", n->max_items, size);
    if (n->items == NULL)
        return;
    for (size_t i = 0; i < size; i++) {
        size_t mark = path_push_index(c->path, i);
        check(n->items, json_array_get(v, i), c);
        path_pop(c->path, mark);
    }
}

/* anyOf/oneOf: each branch is checked on its own; when none fits, the
 * report quotes the first problem of the branch that came closest. */
static void check_alternatives(struct node *const *branches, size_t count, bool exactly_one,
                               const json_t *v, struct ctx *c)
{
    json_t *closest = NULL;
    size_t closest_found = 0, matched = 0;

    for (size_t i = 0; i < count; i++) {
        struct ctx sub = {.path = c->path, .list = json_array(), .depth = c->depth};
        check(branches[i], v, &sub);
        if (sub.found == 0) {
            matched++;
            json_decref(sub.list);
        } else if (closest == NULL || sub.found < closest_found) {
            json_decref(closest);
            closest = sub.list;
            closest_found = sub.found;
        } else {
            json_decref(sub.list);
        }
    }
    if (matched == 0) {
        const json_t *first = json_array_get(closest, 0);
        const char *at = json_string_value(json_object_get(first, "path"));
        const char *what = json_string_value(json_object_get(first, "problem"));
        problem(c, "must match one of the %zu allowed forms; the closest fails because %s%s%s",
                count, at && at[0] ? at : "", at && at[0] ? " " : "", what ? what : "?");
    } else if (exactly_one && matched > 1) {
        problem(c, "must match exactly one of the %zu allowed forms, but matches %zu", count,
                matched);
    }
    json_decref(closest);
}

static void check(const struct node *n, const json_t *v, struct ctx *c)
{
    char types[128];

    if (++c->depth > MAX_DEPTH) {
        problem(c, "is nested too deeply for the schema to check");
        goto out;
    }
    if (n->always_false) {
        problem(c, "is not allowed");
        goto out;
    }
    if (n->ref != NULL)
        check(n->ref, v, c);
    if (n->types != 0 && !type_matches(n->types, v)) {
        describe_types(types, sizeof types, n->types);
        problem(c, "must be %s", types);
        goto out; /* the other keywords say nothing useful about a wrong type */
    }
    if (!check_choices(n, v, c))
        goto out;
    if (json_is_string(v))
        check_string(n, v, c);
    else if (json_is_number(v))
        check_number(n, v, c);
    else if (json_is_object(v))
        check_object(n, v, c);
    else if (json_is_array(v))
        check_array(n, v, c);
    if (n->nany_of > 0)
        check_alternatives(n->any_of, n->nany_of, false, v, c);
    if (n->none_of > 0)
        check_alternatives(n->one_of, n->none_of, true, v, c);
out:
    c->depth--;
}

int mc_schema_validate(const struct mc_schema *schema, const json_t *doc, json_t **problems)
{
    struct path path = {.buf = mc_xmalloc(64), .len = 0, .cap = 64};
    struct ctx c = {.path = &path, .list = problems != NULL ? json_array() : NULL};

    path.buf[0] = '\0';
    check(schema->root, doc, &c);
    free(path.buf);
    if (problems != NULL)
        *problems = NULL;
    if (c.found == 0) {
        json_decref(c.list);
        return MC_OK;
    }
    if (problems != NULL)
        *problems = c.list;
    return MC_EINVAL;
}

int mc_schema_check(const struct mc_schema *schema, const json_t *doc, const char *what, char *err,
                    size_t errlen)
{
    json_t *problems = NULL;
    char *text;
    if (mc_schema_validate(schema, doc, &problems) == 0)
        return 0;
    text = json_dumps(problems, JSON_COMPACT);
    mc_err(err, errlen, MC_EINVAL, "invalid %s: %s", what, text ? text : "?");
    free(text);
    json_decref(problems);
    return MC_EINVAL;
}
