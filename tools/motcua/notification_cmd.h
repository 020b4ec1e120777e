/* `motcua notification show` (argv[0] is "notification"). */
#ifndef MOTCUA_TOOLS_NOTIFICATION_CMD_H
#define MOTCUA_TOOLS_NOTIFICATION_CMD_H

#include "motcua/config.h"

/* Prints a notification's state and history (its attempts and the
 * senders' receipts), by id or every one of a dossier. Returns 0, 1 when
 * none is found or the database fails, 2 on a usage error. */
int mc_cli_notification(const struct mc_config *cfg, int argc, char **argv);

#endif
