/* Working-time arithmetic over office hours, weekends and the catalog's days
 * off and extra working days (docs/domain.md, "Counting processing time"). */
#ifndef MOTCUA_CALENDAR_H
#define MOTCUA_CALENDAR_H

#include <libpq-fe.h>
#include <stdint.h>

#include "motcua/timeutil.h"

#define MC_CAL_MAX_SESSIONS 4
#define MC_WORKING_DAY_SECONDS (8 * 3600) /* 1 working day = 8 working hours */
#define MC_SAME_DAY_CUTOFF_MIN (15 * 60)  /* same-day received from 15:00: next day */

struct mc_session {
    int start_min; /* minutes after local midnight, e.g. 7*60 */
    int end_min;   /* exclusive end, e.g. 11*60+30 */
};

struct mc_office_hours {
    int nsessions; /* sorted, non-overlapping */
    struct mc_session sessions[MC_CAL_MAX_SESSIONS];
    unsigned weekdays; /* bit w set = weekday w (0=Sun..6=Sat) is normally worked */
};

/* The default: 07:00-11:30 and 13:30-17:00, Monday to Friday. */
void mc_office_hours_default(struct mc_office_hours *hours);

enum mc_day_override { MC_DAY_RULE = 0, MC_DAY_OFF = 1, MC_DAY_WORK = 2 };

enum mc_duration_unit {
    MC_DUR_WORKING_DAYS,  /* "wd" */
    MC_DUR_WORKING_HOURS, /* "wh" */
    MC_DUR_CALENDAR_DAYS, /* "cd" */
    MC_DUR_SAME_DAY,      /* "sd" (amount must be 1) */
};

struct mc_duration {
    int amount;
    enum mc_duration_unit unit;
};

/* Parses "5wd", "4wh", "15cd", "1sd". Returns 0 or MC_EINVAL with a reason. */
int mc_duration_parse(const char *s, struct mc_duration *out, char *err, size_t errlen);
/* Writes the canonical text form ("5wd") into buf (>= 16 bytes). */
char *mc_duration_format(const struct mc_duration *d, char *buf);

struct mc_calendar;

/* New calendar with the given office hours (NULL: the default) and no
 * overrides. Caller owns it; free with mc_calendar_free (NULL ok). */
struct mc_calendar *mc_calendar_new(const struct mc_office_hours *hours);
void mc_calendar_free(struct mc_calendar *cal);

/* Marks a local day (mc_days_from_civil) as off or as an extra working day;
 * MC_DAY_RULE removes the override. Overrides win over the weekly rule. */
void mc_calendar_set_day(struct mc_calendar *cal, int32_t day, enum mc_day_override kind);

/* Loads into cal, for agency_code (NULL: the city-wide calendar only):
 * - the public holidays by rule (mc_calendar_apply_holidays) for
 *   MC_HOLIDAYS_MIN_YEAR..MC_HOLIDAYS_MAX_YEAR;
 * - office hours from catalog.office_hours when that table exists: the
 *   agency's own rows if it has any, else the city's (agency_code NULL); an
 *   all-year row replaces cal's hours, seasonal rows become its seasons; with
 *   no row cal keeps the hours it was created with;
 * - the overrides of catalog.calendar_day (rows with a NULL agency apply to
 *   all; an agency's own row wins). Overrides win over the rule holidays.
 * Nothing is applied unless every row is valid. Returns 0, MC_EDB or
 * MC_EINVAL with the reason in err. */
int mc_calendar_load(struct mc_calendar *cal, PGconn *conn, const char *agency_code, char *err,
                     size_t errlen);

/* A working day: an override if there is one; else not a rule holiday and a
 * weekday of the office hours in force that day. */
int mc_calendar_is_working_day(const struct mc_calendar *cal, int32_t day);

/* ---- seasons, rule holidays (added with catalog.office_hours) ----------- */

#define MC_CAL_MAX_SEASONS 8

/* Parses sessions such as "07:00-11:30,13:30-17:00" (1..MC_CAL_MAX_SESSIONS,
 * sorted, not overlapping, within 00:00-24:00) and a weekday mask (bit w =
 * weekday w, 0 = Sunday; 1..127) into out. Returns 0 or MC_EINVAL. */
int mc_office_hours_parse(const char *sessions, unsigned weekdays, struct mc_office_hours *out,
                          char *err, size_t errlen);

/* Writes the sessions as "07:00-11:30,13:30-17:00" into buf. Returns buf. */
char *mc_office_hours_format(const struct mc_office_hours *hours, char *buf, size_t len);

/* Adds a season: from_md..to_md inclusive, month*100+day (601 = 1 June);
 * from_md > to_md wraps over the new year (1001..331). On those days hours
 * replace the calendar's all-year hours. Returns 0, or MC_EINVAL when a
 * month-day or the hours are invalid, the season overlaps another, or there
 * are already MC_CAL_MAX_SEASONS. */
int mc_calendar_add_season(struct mc_calendar *cal, int from_md, int to_md,
                           const struct mc_office_hours *hours, char *err, size_t errlen);

/* The office hours in force on a local day (borrowed from cal). */
const struct mc_office_hours *mc_calendar_hours_on(const struct mc_calendar *cal, int32_t day);

/* Marks the weekdays off by rule (mc_holidays_for_year, default rules) for
 * Gregorian years from_year..to_year as days off. They rank below overrides:
 * an extra working day set with mc_calendar_set_day still wins. Returns 0 or
 * MC_EINVAL when the years are outside the rules' range. */
int mc_calendar_apply_holidays(struct mc_calendar *cal, int from_year, int to_year, char *err,
                               size_t errlen);

/* 1 if day is a day off by the rules applied to cal (ignoring overrides). */
int mc_calendar_is_rule_holiday(const struct mc_calendar *cal, int32_t day);

/* When the clock starts for a dossier received at received_at: at once inside
 * office hours; at the afternoon opening during the lunch break; at the
 * opening before it; at the next opening after closing or on a day off. */
mc_instant mc_calendar_receipt_at(const struct mc_calendar *cal, mc_instant received_at);

/* Adds seconds of working time to from (which should be a receipt_at).
 * A result exactly at a session's end stays there. */
mc_instant mc_calendar_add_working(const struct mc_calendar *cal, mc_instant from, int64_t seconds);

/* The statutory due instant for a dossier received at received_at. */
mc_instant mc_calendar_due_at(const struct mc_calendar *cal, mc_instant received_at,
                              const struct mc_duration *d);

/* Working seconds between a and b (0 if b <= a). */
int64_t mc_calendar_working_between(const struct mc_calendar *cal, mc_instant a, mc_instant b);

#endif
