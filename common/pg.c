/* libpq helpers shared by services and tools. */
#include "motcua/pg.h"

#include <string.h>

#include "motcua/error.h"

static char last_sqlstate[6];

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
    return conn;
}

PGresult *mc_pg_query(PGconn *conn, const char *sql, int nparams, const char *const *params,
                      char *err, size_t errlen)
{
    PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
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
