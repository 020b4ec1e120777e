/* libpq helpers: connect, run parameterised statements, transactions.
 * Every statement is parameterised; errors keep libpq's text. */
#ifndef MOTCUA_PG_H
#define MOTCUA_PG_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>

/* Connects to url with application_name set; NULL with the reason in err. */
PGconn *mc_pg_connect(const char *url, const char *app_name, char *err, size_t errlen);

/* Has every later execution of a prepared statement on conn planned with
 * its values and the tables as they are (plan_cache_mode =
 * force_custom_plan), for a connection that runs one statement per batch
 * over tables that grow. By default PostgreSQL may keep one generic plan
 * after five executions until the next ANALYZE: made while a table was
 * small (a hash join over a scan of all of it), it stayed while the table
 * grew, and the deadline service's clock lock scanned 100,000 rows a
 * batch. Not for the read side's lookups: planning each one cost a quarter
 * of their throughput. 0, or MC_EDB with the reason in err. */
int mc_pg_plan_each_execution(PGconn *conn, char *err, size_t errlen);

/* Runs sql with text parameters (NULL entries are SQL NULL). Returns the
 * result (caller PQclear()s it) when the status is COMMAND_OK or TUPLES_OK;
 * otherwise NULL with libpq's message in err. */
PGresult *mc_pg_query(PGconn *conn, const char *sql, int nparams, const char *const *params,
                      char *err, size_t errlen);

/* Like mc_pg_query for statements whose rows are not needed. Returns 0 or MC_EDB. */
int mc_pg_exec(PGconn *conn, const char *sql, int nparams, const char *const *params, char *err,
               size_t errlen);

/* 1 if the connection is usable. */
int mc_pg_alive(PGconn *conn);

/* The SQLSTATE of the last failed result in err form ("23505"), or "" */
const char *mc_pg_last_sqlstate(void);

/* Serialises, until the end of the transaction, everything done for one
 * dossier under scope ("deadline") across instances: a consumer that parks an
 * early update and one that applies the dossier cannot miss each other.
 * code NULL: no lock. Returns 0 or MC_EDB. */
int mc_lock_dossier(PGconn *conn, const char *scope, const char *code, char *err, size_t errlen);

/* mc_lock_dossier for every code of codes (a JSON array of strings) in one
 * statement, in a fixed order, so that two transactions locking sets of
 * dossiers never wait for each other in a cycle. Returns 0 or MC_EDB. */
int mc_lock_dossiers(PGconn *conn, const char *scope, const char *codes, char *err, size_t errlen);

/* Runs sql with its one parameter and adds every row to the JSON object
 * into: the first column as the key, the second as a string value when
 * there is one, else true. The set-based look-ups of a batch ("which of
 * these exist"). Returns 0 or MC_EDB. */
int mc_pg_collect(PGconn *conn, const char *sql, const char *param, json_t *into, char *err,
                  size_t errlen);

/* Result columns named once. A module lists the columns a statement
 * returns after its first, as X(ID, "alias", "expression"), and builds
 * from that one list the SELECT list (first column, then the list with
 * MC_PG_COL_SQL) and the column numbers its reader uses (an enum of the
 * first column's ID, then the list with MC_PG_COL_ENUM): a statement and
 * the code reading its rows cannot drift apart, and no reader counts
 * columns. */
#define MC_PG_COL_ENUM(id, alias, expr) id,
#define MC_PG_COL_SQL(id, alias, expr) ", " expr " AS " alias

/* The column numbers of wanted in res, cols[i] for wanted[i], for a
 * statement another module supplies (its columns named by contract).
 * Returns 0, or MC_EINVAL naming the first column missing. */
int mc_pg_columns(const PGresult *res, const char *const *wanted, int n, int *cols, char *err,
                  size_t errlen);

/* Runs a set-based statement (its $1 a JSON array of rows, as
 * jsonb_to_recordset reads them) for one row (stolen), at once. Returns
 * the rows it wrote, or MC_EDB. */
int mc_pg_write_row(PGconn *conn, const char *sql, json_t *row, char *err, size_t errlen);
/* The same, returning the statement's result (NULL + err on error). */
PGresult *mc_pg_query_row(PGconn *conn, const char *sql, json_t *row, char *err, size_t errlen);

/* Text of column col of row 0, or NULL when there is no row or it is NULL. */
const char *mc_pg_value(const PGresult *res, int row, int col);

#endif
