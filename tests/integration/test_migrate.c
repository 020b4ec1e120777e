/* `motcua migrate`: idempotent, recorded with a checksum, new files applied
 * once, and an applied migration that was edited afterwards refused. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "motcua/error.h"
#include "motcua/migrate.h"

static struct h_env *env;
static char dir[256];

static int group_setup(void **state)
{
    char cmd[1024];
    (void)state;
    if ((env = h_env_new("migrate")) == NULL) /* migrates and seeds */
        return -1;
    snprintf(dir, sizeof dir, "%s/motcua-migrate-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(cmd, sizeof cmd, "cp %s/*.sql %s/", mc_migrations_dir(), dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
    char cmd[512];
    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    h_env_free(env);
    return 0;
}

static void write_file(const char *name, const char *text)
{
    char path[512];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_again_applies_nothing(void **state)
{
    char err[512];
    int applied = -1;
    (void)state;
    assert_int_equal(mc_migrate(env->conn, dir, &applied, err, sizeof err), 0);
    assert_int_equal(applied, 0);
    assert_int_equal(h_sql_int(env,
                               "SELECT count(*) FROM public.motcua_migration WHERE checksum ~ "
                               "'^[0-9a-f]{32}$'",
                               NULL),
                     h_sql_int(env, "SELECT count(*) FROM public.motcua_migration", NULL));
}

static void test_new_file_applied_once(void **state)
{
    char err[512];
    int applied = -1;
    (void)state;
    write_file("900_test_note.sql", "CREATE TABLE public.migrate_test_note (id int);\n");
    assert_int_equal(mc_migrate(env->conn, dir, &applied, err, sizeof err), 0);
    assert_int_equal(applied, 1);
    assert_int_equal(mc_migrate(env->conn, dir, &applied, err, sizeof err), 0);
    assert_int_equal(applied, 0);
    assert_int_equal(
        h_sql_int(env, "SELECT count(*) FROM public.motcua_migration WHERE version = 900", NULL),
        1);
}

static void test_edited_migration_refused(void **state)
{
    char err[512];
    int applied = -1;
    (void)state;
    write_file("900_test_note.sql", "CREATE TABLE public.migrate_test_note (id int, x int);\n");
    write_file("901_after.sql", "CREATE TABLE public.migrate_test_after (id int);\n");
    assert_int_equal(mc_migrate(env->conn, dir, &applied, err, sizeof err), MC_EIO);
    assert_non_null(strstr(err, "900_test_note.sql was applied before and has changed since"));
    assert_int_equal(applied, 0);
    /* Nothing after the refused file ran. */
    assert_int_equal(
        h_sql_int(env, "SELECT count(*) FROM public.motcua_migration WHERE version = 901", NULL),
        0);
}

/* Migrations 002, 007 and 008 had only their comments rewritten after
 * databases applied them: a database holding the old text's checksum
 * migrates and takes the new one; any other checksum is still refused. */
static void test_comment_revision_accepted_other_change_refused(void **state)
{
    char err[512];
    int applied = -1;
    (void)state;
    h_sql_exec(env,
               "UPDATE public.motcua_migration SET checksum = "
               "'d45e80ac62bc69d79d146e2d69d33007' WHERE version = 8",
               NULL);
    assert_int_equal(mc_migrate(env->conn, mc_migrations_dir(), &applied, err, sizeof err), 0);
    assert_int_equal(applied, 0);
    assert_int_equal(h_sql_int(env,
                               "SELECT count(*) FROM public.motcua_migration WHERE version = 8 "
                               "AND checksum <> 'd45e80ac62bc69d79d146e2d69d33007'",
                               NULL),
                     1);
    /* The old checksum of another migration is no pass for this one. */
    h_sql_exec(env,
               "UPDATE public.motcua_migration SET checksum = "
               "'9f855041dfe051bc6744125578a40a1f' WHERE version = 8",
               NULL);
    assert_int_equal(mc_migrate(env->conn, mc_migrations_dir(), &applied, err, sizeof err), MC_EIO);
    assert_non_null(strstr(err, "008_roles.sql was applied before and has changed since"));
    /* Put back as applied, for the tests after. */
    h_sql_exec(env,
               "UPDATE public.motcua_migration SET checksum = "
               "'d45e80ac62bc69d79d146e2d69d33007' WHERE version = 8",
               NULL);
    assert_int_equal(mc_migrate(env->conn, mc_migrations_dir(), &applied, err, sizeof err), 0);
}

/* Where a long value ends up (migration 022): an outbox row of a few kB is
 * kept as it is, not compressed (it lives for milliseconds); a longer one,
 * and long values kept for good, are compressed with lz4, not pglz. A
 * schema's outbox made later is set up the same way. */
static void test_long_values_stored_as_tuned(void **state)
{
    static const char *const tables[] = {"intake", "scratch_outbox"};
    char *method;
    (void)state;
    h_sql_exec(env, "CREATE SCHEMA scratch_outbox", NULL);
    h_sql_exec(env, "SELECT public.motcua_create_delivery_tables('scratch_outbox')", NULL);
    for (size_t i = 0; i < sizeof tables / sizeof *tables; i++) {
        char sql[512];
        /* 5 kB: over the 2 kB above which a row is compressed by default. */
        snprintf(sql, sizeof sql,
                 "INSERT INTO %s.outbox (topic, key, payload) SELECT 't', 'k', "
                 "json_build_object('text', repeat('một cửa ', 600))",
                 tables[i]);
        h_sql_exec(env, sql, NULL);
        snprintf(sql, sizeof sql,
                 "SELECT coalesce(pg_column_compression(payload), 'none') || ' ' || "
                 "octet_length(payload::text) FROM %s.outbox ORDER BY id DESC LIMIT 1",
                 tables[i]);
        method = h_sql_text(env, sql, NULL);
        assert_string_equal(method, "none 7213");
        free(method);
        snprintf(sql, sizeof sql,
                 "INSERT INTO %s.outbox (topic, key, payload) SELECT 't', 'k', "
                 "json_build_object('text', repeat('một cửa ', 4000))",
                 tables[i]);
        h_sql_exec(env, sql, NULL);
        snprintf(sql, sizeof sql,
                 "SELECT pg_column_compression(payload) FROM %s.outbox ORDER BY id DESC LIMIT 1",
                 tables[i]);
        method = h_sql_text(env, sql, NULL);
        assert_string_equal(method, "lz4");
        free(method);
        snprintf(sql, sizeof sql, "DELETE FROM %s.outbox", tables[i]);
        h_sql_exec(env, sql, NULL);
    }
    h_sql_exec(env, "DROP SCHEMA scratch_outbox CASCADE", NULL);
    method = h_sql_text(env,
                        "SELECT string_agg(c.oid::regclass || '.' || a.attname || '=' || "
                        "a.attcompression::text, ' ' ORDER BY c.oid::regclass::text, a.attname) "
                        "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
                        "WHERE c.oid::regclass::text IN ('notify.letter', 'notify.notice', "
                        "'sender.job', 'intake.dossier') AND a.attname IN ('body', "
                        "'message', 'submission')",
                        NULL);
    assert_string_equal(method,
                        "intake.dossier.submission=l notify.letter.body=l "
                        "notify.letter.message=l notify.notice.body=l notify.notice.message=l "
                        "sender.job.message=l");
    free(method);
}

/* A dossier's row on the read side is rewritten several times in its life:
 * an update that changes no indexed column finds room in its own page and
 * is heap-only (HOT: no new entry in the table's indexes), even where
 * inserts filled the pages (migration 023; without it the page is full and
 * the update is not HOT). */
static void test_dossier_update_finds_room_in_its_page(void **state)
{
    (void)state;
    h_sql_exec(env, "BEGIN", NULL);
    /* Rows of over 500 bytes (the year's are about 400): several pages
     * filled. */
    h_sql_exec(env,
               "INSERT INTO api.dossier (code, procedure_name, unit_name) SELECT "
               "'HOT-' || i, repeat('thủ tục ', 30), repeat('phòng ', 20) "
               "FROM generate_series(1, 60) AS i",
               NULL);
    assert_int_equal(h_sql_int(env,
                               "SELECT (ctid::text::point)[0]::int FROM api.dossier "
                               "WHERE code = 'HOT-1'",
                               NULL),
                     0);
    assert_true(h_sql_int(env, "SELECT max((ctid::text::point)[0])::int FROM api.dossier", NULL) >=
                2);
    h_sql_exec(env, "UPDATE api.dossier SET processing_wd = 3.5 WHERE code = 'HOT-1'", NULL);
    assert_int_equal(h_sql_int(env,
                               "SELECT n_tup_hot_upd FROM pg_stat_xact_user_tables "
                               "WHERE relid = 'api.dossier'::regclass",
                               NULL),
                     1);
    h_sql_exec(env, "ROLLBACK", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_again_applies_nothing),
        cmocka_unit_test(test_comment_revision_accepted_other_change_refused),
        cmocka_unit_test(test_new_file_applied_once),
        cmocka_unit_test(test_edited_migration_refused),
        cmocka_unit_test(test_long_values_stored_as_tuned),
        cmocka_unit_test(test_dossier_update_finds_room_in_its_page),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
