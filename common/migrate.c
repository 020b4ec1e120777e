/* SQL migrations and seed files. */
#include "motcua/migrate.h"

#include <dirent.h>
#include <limits.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "motcua/datadir.h"
#include "motcua/error.h"
#include "motcua/pg.h"

/* An applied migration: whether its text is the file's (the first
 * column), and the checksum recorded. */
#define APPLIED_REST(X) X(AP_CHECKSUM, "checksum", "coalesce(checksum, '')")
enum { AP_SAME, APPLIED_REST(MC_PG_COL_ENUM) AP_COUNT };

const char *mc_migrations_dir(void)
{
    static char dir[PATH_MAX + 32];
    snprintf(dir, sizeof dir, "%s/schemas/migrations", mc_data_dir());
    return dir;
}

const char *mc_seed_dir(void)
{
    static char dir[PATH_MAX + 32];
    snprintf(dir, sizeof dir, "%s/schemas/seed", mc_data_dir());
    return dir;
}

static char *read_all(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;
    if (f == NULL) {
        mc_err(err, errlen, MC_EIO, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = mc_xmalloc((size_t)n + 1);
        if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        } else {
            buf[n] = '\0';
        }
    }
    if (buf == NULL)
        mc_err(err, errlen, MC_EIO, "%s: cannot read", path);
    fclose(f);
    return buf;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted *.sql names of dir. Caller frees each and the array. */
static int list_sql(const char *dir, char ***names, int *n, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    *names = NULL;
    *n = 0;
    if (d == NULL)
        return mc_err(err, errlen, MC_EIO, "%s: %s", dir, strerror(errno));
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".sql") != 0)
            continue;
        *names = mc_xrealloc(*names, (size_t)(*n + 1) * sizeof **names);
        (*names)[(*n)++] = mc_xstrdup(e->d_name);
    }
    closedir(d);
    qsort(*names, (size_t)*n, sizeof **names, cmp_names);
    return 0;
}

static void free_names(char **names, int n)
{
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Migrations whose comments alone were rewritten after databases had
 * applied them (their references to documents outside the repository now
 * name docs/): the md5 those databases recorded for the old text. A
 * database holding exactly this checksum for this version is taken as
 * matching the current file, and its row gets the current checksum. Any
 * other difference is still refused. */
static const struct {
    int version;
    const char *md5;
} comment_revisions[] = {
    {2, "9f855041dfe051bc6744125578a40a1f"},
    {7, "d74f41e9db41ee2f986e149590ac7974"},
    {8, "d45e80ac62bc69d79d146e2d69d33007"},
};

/* 1 when a database that recorded checksum for version may take the
 * current file as the one it applied (see comment_revisions). */
static int comment_revision(int version, const char *checksum)
{
    for (size_t i = 0; i < sizeof comment_revisions / sizeof comment_revisions[0]; i++)
        if (comment_revisions[i].version == version &&
            strcmp(comment_revisions[i].md5, checksum) == 0)
            return 1;
    return 0;
}

/* Runs sql (many statements) inside BEGIN/COMMIT; with a version, records
 * the migration (and the md5 of its text) in the same transaction. */
static int run_tx(PGconn *conn, const char *path, const char *sql, const char *version,
                  const char *name, char *err, size_t errlen)
{
    PGresult *res;
    char e2[128];
    if (mc_pg_exec(conn, "BEGIN", 0, NULL, err, errlen) != 0)
        return MC_EDB;
    res = PQexec(conn, sql); /* several statements: the simple protocol, no parameters */
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
        const char *msg = PQresultErrorMessage(res);
        mc_err(err, errlen, MC_EDB, "%s: %.*s", path, (int)strcspn(msg, "\n"), msg);
        PQclear(res);
        mc_pg_exec(conn, "ROLLBACK", 0, NULL, e2, sizeof e2);
        return MC_EDB;
    }
    PQclear(res);
    if (version) {
        const char *params[3] = {version, name, sql};
        if (mc_pg_exec(conn,
                       "INSERT INTO public.motcua_migration (version, name, checksum) "
                       "VALUES ($1, $2, md5($3))",
                       3, params, err, errlen) != 0) {
            mc_pg_exec(conn, "ROLLBACK", 0, NULL, e2, sizeof e2);
            return MC_EDB;
        }
    }
    return mc_pg_exec(conn, "COMMIT", 0, NULL, err, errlen);
}

int mc_migrate(PGconn *conn, const char *dir, int *applied, char *err, size_t errlen)
{
    char **names = NULL, path[2048], version[16];
    int n = 0, rc;
    PGresult *res = NULL;

    *applied = 0;
    if ((rc = list_sql(dir, &names, &n, err, errlen)) != 0)
        return rc;
    /* Session lock: a second `motcua migrate` waits instead of racing. */
    if ((rc = mc_pg_exec(conn, "SELECT pg_advisory_lock(hashtext('motcua.migrate'))", 0, NULL, err,
                         errlen)) != 0 ||
        (rc = mc_pg_exec(conn,
                         "CREATE TABLE IF NOT EXISTS public.motcua_migration ("
                         "version integer PRIMARY KEY, name text NOT NULL, checksum text, "
                         "applied_at timestamptz NOT NULL DEFAULT now())",
                         0, NULL, err, errlen)) != 0)
        goto out;
    for (int i = 0; i < n; i++) {
        char *sql;
        int v = atoi(names[i]);
        if (v <= 0) {
            rc = mc_err(err, errlen, MC_EIO, "%s/%s: a migration name starts with its number", dir,
                        names[i]);
            goto out;
        }
        snprintf(version, sizeof version, "%d", v);
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if ((sql = read_all(path, err, errlen)) == NULL) {
            rc = MC_EIO;
            goto out;
        }
        /* An applied migration whose text changed since is refused: the
         * database would silently differ from what the files describe. */
        {
            const char *p2[2] = {version, sql};
            res = mc_pg_query(conn,
                              "SELECT checksum IS NOT DISTINCT FROM md5($2) OR checksum IS NULL "
                              "AS same" APPLIED_REST(
                                  MC_PG_COL_SQL) " FROM public.motcua_migration WHERE version = $1",
                              2, p2, err, errlen);
        }
        if (res == NULL) {
            free(sql);
            rc = MC_EDB;
            goto out;
        }
        if (PQntuples(res) > 0) {
            int same = strcmp(PQgetvalue(res, 0, AP_SAME), "t") == 0;
            if (!same && comment_revision(v, PQgetvalue(res, 0, AP_CHECKSUM))) {
                const char *p2[2] = {version, sql};
                same = 1;
                if ((rc = mc_pg_exec(conn,
                                     "UPDATE public.motcua_migration SET checksum = md5($2) "
                                     "WHERE version = $1",
                                     2, p2, err, errlen)) != 0) {
                    PQclear(res);
                    res = NULL;
                    free(sql);
                    goto out;
                }
            }
            PQclear(res);
            res = NULL;
            free(sql);
            if (!same) {
                rc = mc_err(err, errlen, MC_EIO,
                            "%s was applied before and has changed since; never edit an applied "
                            "migration, add a new one",
                            path);
                goto out;
            }
            continue;
        }
        PQclear(res);
        res = NULL;
        rc = run_tx(conn, path, sql, version, names[i], err, errlen);
        free(sql);
        if (rc)
            goto out;
        (*applied)++;
    }
out : {
    char e2[128];
    mc_pg_exec(conn, "SELECT pg_advisory_unlock(hashtext('motcua.migrate'))", 0, NULL, e2,
               sizeof e2);
}
    free_names(names, n);
    return rc;
}

int mc_sql_file(PGconn *conn, const char *path, char *err, size_t errlen)
{
    char *sql = read_all(path, err, errlen);
    int rc;
    if (sql == NULL)
        return MC_EIO;
    rc = run_tx(conn, path, sql, NULL, NULL, err, errlen);
    free(sql);
    return rc;
}

int mc_sql_dir(PGconn *conn, const char *dir, int *files, char *err, size_t errlen)
{
    char **names = NULL, path[2048];
    int n = 0, rc;
    *files = 0;
    if ((rc = list_sql(dir, &names, &n, err, errlen)) != 0)
        return rc;
    for (int i = 0; i < n && rc == 0; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if ((rc = mc_sql_file(conn, path, err, errlen)) == 0)
            (*files)++;
    }
    free_names(names, n);
    return rc;
}
