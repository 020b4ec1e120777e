/* Where motcua's data lives: the JSON Schemas, the SQL migrations and the
 * sample catalog, laid out as in the source tree (schemas/, schemas/migrations/,
 * schemas/seed/). */
#ifndef MOTCUA_DATADIR_H
#define MOTCUA_DATADIR_H

#include <stddef.h>

/* The data directory: the one set by mc_data_dir_set (MOTCUA_DATA_DIR from
 * the configuration), else $MOTCUA_DATA_DIR, else <directory of this
 * binary>/../share/motcua when it exists (an installed binary: `cmake
 * --install`, the .deb, the container), else the source tree the binary was
 * built from (a build-tree binary). */
const char *mc_data_dir(void);

/* Where mc_data_dir() came from, for messages: "MOTCUA_DATA_DIR",
 * "installed", or "source tree". */
const char *mc_data_dir_origin(void);

/* Sets the data directory (MOTCUA_DATA_DIR from a config file); NULL
 * forgets it, so that it is found again as above. */
void mc_data_dir_set(const char *dir);

/* Returns 0 when the data directory holds the schemas and migrations, else
 * MC_EINVAL with err naming what is missing and where the directory came
 * from. */
int mc_data_dir_check(char *err, size_t errlen);

#endif
