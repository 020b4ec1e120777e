/* The data directory (datadir.h). */
#include "motcua/datadir.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "motcua/error.h"

#ifndef MOTCUA_SOURCE_DIR
#define MOTCUA_SOURCE_DIR "." /* CMake always defines it */
#endif

static char dir[PATH_MAX];
static char installed_dir[PATH_MAX]; /* where an installed binary's data would be */
static const char *origin;

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* <directory of /proc/self/exe>/../share/motcua, when it holds schemas. */
static int installed(char *out, size_t len)
{
    char exe[PATH_MAX], probe[PATH_MAX + 32];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    char *slash;
    if (n <= 0)
        return 0;
    exe[n] = '\0';
    if ((slash = strrchr(exe, '/')) == NULL)
        return 0;
    *slash = '\0';
    if ((size_t)snprintf(out, len, "%s/../share/motcua", exe) >= len)
        return 0;
    snprintf(probe, sizeof probe, "%s/schemas", out);
    return is_dir(probe);
}

void mc_data_dir_set(const char *d)
{
    if (d == NULL) {
        origin = NULL; /* found again at the next mc_data_dir() */
        return;
    }
    snprintf(dir, sizeof dir, "%s", d);
    origin = "MOTCUA_DATA_DIR";
}

const char *mc_data_dir(void)
{
    const char *env;
    if (origin != NULL)
        return dir;
    if ((env = getenv("MOTCUA_DATA_DIR")) != NULL && env[0] != '\0') {
        mc_data_dir_set(env);
    } else if (installed(installed_dir, sizeof installed_dir)) {
        snprintf(dir, sizeof dir, "%s", installed_dir);
        origin = "installed";
    } else {
        snprintf(dir, sizeof dir, "%s", MOTCUA_SOURCE_DIR);
        origin = "source tree";
    }
    return dir;
}

const char *mc_data_dir_origin(void)
{
    mc_data_dir();
    return origin;
}

int mc_data_dir_check(char *err, size_t errlen)
{
    static const char *const need[] = {"schemas", "schemas/migrations", "schemas/seed"};
    const char *d = mc_data_dir();
    char path[PATH_MAX + 32];
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", d, need[i]);
        if (!is_dir(path) && strcmp(mc_data_dir_origin(), "source tree") == 0)
            return mc_err(err, errlen, MC_EINVAL,
                          "no data directory: %s (beside this binary) has no schemas/, nor has "
                          "%s (the source tree it was built from); set MOTCUA_DATA_DIR to the "
                          "directory holding schemas/ (installed: <prefix>/share/motcua)",
                          installed_dir[0] ? installed_dir : "../share/motcua", d);
        if (!is_dir(path))
            return mc_err(err, errlen, MC_EINVAL,
                          "data directory %s (%s): %s is missing; set MOTCUA_DATA_DIR to the "
                          "directory holding schemas/ (installed: <prefix>/share/motcua)",
                          d, mc_data_dir_origin(), path);
    }
    return 0;
}
