/* `motcua deadletter list|show|replay` (argv[0] is "deadletter"). */
#ifndef MOTCUA_TOOLS_DEADLETTER_CMD_H
#define MOTCUA_TOOLS_DEADLETTER_CMD_H

#include "motcua/config.h"

/* Runs the subcommand; returns the process exit status (0, 1 on failure,
 * 2 on a usage error). */
int mc_cli_deadletter(const struct mc_config *cfg, int argc, char **argv);

#endif
