/* Subcommands of the operator CLI `motcua` that live outside main.c. */
#ifndef MOTCUA_TOOLS_CLI_H
#define MOTCUA_TOOLS_CLI_H

/* `motcua sample submissions --month YYYY-MM --count N --seed S` and
 * `motcua sample updates --late-share F --seed S [--with-time]` (argv[0] is
 * "sample"). Prints sample messages, one "KEY<TAB>JSON" line each, on
 * stdout, for `motcua produce`; updates are each dossier's life at its unit
 * in simulated time order, and --with-time prefixes each line with its
 * instant ("RFC3339<TAB>KEY<TAB>JSON") so a demo can feed them day by day.
 * Reads the catalog (submissions) or routing.assignment, catalog.procedure
 * and the calendar (updates) from MOTCUA_PG_URL. The output depends only on
 * the arguments and the database contents. Returns the process exit status:
 * 0, 1 on failure, 2 on a usage error (reason on stderr). */
int mc_cli_sample(int argc, char **argv);

struct mc_config;

/* `motcua replay --year YYYY [--scale F] [--seed S]` (argv[0] is "replay"):
 * plays the reference city's year through the running services on the
 * topic clock (tools/motcua/replay.c) and checks its totals. Returns the
 * process exit status: 0, 1 on failure, 2 on a usage error. */
int mc_cli_replay(const struct mc_config *cfg, int argc, char **argv);

#endif
