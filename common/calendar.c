/* Working-time arithmetic: office hours and seasons, weekly rule, rule holidays, overrides. */
#include "motcua/calendar.h"

#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "motcua/error.h"
#include "motcua/holidays.h"
#include "motcua/pg.h"

#define DAY_SECONDS 86400
/* Overrides are kept for local days 1970-01-01 .. 2200-12-31 (day numbers
 * 0 .. CAL_NDAYS-1), two bits a day: O(1) lookups in 21 KB per calendar.
 * Outside that range only the weekly rule applies. */
#define CAL_NDAYS 84371
#define CAL_MAX_AMOUNT 10000 /* largest duration amount accepted (27 years in days) */

#define LEAP_YEAR_DAYS 366

/* Which office hours apply on which day of the year. Days are indexed as in a
 * leap year (29 February = 59) so that a season's bounds mean the same every
 * year. */
struct schedule {
    struct mc_office_hours hours; /* all year, where no season applies */
    int nseasons;
    struct mc_office_hours season_hours[MC_CAL_MAX_SEASONS];
    uint8_t season_of[LEAP_YEAR_DAYS]; /* 0: hours; i + 1: season_hours[i] */
};

struct mc_calendar {
    struct schedule sched;
    uint8_t overrides[(CAL_NDAYS + 3) / 4];
    uint8_t holidays[(CAL_NDAYS + 7) / 8]; /* days off by rule; overrides win */
};

void mc_office_hours_default(struct mc_office_hours *hours)
{
    memset(hours, 0, sizeof *hours);
    hours->nsessions = 2;
    hours->sessions[0] = (struct mc_session){7 * 60, 11 * 60 + 30};
    hours->sessions[1] = (struct mc_session){13 * 60 + 30, 17 * 60};
    hours->weekdays = 0x3e; /* Monday .. Friday */
}

static const struct {
    const char *text;
    enum mc_duration_unit unit;
} duration_units[] = {
    {"wd", MC_DUR_WORKING_DAYS},
    {"wh", MC_DUR_WORKING_HOURS},
    {"cd", MC_DUR_CALENDAR_DAYS},
    {"sd", MC_DUR_SAME_DAY},
};
#define NUNITS (sizeof duration_units / sizeof duration_units[0])

/* Amounts are plain decimal digits (no sign, no spaces), 1..CAL_MAX_AMOUNT;
 * units are lower case. */
int mc_duration_parse(const char *s, struct mc_duration *out, char *err, size_t errlen)
{
    const char *p = s;
    long amount = 0;

    if (s == NULL || *s == '\0')
        return mc_err(err, errlen, MC_EINVAL, "empty duration (expected e.g. \"5wd\")");
    if (*p < '0' || *p > '9')
        return mc_err(err, errlen, MC_EINVAL,
                      "duration \"%s\" must start with a positive whole number", s);
    while (*p >= '0' && *p <= '9') {
        amount = amount * 10 + (*p - '0');
        if (amount > CAL_MAX_AMOUNT)
            return mc_err(err, errlen, MC_EINVAL, "duration \"%s\": amount larger than %d", s,
                          CAL_MAX_AMOUNT);
        p++;
    }
    if (amount == 0)
        return mc_err(err, errlen, MC_EINVAL, "duration \"%s\": amount must be positive", s);
    if (*p == '\0')
        return mc_err(err, errlen, MC_EINVAL,
                      "duration \"%s\" has no unit (expected wd, wh, cd or sd)", s);
    for (size_t i = 0; i < NUNITS; i++) {
        if (strcmp(p, duration_units[i].text) != 0)
            continue;
        if (duration_units[i].unit == MC_DUR_SAME_DAY && amount != 1)
            return mc_err(err, errlen, MC_EINVAL,
                          "duration \"%s\": a same-day duration must be \"1sd\"", s);
        out->amount = (int)amount;
        out->unit = duration_units[i].unit;
        return 0;
    }
    return mc_err(err, errlen, MC_EINVAL,
                  "duration \"%s\": unknown unit \"%s\" (expected wd, wh, cd or sd)", s, p);
}

char *mc_duration_format(const struct mc_duration *d, char *buf)
{
    const char *unit = "?";
    for (size_t i = 0; i < NUNITS; i++)
        if (duration_units[i].unit == d->unit)
            unit = duration_units[i].text;
    snprintf(buf, 16, "%d%s", d->amount, unit);
    return buf;
}

/* 0 if hours can drive the arithmetic, else MC_EINVAL with the reason. */
static int check_hours(const struct mc_office_hours *hours, char *err, size_t errlen)
{
    if (hours->nsessions < 1 || hours->nsessions > MC_CAL_MAX_SESSIONS)
        return mc_err(err, errlen, MC_EINVAL, "office hours: %d sessions (expected 1..%d)",
                      hours->nsessions, MC_CAL_MAX_SESSIONS);
    if ((hours->weekdays & 0x7f) == 0) /* else no working day would ever come */
        return mc_err(err, errlen, MC_EINVAL,
                      "office hours: weekday mask %u (expected 1..127, bit 0 = Sunday)",
                      hours->weekdays);
    for (int i = 0; i < hours->nsessions; i++) {
        const struct mc_session *s = &hours->sessions[i];
        if (s->start_min < 0 || s->start_min >= s->end_min || s->end_min > 24 * 60)
            return mc_err(err, errlen, MC_EINVAL,
                          "office hours: session %d must start before it ends, within the day",
                          i + 1);
        if (i > 0 && hours->sessions[i - 1].end_min > s->start_min)
            return mc_err(err, errlen, MC_EINVAL,
                          "office hours: session %d overlaps or precedes session %d", i + 1, i);
    }
    return 0;
}

/* Office hours passed in by code come from checked configuration; a bad one
 * here is a bug. */
static void assert_hours_valid(const struct mc_office_hours *hours)
{
    int rc = check_hours(hours, NULL, 0);
    assert(rc == 0);
    (void)rc;
}

struct mc_calendar *mc_calendar_new(const struct mc_office_hours *hours)
{
    struct mc_calendar *cal = mc_xcalloc(1, sizeof *cal);
    if (hours != NULL)
        cal->sched.hours = *hours;
    else
        mc_office_hours_default(&cal->sched.hours);
    assert_hours_valid(&cal->sched.hours);
    return cal;
}

/* Reads "HH:MM" (00:00..24:00) at *p; advances p. -1 if malformed. */
static int parse_hhmm(const char **p)
{
    const char *s = *p;
    int h, m;

    if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' || s[2] != ':' || s[3] < '0' ||
        s[3] > '5' || s[4] < '0' || s[4] > '9')
        return -1;
    h = (s[0] - '0') * 10 + (s[1] - '0');
    m = (s[3] - '0') * 10 + (s[4] - '0');
    if (h > 24 || (h == 24 && m != 0))
        return -1;
    *p = s + 5;
    return h * 60 + m;
}

int mc_office_hours_parse(const char *sessions, unsigned weekdays, struct mc_office_hours *out,
                          char *err, size_t errlen)
{
    struct mc_office_hours hours;
    const char *p = sessions;
    int rc;

    memset(&hours, 0, sizeof hours);
    hours.weekdays = weekdays;
    if (weekdays > 0x7f)
        return mc_err(err, errlen, MC_EINVAL,
                      "office hours: weekday mask %u (expected 1..127, bit 0 = Sunday)", weekdays);
    if (sessions == NULL || *sessions == '\0')
        return mc_err(err, errlen, MC_EINVAL,
                      "office hours: no sessions (expected e.g. \"07:00-11:30,13:30-17:00\")");
    for (;;) {
        int start, end;
        if (hours.nsessions == MC_CAL_MAX_SESSIONS)
            return mc_err(err, errlen, MC_EINVAL, "office hours \"%s\": more than %d sessions",
                          sessions, MC_CAL_MAX_SESSIONS);
        if ((start = parse_hhmm(&p)) < 0 || *p++ != '-' || (end = parse_hhmm(&p)) < 0)
            return mc_err(err, errlen, MC_EINVAL,
                          "office hours \"%s\": expected HH:MM-HH:MM[,HH:MM-HH:MM...]", sessions);
        hours.sessions[hours.nsessions++] = (struct mc_session){start, end};
        if (*p == '\0')
            break;
        if (*p++ != ',')
            return mc_err(err, errlen, MC_EINVAL,
                          "office hours \"%s\": sessions are separated by commas", sessions);
    }
    if ((rc = check_hours(&hours, err, errlen)) != 0)
        return rc;
    *out = hours;
    return 0;
}

char *mc_office_hours_format(const struct mc_office_hours *hours, char *buf, size_t len)
{
    size_t used = 0;

    buf[0] = '\0';
    for (int i = 0; i < hours->nsessions && used < len; i++) {
        const struct mc_session *s = &hours->sessions[i];
        int n = snprintf(buf + used, len - used, "%s%02d:%02d-%02d:%02d", i ? "," : "",
                         s->start_min / 60, s->start_min % 60, s->end_min / 60, s->end_min % 60);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    return buf;
}

/* Index of month-day md (MMDD) in a leap year, or -1 if there is no such day. */
static int leap_year_index(int md)
{
    static const int before[12] = {0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335};
    static const int length[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int m = md / 100, d = md % 100;

    if (m < 1 || m > 12 || d < 1 || d > length[m - 1])
        return -1;
    return before[m - 1] + d - 1;
}

static int schedule_add_season(struct schedule *sched, int from_md, int to_md,
                               const struct mc_office_hours *hours, char *err, size_t errlen)
{
    int from = leap_year_index(from_md), to = leap_year_index(to_md), rc;

    if (from < 0 || to < 0)
        return mc_err(err, errlen, MC_EINVAL, "season %02d-%02d..%02d-%02d: no such day",
                      from_md / 100, from_md % 100, to_md / 100, to_md % 100);
    if ((rc = check_hours(hours, err, errlen)) != 0)
        return rc;
    if (sched->nseasons == MC_CAL_MAX_SEASONS)
        return mc_err(err, errlen, MC_EINVAL, "more than %d seasons", MC_CAL_MAX_SEASONS);
    for (int i = from;; i = (i + 1) % LEAP_YEAR_DAYS) {
        if (sched->season_of[i] != 0)
            return mc_err(err, errlen, MC_EINVAL,
                          "season %02d-%02d..%02d-%02d overlaps another season", from_md / 100,
                          from_md % 100, to_md / 100, to_md % 100);
        if (i == to)
            break;
    }
    sched->season_hours[sched->nseasons++] = *hours;
    for (int i = from;; i = (i + 1) % LEAP_YEAR_DAYS) {
        sched->season_of[i] = (uint8_t)sched->nseasons;
        if (i == to)
            break;
    }
    return 0;
}

int mc_calendar_add_season(struct mc_calendar *cal, int from_md, int to_md,
                           const struct mc_office_hours *hours, char *err, size_t errlen)
{
    return schedule_add_season(&cal->sched, from_md, to_md, hours, err, errlen);
}

const struct mc_office_hours *mc_calendar_hours_on(const struct mc_calendar *cal, int32_t day)
{
    int y, m, d, season;

    if (cal->sched.nseasons == 0)
        return &cal->sched.hours;
    mc_civil_from_days(day, &y, &m, &d);
    season = cal->sched.season_of[leap_year_index(m * 100 + d)];
    return season == 0 ? &cal->sched.hours : &cal->sched.season_hours[season - 1];
}

/* The rule holidays of MC_HOLIDAYS_MIN_YEAR..MC_HOLIDAYS_MAX_YEAR, one bit a
 * day from the first year's 1 January, computed once per process (the
 * astronomy costs some 50 ms). */
#define RULE_DAYS (366 * (MC_HOLIDAYS_MAX_YEAR - MC_HOLIDAYS_MIN_YEAR + 1))
static uint8_t rule_days[(RULE_DAYS + 7) / 8];
static int32_t rule_days_first;
static pthread_once_t rule_days_once = PTHREAD_ONCE_INIT;

static void rule_days_compute(void)
{
    struct mc_holiday list[MC_HOLIDAYS_MAX];

    rule_days_first = mc_days_from_civil(MC_HOLIDAYS_MIN_YEAR, 1, 1);
    for (int y = MC_HOLIDAYS_MIN_YEAR; y <= MC_HOLIDAYS_MAX_YEAR; y++) {
        int n = mc_holidays_for_year(y, NULL, list, NULL, 0);
        assert(n >= 0);
        for (int i = 0; i < n; i++) {
            int32_t k = list[i].day - rule_days_first;
            rule_days[k / 8] |= (uint8_t)(1u << (k % 8));
        }
    }
}

int mc_calendar_apply_holidays(struct mc_calendar *cal, int from_year, int to_year, char *err,
                               size_t errlen)
{
    int32_t first, last;

    if (from_year < MC_HOLIDAYS_MIN_YEAR || to_year > MC_HOLIDAYS_MAX_YEAR || from_year > to_year)
        return mc_err(err, errlen, MC_EINVAL, "holiday years %d..%d: the rules cover %d..%d",
                      from_year, to_year, MC_HOLIDAYS_MIN_YEAR, MC_HOLIDAYS_MAX_YEAR);
    pthread_once(&rule_days_once, rule_days_compute);
    first = mc_days_from_civil(from_year, 1, 1);
    last = mc_days_from_civil(to_year + 1, 1, 1);
    for (int32_t day = first; day < last; day++) {
        int32_t k = day - rule_days_first;
        if ((rule_days[k / 8] >> (k % 8)) & 1)
            cal->holidays[day / 8] |= (uint8_t)(1u << (day % 8));
    }
    return 0;
}

void mc_calendar_free(struct mc_calendar *cal)
{
    free(cal);
}

static int day_in_range(int32_t day)
{
    return day >= 0 && day < CAL_NDAYS;
}

static enum mc_day_override get_override(const struct mc_calendar *cal, int32_t day)
{
    if (!day_in_range(day))
        return MC_DAY_RULE;
    return (enum mc_day_override)((cal->overrides[day / 4] >> (day % 4 * 2)) & 3);
}

void mc_calendar_set_day(struct mc_calendar *cal, int32_t day, enum mc_day_override kind)
{
    assert(day_in_range(day));
    assert(kind == MC_DAY_RULE || kind == MC_DAY_OFF || kind == MC_DAY_WORK);
    cal->overrides[day / 4] &= (uint8_t) ~(3u << (day % 4 * 2));
    cal->overrides[day / 4] |= (uint8_t)((unsigned)kind << (day % 4 * 2));
}

int mc_calendar_is_rule_holiday(const struct mc_calendar *cal, int32_t day)
{
    return day_in_range(day) && ((cal->holidays[day / 8] >> (day % 8)) & 1);
}

int mc_calendar_is_working_day(const struct mc_calendar *cal, int32_t day)
{
    switch (get_override(cal, day)) {
    case MC_DAY_WORK:
        return 1;
    case MC_DAY_OFF:
        return 0;
    default:
        if (mc_calendar_is_rule_holiday(cal, day))
            return 0;
        return (mc_calendar_hours_on(cal, day)->weekdays >> mc_weekday(day)) & 1;
    }
}

/* ---- statements ---------------------------------------------------------- */

/* $1 agency: the days off and working days that apply to it, city-wide
 * rows first; a day as the number of days since 1970-01-01 (the first
 * column), so that the server's DateStyle cannot change its text. */
#define DAYS_REST(X) X(CD_KIND, "kind", "kind")
enum { CD_DAY, DAYS_REST(MC_PG_COL_ENUM) CD_COUNT };
static const char CALENDAR_DAYS[] = "SELECT day - DATE '1970-01-01' AS day_number" DAYS_REST(
    MC_PG_COL_SQL) " FROM catalog.calendar_day WHERE agency_code IS NULL OR agency_code = $1::text"
                   " ORDER BY agency_code IS NOT NULL, day";

static const char OFFICE_HOURS_EXIST[] = "SELECT to_regclass('catalog.office_hours') IS NOT NULL";

/* $1 agency: the office hours that apply to it, its own first (the first
 * column), each season's from its valid_from. */
#define HOURS_REST(X)                                                                              \
    X(OH_FROM, "valid_from", "valid_from")                                                         \
    X(OH_TO, "valid_to", "valid_to")                                                               \
    X(OH_WEEKDAYS, "weekdays", "weekdays")                                                         \
    X(OH_SESSIONS, "sessions", "sessions")                                                         \
    X(OH_WHO, "who", "coalesce(agency_code, 'city')")
enum { OH_OWN, HOURS_REST(MC_PG_COL_ENUM) OH_COUNT };
static const char OFFICE_HOURS[] = "SELECT agency_code IS NOT NULL AS own" HOURS_REST(
    MC_PG_COL_SQL) " FROM catalog.office_hours WHERE agency_code IS NULL OR agency_code = $1::text"
                   " ORDER BY own DESC, valid_from NULLS FIRST";

/* Parses one row of CALENDAR_DAYS; validated before anything is applied. */
static int parse_row(PGresult *res, int row, int32_t *day, enum mc_day_override *kind, char *err,
                     size_t errlen)
{
    const char *day_text = PQgetvalue(res, row, CD_DAY);
    const char *kind_text = PQgetvalue(res, row, CD_KIND);
    char *end = NULL;
    long v;

    if (PQgetisnull(res, row, CD_DAY) || PQgetisnull(res, row, CD_KIND))
        return mc_err(err, errlen, MC_EINVAL, "catalog.calendar_day: NULL day or kind");
    v = strtol(day_text, &end, 10);
    if (end == day_text || *end != '\0' || v < 0 || v >= CAL_NDAYS)
        return mc_err(err, errlen, MC_EINVAL,
                      "catalog.calendar_day: day %s days after 1970-01-01 is outside "
                      "1970..2200",
                      day_text);
    if (strcmp(kind_text, "off") == 0)
        *kind = MC_DAY_OFF;
    else if (strcmp(kind_text, "work") == 0)
        *kind = MC_DAY_WORK;
    else
        return mc_err(err, errlen, MC_EINVAL, "catalog.calendar_day: unknown kind \"%s\"",
                      kind_text);
    *day = (int32_t)v;
    return 0;
}

/* First line of a libpq error, for messages that stay on one line. */
/* mc_pg_query for the calendar's loaders: the error names what was read. */
static PGresult *load_query(PGconn *conn, const char *sql, int nparams, const char *const *params,
                            const char *what, char *err, size_t errlen)
{
    char why[512];
    PGresult *res = mc_pg_query(conn, sql, nparams, params, why, sizeof why);
    if (res == NULL)
        mc_err(err, errlen, MC_EDB, "load %s: %s", what, why);
    return res;
}
/* "MM-DD" -> MMDD, or -1. */
static int parse_month_day(const char *s)
{
    if (strlen(s) != 5 || s[2] != '-' || s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' ||
        s[3] < '0' || s[3] > '9' || s[4] < '0' || s[4] > '9')
        return -1;
    return ((s[0] - '0') * 10 + (s[1] - '0')) * 100 + (s[3] - '0') * 10 + (s[4] - '0');
}

/* Reads the office hours that apply to agency_code into *sched (a copy of
 * the calendar's, applied by the caller). *found = 0 when no row applies, or
 * the table does not exist yet (a database before migration 007). */
static int load_office_hours(PGconn *conn, const char *agency_code, struct schedule *sched,
                             int *found, char *err, size_t errlen)
{
    const char *params[1] = {agency_code};
    PGresult *res = NULL;
    int rc = 0, nrows, own;

    *found = 0;
    if ((res = load_query(conn, OFFICE_HOURS_EXIST, 0, NULL, "catalog.office_hours", err,
                          errlen)) == NULL) {
        rc = MC_EDB;
        goto out;
    }
    if (strcmp(PQgetvalue(res, 0, 0), "t") != 0)
        goto out;
    PQclear(res);
    if ((res = load_query(conn, OFFICE_HOURS, 1, params, "catalog.office_hours", err, errlen)) ==
        NULL) {
        rc = MC_EDB;
        goto out;
    }
    nrows = PQntuples(res);
    /* Rows come agency first: an agency with rows of its own uses only those. */
    own = nrows > 0 && strcmp(PQgetvalue(res, 0, OH_OWN), "t") == 0;
    sched->nseasons = 0;
    memset(sched->season_of, 0, sizeof sched->season_of);
    for (int i = 0; i < nrows; i++) {
        struct mc_office_hours hours;
        const char *who = PQgetvalue(res, i, OH_WHO);
        char why[256];
        long weekdays;
        int from_md, to_md;

        if ((strcmp(PQgetvalue(res, i, OH_OWN), "t") == 0) != own)
            continue;
        /* weekdays outside 1..127 (the table checks it too) fail the parse */
        weekdays = strtol(PQgetvalue(res, i, OH_WEEKDAYS), NULL, 10);
        if (PQgetisnull(res, i, OH_WEEKDAYS) || PQgetisnull(res, i, OH_SESSIONS) ||
            mc_office_hours_parse(PQgetvalue(res, i, OH_SESSIONS),
                                  weekdays < 1 || weekdays > 127 ? 0u : (unsigned)weekdays, &hours,
                                  why, sizeof why) != 0) {
            rc = mc_err(err, errlen, MC_EINVAL, "catalog.office_hours (%s): %s", who,
                        PQgetisnull(res, i, OH_SESSIONS) ? "NULL sessions" : why);
            goto out;
        }
        *found = 1;
        if (PQgetisnull(res, i, OH_FROM) && PQgetisnull(res, i, OH_TO)) {
            sched->hours = hours;
            continue;
        }
        from_md = PQgetisnull(res, i, OH_FROM) ? -1 : parse_month_day(PQgetvalue(res, i, OH_FROM));
        to_md = PQgetisnull(res, i, OH_TO) ? -1 : parse_month_day(PQgetvalue(res, i, OH_TO));
        if (schedule_add_season(sched, from_md, to_md, &hours, why, sizeof why) != 0) {
            rc = mc_err(err, errlen, MC_EINVAL, "catalog.office_hours (%s, %s..%s): %s", who,
                        PQgetvalue(res, i, OH_FROM), PQgetvalue(res, i, OH_TO),
                        from_md < 0 || to_md < 0 ? "valid_from and valid_to must both be MM-DD"
                                                 : why);
            goto out;
        }
    }
out:
    PQclear(res);
    return rc;
}

/* The day is read as a number of days since 1970-01-01 so that the server's
 * DateStyle cannot change its text. City-wide rows come first so an agency's
 * own row, applied later, wins. Nothing is applied unless every row is valid.
 * Overrides already in cal stay unless a row replaces them. */
int mc_calendar_load(struct mc_calendar *cal, PGconn *conn, const char *agency_code, char *err,
                     size_t errlen)
{
    const char *params[1] = {agency_code};
    PGresult *res = NULL;
    struct schedule sched = cal->sched;
    int32_t day;
    enum mc_day_override kind;
    int rc = 0, nrows, found_hours = 0;

    if ((res = load_query(conn, CALENDAR_DAYS, 1, params, "catalog.calendar_day", err, errlen)) ==
        NULL) {
        rc = MC_EDB;
        goto out;
    }
    nrows = PQntuples(res);
    for (int i = 0; i < nrows; i++)
        if ((rc = parse_row(res, i, &day, &kind, err, errlen)) != 0)
            goto out;
    if ((rc = load_office_hours(conn, agency_code, &sched, &found_hours, err, errlen)) != 0)
        goto out;
    rc = mc_calendar_apply_holidays(cal, MC_HOLIDAYS_MIN_YEAR, MC_HOLIDAYS_MAX_YEAR, err, errlen);
    assert(rc == 0);
    if (found_hours)
        cal->sched = sched;
    for (int i = 0; i < nrows; i++) {
        parse_row(res, i, &day, &kind, err, errlen);
        mc_calendar_set_day(cal, day, kind);
    }
out:
    PQclear(res);
    return rc;
}

/* Splits t into its local day and seconds since local midnight. */
static void split_instant(mc_instant t, int32_t *day, int64_t *sod)
{
    *day = mc_vn_day(t);
    *sod = t - mc_vn_day_start(*day);
}

static int64_t session_start(const struct mc_office_hours *hours, int i)
{
    return (int64_t)hours->sessions[i].start_min * 60;
}

static int64_t session_end(const struct mc_office_hours *hours, int i)
{
    return (int64_t)hours->sessions[i].end_min * 60;
}

static int32_t next_working_day(const struct mc_calendar *cal, int32_t day)
{
    do
        day++;
    while (!mc_calendar_is_working_day(cal, day));
    return day;
}

/* Inside a session: start inclusive, end exclusive. */
static int in_office_hours(const struct mc_calendar *cal, mc_instant t)
{
    const struct mc_office_hours *hours;
    int32_t day;
    int64_t sod;

    split_instant(t, &day, &sod);
    if (!mc_calendar_is_working_day(cal, day))
        return 0;
    hours = mc_calendar_hours_on(cal, day);
    for (int i = 0; i < hours->nsessions; i++)
        if (sod >= session_start(hours, i) && sod < session_end(hours, i))
            return 1;
    return 0;
}

/* The first instant at or after t that lies inside office hours. */
mc_instant mc_calendar_receipt_at(const struct mc_calendar *cal, mc_instant received_at)
{
    int32_t day;
    int64_t sod;

    split_instant(received_at, &day, &sod);
    if (mc_calendar_is_working_day(cal, day)) {
        const struct mc_office_hours *hours = mc_calendar_hours_on(cal, day);
        for (int i = 0; i < hours->nsessions; i++) {
            if (sod < session_start(hours, i))
                return mc_vn_day_start(day) + session_start(hours, i);
            if (sod < session_end(hours, i))
                return received_at;
        }
    }
    day = next_working_day(cal, day);
    return mc_vn_day_start(day) + session_start(mc_calendar_hours_on(cal, day), 0);
}

/* Walks session by session (whole non-working days cost one O(1) lookup).
 * seconds <= 0 returns from unchanged; otherwise from is first moved to the
 * next opening, and a result exactly at a session's end stays there, so
 * add(add(r, a), b) == add(r, a + b) for a, b > 0. */
mc_instant mc_calendar_add_working(const struct mc_calendar *cal, mc_instant from, int64_t seconds)
{
    int64_t remaining = seconds;
    int32_t day;
    int64_t sod;

    if (seconds <= 0)
        return from;
    split_instant(mc_calendar_receipt_at(cal, from), &day, &sod);
    for (;; day++, sod = 0) {
        const struct mc_office_hours *hours;
        if (!mc_calendar_is_working_day(cal, day))
            continue;
        hours = mc_calendar_hours_on(cal, day);
        for (int i = 0; i < hours->nsessions; i++) {
            int64_t begin = sod > session_start(hours, i) ? sod : session_start(hours, i);
            int64_t avail = session_end(hours, i) - begin;
            if (avail <= 0)
                continue;
            if (remaining <= avail)
                return mc_vn_day_start(day) + begin + remaining;
            remaining -= avail;
        }
    }
}

int64_t mc_calendar_working_between(const struct mc_calendar *cal, mc_instant a, mc_instant b)
{
    int64_t total = 0;
    int32_t day, last_day;
    int64_t sod, last_sod;

    if (b <= a)
        return 0;
    split_instant(a, &day, &sod);
    split_instant(b, &last_day, &last_sod);
    for (; day <= last_day; day++, sod = 0) {
        int64_t until = day == last_day ? last_sod : DAY_SECONDS;
        const struct mc_office_hours *hours;
        if (!mc_calendar_is_working_day(cal, day))
            continue;
        hours = mc_calendar_hours_on(cal, day);
        for (int i = 0; i < hours->nsessions; i++) {
            int64_t begin = sod > session_start(hours, i) ? sod : session_start(hours, i);
            int64_t end = until < session_end(hours, i) ? until : session_end(hours, i);
            if (end > begin)
                total += end - begin;
        }
    }
    return total;
}

/* Calendar days: receipt plus amount days. If that lands on a non-working
 * day, the same clock time on the next working day. With one schedule all
 * year that clock time is always inside a session (the receipt instant is);
 * when seasons differ and it is not, the due date moves on to the next
 * opening, never back. */
static mc_instant due_calendar_days(const struct mc_calendar *cal, mc_instant receipt_at,
                                    int amount)
{
    mc_instant due_at = receipt_at + (int64_t)amount * DAY_SECONDS;
    int32_t day;
    int64_t sod;

    split_instant(due_at, &day, &sod);
    if (!mc_calendar_is_working_day(cal, day))
        due_at = mc_vn_day_start(next_working_day(cal, day)) + sod;
    if (!in_office_hours(cal, due_at)) {
        assert(cal->sched.nseasons > 0);
        due_at = mc_calendar_receipt_at(cal, due_at);
    }
    return due_at;
}

/* Same day: the closing of the receipt day, or of the next working day when
 * received from the 15:00 cut-off on (receipt_at is already on a working day,
 * so dossiers received on a day off or after closing land there too). */
static mc_instant due_same_day(const struct mc_calendar *cal, mc_instant receipt_at)
{
    const struct mc_office_hours *hours;
    int32_t day;
    int64_t sod;

    split_instant(receipt_at, &day, &sod);
    if (sod >= MC_SAME_DAY_CUTOFF_MIN * 60)
        day = next_working_day(cal, day);
    hours = mc_calendar_hours_on(cal, day);
    return mc_vn_day_start(day) + session_end(hours, hours->nsessions - 1);
}

mc_instant mc_calendar_due_at(const struct mc_calendar *cal, mc_instant received_at,
                              const struct mc_duration *d)
{
    mc_instant receipt_at = mc_calendar_receipt_at(cal, received_at);

    assert(d->amount > 0);
    switch (d->unit) {
    case MC_DUR_WORKING_DAYS:
        return mc_calendar_add_working(cal, receipt_at,
                                       (int64_t)d->amount * MC_WORKING_DAY_SECONDS);
    case MC_DUR_WORKING_HOURS:
        return mc_calendar_add_working(cal, receipt_at, (int64_t)d->amount * 3600);
    case MC_DUR_CALENDAR_DAYS:
        return due_calendar_days(cal, receipt_at, d->amount);
    case MC_DUR_SAME_DAY:
        assert(d->amount == 1);
        return due_same_day(cal, receipt_at);
    }
    abort(); /* not a unit: memory corruption or a caller bug */
}
