/* The deadline service core: its mc_service_def, driven by main.c and by
 * tests, and the calendar recompute used by `motcua calendar recompute`. */
#ifndef MOTCUA_DEADLINE_H
#define MOTCUA_DEADLINE_H

#include <libpq-fe.h>
#include <stddef.h>

#include "motcua/config.h"
#include "motcua/service.h"

extern const struct mc_service_def mc_deadline_def;

/* Recomputes the due date of every open or paused clock not yet breached
 * under the catalog calendar as it is now (a breached dossier has had its
 * apology and new appointment; its date is not reopened); each clock whose due date moves gets a
 * new deadline version, re-armed warnings and a dossier.deadline_moved event (written to the
 * deadline outbox, published by the running service). One transaction. *moved gets the count.
 * Returns 0 or MC_EDB. */
int mc_deadline_recompute(PGconn *conn, const struct mc_config *cfg, int *moved, char *err,
                          size_t errlen);

#endif
