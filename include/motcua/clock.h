/* "Now" for the deadline service: the wall clock, or the latest tick read
 * from <prefix>clock (MOTCUA_CLOCK=topic) so tests and replays run fast and
 * deterministically. Every instance reads every tick (no consumer group). */
#ifndef MOTCUA_CLOCK_H
#define MOTCUA_CLOCK_H

#include <stddef.h>

#include "motcua/config.h"
#include "motcua/timeutil.h"

struct mc_clock;

/* Caller owns; free with mc_clock_free (NULL ok). */
struct mc_clock *mc_clock_new(const struct mc_config *cfg, char *err, size_t errlen);
void mc_clock_free(struct mc_clock *clock);

/* Reads pending ticks (topic mode; never blocks). Returns 1 if now advanced. */
int mc_clock_poll(struct mc_clock *clock);
/* A tick wakes fd (mc_kafka_wake_fd); nothing on the wall clock. */
void mc_clock_wake_fd(struct mc_clock *clock, int fd);

/* Sets *now. Returns 0, or MC_ENOTFOUND in topic mode before the first tick. */
int mc_clock_now(const struct mc_clock *clock, mc_instant *now);

#endif
