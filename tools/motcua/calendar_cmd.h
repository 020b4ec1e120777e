/* `motcua calendar`: the operator's view of the working calendar. */
#ifndef MOTCUA_TOOLS_CALENDAR_CMD_H
#define MOTCUA_TOOLS_CALENDAR_CMD_H

/* argv[0] is "calendar"; argv[1] one of:
 *   seed --from YEAR --to YEAR     insert the rule holidays of those years into
 *                                  catalog.calendar_day (source 'rule'), keeping
 *                                  every row already there
 *   list --year YEAR [--agency X]  the year's days off and extra working days
 *                                  in force (rows and rule holidays), with names
 *   add --day D --kind off|work --name TEXT [--agency X] [--replace]
 *   remove --day D [--agency X]
 * pg_url is the database (MOTCUA_PG_URL). Prints results on stdout and
 * reasons on stderr. Returns the process exit status: 0, 1 on a failure,
 * 2 on a usage error or bad input. */
int mc_cli_calendar(int argc, char **argv, const char *pg_url);

#endif
