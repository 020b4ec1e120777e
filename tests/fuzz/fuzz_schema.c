/* libFuzzer harness: bytes as the runtime reads a message (Jansson with
 * duplicate keys refused), then every message schema of schemas/ validates
 * the document. Invariants: a valid document has no problems; an invalid
 * one has 1 to 64, each with a path and a problem. */
#include <dirent.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "motcua/schema.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SCHEMAS 32
static struct mc_schema *schemas[MAX_SCHEMAS];
static int nschemas;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *dir = mc_schema_dir();
    char path[4096], err[512];
    struct dirent *e;
    DIR *d = opendir(dir);
    (void)argc;
    (void)argv;
    if (d == NULL) {
        fprintf(stderr, "fuzz_schema: cannot open %s\n", dir);
        abort();
    }
    while ((e = readdir(d)) != NULL && nschemas < MAX_SCHEMAS) {
        size_t len = strlen(e->d_name);
        if (len < 12 || strcmp(e->d_name + len - 12, ".schema.json") != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if ((schemas[nschemas] = mc_schema_load(path, err, sizeof err)) == NULL) {
            fprintf(stderr, "fuzz_schema: %s\n", err);
            abort();
        }
        nschemas++;
    }
    closedir(d);
    if (nschemas == 0)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t jerr;
    json_t *doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL)
        return 0;
    for (int i = 0; i < nschemas; i++) {
        json_t *problems = NULL, *p;
        size_t k;
        int rc = mc_schema_validate(schemas[i], doc, &problems);
        if (rc == 0 && problems != NULL)
            abort(); /* valid, yet problems */
        if (rc != 0) {
            if (!json_is_array(problems) || json_array_size(problems) < 1 ||
                json_array_size(problems) > 64)
                abort();
            json_array_foreach(problems, k, p)
            {
                if (!json_is_string(json_object_get(p, "path")) ||
                    !json_is_string(json_object_get(p, "problem")))
                    abort();
            }
        }
        json_decref(problems);
    }
    json_decref(doc);
    return 0;
}
