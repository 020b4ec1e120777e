/* Requests per client: a token bucket per client address, in memory (each
 * instance counts its own clients). Pure: the caller passes the time. */
#ifndef MOTCUA_API_RATELIMIT_H
#define MOTCUA_API_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

struct mc_ratelimit;

/* per_minute tokens refill each minute, up to burst; at most max_clients
 * are tracked (clients whose bucket is full again are forgotten first;
 * when every tracked client is still limited, a new one is refused). */
struct mc_ratelimit *mc_ratelimit_new(int per_minute, int burst, size_t max_clients);
void mc_ratelimit_free(struct mc_ratelimit *rl);

/* Takes a token for client at now_ms. Returns 1 when allowed; 0 when not,
 * with *retry_after_s the whole seconds until a token is back (>= 1). */
int mc_ratelimit_take(struct mc_ratelimit *rl, const char *client, uint64_t now_ms,
                      int *retry_after_s);

/* Clients tracked. */
size_t mc_ratelimit_clients(const struct mc_ratelimit *rl);

#endif
