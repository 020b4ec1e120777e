/* The report printed by `motcua report` and at the end of the demo. */
#ifndef MOTCUA_TOOLS_REPORT_H
#define MOTCUA_TOOLS_REPORT_H

#include <libpq-fe.h>
#include <stdio.h>

/* Prints the report from every service schema to out. Returns 0 or 1. */
int mc_cli_report(PGconn *conn, FILE *out);

/* Prints the ranking of units for month ("YYYY-MM"): the frozen one when
 * the month was frozen (report.ranking), else computed now; freeze: first
 * store it, once, if the month is over. Returns 0, 1 (database) or 2
 * (usage: a bad month, or one not over). */
int mc_cli_ranking(PGconn *conn, FILE *out, const char *month, int freeze);

#endif
