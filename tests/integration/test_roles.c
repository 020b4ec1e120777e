/* Least privilege, checked on the real server: each service's database role
 * (migration 008_roles.sql) reads and writes its own schema, reads the
 * catalog, and can neither read nor write another service's schema, nor
 * write the catalog, nor create tables. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct h_env *env;

/* Each service's role, its schema, and whether it reads the catalog (the
 * reference sender does not: it knows only what a notification carries). */
static const struct {
    const char *role;
    const char *schema;
    int reads_catalog;
} services[] = {
    {"motcua_intake", "intake", 1},     {"motcua_router", "routing", 1},
    {"motcua_deadline", "deadline", 1}, {"motcua_notify", "notify", 1},
    {"motcua_api", "api", 1},           {"motcua_sender", "sender", 0},
};
#define NSERVICES (sizeof services / sizeof services[0])

static int setup(void **state)
{
    (void)state;
    return (env = h_env_new("roles")) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    h_env_free(env);
    return 0;
}

/* A connection to the test database as role (trust authentication on the
 * tests' throwaway cluster). */
static PGconn *connect_as(const char *role)
{
    const char *keys[] = {"dbname", "user", "application_name", NULL};
    const char *values[] = {env->db_url, role, "motcua-test-roles", NULL};
    PGconn *conn = PQconnectdbParams(keys, values, 1);
    if (PQstatus(conn) != CONNECTION_OK)
        fail_msg("connect as %s: %s", role, PQerrorMessage(conn));
    return conn;
}

/* The SQLSTATE of running sql in a transaction that is rolled back: "" when
 * it succeeded. */
static const char *try_sql(PGconn *conn, const char *sql)
{
    static char state[8];
    PGresult *res;
    PQclear(PQexec(conn, "BEGIN"));
    res = PQexec(conn, sql);
    if (PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK)
        state[0] = '\0';
    else
        snprintf(state, sizeof state, "%s", PQresultErrorField(res, PG_DIAG_SQLSTATE));
    PQclear(res);
    PQclear(PQexec(conn, "ROLLBACK"));
    return state;
}

static void expect(PGconn *conn, const char *role, const char *sql, const char *sqlstate)
{
    const char *got = try_sql(conn, sql);
    if (strcmp(got, sqlstate) != 0)
        fail_msg("as %s: %s gave SQLSTATE \"%s\", expected \"%s\"", role, sql, got, sqlstate);
}

#define ALLOWED ""
#define DENIED "42501" /* insufficient_privilege */

static void test_each_role_owns_only_its_schema(void **state)
{
    char sql[512];
    (void)state;
    for (size_t i = 0; i < NSERVICES; i++) {
        const char *role = services[i].role;
        PGconn *conn = connect_as(role);

        snprintf(sql, sizeof sql, "SELECT count(*) FROM %s.outbox", services[i].schema);
        expect(conn, role, sql, ALLOWED);
        snprintf(sql, sizeof sql,
                 "INSERT INTO %s.outbox (topic, key, payload) VALUES ('t', 'k', '{}')",
                 services[i].schema);
        expect(conn, role, sql, ALLOWED);
        snprintf(sql, sizeof sql, "DELETE FROM %s.outbox_parked", services[i].schema);
        expect(conn, role, sql, ALLOWED);
        expect(conn, role, "SELECT count(*) FROM catalog.unit",
               services[i].reads_catalog ? ALLOWED : DENIED);

        expect(conn, role, "UPDATE catalog.unit SET name = name", DENIED);
        expect(conn, role, "DELETE FROM catalog.procedure", DENIED);
        expect(conn, role, "CREATE TABLE public.motcua_roles_probe (x int)", DENIED);
        snprintf(sql, sizeof sql, "CREATE TABLE %s.motcua_roles_probe (x int)", services[i].schema);
        expect(conn, role, sql, DENIED);

        for (size_t j = 0; j < NSERVICES; j++) {
            if (j == i)
                continue;
            snprintf(sql, sizeof sql, "SELECT count(*) FROM %s.outbox", services[j].schema);
            expect(conn, role, sql, DENIED);
            snprintf(sql, sizeof sql,
                     "INSERT INTO %s.outbox (topic, key, payload) VALUES ('t', 'k', '{}')",
                     services[j].schema);
            expect(conn, role, sql, DENIED);
        }
        PQfinish(conn);
    }
}

/* Each service's own tables, by name, are the ones it may write. */
static void test_own_tables_are_writable(void **state)
{
    static const char *const writes[][2] = {
        {"motcua_intake", "DELETE FROM intake.dossier"},
        {"motcua_intake", "DELETE FROM intake.rejection"},
        {"motcua_router", "DELETE FROM routing.assignment"},
        {"motcua_deadline", "DELETE FROM deadline.clock"},
        {"motcua_deadline", "DELETE FROM deadline.ledger"},
        {"motcua_notify", "DELETE FROM notify.letter"},
        {"motcua_api", "DELETE FROM api.dossier"},
        {"motcua_api", "DELETE FROM api.timeline"},
        {"motcua_api", "DELETE FROM api.letter"},
        {"motcua_sender", "DELETE FROM sender.job"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof writes / sizeof writes[0]; i++) {
        PGconn *conn = connect_as(writes[i][0]);
        expect(conn, writes[i][0], writes[i][1], ALLOWED);
        PQfinish(conn);
    }
}

/* The read side's requests run as motcua_api_read (SET ROLE from
 * motcua_api): they read the projection and the catalog, nothing else, and
 * write nothing. */
static void test_api_requests_only_read_the_projection(void **state)
{
    PGconn *conn = connect_as("motcua_api");
    const char *role = "motcua_api_read";
    (void)state;
    PQclear(PQexec(conn, "SET ROLE motcua_api_read"));
    expect(conn, role, "SELECT count(*) FROM api.dossier", ALLOWED);
    expect(conn, role, "SELECT count(*) FROM api.timeline", ALLOWED);
    expect(conn, role, "SELECT count(*) FROM api.letter", ALLOWED);
    expect(conn, role, "SELECT count(*) FROM api.unit_month(now(), now(), NULL)", ALLOWED);
    expect(conn, role, "SELECT count(*) FROM catalog.unit", ALLOWED);
    expect(conn, role, "DELETE FROM api.dossier", DENIED);
    expect(conn, role, "INSERT INTO api.timeline (dossier_code, at, kind) VALUES ('x', now(), 'y')",
           DENIED);
    expect(conn, role, "SELECT count(*) FROM api.inbox", DENIED);
    expect(conn, role, "SELECT count(*) FROM intake.dossier", DENIED);
    expect(conn, role, "SELECT count(*) FROM notify.letter", DENIED);
    PQfinish(conn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_role_owns_only_its_schema),
        cmocka_unit_test(test_own_tables_are_writable),
        cmocka_unit_test(test_api_requests_only_read_the_projection),
    };
    return cmocka_run_group_tests_name("integration: roles", tests, setup, teardown);
}
