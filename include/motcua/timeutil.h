/* Instants: parsing and printing RFC 3339, civil dates in Vietnam (UTC+7). */
#ifndef MOTCUA_TIMEUTIL_H
#define MOTCUA_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

/* An instant is int64 seconds since the Unix epoch (UTC). Sub-second parts
 * of inputs are truncated. Vietnam has used UTC+7 without DST since 1975, so
 * civil time is a fixed offset. */
typedef int64_t mc_instant;

#define MC_VN_OFFSET_SECONDS (7 * 3600)
#define MC_RFC3339_LEN 32 /* buffer size that fits any output of mc_time_format */

/* Parses RFC 3339 "YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)" ('t' and 'z'
 * also accepted); a leap second (23:59:60 UTC) is the second after it.
 * Returns 0 or MC_EINVAL; the offset is mandatory. The JSON Schema
 * validator's "date-time" is exactly what this accepts. */
int mc_time_parse(const char *s, mc_instant *out);

/* Writes t as "YYYY-MM-DDTHH:MM:SS+07:00" into buf (>= MC_RFC3339_LEN). */
char *mc_time_format(mc_instant t, char *buf);

/* Current wall-clock instant. */
mc_instant mc_time_now(void);

/* Civil date in Vietnam: days since 1970-01-01 (local), and back. */
int32_t mc_vn_day(mc_instant t);
mc_instant mc_vn_day_start(int32_t day); /* 00:00 local of that day */
/* Gregorian date <-> day number (proleptic, days since 1970-01-01). */
int32_t mc_days_from_civil(int y, int m, int d);
void mc_civil_from_days(int32_t day, int *y, int *m, int *d);
int mc_weekday(int32_t day); /* 0 = Sunday .. 6 = Saturday */

#endif
