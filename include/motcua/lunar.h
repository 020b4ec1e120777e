/* The Vietnamese lunisolar calendar (âm lịch), computed from the new moons
 * and the sun's longitude for local time UTC+7 (docs/domain.md, "Public holidays"). */
#ifndef MOTCUA_LUNAR_H
#define MOTCUA_LUNAR_H

#include <stddef.h>
#include <stdint.h>

/* Lunar years accepted. The astronomy (Meeus' new moon series and the sun's
 * apparent longitude, ΔT from the Espenak-Meeus polynomials) is checked in
 * tests/unit/test_lunar.c against an independent ephemeris for every year of
 * this range; the law needs 2000-2100. */
#define MC_LUNAR_MIN_YEAR 1950
#define MC_LUNAR_MAX_YEAR 2150

#define MC_LUNAR_VN_OFFSET_MIN (7 * 60) /* Vietnam: UTC+7 */

struct mc_lunar_date {
    int year;  /* lunar year, named by the Gregorian year in which its month 1 begins */
    int month; /* 1..12 */
    int day;   /* 1..30 */
    int leap;  /* 1 in an intercalary month (tháng nhuận), which repeats `month` */
};

/* The lunar date of a local day (days since 1970-01-01, mc_days_from_civil).
 * Returns 0, or MC_EINVAL when the day is outside the supported years. */
int mc_lunar_from_solar(int32_t day, struct mc_lunar_date *out);

/* The local day of a lunar date. Returns 0, or MC_EINVAL when the year is
 * outside the supported range, the month is not 1..12, the year has no such
 * leap month, or the month has fewer days (29) than asked for. */
int mc_lunar_to_solar(int year, int month, int day, int leap, int32_t *out);

/* The month after which lunar year `year` inserts its leap month, 0 if none;
 * MC_EINVAL outside the supported years. */
int mc_lunar_leap_month(int year);

/* 29 or 30; MC_EINVAL when there is no such month. */
int mc_lunar_month_days(int year, int month, int leap);

/* The year's name in the sexagenary cycle, e.g. "Giáp Thìn" for 2024, into
 * buf (>= 24 bytes). Returns buf. */
char *mc_lunar_year_name(int year, char *buf, size_t len);

/* The same calendar computed for another UTC offset in minutes (UTC+8 gives
 * the Chinese calendar's month starts): for comparisons and tests. */
int mc_lunar_from_solar_tz(int32_t day, int utc_offset_min, struct mc_lunar_date *out);
int mc_lunar_to_solar_tz(int year, int month, int day, int leap, int utc_offset_min, int32_t *out);

#endif
