/* `motcua outbox list|retry|drop` (argv[0] is "outbox"). */
#ifndef MOTCUA_TOOLS_OUTBOX_CMD_H
#define MOTCUA_TOOLS_OUTBOX_CMD_H

/* Runs the subcommand against pg_url; returns the process exit status (0,
 * 1 on failure, 2 on a usage error). */
int mc_cli_outbox(const char *pg_url, int argc, char **argv);

#endif
