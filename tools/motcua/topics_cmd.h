/* `motcua topics apply|list` (argv[0] is "topics"). */
#ifndef MOTCUA_TOOLS_TOPICS_CMD_H
#define MOTCUA_TOOLS_TOPICS_CMD_H

#include "motcua/config.h"

/* Runs the subcommand; returns the process exit status (0, 1 on failure or
 * drift, 2 on a usage error). */
int mc_cli_topics(const struct mc_config *cfg, int argc, char **argv);

#endif
