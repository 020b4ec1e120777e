/* Token buckets keyed by client address in a Jansson object: each value is
 * [tokens, last refill in ms]. */
#include "ratelimit.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>

#include "motcua/error.h"

struct mc_ratelimit {
    double per_ms; /* tokens added per millisecond */
    double burst;
    size_t max_clients;
    json_t *clients;
};

struct mc_ratelimit *mc_ratelimit_new(int per_minute, int burst, size_t max_clients)
{
    struct mc_ratelimit *rl = mc_xcalloc(1, sizeof *rl);
    rl->per_ms = per_minute / 60000.0;
    rl->burst = burst > 0 ? burst : 1;
    rl->max_clients = max_clients > 0 ? max_clients : 1;
    rl->clients = json_object();
    return rl;
}

void mc_ratelimit_free(struct mc_ratelimit *rl)
{
    if (rl == NULL)
        return;
    json_decref(rl->clients);
    free(rl);
}

static double refilled(const struct mc_ratelimit *rl, const json_t *bucket, uint64_t now_ms)
{
    double tokens = json_real_value(json_array_get(bucket, 0));
    uint64_t last = (uint64_t)json_integer_value(json_array_get(bucket, 1));
    if (now_ms > last)
        tokens += (double)(now_ms - last) * rl->per_ms;
    return tokens < rl->burst ? tokens : rl->burst;
}

/* Forgets the clients whose bucket is full again. */
static void forget_idle(struct mc_ratelimit *rl, uint64_t now_ms)
{
    const char *key;
    json_t *bucket;
    void *iter;
    iter = json_object_iter(rl->clients);
    while (iter != NULL) {
        key = json_object_iter_key(iter);
        bucket = json_object_iter_value(iter);
        iter = json_object_iter_next(rl->clients, iter);
        if (refilled(rl, bucket, now_ms) >= rl->burst)
            json_object_del(rl->clients, key);
    }
}

int mc_ratelimit_take(struct mc_ratelimit *rl, const char *client, uint64_t now_ms,
                      int *retry_after_s)
{
    json_t *bucket = json_object_get(rl->clients, client);
    double tokens;

    if (bucket == NULL) {
        if (json_object_size(rl->clients) >= rl->max_clients)
            forget_idle(rl, now_ms);
        if (json_object_size(rl->clients) >= rl->max_clients) {
            *retry_after_s = 1;
            return 0;
        }
        tokens = rl->burst;
        bucket = json_pack("[f, I]", tokens, (json_int_t)now_ms);
        json_object_set_new(rl->clients, client, bucket);
    } else {
        tokens = refilled(rl, bucket, now_ms);
    }
    if (tokens < 1.0) {
        double wait_ms = rl->per_ms > 0 ? (1.0 - tokens) / rl->per_ms : 60000.0;
        *retry_after_s = (int)ceil(wait_ms / 1000.0);
        if (*retry_after_s < 1)
            *retry_after_s = 1;
        json_array_set_new(bucket, 0, json_real(tokens));
        json_array_set_new(bucket, 1, json_integer((json_int_t)now_ms));
        return 0;
    }
    json_array_set_new(bucket, 0, json_real(tokens - 1.0));
    json_array_set_new(bucket, 1, json_integer((json_int_t)now_ms));
    return 1;
}

size_t mc_ratelimit_clients(const struct mc_ratelimit *rl)
{
    return json_object_size(rl->clients);
}
