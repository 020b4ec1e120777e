/* common/pg.c against PostgreSQL: statements with parameters are prepared
 * once per connection and then only executed (on a connection of
 * mc_pg_plan_each_execution, each execution planned for the tables as they
 * are); a connection opened where a closed one was never inherits its
 * prepared statements; a prepare that fails reports the statement's own
 * error. */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

#include "motcua/error.h"
#include "motcua/pg.h"

static struct h_env *env;

static int group_setup(void **state)
{
    (void)state;
    return (env = h_env_new("pg")) == NULL ? -1 : 0;
}

static int group_teardown(void **state)
{
    (void)state;
    h_env_free(env);
    return 0;
}

static PGconn *connect_db(void)
{
    char err[512];
    PGconn *conn = mc_pg_connect(env->db_url, "motcua-test-pg", err, sizeof err);
    if (conn == NULL)
        fail_msg("%s", err);
    return conn;
}

/* The number of statements prepared on conn's own session. */
static int prepared_here(PGconn *conn)
{
    char err[512];
    PGresult *res =
        mc_pg_query(conn, "SELECT count(*) FROM pg_prepared_statements", 0, NULL, err, sizeof err);
    int n;
    assert_non_null(res);
    n = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    return n;
}

static const char *add(PGconn *conn, const char *a, const char *b, char *out)
{
    char err[512];
    const char *params[2] = {a, b};
    PGresult *res = mc_pg_query(conn, "SELECT $1::int + $2::int", 2, params, err, sizeof err);
    if (res == NULL)
        fail_msg("%s", err);
    strcpy(out, PQgetvalue(res, 0, 0));
    PQclear(res);
    return out;
}

static void test_prepared_once_then_executed(void **state)
{
    PGconn *conn = connect_db();
    char out[32];
    (void)state;
    assert_int_equal(prepared_here(conn), 0);
    assert_string_equal(add(conn, "1", "2", out), "3");
    assert_int_equal(prepared_here(conn), 1);
    assert_string_equal(add(conn, "40", "2", out), "42");
    assert_int_equal(prepared_here(conn), 1); /* the same statement, executed again */
    PQfinish(conn);

    /* A new connection (maybe at the same address) prepares for itself. */
    for (int i = 0; i < 3; i++) {
        conn = connect_db();
        assert_int_equal(prepared_here(conn), 0);
        assert_string_equal(add(conn, "5", "6", out), "11");
        assert_int_equal(prepared_here(conn), 1);
        PQfinish(conn);
    }
}

static void test_failed_prepare_reports_the_statement_error(void **state)
{
    PGconn *conn = connect_db();
    char err[512];
    const char *params[1] = {"x"};
    (void)state;
    assert_null(mc_pg_query(conn, "SELECT no_such_column FROM pg_class WHERE relname = $1", 1,
                            params, err, sizeof err));
    assert_non_null(strstr(err, "no_such_column"));
    assert_string_equal(mc_pg_last_sqlstate(), "42703");
    /* A value the statement refuses: the execution's error. */
    assert_null(mc_pg_query(conn, "SELECT $1::int", 1, params, err, sizeof err));
    assert_string_equal(mc_pg_last_sqlstate(), "22P02");
    assert_true(mc_pg_alive(conn));
    PQfinish(conn);
}

static long long exec_int(PGconn *conn, const char *sql, const char *param)
{
    char err[512];
    PGresult *res = mc_pg_query(conn, sql, param ? 1 : 0, param ? &param : NULL, err, sizeof err);
    long long v;
    if (res == NULL)
        fail_msg("%s", err);
    v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return v;
}

/* On a connection of mc_pg_plan_each_execution (the batches of each service
 * but the read side), every execution of a prepared statement is planned
 * for the table as it is: a plan made once for a small table (a hash join
 * over a scan of the whole table) and kept while the table grew made
 * intake's duplicate check and the deadline service's clock lock cost about
 * 50 ms a batch at 100,000 dossiers. */
static void test_plans_fit_the_table_as_it_grows(void **state)
{
    static const char probe[] = "SELECT count(*) FROM plan_growth t JOIN "
                                "jsonb_to_recordset($1::jsonb) AS x(k text) ON t.k = x.k";
    PGconn *conn = connect_db();
    char err[512];
    const char *params[1] = {probe};
    PGresult *res;
    (void)state;
    assert_int_equal(mc_pg_plan_each_execution(conn, err, sizeof err), 0);
    assert_int_equal(mc_pg_exec(conn, "DROP TABLE IF EXISTS plan_growth", 0, NULL, err, sizeof err),
                     0);
    assert_int_equal(mc_pg_exec(conn,
                                "CREATE TABLE plan_growth (k text PRIMARY KEY) WITH "
                                "(autovacuum_enabled = false)",
                                0, NULL, err, sizeof err),
                     0);
    assert_int_equal(mc_pg_exec(conn,
                                "INSERT INTO plan_growth SELECT 'k' || i FROM "
                                "generate_series(1, 50) i",
                                0, NULL, err, sizeof err),
                     0);
    for (int i = 0; i < 8; i++)
        assert_int_equal(exec_int(conn, probe, "[{\"k\": \"k5\"}]"), 1);
    assert_int_equal(mc_pg_exec(conn,
                                "INSERT INTO plan_growth SELECT 'k' || i FROM "
                                "generate_series(51, 100000) i",
                                0, NULL, err, sizeof err),
                     0);
    assert_int_equal(exec_int(conn, probe, "[{\"k\": \"k99999\"}]"), 1);
    res = mc_pg_query(conn,
                      "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
                      "WHERE statement = $1",
                      1, params, err, sizeof err);
    assert_non_null(res);
    assert_int_equal(PQntuples(res), 1);
    assert_string_equal(PQgetvalue(res, 0, 0), "0"); /* never a plan kept for later */
    assert_string_equal(PQgetvalue(res, 0, 1), "9");
    PQclear(res);
    assert_int_equal(mc_pg_exec(conn, "DROP TABLE plan_growth", 0, NULL, err, sizeof err), 0);
    PQfinish(conn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prepared_once_then_executed),
        cmocka_unit_test(test_failed_prepare_reports_the_statement_error),
        cmocka_unit_test(test_plans_fit_the_table_as_it_grows),
    };
    return cmocka_run_group_tests_name("integration: pg", tests, group_setup, group_teardown);
}
