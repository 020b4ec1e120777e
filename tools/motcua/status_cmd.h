/* `motcua status` (argv[0] is "status"). */
#ifndef MOTCUA_TOOLS_STATUS_CMD_H
#define MOTCUA_TOOLS_STATUS_CMD_H

#include "motcua/config.h"

/* Prints every service's consumer group (state, members, lag), outbox
 * (backlog, oldest, parked) and the dead letters; with --http URL, each
 * instance's /readyz. Returns 0 when everything is well, 1 when something
 * needs a look (a group without members, an instance not ready, an
 * outbox older than a minute), 2 on a usage error. */
int mc_cli_status(const struct mc_config *cfg, int argc, char **argv);

#endif
