/* Fault points of the torture test (include/motcua/fault.h). */
#include "motcua/fault.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "motcua/error.h"
#include "motcua/log.h"

#ifdef MOTCUA_FAULT_POINTS
static const char *const points[] = {MC_FAULT_BATCH_COMMITTED, MC_FAULT_RELAY_PRODUCED};

static char armed[32]; /* the point armed, "" for none */
static long remaining; /* passes left before it fires */
#endif

int mc_fault_init(char *err, size_t errlen)
{
    const char *spec = getenv("MOTCUA_FAULT");

    if (spec == NULL || spec[0] == '\0')
        return 0;
#ifndef MOTCUA_FAULT_POINTS
    return mc_err(
        err, errlen, MC_EINVAL,
        "MOTCUA_FAULT=%s: this build has no fault points (cmake -DMOTCUA_FAULT_POINTS=ON)", spec);
#else
    const char *at = strchr(spec, '@');
    size_t len;
    long n = 1;
    int known = 0;

    armed[0] = '\0';
    len = at ? (size_t)(at - spec) : strlen(spec);
    if (at) {
        char *end;
        n = strtol(at + 1, &end, 10);
        if (at[1] == '\0' || *end != '\0' || n < 1 || n > 1000000000)
            return mc_err(err, errlen, MC_EINVAL,
                          "MOTCUA_FAULT=%s: the count after @ must be a whole number from 1", spec);
    }
    for (size_t i = 0; i < sizeof points / sizeof points[0]; i++)
        if (strlen(points[i]) == len && strncmp(points[i], spec, len) == 0)
            known = 1;
    if (!known)
        return mc_err(err, errlen, MC_EINVAL,
                      "MOTCUA_FAULT=%s: no such fault point (there are %s and %s)", spec, points[0],
                      points[1]);
    memcpy(armed, spec, len);
    armed[len] = '\0';
    remaining = n;
    return 0;
#endif
}

#ifdef MOTCUA_FAULT_POINTS
void mc_fault_point(const char *name)
{
    if (armed[0] == '\0' || strcmp(armed, name) != 0 || --remaining > 0)
        return;
    mc_log_kv(MC_LOG_ERROR, "fault point reached: killing this process", "point", name, NULL);
    raise(SIGKILL);
}
#endif
