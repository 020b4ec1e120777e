/* The report printed by `motcua report` and at the end of the demo. */
#ifndef MOTCUA_TOOLS_REPORT_H
#define MOTCUA_TOOLS_REPORT_H

#include <libpq-fe.h>
#include <stdio.h>

/* Prints the report from every service schema to out. Returns 0 or 1. */
int mc_cli_report(PGconn *conn, FILE *out);

#endif
