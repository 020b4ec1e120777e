/* `motcua calendar seed|list|add|remove`: rule holidays and overrides in catalog.calendar_day. */
#include "calendar_cmd.h"

#include <getopt.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "motcua/calendar.h"
#include "motcua/error.h"
#include "motcua/holidays.h"
#include "motcua/pg.h"
#include "motcua/timeutil.h"

#define OVERRIDE_MIN_YEAR 1970 /* the days mc_calendar keeps overrides for */
#define OVERRIDE_MAX_YEAR 2200
#define NAME_MAX_LEN 200

static const char *const weekday_abbr[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

static int usage(void)
{
    fprintf(
        stderr,
        "usage: motcua calendar <command>\n"
        "  seed --from YEAR --to YEAR      insert the rule holidays of %d..%d (source 'rule');\n"
        "                                  rows already there are kept\n"
        "  list --year YEAR [--agency X]   days off and extra working days in force\n"
        "  add --day YYYY-MM-DD --kind off|work --name TEXT [--agency X] [--replace]\n"
        "  remove --day YYYY-MM-DD [--agency X]\n"
        "  recompute [--timeout S]         ask the deadline service to move running deadlines\n"
        "                                  (corrections by add/remove or SQL trigger it too)\n",
        MC_HOLIDAYS_MIN_YEAR, MC_HOLIDAYS_MAX_YEAR);
    return 2;
}

/* The options every subcommand may take; which are required is checked by each. */
struct cal_args {
    const char *from, *to, *year, *day, *kind, *name, *agency;
    int replace;
    char given[16]; /* the option letters given, for the command to check */
};

static const char *option_name(char letter)
{
    static const char *const names[][2] = {{"f", "from"},   {"t", "to"},     {"y", "year"},
                                           {"d", "day"},    {"k", "kind"},   {"n", "name"},
                                           {"a", "agency"}, {"r", "replace"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i][0][0] == letter)
            return names[i][1];
    return "?";
}

static int parse_args(int argc, char **argv, struct cal_args *a)
{
    static const struct option opts[] = {{"from", required_argument, NULL, 'f'},
                                         {"to", required_argument, NULL, 't'},
                                         {"year", required_argument, NULL, 'y'},
                                         {"day", required_argument, NULL, 'd'},
                                         {"kind", required_argument, NULL, 'k'},
                                         {"name", required_argument, NULL, 'n'},
                                         {"agency", required_argument, NULL, 'a'},
                                         {"replace", no_argument, NULL, 'r'},
                                         {NULL, 0, NULL, 0}};
    int c;

    memset(a, 0, sizeof *a);
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            a->from = optarg;
            break;
        case 't':
            a->to = optarg;
            break;
        case 'y':
            a->year = optarg;
            break;
        case 'd':
            a->day = optarg;
            break;
        case 'k':
            a->kind = optarg;
            break;
        case 'n':
            a->name = optarg;
            break;
        case 'a':
            a->agency = optarg;
            break;
        case 'r':
            a->replace = 1;
            break;
        default:
            return -1;
        }
        if (strchr(a->given, c) == NULL && strlen(a->given) < sizeof a->given - 1)
            a->given[strlen(a->given)] = (char)c;
    }
    if (optind < argc) {
        fprintf(stderr, "motcua calendar %s: unexpected argument \"%s\"\n", argv[0], argv[optind]);
        return -1;
    }
    return 0;
}

/* A whole number of four digits within lo..hi. */
static int parse_year(const char *what, const char *text, int lo, int hi, int *out)
{
    char *end = NULL;
    long v;

    if (text == NULL) {
        fprintf(stderr, "motcua calendar: %s is required\n", what);
        return -1;
    }
    v = strtol(text, &end, 10);
    if (end == text || *end != '\0' || strlen(text) != 4 || v < lo || v > hi) {
        fprintf(stderr, "motcua calendar: %s \"%s\" must be a year from %d to %d\n", what, text, lo,
                hi);
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* "YYYY-MM-DD" naming a real day within the override range. */
static int parse_day(const char *text, int32_t *out)
{
    int y, m, d, y2, m2, d2, n = 0;

    if (text == NULL) {
        fprintf(stderr, "motcua calendar: --day YYYY-MM-DD is required\n");
        return -1;
    }
    if (strlen(text) != 10 || sscanf(text, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || n != 10 ||
        text[4] != '-' || text[7] != '-') {
        fprintf(stderr, "motcua calendar: --day \"%s\" is not a date YYYY-MM-DD\n", text);
        return -1;
    }
    *out = mc_days_from_civil(y, m, d);
    mc_civil_from_days(*out, &y2, &m2, &d2);
    if (y2 != y || m2 != m || d2 != d || m < 1 || m > 12 || d < 1) {
        fprintf(stderr, "motcua calendar: --day %s: no such day\n", text);
        return -1;
    }
    if (y < OVERRIDE_MIN_YEAR || y > OVERRIDE_MAX_YEAR) {
        fprintf(stderr, "motcua calendar: --day %s: the calendar keeps days of %d..%d\n", text,
                OVERRIDE_MIN_YEAR, OVERRIDE_MAX_YEAR);
        return -1;
    }
    return 0;
}

static char *format_day(int32_t day, char *buf) /* buf >= 11 bytes */
{
    int y, m, d;
    mc_civil_from_days(day, &y, &m, &d);
    snprintf(buf, 11, "%04d-%02d-%02d", y, m, d);
    return buf;
}

static PGconn *connect_db(const char *pg_url)
{
    char err[512];
    PGconn *conn;

    if (pg_url == NULL || *pg_url == '\0') {
        fprintf(stderr, "motcua calendar: no database (set MOTCUA_PG_URL)\n");
        return NULL;
    }
    conn = mc_pg_connect(pg_url, "motcua-calendar", err, sizeof err);
    if (conn == NULL)
        fprintf(stderr, "motcua calendar: %s\n", err);
    return conn;
}

/* The rule holiday on day, if any (its name in *out). */
static int rule_holiday_on(int32_t day, struct mc_holiday *out)
{
    struct mc_holiday list[MC_HOLIDAYS_MAX];
    int y, m, d, n;

    mc_civil_from_days(day, &y, &m, &d);
    n = mc_holidays_for_year(y, NULL, list, NULL, 0);
    for (int i = 0; i < n; i++) {
        if (list[i].day == day) {
            *out = list[i];
            return 1;
        }
    }
    return 0;
}

/* An agency code must name a unit of the catalog (its code or its national
 * agency id), so that a typo does not create a calendar nobody reads. */
static int check_agency(PGconn *conn, const char *agency)
{
    static const char sql[] = "SELECT to_regclass('catalog.unit') IS NULL"
                              " OR EXISTS (SELECT 1 FROM catalog.unit"
                              "            WHERE code = $1 OR agency_id = $1)";
    const char *params[1] = {agency};
    char err[512];
    PGresult *res;
    int known;

    if (agency == NULL)
        return 0;
    if (*agency == '\0') {
        fprintf(stderr, "motcua calendar: --agency is empty (leave it out for the city)\n");
        return 2;
    }
    if ((res = mc_pg_query(conn, sql, 1, params, err, sizeof err)) == NULL) {
        fprintf(stderr, "motcua calendar: %s\n", err);
        return 1;
    }
    known = strcmp(mc_pg_value(res, 0, 0), "t") == 0;
    PQclear(res);
    if (!known) {
        fprintf(stderr,
                "motcua calendar: unknown agency \"%s\" (no catalog.unit has that code or "
                "agency_id)\n",
                agency);
        return 2;
    }
    return 0;
}

/* ---- seed ---------------------------------------------------------------- */

static int cmd_seed(PGconn *conn, const struct cal_args *a)
{
    static const char sql[] =
        "INSERT INTO catalog.calendar_day (agency_code, day, kind, name, source)"
        " VALUES (NULL, $1::date, 'off', $2, 'rule') ON CONFLICT DO NOTHING";
    int from, to, inserted = 0, kept = 0;
    char err[512];

    if (parse_year("--from", a->from, MC_HOLIDAYS_MIN_YEAR, MC_HOLIDAYS_MAX_YEAR, &from) != 0 ||
        parse_year("--to", a->to, MC_HOLIDAYS_MIN_YEAR, MC_HOLIDAYS_MAX_YEAR, &to) != 0)
        return 2;
    if (from > to) {
        fprintf(stderr, "motcua calendar seed: --from %d is after --to %d\n", from, to);
        return 2;
    }
    if (mc_pg_exec(conn, "BEGIN", 0, NULL, err, sizeof err) != 0)
        goto fail;
    for (int y = from; y <= to; y++) {
        struct mc_holiday list[MC_HOLIDAYS_MAX];
        int n = mc_holidays_for_year(y, NULL, list, err, sizeof err);
        if (n < 0)
            goto fail;
        for (int i = 0; i < n; i++) {
            char day[11];
            const char *params[2] = {format_day(list[i].day, day), list[i].name};
            PGresult *res = mc_pg_query(conn, sql, 2, params, err, sizeof err);
            if (res == NULL)
                goto fail;
            if (strcmp(PQcmdTuples(res), "1") == 0)
                inserted++;
            else
                kept++;
            PQclear(res);
        }
    }
    if (mc_pg_exec(conn, "COMMIT", 0, NULL, err, sizeof err) != 0)
        goto fail;
    printf("calendar seed %d..%d: %d days off inserted, %d days already had a row (kept)\n", from,
           to, inserted, kept);
    return 0;
fail:
    fprintf(stderr, "motcua calendar seed: %s\n", err);
    return 1;
}

/* ---- list ---------------------------------------------------------------- */

struct listed_day {
    int32_t day;
    char kind[8];
    char scope[64];
    char name[NAME_MAX_LEN + MC_HOLIDAY_NAME_LEN];
    char source[96];
};

static int cmp_listed(const void *x, const void *y)
{
    const struct listed_day *a = x, *b = y;
    return (a->day > b->day) - (a->day < b->day);
}

/* The row a day has already (its kind first), and the row removed. */
#define EXISTING_REST(X)                                                                           \
    X(EX_NAME, "name", "name")                                                                     \
    X(EX_SOURCE, "source_text", "coalesce(source, '-')")
enum { EX_KIND, EXISTING_REST(MC_PG_COL_ENUM) EX_COUNT };
#define REMOVED_REST(X) X(RM_NAME, "name", "name")
enum { RM_KIND, REMOVED_REST(MC_PG_COL_ENUM) RM_COUNT };

/* A year's rows (the day as days since 1970-01-01 first), city first. */
#define LISTED_REST(X)                                                                             \
    X(LD_KIND, "kind", "kind")                                                                     \
    X(LD_NAME, "name", "name")                                                                     \
    X(LD_SOURCE, "source_text", "coalesce(source, '-')")                                           \
    X(LD_SCOPE, "scope", "coalesce(agency_code, 'city')")
enum { LD_DAY, LISTED_REST(MC_PG_COL_ENUM) LD_COUNT };

static int cmd_list(PGconn *conn, const struct cal_args *a)
{
    static const char sql[] = "SELECT day - DATE '1970-01-01' AS day_number" LISTED_REST(
        MC_PG_COL_SQL) " FROM catalog.calendar_day"
                       " WHERE (agency_code IS NULL OR agency_code = $2::text)"
                       "   AND day >= make_date($1::int, 1, 1) AND day < make_date($1::int + 1, 1, "
                       "1)"
                       " ORDER BY day, agency_code NULLS FIRST";
    struct mc_holiday rules[MC_HOLIDAYS_MAX];
    struct listed_day *days = NULL;
    struct mc_calendar *cal = NULL;
    PGresult *res = NULL;
    char err[512], ybuf[8];
    const char *params[2];
    int year, nrules = 0, nrows, ndays = 0, rc, nworking = 0, noff = 0, nwork = 0;

    if (parse_year("--year", a->year, OVERRIDE_MIN_YEAR, OVERRIDE_MAX_YEAR, &year) != 0)
        return 2;
    if ((rc = check_agency(conn, a->agency)) != 0)
        return rc;
    snprintf(ybuf, sizeof ybuf, "%d", year);
    params[0] = ybuf;
    params[1] = a->agency;
    if ((res = mc_pg_query(conn, sql, 2, params, err, sizeof err)) == NULL)
        goto fail;
    if (year >= MC_HOLIDAYS_MIN_YEAR && year <= MC_HOLIDAYS_MAX_YEAR)
        nrules = mc_holidays_for_year(year, NULL, rules, NULL, 0);
    nrows = PQntuples(res);
    days = mc_xcalloc((size_t)(nrows + nrules) + 1, sizeof *days);

    /* Rows, city first: an agency's row on the same day replaces the city's. */
    for (int i = 0; i < nrows; i++) {
        int32_t day = (int32_t)strtol(PQgetvalue(res, i, LD_DAY), NULL, 10);
        struct listed_day *l = &days[ndays];
        char replaced[32] = "";
        if (ndays > 0 && days[ndays - 1].day == day) {
            l = &days[ndays - 1];
            snprintf(replaced, sizeof replaced, "; replaces the city's %s", l->kind);
        } else {
            ndays++;
        }
        l->day = day;
        snprintf(l->kind, sizeof l->kind, "%s", PQgetvalue(res, i, LD_KIND));
        snprintf(l->name, sizeof l->name, "%s", PQgetvalue(res, i, LD_NAME));
        snprintf(l->source, sizeof l->source, "%s%s", PQgetvalue(res, i, LD_SOURCE), replaced);
        snprintf(l->scope, sizeof l->scope, "%s", PQgetvalue(res, i, LD_SCOPE));
    }
    /* Rule holidays no row speaks for. */
    for (int i = 0; i < nrules; i++) {
        int covered = 0;
        for (int j = 0; j < ndays && !covered; j++)
            covered = days[j].day == rules[i].day;
        if (covered)
            continue;
        days[ndays].day = rules[i].day;
        snprintf(days[ndays].kind, sizeof days[ndays].kind, "off");
        snprintf(days[ndays].scope, sizeof days[ndays].scope, "all");
        snprintf(days[ndays].name, sizeof days[ndays].name, "%s", rules[i].name);
        snprintf(days[ndays].source, sizeof days[ndays].source, "rule, not stored");
        ndays++;
    }
    qsort(days, (size_t)ndays, sizeof *days, cmp_listed);

    /* The totals come from the calendar the services build, not from this list. */
    cal = mc_calendar_new(NULL);
    if (mc_calendar_load(cal, conn, a->agency, err, sizeof err) != 0)
        goto fail;
    printf("%-10s  %-3s  %-4s  %-8s  %s  [%s]\n", "day", "", "kind", "scope", "name", "source");
    for (int i = 0; i < ndays; i++) {
        char dbuf[11];
        printf("%s  %s  %-4s  %-8s  %s  [%s]\n", format_day(days[i].day, dbuf),
               weekday_abbr[mc_weekday(days[i].day)], days[i].kind, days[i].scope, days[i].name,
               days[i].source);
    }
    for (int32_t d = mc_days_from_civil(year, 1, 1); d < mc_days_from_civil(year + 1, 1, 1); d++) {
        int weekday = mc_weekday(d), working = mc_calendar_is_working_day(cal, d);
        int usual = (mc_calendar_hours_on(cal, d)->weekdays >> weekday) & 1;
        nworking += working;
        noff += usual && !working;
        nwork += !usual && working;
    }
    printf("%d for %s: %d working days; %d usual working days off, %d extra working days%s\n", year,
           a->agency ? a->agency : "the city", nworking, noff, nwork,
           nrules == 0 && (year < MC_HOLIDAYS_MIN_YEAR || year > MC_HOLIDAYS_MAX_YEAR)
               ? " (no rule holidays outside 2000..2100)"
               : "");
    free(days);
    PQclear(res);
    mc_calendar_free(cal);
    return 0;
fail:
    fprintf(stderr, "motcua calendar list: %s\n", err);
    free(days);
    PQclear(res);
    mc_calendar_free(cal);
    return 1;
}

/* ---- add, remove --------------------------------------------------------- */

/* Says on stderr what the override changes, when it changes nothing. */
static void explain_add(int32_t day, const char *kind)
{
    struct mc_holiday rule;
    int weekend = mc_weekday(day) == 0 || mc_weekday(day) == 6;
    int holiday = rule_holiday_on(day, &rule);

    if (strcmp(kind, "off") == 0 && holiday)
        fprintf(stderr, "note: already a day off by rule (%s)\n", rule.name);
    else if (strcmp(kind, "off") == 0 && weekend)
        fprintf(stderr, "note: a %s is already a day off for offices open Monday to Friday\n",
                weekday_abbr[mc_weekday(day)]);
    else if (strcmp(kind, "work") == 0 && holiday)
        fprintf(stderr, "note: this cancels the rule holiday \"%s\"\n", rule.name);
    else if (strcmp(kind, "work") == 0 && !weekend)
        fprintf(stderr,
                "note: a %s is already a working day unless a rule or row says "
                "otherwise\n",
                weekday_abbr[mc_weekday(day)]);
}

static int cmd_add(PGconn *conn, const struct cal_args *a)
{
    static const char insert_sql[] =
        "INSERT INTO catalog.calendar_day (agency_code, day, kind, name, source)"
        " VALUES ($1, $2::date, $3, $4, 'operator')";
    static const char replace_sql[] =
        "INSERT INTO catalog.calendar_day (agency_code, day, kind, name, source)"
        " VALUES ($1, $2::date, $3, $4, 'operator')"
        " ON CONFLICT ((coalesce(agency_code, '')), day)"
        " DO UPDATE SET kind = EXCLUDED.kind, name = EXCLUDED.name, source = EXCLUDED.source";
    static const char existing_sql[] = "SELECT kind" EXISTING_REST(
        MC_PG_COL_SQL) " FROM catalog.calendar_day"
                       " WHERE coalesce(agency_code, '') = coalesce($1, '') AND day = $2::date";
    const char *params[4];
    char err[512], dbuf[11];
    int32_t day;
    int rc;

    if (parse_day(a->day, &day) != 0)
        return 2;
    if (a->kind == NULL || (strcmp(a->kind, "off") != 0 && strcmp(a->kind, "work") != 0)) {
        fprintf(stderr, "motcua calendar add: --kind must be \"off\" or \"work\"\n");
        return 2;
    }
    if (a->name == NULL || a->name[strspn(a->name, " \t")] == '\0' ||
        strlen(a->name) > NAME_MAX_LEN) {
        fprintf(stderr, "motcua calendar add: --name must say what the day is (1..%d bytes)\n",
                NAME_MAX_LEN);
        return 2;
    }
    if ((rc = check_agency(conn, a->agency)) != 0)
        return rc;
    params[0] = a->agency;
    params[1] = format_day(day, dbuf);
    params[2] = a->kind;
    params[3] = a->name;
    if (mc_pg_exec(conn, a->replace ? replace_sql : insert_sql, 4, params, err, sizeof err) != 0) {
        PGresult *res;
        if (strcmp(mc_pg_last_sqlstate(), "23505") != 0) {
            fprintf(stderr, "motcua calendar add: %s\n", err);
            return 1;
        }
        res = mc_pg_query(conn, existing_sql, 2, params, err, sizeof err);
        fprintf(stderr,
                "motcua calendar add: %s already has a row for %s: %s \"%s\" [%s]; use --replace "
                "to change it, or remove it first\n",
                dbuf, a->agency ? a->agency : "the city", res ? mc_pg_value(res, 0, EX_KIND) : "?",
                res ? mc_pg_value(res, 0, EX_NAME) : "?",
                res ? mc_pg_value(res, 0, EX_SOURCE) : "?");
        PQclear(res);
        return 2;
    }
    printf("%s %s %s %s \"%s\"\n", a->replace ? "set" : "added", dbuf,
           a->agency ? a->agency : "city", a->kind, a->name);
    explain_add(day, a->kind);
    return 0;
}

static int cmd_remove(PGconn *conn, const struct cal_args *a)
{
    static const char sql[] = "DELETE FROM catalog.calendar_day"
                              " WHERE coalesce(agency_code, '') = coalesce($1, '')"
                              "   AND day = $2::date RETURNING kind" REMOVED_REST(MC_PG_COL_SQL);
    const char *params[2];
    struct mc_holiday rule;
    char err[512], dbuf[11];
    PGresult *res;
    int32_t day;
    int rc;

    if (parse_day(a->day, &day) != 0)
        return 2;
    if ((rc = check_agency(conn, a->agency)) != 0)
        return rc;
    params[0] = a->agency;
    params[1] = format_day(day, dbuf);
    if ((res = mc_pg_query(conn, sql, 2, params, err, sizeof err)) == NULL) {
        fprintf(stderr, "motcua calendar remove: %s\n", err);
        return 1;
    }
    if (PQntuples(res) == 0) {
        fprintf(stderr, "motcua calendar remove: no row for %s (%s)\n", dbuf,
                a->agency ? a->agency : "city-wide");
        PQclear(res);
        return 1;
    }
    printf("removed %s %s %s \"%s\"\n", dbuf, a->agency ? a->agency : "city",
           mc_pg_value(res, 0, RM_KIND), mc_pg_value(res, 0, RM_NAME));
    PQclear(res);
    if (rule_holiday_on(day, &rule))
        fprintf(stderr,
                "note: %s stays a day off by rule (%s); add --kind work to make it a working "
                "day\n",
                dbuf, rule.name);
    return 0;
}

int mc_cli_calendar(int argc, char **argv, const char *pg_url)
{
    static const struct {
        const char *name;
        const char *options; /* letters of the options it takes */
        int (*run)(PGconn *conn, const struct cal_args *a);
    } commands[] = {
        {"seed", "ft", cmd_seed},
        {"list", "ya", cmd_list},
        {"add", "dknar", cmd_add},
        {"remove", "da", cmd_remove},
    };
    struct cal_args args;
    PGconn *conn;
    int rc;

    if (argc < 2)
        return usage();
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage();
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(argv[1], commands[i].name) != 0)
            continue;
        if (parse_args(argc - 1, argv + 1, &args) != 0)
            return usage();
        if (strspn(args.given, commands[i].options) != strlen(args.given)) {
            fprintf(stderr, "motcua calendar %s: option --%s does not apply\n", argv[1],
                    option_name(args.given[strspn(args.given, commands[i].options)]));
            return usage();
        }
        if ((conn = connect_db(pg_url)) == NULL)
            return 1;
        rc = commands[i].run(conn, &args);
        PQfinish(conn);
        return rc;
    }
    fprintf(stderr, "motcua calendar: unknown command \"%s\"\n", argv[1]);
    return usage();
}
