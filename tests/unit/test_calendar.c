/* Unit tests for common/calendar.c: receipt instants, due dates and working time. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "motcua/calendar.h"
#include "motcua/error.h"
#include "motcua/holidays.h"

#ifndef MOTCUA_SOURCE_DIR
#define MOTCUA_SOURCE_DIR "."
#endif
#define SEED_SQL MOTCUA_SOURCE_DIR "/schemas/seed/calendar_2020_2026.sql"
#define HOUR 3600
#define WD MC_WORKING_DAY_SECONDS

/* Calendars shared by the tests, built once by the group setup:
 * small:  default hours + Tết 2024 (8..14 Feb off) and the 2024 swap
 *         (29 Apr - 1 May off, Saturday 4 May worked), set by hand;
 * seeded: default hours + every row of the 2020-2026 seed file;
 * full:   what mc_calendar_load builds from a database holding the seed:
 *         default hours + the rule holidays of 2000-2100 + the seed rows;
 * seasonal: full, with winter hours 07:30-11:30, 13:00-17:00 from 1 October
 *         to 31 March (summer keeps the default 07:00-11:30, 13:30-17:00). */
static struct mc_calendar *small;
static struct mc_calendar *seeded;
static struct mc_calendar *full;
static struct mc_calendar *seasonal;

/* "2024-03-04 08:00" or "2024-03-04 08:00:05", local time (UTC+7). */
static mc_instant at(const char *local)
{
    char buf[64];
    mc_instant t = 0;
    snprintf(buf, sizeof buf, "%s%s+07:00", local, strlen(local) == 16 ? ":00" : "");
    if (strlen(buf) > 10 && buf[10] == ' ')
        buf[10] = 'T'; /* RFC 3339 */
    if (mc_time_parse(buf, &t) != 0)
        fail_msg("bad test instant \"%s\"", local);
    return t;
}

static int32_t day_of(int y, int m, int d)
{
    return mc_days_from_civil(y, m, d);
}

static void expect_instant(const char *what, mc_instant got, mc_instant want)
{
    char g[MC_RFC3339_LEN], w[MC_RFC3339_LEN];
    if (got != want)
        fail_msg("%s: got %s, want %s", what, mc_time_format(got, g), mc_time_format(want, w));
}

static struct mc_duration dur(const char *text)
{
    struct mc_duration d = {0, MC_DUR_WORKING_DAYS};
    char err[128];
    if (mc_duration_parse(text, &d, err, sizeof err) != 0)
        fail_msg("bad test duration \"%s\": %s", text, err);
    return d;
}

/* Reads (day, kind) of every row of the seed file; returns the row count. */
static int read_seed(struct mc_calendar *cal, int *noff, int *nwork)
{
    FILE *f = fopen(SEED_SQL, "r");
    char line[512];
    int n = 0;

    *noff = *nwork = 0;
    if (f == NULL)
        fail_msg("cannot open %s", SEED_SQL);
    while (fgets(line, sizeof line, f)) {
        const char *p = strstr(line, "(NULL, '");
        int y, m, d;
        char kind[8];
        int32_t day;
        if (p == NULL)
            continue;
        if (sscanf(p, "(NULL, '%d-%d-%d', '%7[a-z]'", &y, &m, &d, kind) != 4)
            fail_msg("unreadable seed line: %s", line);
        day = day_of(y, m, d);
        if (strcmp(kind, "off") == 0) {
            if (mc_weekday(day) == 0 || mc_weekday(day) == 6)
                fail_msg("seed: day off on a weekend: %s", line);
            mc_calendar_set_day(cal, day, MC_DAY_OFF);
            (*noff)++;
        } else if (strcmp(kind, "work") == 0) {
            if (mc_weekday(day) != 6)
                fail_msg("seed: extra working day not a Saturday: %s", line);
            mc_calendar_set_day(cal, day, MC_DAY_WORK);
            (*nwork)++;
        } else {
            fail_msg("seed: unknown kind in %s", line);
        }
        n++;
    }
    fclose(f);
    return n;
}

static const struct mc_office_hours *winter_hours(void)
{
    static struct mc_office_hours hours;
    if (mc_office_hours_parse("07:30-11:30,13:00-17:00", 0x3e, &hours, NULL, 0) != 0)
        fail_msg("winter hours");
    return &hours;
}

static int setup(void **state)
{
    (void)state;
    int noff, nwork;

    small = mc_calendar_new(NULL);
    for (int d = 8; d <= 14; d++)
        mc_calendar_set_day(small, day_of(2024, 2, d), MC_DAY_OFF);
    mc_calendar_set_day(small, day_of(2024, 4, 29), MC_DAY_OFF);
    mc_calendar_set_day(small, day_of(2024, 4, 30), MC_DAY_OFF);
    mc_calendar_set_day(small, day_of(2024, 5, 1), MC_DAY_OFF);
    mc_calendar_set_day(small, day_of(2024, 5, 4), MC_DAY_WORK);

    seeded = mc_calendar_new(NULL);
    read_seed(seeded, &noff, &nwork);

    full = mc_calendar_new(NULL);
    if (mc_calendar_apply_holidays(full, MC_HOLIDAYS_MIN_YEAR, MC_HOLIDAYS_MAX_YEAR, NULL, 0) != 0)
        return -1;
    read_seed(full, &noff, &nwork);

    seasonal = mc_calendar_new(NULL);
    if (mc_calendar_apply_holidays(seasonal, MC_HOLIDAYS_MIN_YEAR, MC_HOLIDAYS_MAX_YEAR, NULL, 0) !=
            0 ||
        mc_calendar_add_season(seasonal, 1001, 331, winter_hours(), NULL, 0) != 0)
        return -1;
    read_seed(seasonal, &noff, &nwork);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    mc_calendar_free(small);
    mc_calendar_free(seeded);
    mc_calendar_free(full);
    mc_calendar_free(seasonal);
    mc_calendar_free(NULL);
    return 0;
}

/* ---- durations ---------------------------------------------------------- */

static void test_duration_parse(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int amount;
        enum mc_duration_unit unit;
        const char *canonical;
    } good[] = {
        {"5wd", 5, MC_DUR_WORKING_DAYS, "5wd"},
        {"4wh", 4, MC_DUR_WORKING_HOURS, "4wh"},
        {"15cd", 15, MC_DUR_CALENDAR_DAYS, "15cd"},
        {"1sd", 1, MC_DUR_SAME_DAY, "1sd"},
        {"120wd", 120, MC_DUR_WORKING_DAYS, "120wd"},
        {"07wd", 7, MC_DUR_WORKING_DAYS, "7wd"},
        {"10000cd", 10000, MC_DUR_CALENDAR_DAYS, "10000cd"},
    };
    static const struct {
        const char *text;
        const char *reason; /* a word the message must contain */
    } bad[] = {
        {"", "empty"},
        {"wd", "number"},
        {"-1wd", "number"},
        {"+5wd", "number"},
        {" 5wd", "number"},
        {"0wd", "positive"},
        {"00cd", "positive"},
        {"5", "no unit"},
        {"5 wd", "unit"},
        {"5xd", "unknown unit"},
        {"5WD", "unknown unit"},
        {"5wdx", "unknown unit"},
        {"5.5wd", "unknown unit"},
        {"2sd", "1sd"},
        {"0sd", "positive"},
        {"10001wd", "larger"},
        {"99999999999999999999wd", "larger"},
    };
    char err[160], buf[16];

    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        struct mc_duration d = {0, MC_DUR_SAME_DAY};
        if (mc_duration_parse(good[i].text, &d, err, sizeof err) != 0)
            fail_msg("refused \"%s\": %s", good[i].text, err);
        assert_int_equal(d.amount, good[i].amount);
        assert_int_equal(d.unit, good[i].unit);
        assert_string_equal(mc_duration_format(&d, buf), good[i].canonical);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct mc_duration d = {42, MC_DUR_SAME_DAY};
        err[0] = '\0';
        if (mc_duration_parse(bad[i].text, &d, err, sizeof err) != MC_EINVAL)
            fail_msg("accepted \"%s\"", bad[i].text);
        if (strstr(err, bad[i].reason) == NULL)
            fail_msg("\"%s\": reason \"%s\" does not say \"%s\"", bad[i].text, err, bad[i].reason);
        assert_int_equal(d.amount, 42); /* untouched on failure */
    }
    assert_int_equal(mc_duration_parse(NULL, &(struct mc_duration){0}, NULL, 0), MC_EINVAL);
}

/* ---- days --------------------------------------------------------------- */

static void test_working_days(void **state)
{
    (void)state;
    static const struct {
        int y, m, d;
        int working;
    } cases[] = {
        {2024, 3, 4, 1},   {2024, 3, 8, 1},   {2024, 3, 9, 0},  {2024, 3, 10, 0},
        {2024, 2, 7, 1},   {2024, 2, 8, 0},   {2024, 2, 12, 0}, {2024, 2, 14, 0},
        {2024, 2, 15, 1},  {2024, 4, 29, 0},  {2024, 5, 1, 0},  {2024, 5, 2, 1},
        {2024, 5, 4, 1},   {2024, 5, 5, 0},   {2024, 4, 18, 1}, /* Hùng Kings: not in small */
        {1969, 12, 31, 1}, {1969, 12, 27, 0},                   /* before the override range */
        {2301, 1, 5, 0},   {2301, 1, 7, 1},                     /* after it (Sat, Mon) */
    };
    struct mc_calendar *cal = mc_calendar_new(NULL);
    int32_t sat = day_of(2024, 3, 9), mon = day_of(2024, 3, 4);

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (mc_calendar_is_working_day(small, day_of(cases[i].y, cases[i].m, cases[i].d)) !=
            cases[i].working)
            fail_msg("%04d-%02d-%02d: want working=%d", cases[i].y, cases[i].m, cases[i].d,
                     cases[i].working);

    /* overrides win, MC_DAY_RULE removes them, range ends are usable */
    assert_false(mc_calendar_is_working_day(cal, sat));
    mc_calendar_set_day(cal, sat, MC_DAY_WORK);
    mc_calendar_set_day(cal, mon, MC_DAY_OFF);
    assert_true(mc_calendar_is_working_day(cal, sat));
    assert_false(mc_calendar_is_working_day(cal, mon));
    assert_true(mc_calendar_is_working_day(cal, sat - 1)); /* neighbours untouched */
    assert_true(mc_calendar_is_working_day(cal, mon + 1));
    mc_calendar_set_day(cal, sat, MC_DAY_RULE);
    mc_calendar_set_day(cal, mon, MC_DAY_RULE);
    assert_false(mc_calendar_is_working_day(cal, sat));
    assert_true(mc_calendar_is_working_day(cal, mon));
    mc_calendar_set_day(cal, 0, MC_DAY_OFF);
    mc_calendar_set_day(cal, day_of(2200, 12, 31), MC_DAY_OFF);
    assert_false(mc_calendar_is_working_day(cal, 0));
    assert_false(mc_calendar_is_working_day(cal, day_of(2200, 12, 31)));
    mc_calendar_free(cal);
}

/* ---- receipt instants --------------------------------------------------- */

static void test_receipt_at(void **state)
{
    (void)state;
    static const struct {
        const char *received, *receipt, *why;
    } cases[] = {
        {"2024-03-04 09:15:27", "2024-03-04 09:15:27", "inside the morning"},
        {"2024-03-04 07:00", "2024-03-04 07:00", "at opening"},
        {"2024-03-04 06:00", "2024-03-04 07:00", "before opening"},
        {"2024-03-04 00:00", "2024-03-04 07:00", "midnight"},
        {"2024-03-04 11:29:59", "2024-03-04 11:29:59", "last morning second"},
        {"2024-03-04 11:30", "2024-03-04 13:30", "at the lunch break"},
        {"2024-03-04 12:00", "2024-03-04 13:30", "lunch break"},
        {"2024-03-04 13:30", "2024-03-04 13:30", "afternoon opening"},
        {"2024-03-04 16:59:59", "2024-03-04 16:59:59", "last second"},
        {"2024-03-04 17:00", "2024-03-05 07:00", "at closing"},
        {"2024-03-08 18:00", "2024-03-11 07:00", "Friday evening"},
        {"2024-03-09 10:00", "2024-03-11 07:00", "Saturday"},
        {"2024-03-10 23:59:59", "2024-03-11 07:00", "Sunday night"},
        {"2024-02-07 17:30", "2024-02-15 07:00", "eve of Tết 2024"},
        {"2024-02-12 09:00", "2024-02-15 07:00", "Monday inside Tết"},
        {"2024-04-26 17:00", "2024-05-02 07:00", "before the 29/4-1/5 break"},
        {"2024-05-03 17:30", "2024-05-04 07:00", "extra working Saturday next"},
        {"2024-05-04 09:00", "2024-05-04 09:00", "on the extra working Saturday"},
        {"2024-05-04 17:00", "2024-05-06 07:00", "after the extra Saturday"},
        {"1969-12-31 18:00", "1970-01-01 07:00", "before 1970"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_instant(cases[i].why, mc_calendar_receipt_at(small, at(cases[i].received)),
                       at(cases[i].receipt));
}

/* ---- due dates ---------------------------------------------------------- */

static void test_due_at(void **state)
{
    (void)state;
    static const struct {
        const char *received, *duration, *due, *why;
    } cases[] = {
        /* working days */
        {"2024-03-04 08:00", "5wd", "2024-03-11 08:00", "5wd from Monday 08:00"},
        {"2024-03-04 08:00", "1wd", "2024-03-05 08:00", "1wd"},
        {"2024-03-04 07:00", "1wd", "2024-03-04 17:00", "ends exactly at closing"},
        {"2024-03-04 06:00", "1wd", "2024-03-04 17:00", "received before opening"},
        {"2024-03-04 12:00", "1wd", "2024-03-05 11:30", "from the lunch break, ends at 11:30"},
        {"2024-03-08 18:00", "1wd", "2024-03-11 17:00", "received Friday after closing"},
        {"2024-03-08 16:00", "2wd", "2024-03-12 16:00", "over a weekend"},
        {"2024-02-07 09:00", "1wd", "2024-02-15 09:00", "over Tết"},
        {"2024-02-07 09:00", "3wd", "2024-02-19 09:00", "over Tết and a weekend"},
        {"2024-04-26 10:00", "3wd", "2024-05-04 10:00", "onto the extra working Saturday"},
        {"2024-03-04 08:00", "60wd", "2024-05-29 08:00", "60 working days"},
        /* working hours */
        {"2024-03-04 07:30", "4wh", "2024-03-04 11:30", "ends at 11:30, not 13:30"},
        {"2024-03-04 11:00", "1wh", "2024-03-04 14:00", "across the lunch break"},
        {"2024-03-04 16:30", "1wh", "2024-03-05 07:30", "across the night"},
        {"2024-03-08 16:00", "2wh", "2024-03-11 08:00", "across the weekend"},
        {"2024-03-04 12:15", "4wh", "2024-03-05 07:30", "from the lunch break"},
        {"2024-03-04 13:30", "8wh", "2024-03-05 11:30", "8wh == 1wd"},
        /* calendar days */
        {"2024-03-04 09:00", "15cd", "2024-03-19 09:00", "on a working day"},
        {"2024-03-04 09:00", "5cd", "2024-03-11 09:00", "Saturday -> Monday same time"},
        {"2024-03-04 09:00", "6cd", "2024-03-11 09:00", "Sunday -> Monday same time"},
        {"2024-03-08 18:00", "2cd", "2024-03-13 07:00", "counted from the receipt"},
        {"2024-03-04 12:00", "1cd", "2024-03-05 13:30", "counted from the afternoon opening"},
        {"2024-02-01 10:00", "7cd", "2024-02-15 10:00", "onto Tết -> after Tết"},
        {"2024-04-25 16:00", "4cd", "2024-05-02 16:00", "onto the swapped day off"},
        {"2024-04-27 10:00", "2cd", "2024-05-04 07:00", "onto the extra working Saturday"},
        /* same day, cut-off 15:00 */
        {"2024-03-04 14:59", "1sd", "2024-03-04 17:00", "before the cut-off"},
        {"2024-03-04 14:59:59", "1sd", "2024-03-04 17:00", "last second before it"},
        {"2024-03-04 15:00", "1sd", "2024-03-05 17:00", "at the cut-off"},
        {"2024-03-04 16:59", "1sd", "2024-03-05 17:00", "after the cut-off"},
        {"2024-03-04 17:30", "1sd", "2024-03-05 17:00", "after closing"},
        {"2024-03-04 06:00", "1sd", "2024-03-04 17:00", "before opening"},
        {"2024-03-04 12:00", "1sd", "2024-03-04 17:00", "lunch break"},
        {"2024-03-08 15:00", "1sd", "2024-03-11 17:00", "Friday after the cut-off"},
        {"2024-03-09 10:00", "1sd", "2024-03-11 17:00", "on a Saturday"},
        {"2024-02-07 15:30", "1sd", "2024-02-15 17:00", "before Tết after the cut-off"},
        {"2024-02-09 10:00", "1sd", "2024-02-15 17:00", "during Tết"},
        {"2024-05-03 16:00", "1sd", "2024-05-04 17:00", "next day is the extra Saturday"},
        {"2024-04-26 14:00", "1sd", "2024-04-26 17:00", "before a long break"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct mc_duration d = dur(cases[i].duration);
        char what[160];
        snprintf(what, sizeof what, "%s + %s (%s)", cases[i].received, cases[i].duration,
                 cases[i].why);
        expect_instant(what, mc_calendar_due_at(small, at(cases[i].received), &d),
                       at(cases[i].due));
    }
}

/* The cases of issue 3 section 3 over the full calendar: rule holidays in
 * years without a notice (2027 and later), the announcements of 2020-2026,
 * and receipt instants. Each says when the clock starts and when it ends. */
static void test_law_cases(void **state)
{
    (void)state;
    static const struct {
        const char *received, *duration, *receipt, *due, *why;
    } cases[] = {
        /* weekends, lunch break, after hours, weekend receipt */
        {"2027-03-05 16:00", "2wd", "2027-03-05 16:00", "2027-03-09 16:00", "over a weekend"},
        {"2027-03-03 12:10", "4wh", "2027-03-03 13:30", "2027-03-04 07:30", "lunch break"},
        {"2027-03-03 11:30", "1wd", "2027-03-03 13:30", "2027-03-04 11:30", "at 11:30 sharp"},
        {"2027-03-03 06:59", "1wh", "2027-03-03 07:00", "2027-03-03 08:00", "before opening"},
        {"2027-03-03 17:30", "1wd", "2027-03-04 07:00", "2027-03-04 17:00", "after hours"},
        {"2027-03-06 10:00", "1wd", "2027-03-08 07:00", "2027-03-08 17:00", "Saturday receipt"},
        {"2027-03-07 23:00", "3wh", "2027-03-08 07:00", "2027-03-08 10:00", "Sunday night"},
        /* the 15:00 cut-off for same-day procedures */
        {"2027-03-03 14:59:59", "1sd", "2027-03-03 14:59:59", "2027-03-03 17:00", "before 15:00"},
        {"2027-03-03 15:00", "1sd", "2027-03-03 15:00", "2027-03-04 17:00", "at 15:00"},
        {"2027-03-05 15:30", "1sd", "2027-03-05 15:30", "2027-03-08 17:00", "Friday 15:30"},
        /* Lunar New Year 2027 by rule: Thu 4/2 .. Wed 10/2 off */
        {"2027-02-03 16:00", "1wd", "2027-02-03 16:00", "2027-02-11 16:00", "over Tết 2027"},
        {"2027-02-08 09:00", "1sd", "2027-02-11 07:00", "2027-02-11 17:00", "during Tết 2027"},
        {"2027-02-01 09:00", "7cd", "2027-02-01 09:00", "2027-02-11 09:00", "7cd onto Tết"},
        {"2027-02-03 15:30", "1sd", "2027-02-03 15:30", "2027-02-11 17:00", "cut-off before Tết"},
        /* Hùng Kings' day on a Sunday (6/4/2036): Monday 7/4 is off */
        {"2036-04-04 10:00", "1wd", "2036-04-04 10:00", "2036-04-08 10:00", "Hùng on Sunday"},
        {"2036-04-05 10:00", "1wh", "2036-04-08 07:00", "2036-04-08 08:00", "Hùng weekend"},
        {"2036-03-31 10:00", "6cd", "2036-03-31 10:00", "2036-04-08 10:00", "6cd onto Sunday"},
        /* 2022, announced: Hùng on Sunday 10/4, Monday 11/4 off */
        {"2022-04-08 16:30", "1wh", "2022-04-08 16:30", "2022-04-12 07:30", "Hùng 2022"},
        /* 30 April - 1 May: 2027 Fri 30/4 off, Sat 1/5 -> Mon 3/5 off */
        {"2027-04-29 09:00", "2wd", "2027-04-29 09:00", "2027-05-05 09:00", "30/4-1/5 2027"},
        {"2027-04-30 09:00", "1sd", "2027-05-04 07:00", "2027-05-04 17:00", "received 30/4"},
        /* 2 September with its adjacent day: 2027 Thu 2/9 + Fri 3/9 */
        {"2027-09-01 10:00", "1wd", "2027-09-01 10:00", "2027-09-06 10:00", "2/9 2027"},
        /* 2029: 2/9 Sunday: Mon 3/9 adjacent, Tue 4/9 nghỉ bù */
        {"2029-08-31 09:00", "1wd", "2029-08-31 09:00", "2029-09-05 09:00", "2/9 2029"},
        /* 2026, announced: Mon 31/8 (swap) + Tue 1/9 + Wed 2/9 off */
        {"2026-08-28 14:00", "2wh", "2026-08-28 14:00", "2026-08-28 16:00", "before 2/9 2026"},
        {"2026-08-28 16:00", "2wh", "2026-08-28 16:00", "2026-09-03 08:00", "over 2/9 2026"},
        /* extra working Saturdays, announced */
        {"2025-04-25 10:00", "1wd", "2025-04-25 10:00", "2025-04-26 10:00", "onto Sat 26/4"},
        {"2026-01-09 17:05", "1sd", "2026-01-10 07:00", "2026-01-10 17:00", "Sat 10/1 worked"},
        {"2026-01-01 08:00", "1wh", "2026-01-05 07:00", "2026-01-05 08:00", "1-2/1 2026 off"},
        /* announced swaps the rules do not know */
        {"2024-04-26 16:00", "2wh", "2024-04-26 16:00", "2024-05-02 08:00", "2024 swap"},
        {"2025-04-29 16:00", "2wh", "2025-04-29 16:00", "2025-05-05 08:00", "2025 swap"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct mc_duration d = dur(cases[i].duration);
        char what[160];
        snprintf(what, sizeof what, "receipt of %s (%s)", cases[i].received, cases[i].why);
        expect_instant(what, mc_calendar_receipt_at(full, at(cases[i].received)),
                       at(cases[i].receipt));
        snprintf(what, sizeof what, "%s + %s (%s)", cases[i].received, cases[i].duration,
                 cases[i].why);
        expect_instant(what, mc_calendar_due_at(full, at(cases[i].received), &d), at(cases[i].due));
    }
}

/* Overrides win over the rules both ways: a rule holiday worked, an
 * ordinary weekday off, a Saturday worked; MC_DAY_RULE gives the rule back. */
static void test_overrides_win_over_rules(void **state)
{
    (void)state;
    struct mc_calendar *cal = mc_calendar_new(NULL);
    struct mc_duration one_wd = dur("1wd");
    int32_t new_year = day_of(2027, 1, 1);

    assert_int_equal(mc_calendar_apply_holidays(cal, 2027, 2027, NULL, 0), 0);
    assert_false(mc_calendar_is_working_day(cal, new_year));
    assert_true(mc_calendar_is_rule_holiday(cal, new_year));
    assert_false(mc_calendar_is_rule_holiday(cal, day_of(2028, 1, 3))); /* 2028 not applied */
    expect_instant("rule holiday", mc_calendar_due_at(cal, at("2026-12-31 16:00"), &one_wd),
                   at("2027-01-04 16:00"));
    mc_calendar_set_day(cal, new_year, MC_DAY_WORK);
    assert_true(mc_calendar_is_working_day(cal, new_year));
    expect_instant("worked instead", mc_calendar_due_at(cal, at("2026-12-31 16:00"), &one_wd),
                   at("2027-01-01 16:00"));
    mc_calendar_set_day(cal, day_of(2027, 3, 3), MC_DAY_OFF);
    mc_calendar_set_day(cal, day_of(2027, 3, 6), MC_DAY_WORK);
    expect_instant("Wed off, Sat worked", mc_calendar_due_at(cal, at("2027-03-02 10:00"), &one_wd),
                   at("2027-03-04 10:00"));
    expect_instant("onto the Saturday", mc_calendar_due_at(cal, at("2027-03-05 10:00"), &one_wd),
                   at("2027-03-06 10:00"));
    mc_calendar_set_day(cal, new_year, MC_DAY_RULE);
    assert_false(mc_calendar_is_working_day(cal, new_year));
    assert_int_equal(mc_calendar_apply_holidays(cal, 1999, 2027, NULL, 0), MC_EINVAL);
    assert_int_equal(mc_calendar_apply_holidays(cal, 2027, 2101, NULL, 0), MC_EINVAL);
    assert_int_equal(mc_calendar_apply_holidays(cal, 2028, 2027, NULL, 0), MC_EINVAL);
    mc_calendar_free(cal);
}

/* For 2020-2026 the rules add nothing to the announcements: the full
 * calendar and the seed alone agree on every day. From 2027 the rules alone
 * decide: 2027 has 250 working days (261 weekdays, 11 off). */
static void test_rules_under_the_seed(void **state)
{
    (void)state;
    char buf[MC_RFC3339_LEN];
    for (int32_t day = day_of(2020, 1, 1); day <= day_of(2026, 12, 31); day++)
        if (mc_calendar_is_working_day(full, day) != mc_calendar_is_working_day(seeded, day))
            fail_msg("%s: the rules and the seed disagree",
                     mc_time_format(mc_vn_day_start(day), buf));
    assert_int_equal(
        mc_calendar_working_between(full, at("2027-01-01 00:00"), at("2028-01-01 00:00")),
        250 * (int64_t)WD);
    assert_int_equal(
        mc_calendar_working_between(full, at("2024-01-01 00:00"), at("2025-01-01 00:00")),
        251 * (int64_t)WD);
}

/* ---- office hours and seasons ------------------------------------------- */

static void test_office_hours_parse(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int nsessions;
    } good[] = {
        {"07:00-11:30,13:30-17:00", 2},
        {"08:00-12:00", 1},
        {"00:00-24:00", 1},
        {"06:00-07:00,08:00-09:00,10:00-11:00,12:00-13:00", 4},
        {"07:00-11:30,11:30-17:00", 2}, /* touching sessions are allowed */
    };
    static const struct {
        const char *text;
        unsigned weekdays;
        const char *reason;
    } bad[] = {
        {"", 0x3e, "no sessions"},
        {"7:00-11:30", 0x3e, "HH:MM"},
        {"07:00-11:30;13:30-17:00", 0x3e, "commas"},
        {"07:00-11:30,", 0x3e, "HH:MM"},
        {"07:00-11:30,11:00-17:00", 0x3e, "overlaps"},
        {"11:30-07:00", 0x3e, "start before"},
        {"07:00-07:00", 0x3e, "start before"},
        {"07:00-25:00", 0x3e, "HH:MM"},
        {"07:60-08:00", 0x3e, "HH:MM"},
        {"24:30-24:45", 0x3e, "HH:MM"},
        {"06:00-07:00,08:00-09:00,10:00-11:00,12:00-13:00,14:00-15:00", 0x3e, "more than"},
        {"07:00-11:30", 0, "weekday"},
        {"07:00-11:30", 0x80, "weekday"},
    };
    struct mc_office_hours hours, def;
    char err[160], buf[64];

    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (mc_office_hours_parse(good[i].text, 0x3e, &hours, err, sizeof err) != 0)
            fail_msg("refused \"%s\": %s", good[i].text, err);
        assert_int_equal(hours.nsessions, good[i].nsessions);
        assert_string_equal(mc_office_hours_format(&hours, buf, sizeof buf), good[i].text);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hours.nsessions = 42;
        err[0] = '\0';
        if (mc_office_hours_parse(bad[i].text, bad[i].weekdays, &hours, err, sizeof err) !=
            MC_EINVAL)
            fail_msg("accepted \"%s\"", bad[i].text);
        if (strstr(err, bad[i].reason) == NULL)
            fail_msg("\"%s\": reason \"%s\" does not say \"%s\"", bad[i].text, err, bad[i].reason);
        assert_int_equal(hours.nsessions, 42); /* untouched */
    }
    mc_office_hours_default(&def);
    assert_int_equal(mc_office_hours_parse("07:00-11:30,13:30-17:00", 0x3e, &hours, NULL, 0), 0);
    assert_memory_equal(&hours, &def, sizeof hours);
}

static void test_seasons(void **state)
{
    (void)state;
    struct mc_calendar *cal = mc_calendar_new(NULL);
    struct mc_office_hours saturday;
    char err[160];

    /* which hours on which day: the winter season wraps over the new year */
    assert_int_equal(mc_calendar_hours_on(seasonal, day_of(2027, 1, 15))->sessions[0].start_min,
                     7 * 60 + 30);
    assert_int_equal(mc_calendar_hours_on(seasonal, day_of(2027, 3, 31))->sessions[0].start_min,
                     7 * 60 + 30);
    assert_int_equal(mc_calendar_hours_on(seasonal, day_of(2027, 4, 1))->sessions[0].start_min,
                     7 * 60);
    assert_int_equal(mc_calendar_hours_on(seasonal, day_of(2027, 9, 30))->sessions[0].start_min,
                     7 * 60);
    assert_int_equal(mc_calendar_hours_on(seasonal, day_of(2027, 10, 1))->sessions[0].start_min,
                     7 * 60 + 30);
    assert_int_equal(mc_calendar_hours_on(seasonal, day_of(2028, 2, 29))->sessions[1].start_min,
                     13 * 60);

    /* overlapping, invalid and too many seasons are refused */
    assert_int_equal(mc_calendar_add_season(seasonal, 1201, 1231, winter_hours(), err, sizeof err),
                     MC_EINVAL);
    assert_non_null(strstr(err, "overlaps"));
    assert_int_equal(mc_calendar_add_season(cal, 230, 301, winter_hours(), err, sizeof err),
                     MC_EINVAL);
    assert_non_null(strstr(err, "no such day"));
    assert_int_equal(mc_calendar_add_season(cal, 1300, 1301, winter_hours(), err, sizeof err),
                     MC_EINVAL);
    for (int i = 0; i < MC_CAL_MAX_SEASONS; i++)
        assert_int_equal(mc_calendar_add_season(cal, (i + 1) * 100 + 1, (i + 1) * 100 + 2,
                                                winter_hours(), err, sizeof err),
                         0);
    assert_int_equal(mc_calendar_add_season(cal, 1201, 1202, winter_hours(), err, sizeof err),
                     MC_EINVAL);
    assert_non_null(strstr(err, "more than"));
    mc_calendar_free(cal);

    /* a season that also opens on Saturday mornings makes Saturdays working days */
    cal = mc_calendar_new(NULL);
    assert_int_equal(mc_office_hours_parse("07:00-11:00", 0x7e, &saturday, NULL, 0), 0);
    assert_int_equal(mc_calendar_add_season(cal, 229, 229, &saturday, NULL, 0), 0);
    assert_true(mc_calendar_is_working_day(cal, day_of(2020, 2, 29))); /* a Saturday */
    assert_false(mc_calendar_is_working_day(cal, day_of(2020, 3, 7)));
    expect_instant("29 Feb closes at 11:00",
                   mc_calendar_add_working(cal, at("2020-02-28 16:00"), 2 * HOUR),
                   at("2020-02-29 08:00"));
    mc_calendar_free(cal);
}

static void test_seasonal_due_at(void **state)
{
    (void)state;
    static const struct {
        const char *received, *duration, *receipt, *due, *why;
    } cases[] = {
        {"2027-01-13 07:15", "1wh", "2027-01-13 07:30", "2027-01-13 08:30", "winter opening"},
        {"2027-06-16 07:15", "1wh", "2027-06-16 07:15", "2027-06-16 08:15", "summer opening"},
        {"2027-01-13 13:10", "1wh", "2027-01-13 13:10", "2027-01-13 14:10", "winter afternoon"},
        {"2027-06-16 13:10", "1wh", "2027-06-16 13:30", "2027-06-16 14:30", "summer lunch"},
        {"2027-03-31 16:30", "1wh", "2027-03-31 16:30", "2027-04-01 07:30", "into summer"},
        {"2027-09-30 16:30", "1wh", "2027-09-30 16:30", "2027-10-01 08:00", "into winter"},
        {"2027-09-29 07:10", "2cd", "2027-09-29 07:10", "2027-10-01 07:30",
         "cd lands before the winter opening: the opening"},
        {"2027-01-13 11:45", "1sd", "2027-01-13 13:00", "2027-01-13 17:00", "same day, winter"},
        {"2027-01-13 08:00", "1wd", "2027-01-13 08:00", "2027-01-14 08:00", "1wd, winter"},
        /* Tết 2027 by rule under winter hours */
        {"2027-02-03 16:00", "1wd", "2027-02-03 16:00", "2027-02-11 16:00", "over Tết"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct mc_duration d = dur(cases[i].duration);
        char what[160];
        snprintf(what, sizeof what, "receipt of %s (%s)", cases[i].received, cases[i].why);
        expect_instant(what, mc_calendar_receipt_at(seasonal, at(cases[i].received)),
                       at(cases[i].receipt));
        snprintf(what, sizeof what, "%s + %s (%s)", cases[i].received, cases[i].duration,
                 cases[i].why);
        expect_instant(what, mc_calendar_due_at(seasonal, at(cases[i].received), &d),
                       at(cases[i].due));
    }
}

/* ---- working-time arithmetic -------------------------------------------- */

static void test_add_working(void **state)
{
    (void)state;
    static const struct {
        const char *from;
        int64_t seconds;
        const char *want, *why;
    } cases[] = {
        {"2024-03-04 07:00", 16200, "2024-03-04 11:30", "whole morning ends at 11:30"},
        {"2024-03-04 07:00", 16201, "2024-03-04 13:30:01", "one second more"},
        {"2024-03-04 11:29", 60, "2024-03-04 11:30", "last minute of the morning"},
        {"2024-03-04 11:29", 61, "2024-03-04 13:30:01", "and one second"},
        {"2024-03-04 16:59:59", 1, "2024-03-04 17:00", "last second of the day"},
        {"2024-03-04 16:59:59", 2, "2024-03-05 07:00:01", "into the next day"},
        {"2024-03-04 12:00", 1, "2024-03-04 13:30:01", "from the lunch break"},
        {"2024-03-09 10:00", HOUR, "2024-03-11 08:00", "from a Saturday"},
        {"2024-03-04 07:00", 5 * WD, "2024-03-08 17:00", "a full week ends Friday 17:00"},
        {"2024-03-08 17:00", HOUR, "2024-03-11 08:00", "from Friday closing"},
        {"2024-02-07 16:00", 2 * HOUR, "2024-02-15 08:00", "over Tết"},
        {"2024-03-04 07:00", 0, "2024-03-04 07:00", "nothing to add"},
        {"2024-03-09 10:00", 0, "2024-03-09 10:00", "nothing to add, not moved"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_instant(cases[i].why,
                       mc_calendar_add_working(small, at(cases[i].from), cases[i].seconds),
                       at(cases[i].want));
}

static void test_working_between(void **state)
{
    (void)state;
    static const struct {
        const char *a, *b;
        int64_t want;
    } cases[] = {
        {"2024-03-04 07:00", "2024-03-04 17:00", WD},
        {"2024-03-04 11:00", "2024-03-04 14:00", HOUR},
        {"2024-03-08 16:00", "2024-03-11 08:00", 2 * HOUR},
        {"2024-03-04 12:00", "2024-03-04 13:00", 0},
        {"2024-03-04 17:00", "2024-03-04 07:00", 0},
        {"2024-03-04 09:00", "2024-03-04 09:00", 0},
        {"2024-02-07 07:00", "2024-02-15 17:00", 2 * WD},
        {"2024-03-04 00:00", "2024-03-11 00:00", 5 * WD},
        {"2024-05-04 00:00", "2024-05-05 00:00", WD},
        {"2024-03-04 11:29:30", "2024-03-04 13:30:30", 60},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t got = mc_calendar_working_between(small, at(cases[i].a), at(cases[i].b));
        if (got != cases[i].want)
            fail_msg("%s .. %s: got %lld want %lld", cases[i].a, cases[i].b, (long long)got,
                     (long long)cases[i].want);
    }
}

/* Office hours other than the default: one session 08:00-12:00, Monday to
 * Saturday. */
static void test_custom_hours(void **state)
{
    (void)state;
    struct mc_office_hours hours = {
        .nsessions = 1, .sessions = {{8 * 60, 12 * 60}}, .weekdays = 0x7e};
    struct mc_calendar *cal = mc_calendar_new(&hours);
    struct mc_duration one_wd = dur("1wd"), sd = dur("1sd");

    expect_instant("before opening", mc_calendar_receipt_at(cal, at("2024-03-04 07:00")),
                   at("2024-03-04 08:00"));
    expect_instant("afternoon", mc_calendar_receipt_at(cal, at("2024-03-04 13:00")),
                   at("2024-03-05 08:00"));
    expect_instant("Saturday is worked", mc_calendar_receipt_at(cal, at("2024-03-09 10:00")),
                   at("2024-03-09 10:00"));
    expect_instant("8h spans two days", mc_calendar_due_at(cal, at("2024-03-04 08:00"), &one_wd),
                   at("2024-03-05 12:00"));
    expect_instant("over Saturday", mc_calendar_due_at(cal, at("2024-03-08 10:00"), &one_wd),
                   at("2024-03-11 10:00"));
    expect_instant("same day closes at 12:00", mc_calendar_due_at(cal, at("2024-03-04 09:00"), &sd),
                   at("2024-03-04 12:00"));
    expect_instant("received in the afternoon",
                   mc_calendar_due_at(cal, at("2024-03-04 15:00"), &sd), at("2024-03-05 12:00"));
    assert_int_equal(
        mc_calendar_working_between(cal, at("2024-03-04 00:00"), at("2024-03-11 00:00")),
        6 * 4 * HOUR);
    mc_calendar_free(cal);
}

/* ---- the seed file ------------------------------------------------------ */

static void test_seed_file(void **state)
{
    (void)state;
    struct mc_calendar *cal = mc_calendar_new(NULL);
    int noff, nwork, n = read_seed(cal, &noff, &nwork);
    static const struct {
        int y, m, d;
        int working;
    } facts[] = {
        {2020, 1, 23, 0}, {2020, 1, 29, 0}, {2020, 1, 30, 1}, {2021, 9, 3, 0},   {2022, 1, 3, 0},
        {2023, 5, 3, 0},  {2023, 9, 4, 0},  {2024, 2, 8, 0},  {2024, 2, 14, 0},  {2024, 2, 15, 1},
        {2024, 4, 18, 0}, {2024, 4, 29, 0}, {2024, 5, 4, 1},  {2024, 9, 3, 0},   {2025, 1, 27, 0},
        {2025, 4, 26, 1}, {2025, 5, 2, 0},  {2025, 9, 1, 0},  {2026, 1, 2, 0},   {2026, 1, 10, 1},
        {2026, 2, 20, 0}, {2026, 8, 22, 1}, {2026, 8, 31, 0}, {2026, 11, 24, 1}, /* unconfirmed */
    };

    assert_int_equal(n, 84);
    assert_int_equal(noff, 80);
    assert_int_equal(nwork, 4);
    for (size_t i = 0; i < sizeof facts / sizeof facts[0]; i++)
        if (mc_calendar_is_working_day(cal, day_of(facts[i].y, facts[i].m, facts[i].d)) !=
            facts[i].working)
            fail_msg("%04d-%02d-%02d: want working=%d", facts[i].y, facts[i].m, facts[i].d,
                     facts[i].working);
    /* 2024: 262 weekdays, 12 weekdays off, one extra Saturday */
    assert_int_equal(
        mc_calendar_working_between(cal, at("2024-01-01 00:00"), at("2025-01-01 00:00")),
        251 * (int64_t)WD);
    assert_int_equal(
        mc_calendar_working_between(cal, at("2025-01-01 00:00"), at("2026-01-01 00:00")),
        250 * (int64_t)WD);
    mc_calendar_free(cal);
}

/* ---- loading from PostgreSQL -------------------------------------------- */

static void test_load_db_error(void **state)
{
    (void)state;
    PGconn *conn = PQconnectdb("host=/nonexistent-motcua-socket-dir dbname=x connect_timeout=1");
    struct mc_calendar *cal = mc_calendar_new(NULL);
    char err[256] = "";

    assert_non_null(conn);
    assert_int_equal(mc_calendar_load(cal, conn, NULL, err, sizeof err), MC_EDB);
    assert_non_null(strstr(err, "calendar_day"));
    assert_null(strchr(err, '\n'));
    assert_true(mc_calendar_is_working_day(cal, day_of(2024, 3, 4)));
    PQfinish(conn);
    mc_calendar_free(cal);
}

static int run_sql(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
    if (!ok)
        print_error("%s: %s", sql, PQresultErrorMessage(res));
    PQclear(res);
    return ok;
}

/* Needs a server: set MOTCUA_TEST_PG_URL. Everything runs in a transaction
 * that is rolled back, so the database is left as it was. */
static void test_load_db(void **state)
{
    (void)state;
    const char *url = getenv("MOTCUA_TEST_PG_URL");
    PGconn *conn;
    struct mc_calendar *city = mc_calendar_new(NULL), *agency = mc_calendar_new(NULL);
    char err[256];

    if (url == NULL || *url == '\0') {
        mc_calendar_free(city);
        mc_calendar_free(agency);
        skip();
    }
    conn = PQconnectdb(url);
    assert_int_equal(PQstatus(conn), CONNECTION_OK);
    assert_true(run_sql(conn, "BEGIN"));
    assert_true(run_sql(conn, "SET LOCAL client_min_messages = warning"));
    assert_true(run_sql(conn, "SET LOCAL DateStyle = 'SQL, DMY'")); /* must not matter */
    assert_true(run_sql(conn, "CREATE SCHEMA IF NOT EXISTS catalog"));
    assert_true(run_sql(conn, "CREATE TABLE IF NOT EXISTS catalog.calendar_day (agency_code "
                              "text, day date NOT NULL, kind text NOT NULL, name text NOT "
                              "NULL, source text)"));
    assert_true(run_sql(conn, "DELETE FROM catalog.calendar_day"));
    assert_true(run_sql(conn, "INSERT INTO catalog.calendar_day VALUES"
                              " (NULL, '2024-04-29', 'off', 'swap', NULL),"
                              " (NULL, '2024-05-04', 'work', 'swap', NULL),"
                              " ('A1', '2024-04-29', 'work', 'agency works', NULL),"
                              " ('A1', '2024-03-06', 'off', 'agency day off', NULL),"
                              " ('B2', '2024-03-07', 'off', 'other agency', NULL)"));

    assert_int_equal(mc_calendar_load(city, conn, NULL, err, sizeof err), 0);
    assert_false(mc_calendar_is_working_day(city, day_of(2024, 4, 29)));
    assert_true(mc_calendar_is_working_day(city, day_of(2024, 5, 4)));
    assert_true(mc_calendar_is_working_day(city, day_of(2024, 3, 6)));

    assert_int_equal(mc_calendar_load(agency, conn, "A1", err, sizeof err), 0);
    assert_true(mc_calendar_is_working_day(agency, day_of(2024, 4, 29))); /* agency wins */
    assert_true(mc_calendar_is_working_day(agency, day_of(2024, 5, 4)));
    assert_false(mc_calendar_is_working_day(agency, day_of(2024, 3, 6)));
    assert_true(mc_calendar_is_working_day(agency, day_of(2024, 3, 7)));

    /* the rule holidays come with the load; an agency's row can cancel one */
    assert_false(mc_calendar_is_working_day(city, day_of(2031, 1, 1)));
    assert_true(run_sql(conn, "INSERT INTO catalog.calendar_day VALUES"
                              " ('A1', '2031-01-01', 'work', 'agency works', NULL)"));
    assert_int_equal(mc_calendar_load(agency, conn, "A1", err, sizeof err), 0);
    assert_true(mc_calendar_is_working_day(agency, day_of(2031, 1, 1)));
    assert_false(mc_calendar_is_working_day(agency, day_of(2031, 1, 23))); /* Tết 2031 */

    /* a day outside 1970..2200 is refused and nothing is applied */
    assert_true(run_sql(conn, "INSERT INTO catalog.calendar_day VALUES"
                              " (NULL, '2024-03-08', 'off', 'x', NULL),"
                              " (NULL, '1960-01-01', 'off', 'too early', NULL)"));
    assert_int_equal(mc_calendar_load(city, conn, NULL, err, sizeof err), MC_EINVAL);
    assert_true(mc_calendar_is_working_day(city, day_of(2024, 3, 8)));
    assert_true(run_sql(conn, "ROLLBACK"));
    PQfinish(conn);
    mc_calendar_free(city);
    mc_calendar_free(agency);
}

/* Office hours from catalog.office_hours: the city's rows, an agency's own
 * rows instead of the city's, seasons, bad rows refused with nothing
 * applied, and a database without the table (before migration 007). */
static void test_load_office_hours_db(void **state)
{
    (void)state;
    const char *url = getenv("MOTCUA_TEST_PG_URL");
    struct mc_calendar *city = NULL, *agency = NULL, *other = NULL;
    char err[256];
    PGconn *conn;

    if (url == NULL || *url == '\0')
        skip();
    conn = PQconnectdb(url);
    assert_int_equal(PQstatus(conn), CONNECTION_OK);
    assert_true(run_sql(conn, "BEGIN"));
    assert_true(run_sql(conn, "SET LOCAL client_min_messages = warning"));
    assert_true(run_sql(conn, "CREATE SCHEMA IF NOT EXISTS catalog"));
    assert_true(run_sql(conn, "CREATE TABLE IF NOT EXISTS catalog.calendar_day (agency_code "
                              "text, day date NOT NULL, kind text NOT NULL, name text NOT "
                              "NULL, source text)"));
    assert_true(run_sql(conn, "CREATE TABLE IF NOT EXISTS catalog.office_hours (agency_code "
                              "text, valid_from text, valid_to text, weekdays smallint NOT NULL "
                              "DEFAULT 62, sessions text NOT NULL, note text)"));
    assert_true(run_sql(conn, "DELETE FROM catalog.calendar_day"));
    assert_true(run_sql(conn, "DELETE FROM catalog.office_hours"));
    assert_true(run_sql(conn, "INSERT INTO catalog.office_hours (agency_code, valid_from, valid_to,"
                              " weekdays, sessions) VALUES"
                              " (NULL, NULL, NULL, 62, '07:00-11:00,13:00-17:00'),"
                              " (NULL, '10-01', '03-31', 62, '07:30-11:30,13:00-17:00'),"
                              " ('A1', NULL, NULL, 126, '08:00-12:00,13:00-17:00')"));

    city = mc_calendar_new(NULL);
    agency = mc_calendar_new(NULL);
    other = mc_calendar_new(NULL);
    assert_int_equal(mc_calendar_load(city, conn, NULL, err, sizeof err), 0);
    assert_int_equal(mc_calendar_load(agency, conn, "A1", err, sizeof err), 0);
    assert_int_equal(mc_calendar_load(other, conn, "B2", err, sizeof err), 0);
    expect_instant("city, summer", mc_calendar_receipt_at(city, at("2027-06-16 11:10")),
                   at("2027-06-16 13:00"));
    expect_instant("city, winter", mc_calendar_receipt_at(city, at("2027-01-13 07:10")),
                   at("2027-01-13 07:30"));
    expect_instant("B2 has no rows: the city's",
                   mc_calendar_receipt_at(other, at("2027-01-13 07:10")), at("2027-01-13 07:30"));
    /* A1's own row, all year, Monday to Saturday; the city's winter does not apply */
    expect_instant("A1 opens at 08:00", mc_calendar_receipt_at(agency, at("2027-01-13 07:10")),
                   at("2027-01-13 08:00"));
    assert_true(mc_calendar_is_working_day(agency, day_of(2027, 1, 16))); /* a Saturday */
    assert_false(mc_calendar_is_working_day(agency, day_of(2027, 1, 1))); /* rule holiday */
    assert_false(mc_calendar_is_working_day(city, day_of(2027, 1, 16)));

    /* a bad row: refused, and the calendar keeps what it had */
    assert_true(run_sql(conn, "INSERT INTO catalog.office_hours (agency_code, valid_from,"
                              " valid_to, weekdays, sessions) VALUES"
                              " (NULL, '12-01', '12-31', 62, '07:00-11:00')"));
    assert_int_equal(mc_calendar_load(city, conn, NULL, err, sizeof err), MC_EINVAL);
    assert_non_null(strstr(err, "overlaps"));
    assert_non_null(strstr(err, "office_hours"));
    expect_instant("unchanged", mc_calendar_receipt_at(city, at("2027-06-16 11:10")),
                   at("2027-06-16 13:00"));
    assert_true(run_sql(conn, "DELETE FROM catalog.office_hours WHERE valid_from = '12-01'"));
    assert_true(run_sql(conn, "UPDATE catalog.office_hours SET sessions = '11:00-07:00'"
                              " WHERE agency_code = 'A1'"));
    assert_int_equal(mc_calendar_load(agency, conn, "A1", err, sizeof err), MC_EINVAL);
    assert_non_null(strstr(err, "A1"));

    /* without the table (a database before migration 007) hours stay as created */
    assert_true(run_sql(conn, "DROP TABLE catalog.office_hours"));
    mc_calendar_free(other);
    other = mc_calendar_new(NULL);
    assert_int_equal(mc_calendar_load(other, conn, "A1", err, sizeof err), 0);
    expect_instant("default hours", mc_calendar_receipt_at(other, at("2027-06-16 11:40")),
                   at("2027-06-16 13:30"));
    assert_true(run_sql(conn, "ROLLBACK"));
    PQfinish(conn);
    mc_calendar_free(city);
    mc_calendar_free(agency);
    mc_calendar_free(other);
}

/* ---- properties over pseudo-random instants ----------------------------- */

static uint64_t rng_state = 0x2024020820240504ULL; /* fixed seed: runs are repeatable */

static uint64_t rng(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int64_t rng_range(int64_t lo, int64_t hi) /* inclusive */
{
    return lo + (int64_t)(rng() % (uint64_t)(hi - lo + 1));
}

/* The properties hold for the seeded calendar (2020-2026, the announced
 * years) and for the seasonal one (rule holidays after 2026, two schedules). */
struct subject {
    struct mc_calendar **cal;
    const char *first, *last; /* random instants fall between these */
};
static const struct subject seeded_subject = {&seeded, "2020-01-01 00:00", "2026-10-31 00:00"};
static const struct subject seasonal_subject = {&seasonal, "2020-01-01 00:00", "2035-10-31 00:00"};
static const struct subject *subject = &seeded_subject;

/* The subject a property test was registered with (seeded by default). */
static const struct mc_calendar *subject_of(void **state)
{
    subject = *state != NULL ? *state : &seeded_subject;
    return *subject->cal;
}

/* An instant between the subject's first and last instants. */
static mc_instant random_instant(void)
{
    return rng_range(at(subject->first), at(subject->last));
}

static struct mc_duration random_duration(void)
{
    switch (rng() % 4) {
    case 0:
        return (struct mc_duration){(int)rng_range(1, 60), MC_DUR_WORKING_DAYS};
    case 1:
        return (struct mc_duration){(int)rng_range(1, 40), MC_DUR_WORKING_HOURS};
    case 2:
        return (struct mc_duration){(int)rng_range(1, 90), MC_DUR_CALENDAR_DAYS};
    default:
        return (struct mc_duration){1, MC_DUR_SAME_DAY};
    }
}

/* Inside a session of a working day, session ends included (a due instant
 * may be 11:30 or 17:00). */
static int within_office_hours(const struct mc_calendar *cal, mc_instant t, int ends_too)
{
    int32_t day = mc_vn_day(t);
    int64_t sod = t - mc_vn_day_start(day);
    const struct mc_office_hours *hours = mc_calendar_hours_on(cal, day);

    if (!mc_calendar_is_working_day(cal, day))
        return 0;
    for (int i = 0; i < hours->nsessions; i++) {
        int64_t start = hours->sessions[i].start_min * 60, end = hours->sessions[i].end_min * 60;
        if (sod >= start && (sod < end || (ends_too && sod == end)))
            return 1;
    }
    return 0;
}

static void test_property_due_inside_office_hours(void **state)
{
    const struct mc_calendar *cal = subject_of(state);
    char buf[MC_RFC3339_LEN], buf2[MC_RFC3339_LEN], dbuf[16];
    for (int i = 0; i < 20000; i++) {
        mc_instant received_at = random_instant();
        struct mc_duration d = random_duration();
        mc_instant receipt_at = mc_calendar_receipt_at(cal, received_at);
        mc_instant due_at = mc_calendar_due_at(cal, received_at, &d);
        if (!within_office_hours(cal, receipt_at, 0))
            fail_msg("receipt %s outside office hours", mc_time_format(receipt_at, buf));
        if (receipt_at < received_at || receipt_at - received_at > 12 * 86400)
            fail_msg("receipt %s too far from reception", mc_time_format(receipt_at, buf));
        if (!within_office_hours(cal, due_at, 1) || due_at <= received_at)
            fail_msg("%s + %s -> due %s outside office hours", mc_time_format(received_at, buf),
                     mc_duration_format(&d, dbuf), mc_time_format(due_at, buf2));
    }
}

static void test_property_add_is_additive(void **state)
{
    const struct mc_calendar *cal = subject_of(state);
    for (int i = 0; i < 20000; i++) {
        mc_instant receipt_at = mc_calendar_receipt_at(cal, random_instant());
        int64_t a = rng_range(1, 20 * WD), b = rng_range(1, 20 * WD);
        /* land on session boundaries often */
        if (i % 3 == 0)
            a = a / 1800 * 1800 + 1800;
        mc_instant twice =
            mc_calendar_add_working(cal, mc_calendar_add_working(cal, receipt_at, a), b);
        expect_instant("add(a) then add(b)", twice,
                       mc_calendar_add_working(cal, receipt_at, a + b));
    }
}

static void test_property_later_receipt_never_due_earlier(void **state)
{
    const struct mc_calendar *cal = subject_of(state);
    char b1[MC_RFC3339_LEN], b2[MC_RFC3339_LEN], b3[MC_RFC3339_LEN], b4[MC_RFC3339_LEN];
    char dbuf[16];
    for (int i = 0; i < 20000; i++) {
        mc_instant r1 = random_instant();
        mc_instant r2 = r1 + (i % 2 ? rng_range(0, 3 * HOUR) : rng_range(0, 12 * 86400));
        struct mc_duration d = random_duration();
        mc_instant due1 = mc_calendar_due_at(cal, r1, &d);
        mc_instant due2 = mc_calendar_due_at(cal, r2, &d);
        /* calendar days: the due day never goes back; see test_calendar_days_same_day */
        int earlier =
            d.unit == MC_DUR_CALENDAR_DAYS ? mc_vn_day(due2) < mc_vn_day(due1) : due2 < due1;
        if (earlier)
            fail_msg("%s received %s due %s, but received %s due %s", mc_duration_format(&d, dbuf),
                     mc_time_format(r1, b1), mc_time_format(due1, b2), mc_time_format(r2, b3),
                     mc_time_format(due2, b4));
    }
}

/* The rule for calendar days (same clock time on the next working day) keeps
 * the due day in order but not the time within it: both below are due on
 * Monday 11 March, the later reception at an earlier hour. */
static void test_calendar_days_same_day(void **state)
{
    (void)state;
    struct mc_duration d = dur("5cd");
    expect_instant("Mon 16:00 + 5cd (Saturday)",
                   mc_calendar_due_at(small, at("2024-03-04 16:00"), &d), at("2024-03-11 16:00"));
    expect_instant("Wed 09:00 + 5cd (Monday)",
                   mc_calendar_due_at(small, at("2024-03-06 09:00"), &d), at("2024-03-11 09:00"));
}

/* Counts working minutes one at a time: slow, obviously right. */
static mc_instant oracle_add(const struct mc_calendar *cal, mc_instant from, int64_t minutes)
{
    mc_instant t = from;
    while (!within_office_hours(cal, t, 0))
        t += 60;
    while (minutes > 0) {
        if (within_office_hours(cal, t, 0))
            minutes--;
        t += 60;
    }
    return t;
}

static void test_property_matches_minute_oracle(void **state)
{
    const struct mc_calendar *cal = subject_of(state);
    for (int i = 0; i < 3000; i++) {
        mc_instant from = random_instant() / 60 * 60;
        int64_t minutes = rng_range(1, 3 * 480);
        expect_instant("add_working vs minute by minute",
                       mc_calendar_add_working(cal, from, minutes * 60),
                       oracle_add(cal, from, minutes));
    }
}

static void test_property_between_inverts_add(void **state)
{
    const struct mc_calendar *cal = subject_of(state);
    for (int i = 0; i < 20000; i++) {
        mc_instant from = random_instant();
        int64_t seconds = rng_range(1, 80 * WD);
        mc_instant to = mc_calendar_add_working(cal, from, seconds);
        assert_int_equal(mc_calendar_working_between(cal, from, to), seconds);
    }
}

/* N working days from an instant strictly inside a session end at the same
 * clock time N working days later; counted here day by day. */
static void test_property_working_days_keep_clock_time(void **state)
{
    (void)state;
    int checked = 0;
    while (checked < 5000) {
        mc_instant received_at = random_instant();
        int64_t sod = received_at - mc_vn_day_start(mc_vn_day(received_at));
        struct mc_duration d = {(int)rng_range(1, 120), MC_DUR_WORKING_DAYS};
        int32_t day = mc_vn_day(received_at);
        if (!within_office_hours(seeded, received_at, 0) || sod == 7 * HOUR ||
            sod == 13 * HOUR + 1800)
            continue;
        for (int n = 0; n < d.amount; n++)
            do
                day++;
            while (!mc_calendar_is_working_day(seeded, day));
        expect_instant("N wd keeps the clock time", mc_calendar_due_at(seeded, received_at, &d),
                       mc_vn_day_start(day) + sod);
        checked++;
    }
}

/* A long deadline is computed session by session, not minute by minute. */
static void test_long_deadlines_are_fast(void **state)
{
    (void)state;
    struct mc_duration d = dur("10000wd");
    clock_t start = clock();
    mc_instant due_at = 0;
    for (int i = 0; i < 2000; i++)
        due_at = mc_calendar_due_at(seeded, at("2024-03-04 08:00") + i, &d);
    assert_true(due_at > at("2060-01-01 00:00"));
    assert_true((double)(clock() - start) / CLOCKS_PER_SEC < 5.0);
    d = dur("60wd");
    expect_instant("60wd over the 2024 holidays",
                   mc_calendar_due_at(seeded, at("2024-03-04 08:00"), &d), at("2024-05-30 08:00"));
}

/* A property test run on the seasonal calendar. */
#define SEASONAL(f)                                                                                \
    {                                                                                              \
#f " (seasonal)", f, NULL, NULL, (void *)&seasonal_subject                                 \
    }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duration_parse),
        cmocka_unit_test(test_law_cases),
        cmocka_unit_test(test_overrides_win_over_rules),
        cmocka_unit_test(test_rules_under_the_seed),
        cmocka_unit_test(test_office_hours_parse),
        cmocka_unit_test(test_seasons),
        cmocka_unit_test(test_seasonal_due_at),
        cmocka_unit_test(test_working_days),
        cmocka_unit_test(test_receipt_at),
        cmocka_unit_test(test_due_at),
        cmocka_unit_test(test_add_working),
        cmocka_unit_test(test_working_between),
        cmocka_unit_test(test_custom_hours),
        cmocka_unit_test(test_seed_file),
        cmocka_unit_test(test_load_db_error),
        cmocka_unit_test(test_load_db),
        cmocka_unit_test(test_load_office_hours_db),
        cmocka_unit_test(test_property_due_inside_office_hours),
        cmocka_unit_test(test_property_add_is_additive),
        cmocka_unit_test(test_property_later_receipt_never_due_earlier),
        cmocka_unit_test(test_calendar_days_same_day),
        cmocka_unit_test(test_property_matches_minute_oracle),
        cmocka_unit_test(test_property_between_inverts_add),
        SEASONAL(test_property_due_inside_office_hours),
        SEASONAL(test_property_add_is_additive),
        SEASONAL(test_property_later_receipt_never_due_earlier),
        SEASONAL(test_property_matches_minute_oracle),
        SEASONAL(test_property_between_inverts_add),
        cmocka_unit_test(test_property_working_days_keep_clock_time),
        cmocka_unit_test(test_long_deadlines_are_fast),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
