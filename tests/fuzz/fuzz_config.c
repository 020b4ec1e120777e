/* libFuzzer harness: the configuration file (MOTCUA_CONFIG_FILE, KEY=VALUE
 * lines) through mc_config_load, as a service reads it at start.
 * Invariant: a loaded configuration has every string set. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "motcua/config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

extern char **environ;
static char path[256];

static void remove_file(void)
{
    unlink(path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* Only the file speaks: no MOTCUA_* from the environment. */
    for (char **e = environ; *e;) {
        if (strncmp(*e, "MOTCUA_", 7) == 0) {
            char name[256];
            size_t n = strcspn(*e, "=");
            snprintf(name, sizeof name, "%.*s", (int)n, *e);
            unsetenv(name);
        } else {
            e++;
        }
    }
    snprintf(path, sizeof path, "%s/motcua-fuzz-config-%ld",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (long)getpid());
    setenv("MOTCUA_CONFIG_FILE", path, 1);
    atexit(remove_file); /* left behind otherwise, one per run */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mc_config cfg;
    char err[512];
    FILE *f = fopen(path, "w");
    if (f == NULL)
        abort();
    fwrite(data, 1, size, f);
    fclose(f);
    if (mc_config_load(&cfg, "intake", err, sizeof err) == 0) {
        if (!cfg.kafka_brokers || !cfg.pg_url || !cfg.topic_prefix || !cfg.group_id)
            abort();
        mc_config_free(&cfg);
    }
    return 0;
}
