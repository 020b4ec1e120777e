/* Numbers handed out from a counter row without holding it: dossier codes'
 * per-agency-day sequence (intake) and apology letters' per-year document
 * numbers (notify). Blocks are reserved on a connection of the pool's own,
 * each reservation committed at once, so no counter row stays locked for a
 * batch and instances never wait for each other. A block grows (1, 2, 4,
 * ... 1,024) each time it runs out; numbers reserved and not used (a crash,
 * another instance's block, the end of the period) are gaps. One instance's
 * numbers stay consecutive. */
#ifndef MOTCUA_NUMBERS_H
#define MOTCUA_NUMBERS_H

#include <stddef.h>

struct mc_numbers;
struct mc_metric;

/* A pool for the counter reserve_sql updates: its parameters are the
 * counter's nkeys key values ($1..$nkeys) then the block size
 * ($nkeys+1, an int), and it returns the counter's new last value (e.g.
 * "INSERT ... VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET last = c.last +
 * $2 RETURNING last"). reserve_sql must outlive the pool. Connects lazily to
 * pg_url as app_name. reservations (may be NULL) counts the blocks. */
struct mc_numbers *mc_numbers_new(const char *pg_url, const char *app_name, const char *reserve_sql,
                                  int nkeys, struct mc_metric *reservations);
void mc_numbers_free(struct mc_numbers *pool);

/* The next number of the counter named by keys[0..nkeys-1], or < 0 with err
 * (MC_EDB: the reservation failed; retry the batch). */
int mc_numbers_take(struct mc_numbers *pool, const char *const *keys, char *err, size_t errlen);

/* Marks where a batch starts; mc_numbers_rollback gives the numbers taken
 * since back, for a batch whose transaction was surely rolled back. */
void mc_numbers_mark(struct mc_numbers *pool);
void mc_numbers_rollback(struct mc_numbers *pool);

#endif
