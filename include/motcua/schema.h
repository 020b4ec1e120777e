/* A JSON Schema validator for the subset of draft 2020-12 that schemas/ uses:
 * type (incl. arrays of types and "null"), properties, required,
 * additionalProperties (false or a schema), items, minItems, maxItems, enum,
 * const, minLength, maxLength (in Unicode code points), pattern (POSIX ERE),
 * minimum, maximum, format "date-time" (RFC 3339, offset required), $ref to
 * "#/$defs/<name>" and oneOf/anyOf. Unknown keywords are an error at load time
 * so a schema cannot silently mean more than the C code checks. */
#ifndef MOTCUA_SCHEMA_H
#define MOTCUA_SCHEMA_H

#include <jansson.h>
#include <stddef.h>

struct mc_schema;

/* Loads and compiles a schema file. Returns NULL with a reason in err. */
struct mc_schema *mc_schema_load(const char *path, char *err, size_t errlen);
/* Loads "<dir>/<name>.schema.json", dir defaulting to MOTCUA_SCHEMA_DIR or the
 * source tree's schemas/. */
struct mc_schema *mc_schema_load_named(const char *name, char *err, size_t errlen);
/* Compiles a schema document (copied; doc stays the caller's), named name
 * in errors. Returns NULL with a reason in err. */
struct mc_schema *mc_schema_compile(const json_t *doc, const char *name, char *err, size_t errlen);
void mc_schema_free(struct mc_schema *schema);

/* Validates doc. Returns 0 when valid. Otherwise returns MC_EINVAL and, if
 * problems != NULL, sets *problems to a new array (caller owns) of objects
 * {"path": "/applicant/kind", "problem": "must be one of citizen, business, ..."}
 * naming every problem found (up to 64). */
int mc_schema_validate(const struct mc_schema *schema, const json_t *doc, json_t **problems);

/* Validates doc; when it fails returns MC_EINVAL with "invalid <what>:
 * [<problems as JSON>]" in err (the reason a dead letter carries). */
int mc_schema_check(const struct mc_schema *schema, const json_t *doc, const char *what, char *err,
                    size_t errlen);

/* The directory holding the schema files. */
const char *mc_schema_dir(void);

#endif
