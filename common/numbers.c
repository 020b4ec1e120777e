/* Numbers from counter rows, reserved in blocks (include/motcua/numbers.h). */
#include "motcua/numbers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "motcua/error.h"
#include "motcua/metrics.h"
#include "motcua/pg.h"

#define KEYS_MAX 4
#define BLOCKS_MAX 256 /* counters kept in memory */
#define BLOCK_MAX 1024 /* numbers reserved at most at once */

struct block {
    char key[160]; /* the key values, joined by \x1f */
    int next, end; /* next number to give; last reserved (0: none) */
    int mark;      /* next when the batch being applied started */
    int size;      /* the last reservation's size */
};

struct mc_numbers {
    char *pg_url, *app_name;
    const char *reserve_sql;
    int nkeys;
    struct mc_metric *reservations;
    PGconn *conn; /* autocommit: each reservation commits at once */
    struct block blocks[BLOCKS_MAX];
    int nblocks, evict;
};

struct mc_numbers *mc_numbers_new(const char *pg_url, const char *app_name, const char *reserve_sql,
                                  int nkeys, struct mc_metric *reservations)
{
    struct mc_numbers *pool = mc_xcalloc(1, sizeof *pool);
    pool->pg_url = mc_xstrdup(pg_url);
    pool->app_name = mc_xstrdup(app_name);
    pool->reserve_sql = reserve_sql;
    pool->nkeys = nkeys < KEYS_MAX ? nkeys : KEYS_MAX;
    pool->reservations = reservations;
    return pool;
}

void mc_numbers_free(struct mc_numbers *pool)
{
    if (pool == NULL)
        return;
    PQfinish(pool->conn);
    free(pool->pg_url);
    free(pool->app_name);
    free(pool);
}

int mc_numbers_take(struct mc_numbers *pool, const char *const *keys, char *err, size_t errlen)
{
    struct block *b = NULL;
    char key[160], size[16];
    const char *params[KEYS_MAX + 1];
    size_t len = 0;
    PGresult *res;
    int last, want;

    key[0] = '\0';
    for (int i = 0; i < pool->nkeys; i++) {
        len += (size_t)snprintf(key + len, len < sizeof key ? sizeof key - len : 0, "%s%s",
                                i ? "\x1f" : "", keys[i]);
        params[i] = keys[i];
    }
    if (len >= sizeof key)
        return mc_err(err, errlen, MC_EINVAL, "counter key too long");
    for (int i = 0; i < pool->nblocks && b == NULL; i++)
        if (strcmp(pool->blocks[i].key, key) == 0)
            b = &pool->blocks[i];
    if (b && b->next <= b->end)
        return b->next++;
    if (b == NULL) {
        if (pool->nblocks < BLOCKS_MAX)
            b = &pool->blocks[pool->nblocks++];
        else /* the oldest periods go first, roughly */
            b = &pool->blocks[pool->evict++ % BLOCKS_MAX];
        memset(b, 0, sizeof *b);
        snprintf(b->key, sizeof b->key, "%s", key);
        b->next = b->mark = 1; /* nothing reserved yet: end 0 */
    }
    want = b->size ? (b->size * 2 > BLOCK_MAX ? BLOCK_MAX : b->size * 2) : 1;
    snprintf(size, sizeof size, "%d", want);
    params[pool->nkeys] = size;
    if (!mc_pg_alive(pool->conn)) {
        PQfinish(pool->conn);
        if ((pool->conn = mc_pg_connect(pool->pg_url, pool->app_name, err, errlen)) == NULL)
            return MC_EDB;
    }
    if ((res = mc_pg_query(pool->conn, pool->reserve_sql, pool->nkeys + 1, params, err, errlen)) ==
        NULL)
        return MC_EDB;
    last = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    if (pool->reservations)
        mc_metric_add(pool->reservations, 1);
    b->size = want;
    if (b->end == 0 || last - want != b->end) {
        /* Not next to the old block (another instance took the numbers
         * between): a rollback gives back this block's numbers only, and
         * the old block's numbers taken in this batch become gaps. */
        b->next = b->mark = last - want + 1;
    }
    b->end = last;
    return b->next++;
}

void mc_numbers_mark(struct mc_numbers *pool)
{
    for (int i = 0; i < pool->nblocks; i++)
        pool->blocks[i].mark = pool->blocks[i].next;
}

void mc_numbers_rollback(struct mc_numbers *pool)
{
    for (int i = 0; i < pool->nblocks; i++)
        pool->blocks[i].next = pool->blocks[i].mark;
}
