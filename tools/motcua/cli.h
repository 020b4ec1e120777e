/* Subcommands of the operator CLI `motcua` that live outside main.c. */
#ifndef MOTCUA_TOOLS_CLI_H
#define MOTCUA_TOOLS_CLI_H

/* `motcua sample submissions --month YYYY-MM --count N --seed S` and
 * `motcua sample updates --late-share F --seed S` (argv[0] is "sample").
 * Prints sample messages, one "KEY<TAB>JSON" line each, on stdout, for
 * `motcua produce`. Reads the catalog (submissions) or routing.assignment
 * (updates) from MOTCUA_PG_URL. The output depends only on the arguments and
 * the database contents. Returns the process exit status: 0, 1 on failure,
 * 2 on a usage error (reason on stderr). */
int mc_cli_sample(int argc, char **argv);

#endif
