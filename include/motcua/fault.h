/* Fault points: the places in the runtime where a crash is most dangerous,
 * made reachable on purpose by the torture test (tests/torture/run).
 *
 * Compiled in only when the build says -DMOTCUA_FAULT_POINTS=ON (the
 * torture's own build tree); in every other build MC_FAULT_POINT is empty
 * and costs nothing. In a build that has them, a point is armed by
 *
 *     MOTCUA_FAULT=NAME[@N]     (N >= 1, default 1)
 *
 * and the process kills itself with SIGKILL the N-th time it passes NAME,
 * after logging "fault point reached" with the point's name (the torture
 * counts those lines). Unset or empty: nothing is armed. */
#ifndef MOTCUA_FAULT_H
#define MOTCUA_FAULT_H

#include <stddef.h>

/* The points, by name (the only list of them):
 *   batch-committed  a batch's transaction has committed and its offsets are
 *                    not stored yet: the batch comes again after the restart;
 *   relay-produced   the broker acknowledged a relay's events and their
 *                    outbox rows are not deleted yet: they go out again. */
#define MC_FAULT_BATCH_COMMITTED "batch-committed"
#define MC_FAULT_RELAY_PRODUCED "relay-produced"

/* Reads MOTCUA_FAULT once. Returns 0, or MC_EINVAL (with err) when it names
 * no point or has a bad count, or when it is set in a build without fault
 * points (so a torture run never believes an unarmed build is armed). */
int mc_fault_init(char *err, size_t errlen);

#ifdef MOTCUA_FAULT_POINTS
void mc_fault_point(const char *name);
#define MC_FAULT_POINT(name) mc_fault_point(name)
#else
#define MC_FAULT_POINT(name) ((void)0)
#endif

#endif
