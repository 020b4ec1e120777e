/* `motcua outbox`: the outbox rows the broker refused for good, parked by
 * the services' relays (list, retry, drop), and the rows still pending. */
#include "outbox_cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "motcua/pg.h"

/* The service schemas that have an outbox, and who writes each. */
static const char *const schemas[] = {"intake", "routing", "deadline", "notify",
                                      "api",    "sender",  NULL};

static int usage(FILE *out)
{
    fprintf(out, "usage: motcua outbox list\n"
                 "       motcua outbox retry SCHEMA ID|--all\n"
                 "       motcua outbox drop SCHEMA ID|--all\n\n"
                 "list    rows waiting in each outbox and every parked row (one the broker\n"
                 "        refused for good: too large, invalid) with its error\n"
                 "retry   puts parked rows back into the outbox; the service publishes them\n"
                 "        in its next relay round (after the cause is mended, e.g. the\n"
                 "        broker's message.max.bytes raised)\n"
                 "drop    deletes parked rows: their events are never published\n\n"
                 "SCHEMA is intake, routing, deadline, notify, api or sender.\n");
    return out == stderr ? 2 : 0;
}

static int known_schema(const char *s)
{
    for (const char *const *p = schemas; *p; p++)
        if (strcmp(*p, s) == 0)
            return 1;
    return 0;
}

/* A schema's pending count (the first column), then each parked row. */
#define PARKED_REST(X)                                                                             \
    X(PR_ID, "id", "id")                                                                           \
    X(PR_TOPIC, "topic", "topic")                                                                  \
    X(PR_KEY, "key_text", "coalesce(key, '')")                                                     \
    X(PR_BYTES, "bytes", "octet_length(payload::text)")                                            \
    X(PR_PARKED, "parked", "motcua_rfc3339(parked_at)")                                            \
    X(PR_ERROR, "error", "error")
enum { PR_PENDING, PARKED_REST(MC_PG_COL_ENUM) PR_COUNT };

static int list(PGconn *conn)
{
    char sql[512], err[512];
    for (const char *const *s = schemas; *s; s++) {
        PGresult *res;
        snprintf(sql, sizeof sql,
                 "SELECT (SELECT count(*) FROM %s.outbox) AS pending" PARKED_REST(
                     MC_PG_COL_SQL) " FROM (SELECT 1) one LEFT JOIN %s.outbox_parked ON true ORDER "
                                    "BY id",
                 *s, *s);
        if ((res = mc_pg_query(conn, sql, 0, NULL, err, sizeof err)) == NULL) {
            fprintf(stderr, "motcua outbox list: %s\n", err);
            return 1;
        }
        printf("%s: %s pending, %d parked\n", *s, PQgetvalue(res, 0, PR_PENDING),
               PQgetisnull(res, 0, PR_ID) ? 0 : PQntuples(res));
        for (int i = 0; i < PQntuples(res) && !PQgetisnull(res, i, PR_ID); i++)
            printf("  %s\t%s\t%s\t%s bytes\tparked %s\t%s\n", PQgetvalue(res, i, PR_ID),
                   PQgetvalue(res, i, PR_TOPIC), PQgetvalue(res, i, PR_KEY),
                   PQgetvalue(res, i, PR_BYTES), PQgetvalue(res, i, PR_PARKED),
                   PQgetvalue(res, i, PR_ERROR));
        PQclear(res);
    }
    return 0;
}

/* retry or drop the parked row ID (NULL: all) of schema. */
static int change(PGconn *conn, const char *verb, const char *schema, const char *id)
{
    char sql[512], err[512];
    const char *params[1] = {id};
    PGresult *res;
    if (strcmp(verb, "retry") == 0)
        snprintf(sql, sizeof sql,
                 "WITH back AS (DELETE FROM %s.outbox_parked WHERE $1::bigint IS NULL OR id = "
                 "$1::bigint RETURNING id, topic, key, payload, created_at) "
                 "INSERT INTO %s.outbox (id, topic, key, payload, created_at) "
                 "SELECT id, topic, key, payload, created_at FROM back",
                 schema, schema);
    else
        snprintf(sql, sizeof sql,
                 "DELETE FROM %s.outbox_parked WHERE $1::bigint IS NULL OR id = $1::bigint",
                 schema);
    if ((res = mc_pg_query(conn, sql, 1, params, err, sizeof err)) == NULL) {
        fprintf(stderr, "motcua outbox %s: %s\n", verb, err);
        return 1;
    }
    printf("%s: %s %s parked row(s)\n", schema, strcmp(verb, "retry") == 0 ? "requeued" : "dropped",
           PQcmdTuples(res));
    if (id != NULL && strcmp(PQcmdTuples(res), "0") == 0) {
        fprintf(stderr, "motcua outbox %s: no parked row %s in %s\n", verb, id, schema);
        PQclear(res);
        return 1;
    }
    PQclear(res);
    return 0;
}

int mc_cli_outbox(const char *pg_url, int argc, char **argv)
{
    char err[512];
    PGconn *conn;
    int rc;
    if (argc == 2 && strcmp(argv[1], "--help") == 0)
        return usage(stdout);
    if (argc == 2 && strcmp(argv[1], "list") == 0) {
        /* fall through to the connection below */
    } else if (argc == 4 && (strcmp(argv[1], "retry") == 0 || strcmp(argv[1], "drop") == 0)) {
        if (!known_schema(argv[2])) {
            fprintf(stderr, "motcua outbox: unknown schema \"%s\"\n", argv[2]);
            return usage(stderr);
        }
        if (strcmp(argv[3], "--all") != 0 && strspn(argv[3], "0123456789") != strlen(argv[3])) {
            fprintf(stderr, "motcua outbox: ID must be a number or --all, not \"%s\"\n", argv[3]);
            return 2;
        }
    } else {
        return usage(stderr);
    }
    if ((conn = mc_pg_connect(pg_url, "motcua-cli", err, sizeof err)) == NULL) {
        fprintf(stderr, "motcua outbox: %s\n", err);
        return 1;
    }
    if (strcmp(argv[1], "list") == 0)
        rc = list(conn);
    else
        rc = change(conn, argv[1], argv[2], strcmp(argv[3], "--all") == 0 ? NULL : argv[3]);
    PQfinish(conn);
    return rc;
}
