/* Working-time arithmetic: office hours, weekly rule, days off and extra working days. */
#include "motcua/calendar.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "motcua/error.h"

#define DAY_SECONDS 86400
/* Overrides are kept for local days 1970-01-01 .. 2200-12-31 (day numbers
 * 0 .. CAL_NDAYS-1), two bits a day: O(1) lookups in 21 KB per calendar.
 * Outside that range only the weekly rule applies. */
#define CAL_NDAYS 84371
#define CAL_MAX_AMOUNT 10000 /* largest duration amount accepted (27 years in days) */

struct mc_calendar {
    struct mc_office_hours hours;
    uint8_t overrides[(CAL_NDAYS + 3) / 4];
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

/* Office hours come from checked configuration; a bad one here is a bug. */
static void assert_hours_valid(const struct mc_office_hours *hours)
{
    assert(hours->nsessions >= 1 && hours->nsessions <= MC_CAL_MAX_SESSIONS);
    assert((hours->weekdays & 0x7f) != 0); /* else no working day would ever come */
    for (int i = 0; i < hours->nsessions; i++) {
        assert(hours->sessions[i].start_min >= 0);
        assert(hours->sessions[i].start_min < hours->sessions[i].end_min);
        assert(hours->sessions[i].end_min <= 24 * 60);
        assert(i == 0 || hours->sessions[i - 1].end_min <= hours->sessions[i].start_min);
    }
    (void)hours;
}

struct mc_calendar *mc_calendar_new(const struct mc_office_hours *hours)
{
    struct mc_calendar *cal = mc_xcalloc(1, sizeof *cal);
    if (hours != NULL)
        cal->hours = *hours;
    else
        mc_office_hours_default(&cal->hours);
    assert_hours_valid(&cal->hours);
    return cal;
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

int mc_calendar_is_working_day(const struct mc_calendar *cal, int32_t day)
{
    switch (get_override(cal, day)) {
    case MC_DAY_WORK:
        return 1;
    case MC_DAY_OFF:
        return 0;
    default:
        return (cal->hours.weekdays >> mc_weekday(day)) & 1;
    }
}

/* Parses one row of the load query; validated before anything is applied. */
static int parse_row(PGresult *res, int row, int32_t *day, enum mc_day_override *kind, char *err,
                     size_t errlen)
{
    const char *day_text = PQgetvalue(res, row, 0);
    const char *kind_text = PQgetvalue(res, row, 1);
    char *end = NULL;
    long v;

    if (PQgetisnull(res, row, 0) || PQgetisnull(res, row, 1))
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

/* The day is read as a number of days since 1970-01-01 so that the server's
 * DateStyle cannot change its text. City-wide rows come first so an agency's
 * own row, applied later, wins. Nothing is applied unless every row is valid.
 * Overrides already in cal stay unless a row replaces them. */
int mc_calendar_load(struct mc_calendar *cal, PGconn *conn, const char *agency_code, char *err,
                     size_t errlen)
{
    static const char sql[] = "SELECT day - DATE '1970-01-01', kind FROM catalog.calendar_day"
                              " WHERE agency_code IS NULL OR agency_code = $1::text"
                              " ORDER BY agency_code IS NOT NULL, day";
    const char *params[1] = {agency_code};
    PGresult *res = NULL;
    int32_t day;
    enum mc_day_override kind;
    int rc = 0, nrows;

    res = PQexecParams(conn, sql, 1, NULL, params, NULL, NULL, 0);
    if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
        const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(conn);
        rc = mc_err(err, errlen, MC_EDB, "load catalog.calendar_day: %.*s", (int)strcspn(msg, "\n"),
                    msg);
        goto out;
    }
    nrows = PQntuples(res);
    for (int i = 0; i < nrows; i++)
        if ((rc = parse_row(res, i, &day, &kind, err, errlen)) != 0)
            goto out;
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

static int64_t session_start(const struct mc_calendar *cal, int i)
{
    return (int64_t)cal->hours.sessions[i].start_min * 60;
}

static int64_t session_end(const struct mc_calendar *cal, int i)
{
    return (int64_t)cal->hours.sessions[i].end_min * 60;
}

static int32_t next_working_day(const struct mc_calendar *cal, int32_t day)
{
    do
        day++;
    while (!mc_calendar_is_working_day(cal, day));
    return day;
}

#ifndef NDEBUG
/* Inside a session: start inclusive, end exclusive. */
static int in_office_hours(const struct mc_calendar *cal, mc_instant t)
{
    int32_t day;
    int64_t sod;

    split_instant(t, &day, &sod);
    if (!mc_calendar_is_working_day(cal, day))
        return 0;
    for (int i = 0; i < cal->hours.nsessions; i++)
        if (sod >= session_start(cal, i) && sod < session_end(cal, i))
            return 1;
    return 0;
}
#endif

/* The first instant at or after t that lies inside office hours. */
mc_instant mc_calendar_receipt_at(const struct mc_calendar *cal, mc_instant received_at)
{
    int32_t day;
    int64_t sod;

    split_instant(received_at, &day, &sod);
    if (mc_calendar_is_working_day(cal, day)) {
        for (int i = 0; i < cal->hours.nsessions; i++) {
            if (sod < session_start(cal, i))
                return mc_vn_day_start(day) + session_start(cal, i);
            if (sod < session_end(cal, i))
                return received_at;
        }
    }
    return mc_vn_day_start(next_working_day(cal, day)) + session_start(cal, 0);
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
        if (!mc_calendar_is_working_day(cal, day))
            continue;
        for (int i = 0; i < cal->hours.nsessions; i++) {
            int64_t begin = sod > session_start(cal, i) ? sod : session_start(cal, i);
            int64_t avail = session_end(cal, i) - begin;
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
        if (!mc_calendar_is_working_day(cal, day))
            continue;
        for (int i = 0; i < cal->hours.nsessions; i++) {
            int64_t begin = sod > session_start(cal, i) ? sod : session_start(cal, i);
            int64_t end = until < session_end(cal, i) ? until : session_end(cal, i);
            if (end > begin)
                total += end - begin;
        }
    }
    return total;
}

/* Calendar days: receipt plus amount days. If that lands on a non-working
 * day, the same clock time on the next working day. The receipt instant is
 * always inside a session and every day has the same sessions, so that clock
 * time is always inside office hours and never needs clamping. */
static mc_instant due_calendar_days(const struct mc_calendar *cal, mc_instant receipt_at,
                                    int amount)
{
    mc_instant due_at = receipt_at + (int64_t)amount * DAY_SECONDS;
    int32_t day;
    int64_t sod;

    split_instant(due_at, &day, &sod);
    if (!mc_calendar_is_working_day(cal, day))
        due_at = mc_vn_day_start(next_working_day(cal, day)) + sod;
    assert(in_office_hours(cal, due_at));
    return due_at;
}

/* Same day: the closing of the receipt day, or of the next working day when
 * received from the 15:00 cut-off on (receipt_at is already on a working day,
 * so dossiers received on a day off or after closing land there too). */
static mc_instant due_same_day(const struct mc_calendar *cal, mc_instant receipt_at)
{
    int64_t closing = session_end(cal, cal->hours.nsessions - 1);
    int32_t day;
    int64_t sod;

    split_instant(receipt_at, &day, &sod);
    if (sod >= MC_SAME_DAY_CUTOFF_MIN * 60)
        day = next_working_day(cal, day);
    return mc_vn_day_start(day) + closing;
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
