/* Numbered SQL migrations (schemas/migrations/NNN_name.sql), applied once
 * each in order and recorded in public.motcua_migration; and SQL seed files. */
#ifndef MOTCUA_MIGRATE_H
#define MOTCUA_MIGRATE_H

#include <libpq-fe.h>
#include <stddef.h>

/* The migrations directory: MOTCUA_MIGRATIONS_DIR or the source tree's. */
const char *mc_migrations_dir(void);
/* The seed directory: MOTCUA_SEED_DIR or the source tree's schemas/seed. */
const char *mc_seed_dir(void);

/* Applies every migration of dir not yet recorded, each in its own
 * transaction, under an advisory lock so concurrent runs are safe.
 * *applied gets how many ran. Returns 0, MC_EIO or MC_EDB. */
int mc_migrate(PGconn *conn, const char *dir, int *applied, char *err, size_t errlen);

/* Runs the SQL file at path in one transaction. */
int mc_sql_file(PGconn *conn, const char *path, char *err, size_t errlen);

/* Runs every *.sql of dir in name order (the sample catalog). */
int mc_sql_dir(PGconn *conn, const char *dir, int *files, char *err, size_t errlen);

#endif
