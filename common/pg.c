/* libpq helpers shared by services and tools. */
#include "motcua/pg.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "motcua/error.h"

static char last_sqlstate[6];

/*
 * Statements with parameters are prepared once per connection under a name
 * and then only executed: parsing and planning them anew for every message
 * was the largest part of the database's work. Only connections made by
 * mc_pg_connect are tracked (a slot each, recognised by address and backend
 * pid, so a freed connection's slot never serves a new one). Names are
 * never reused in a process. One loop owns a process's connections: no
 * locking.
 */
#define CONN_SLOTS 16
#define STMTS_PER_CONN 256

struct prepared {
    uint64_t hash;
    char *sql;
    char name[24];
};

struct conn_slot {
    const PGconn *conn;
    int pid;
    int n;
    uint64_t last_use;
    struct prepared stmts[STMTS_PER_CONN];
};

static struct conn_slot slots[CONN_SLOTS];
static uint64_t uses, names;

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void clear_slot(struct conn_slot *slot)
{
    for (int i = 0; i < slot->n; i++)
        free(slot->stmts[i].sql);
    memset(slot, 0, sizeof *slot);
}

/* Gives conn a slot (the least recently used one goes). */
static void track(const PGconn *conn)
{
    struct conn_slot *victim = &slots[0];
    for (int i = 0; i < CONN_SLOTS; i++) {
        if (slots[i].conn == conn || slots[i].conn == NULL) {
            victim = &slots[i];
            break;
        }
        if (slots[i].last_use < victim->last_use)
            victim = &slots[i];
    }
    clear_slot(victim);
    victim->conn = conn;
    victim->pid = PQbackendPID(conn);
    victim->last_use = ++uses;
}

static struct conn_slot *slot_of(const PGconn *conn)
{
    for (int i = 0; i < CONN_SLOTS; i++)
        if (slots[i].conn == conn) {
            if (slots[i].pid != PQbackendPID(conn))
                return NULL; /* another connection at a freed one's address */
            slots[i].last_use = ++uses;
            return &slots[i];
        }
    return NULL;
}

/* The name sql is prepared under on conn (preparing it now if needed), or
 * NULL to run it unnamed (untracked connection, full slot, or a prepare
 * that failed: then *res holds the failure). */
static const char *prepared_name(PGconn *conn, const char *sql, int nparams, PGresult **res)
{
    struct conn_slot *slot = slot_of(conn);
    struct prepared *p;
    uint64_t h;
    *res = NULL;
    if (slot == NULL)
        return NULL;
    h = fnv1a(sql);
    for (int i = 0; i < slot->n; i++)
        if (slot->stmts[i].hash == h && strcmp(slot->stmts[i].sql, sql) == 0)
            return slot->stmts[i].name;
    if (slot->n == STMTS_PER_CONN)
        return NULL;
    p = &slot->stmts[slot->n];
    snprintf(p->name, sizeof p->name, "mc_%llu", (unsigned long long)++names);
    *res = PQprepare(conn, p->name, sql, nparams, NULL);
    if (*res == NULL || PQresultStatus(*res) != PGRES_COMMAND_OK)
        return NULL;
    PQclear(*res);
    *res = NULL;
    p->hash = h;
    p->sql = strdup(sql);
    if (p->sql == NULL)
        return NULL;
    slot->n++;
    return p->name;
}

/* Server notices ("relation exists, skipping") are not errors: keep them out
 * of stderr, which carries JSON log lines. */
static void quiet_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

PGconn *mc_pg_connect(const char *url, const char *app_name, char *err, size_t errlen)
{
    const char *kw[] = {"dbname", "application_name", "connect_timeout", NULL};
    const char *val[] = {url, app_name, "10", NULL};
    PGconn *conn = PQconnectdbParams(kw, val, 1);
    if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
        const char *msg = conn ? PQerrorMessage(conn) : "out of memory";
        mc_err(err, errlen, MC_EDB, "connect to PostgreSQL: %.*s", (int)strcspn(msg, "\n"), msg);
        PQfinish(conn);
        return NULL;
    }
    PQsetNoticeProcessor(conn, quiet_notice, NULL);
    track(conn);
    return conn;
}

int mc_pg_plan_each_execution(PGconn *conn, char *err, size_t errlen)
{
    return mc_pg_exec(conn, "SET plan_cache_mode = force_custom_plan", 0, NULL, err, errlen);
}

PGresult *mc_pg_query(PGconn *conn, const char *sql, int nparams, const char *const *params,
                      char *err, size_t errlen)
{
    PGresult *res = NULL;
    const char *name = nparams > 0 ? prepared_name(conn, sql, nparams, &res) : NULL;
    ExecStatusType st;
    if (name)
        res = PQexecPrepared(conn, name, nparams, params, NULL, NULL, 0);
    else if (res == NULL)
        res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    const char *state;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        last_sqlstate[0] = '\0';
        return res;
    }
    state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    snprintf(last_sqlstate, sizeof last_sqlstate, "%s", state ? state : "");
    {
        const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(conn);
        mc_err(err, errlen, MC_EDB, "%.*s", (int)strcspn(msg, "\n"), msg);
    }
    PQclear(res);
    return NULL;
}

int mc_pg_exec(PGconn *conn, const char *sql, int nparams, const char *const *params, char *err,
               size_t errlen)
{
    PGresult *res = mc_pg_query(conn, sql, nparams, params, err, errlen);
    if (res == NULL)
        return MC_EDB;
    PQclear(res);
    return 0;
}

int mc_pg_alive(PGconn *conn)
{
    return conn != NULL && PQstatus(conn) == CONNECTION_OK;
}

const char *mc_pg_last_sqlstate(void)
{
    return last_sqlstate;
}

const char *mc_pg_value(const PGresult *res, int row, int col)
{
    if (res == NULL || row >= PQntuples(res) || col >= PQnfields(res) || PQgetisnull(res, row, col))
        return NULL;
    return PQgetvalue(res, row, col);
}

int mc_lock_dossier(PGconn *conn, const char *scope, const char *code, char *err, size_t errlen)
{
    const char *params[2] = {scope, code};
    if (code == NULL)
        return 0;
    return mc_pg_exec(conn, "SELECT pg_advisory_xact_lock(hashtext($1 || ':' || $2))", 2, params,
                      err, errlen);
}

int mc_lock_dossiers(PGconn *conn, const char *scope, const char *codes, char *err, size_t errlen)
{
    const char *params[2] = {scope, codes};
    return mc_pg_exec(conn,
                      "SELECT count(pg_advisory_xact_lock(hashtext($1 || ':' || c))) FROM "
                      "(SELECT DISTINCT c FROM jsonb_array_elements_text($2::jsonb) AS t(c) "
                      "ORDER BY 1) s",
                      2, params, err, errlen);
}

int mc_pg_columns(const PGresult *res, const char *const *wanted, int n, int *cols, char *err,
                  size_t errlen)
{
    for (int i = 0; i < n; i++)
        if ((cols[i] = PQfnumber(res, wanted[i])) < 0)
            return mc_err(err, errlen, MC_EINVAL, "the statement returns no column \"%s\"",
                          wanted[i]);
    return 0;
}

PGresult *mc_pg_query_row(PGconn *conn, const char *sql, json_t *row, char *err, size_t errlen)
{
    json_t *one = json_array();
    char *text;
    PGresult *res;
    json_array_append_new(one, row);
    text = json_dumps(one, JSON_COMPACT);
    json_decref(one);
    res = mc_pg_query(conn, sql, 1, (const char *const *)&text, err, errlen);
    free(text);
    return res;
}

int mc_pg_write_row(PGconn *conn, const char *sql, json_t *row, char *err, size_t errlen)
{
    PGresult *res = mc_pg_query_row(conn, sql, row, err, errlen);
    int n;
    if (res == NULL)
        return MC_EDB;
    n = atoi(PQcmdTuples(res));
    PQclear(res);
    return n;
}

int mc_pg_collect(PGconn *conn, const char *sql, const char *param, json_t *into, char *err,
                  size_t errlen)
{
    PGresult *res = mc_pg_query(conn, sql, 1, &param, err, errlen);
    if (res == NULL)
        return MC_EDB;
    for (int i = 0; i < PQntuples(res); i++)
        json_object_set_new(into, PQgetvalue(res, i, 0),
                            PQnfields(res) > 1 ? json_string(PQgetvalue(res, i, 1)) : json_true());
    PQclear(res);
    return 0;
}
