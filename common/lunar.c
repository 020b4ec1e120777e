/* The Vietnamese lunisolar calendar from astronomy: new moons, the sun's longitude, UTC+7. */
#include "motcua/lunar.h"

#include <math.h>
#include <stdio.h>

#include "motcua/error.h"
#include "motcua/timeutil.h"

/* The rules (the same for the Chinese calendar; only the meridian differs):
 * - a month begins on the local day that contains a new moon;
 * - month 11 is the month that contains the December solstice;
 * - when 13 months separate two months 11, the first of them that contains
 *   no principal term (the sun's longitude reaching a multiple of 30°) is a
 *   leap month and repeats the number of the month before it.
 * "Contains" is decided by local days: a month runs from 00:00 local of its
 * new moon's day to 00:00 local of the next one's.
 *
 * The astronomy: new moons by the series of J. Meeus, "Astronomical
 * Algorithms" (2nd ed., ch. 49, about a minute or better); the sun's apparent
 * longitude by the same book's lower-accuracy theory (ch. 25, 0.01°, so a
 * principal term is placed within about a quarter of an hour); ΔT (TT - UT)
 * by the Espenak-Meeus polynomials. */

#define PI 3.14159265358979323846
#define JD_UNIX_EPOCH 2440587.5      /* 1970-01-01 00:00 UT */
#define JDE_NEW_MOON_0 2451550.09766 /* the mean new moon of 2000-01-06 (k = 0) */
#define SYNODIC_MONTH 29.530588861

static double deg_sin(double deg)
{
    return sin(deg * PI / 180.0);
}

/* TT - UT in seconds for a (fractional) Gregorian year. */
static double delta_t_seconds(double y)
{
    double t, u = (y - 1820.0) / 100.0;

    if (y < 1961.0) {
        t = y - 1950.0;
        return 29.07 + 0.407 * t - t * t / 233.0 + t * t * t / 2547.0;
    }
    if (y < 1986.0) {
        t = y - 1975.0;
        return 45.45 + 1.067 * t - t * t / 260.0 - t * t * t / 718.0;
    }
    if (y < 2005.0) {
        t = y - 2000.0;
        return 63.86 + 0.3345 * t - 0.060374 * t * t + 0.0017275 * t * t * t +
               0.000651814 * t * t * t * t + 0.00002373599 * t * t * t * t * t;
    }
    if (y < 2050.0) {
        t = y - 2000.0;
        return 62.92 + 0.32217 * t + 0.005589 * t * t;
    }
    if (y < 2150.0)
        return -20.0 + 32.0 * u * u - 0.5628 * (2150.0 - y);
    return -20.0 + 32.0 * u * u;
}

static double delta_t_days(double jd)
{
    return delta_t_seconds(2000.0 + (jd - 2451545.0) / 365.25) / 86400.0;
}

/* Julian day (UT) of the new moon of lunation k (k = 0: January 2000). */
static double new_moon_jd(int k)
{
    /* Periodic terms of the true new moon: coefficient (days), power of E,
     * and multiples of M (sun's mean anomaly), M' (moon's), F (argument of
     * latitude). */
    static const struct {
        double coef;
        int e_pow, m, mp, f;
    } terms[] = {
        {-0.40720, 0, 0, 1, 0},   {0.17241, 1, 1, 0, 0},   {0.01608, 0, 0, 2, 0},
        {0.01039, 0, 0, 0, 2},    {0.00739, 1, -1, 1, 0},  {-0.00514, 1, 1, 1, 0},
        {0.00208, 2, 2, 0, 0},    {-0.00111, 0, 0, 1, -2}, {-0.00057, 0, 0, 1, 2},
        {0.00056, 1, 1, 2, 0},    {-0.00042, 0, 0, 3, 0},  {0.00042, 1, 1, 0, 2},
        {0.00038, 1, 1, 0, -2},   {-0.00024, 1, -1, 2, 0}, {-0.00007, 0, 2, 1, 0},
        {0.00004, 0, 0, 2, -2},   {0.00004, 0, 3, 0, 0},   {0.00003, 0, 1, 1, -2},
        {0.00003, 0, 0, 2, 2},    {-0.00003, 0, 1, 1, 2},  {0.00003, 0, -1, 1, 2},
        {-0.00002, 0, -1, 1, -2}, {-0.00002, 0, 1, 3, 0},  {0.00002, 0, 0, 4, 0},
    };
    /* Planetary arguments: phase at k = 0, rate per lunation, coefficient. */
    static const double planetary[][3] = {
        {299.77, 0.107408, 0.000325},  {251.88, 0.016321, 0.000165}, {251.83, 26.651886, 0.000164},
        {349.42, 36.412478, 0.000126}, {84.66, 18.206239, 0.000110}, {141.74, 53.303771, 0.000062},
        {207.14, 2.453732, 0.000060},  {154.84, 7.306860, 0.000056}, {34.52, 27.261239, 0.000047},
        {207.19, 0.121824, 0.000042},  {291.34, 1.844379, 0.000040}, {161.72, 24.198154, 0.000037},
        {239.56, 25.513099, 0.000035}, {331.55, 3.592518, 0.000023},
    };
    double t = k / 1236.85, t2 = t * t, t3 = t2 * t, t4 = t3 * t;
    double jde = JDE_NEW_MOON_0 + SYNODIC_MONTH * k + 0.00015437 * t2 - 0.000000150 * t3 +
                 0.00000000073 * t4;
    double e = 1.0 - 0.002516 * t - 0.0000074 * t2;
    double m = 2.5534 + 29.10535670 * k - 0.0000014 * t2 - 0.00000011 * t3;
    double mp = 201.5643 + 385.81693528 * k + 0.0107582 * t2 + 0.00001238 * t3 - 0.000000058 * t4;
    double f = 160.7108 + 390.67050284 * k - 0.0016118 * t2 - 0.00000227 * t3 + 0.000000011 * t4;
    double omega = 124.7746 - 1.56375588 * k + 0.0020672 * t2 + 0.00000215 * t3;

    for (size_t i = 0; i < sizeof terms / sizeof terms[0]; i++) {
        double factor = terms[i].e_pow == 0 ? 1.0 : terms[i].e_pow == 1 ? e : e * e;
        jde += terms[i].coef * factor * deg_sin(terms[i].m * m + terms[i].mp * mp + terms[i].f * f);
    }
    jde += -0.00017 * deg_sin(omega);
    jde += planetary[0][2] * deg_sin(planetary[0][0] + planetary[0][1] * k - 0.009173 * t2);
    for (size_t i = 1; i < sizeof planetary / sizeof planetary[0]; i++)
        jde += planetary[i][2] * deg_sin(planetary[i][0] + planetary[i][1] * k);
    return jde - delta_t_days(jde);
}

/* The sun's apparent geocentric longitude in degrees [0, 360) at jd (UT). */
static double sun_longitude(double jd)
{
    double jde = jd + delta_t_days(jd);
    double t = (jde - 2451545.0) / 36525.0;
    double l0 = 280.46646 + 36000.76983 * t + 0.0003032 * t * t;
    double m = 357.52911 + 35999.05029 * t - 0.0001537 * t * t;
    double c = (1.914602 - 0.004817 * t - 0.000014 * t * t) * deg_sin(m) +
               (0.019993 - 0.000101 * t) * deg_sin(2 * m) + 0.000289 * deg_sin(3 * m);
    double omega = 125.04 - 1934.136 * t;
    double lon = l0 + c - 0.00569 - 0.00478 * deg_sin(omega);

    lon = fmod(lon, 360.0);
    return lon < 0 ? lon + 360.0 : lon;
}

/* Julian day (UT) of 00:00 local on a local day. */
static double local_midnight_jd(int32_t day, int offset_min)
{
    return JD_UNIX_EPOCH + day - offset_min / 1440.0;
}

/* The local day of lunation k's new moon. */
static int32_t new_moon_day(int k, int offset_min)
{
    return (int32_t)floor(new_moon_jd(k) - JD_UNIX_EPOCH + offset_min / 1440.0);
}

/* Which 30° sector (0..11) the sun is in at 00:00 local of day; a month
 * starting on day a and ending before day b contains a principal term iff
 * the sector at a differs from the sector at b. */
static int sun_sector(int32_t day, int offset_min)
{
    return (int)(sun_longitude(local_midnight_jd(day, offset_min)) / 30.0);
}

/* The lunation whose month contains local day `day`. */
static int lunation_of_day(int32_t day, int offset_min)
{
    int k = (int)floor((local_midnight_jd(day, offset_min) - JDE_NEW_MOON_0) / SYNODIC_MONTH);

    while (new_moon_day(k + 1, offset_min) <= day)
        k++;
    while (new_moon_day(k, offset_min) > day)
        k--;
    return k;
}

/* The lunation of month 11 of Gregorian year y (the month holding the
 * December solstice, 270°). The last month starting by 31 December holds it
 * unless the sun had already passed 270° when that month began. */
static int month11_lunation(int y, int offset_min)
{
    int k = lunation_of_day(mc_days_from_civil(y, 12, 31), offset_min);

    if (sun_sector(new_moon_day(k, offset_min), offset_min) >= 9)
        k--;
    return k;
}

/* The months from month 11 of Gregorian year y to the day before month 11 of
 * year y + 1: 12 or 13 of them. */
struct lunar_span {
    int year;          /* y: months before month 1 belong to lunar year y, the rest to y + 1 */
    int nmonths;       /* 12 or 13 */
    int leap_index;    /* index of the leap month, -1 if none */
    int32_t start[14]; /* first local day of each month, and of the month after */
};

static void span_build(int y, int offset_min, struct lunar_span *sp)
{
    int k11 = month11_lunation(y, offset_min);
    int k11_next = month11_lunation(y + 1, offset_min);

    sp->year = y;
    sp->nmonths = k11_next - k11;
    sp->leap_index = -1;
    for (int i = 0; i <= sp->nmonths; i++)
        sp->start[i] = new_moon_day(k11 + i, offset_min);
    if (sp->nmonths == 13) {
        /* Month 11 holds the solstice, so the search starts after it. Some
         * month in 1..12 holds no principal term: 12 months, 11 terms. */
        for (int i = 1; i < 13 && sp->leap_index < 0; i++)
            if (sun_sector(sp->start[i], offset_min) == sun_sector(sp->start[i + 1], offset_min))
                sp->leap_index = i;
    }
}

/* The number and leap flag of month i of a span. */
static void span_label(const struct lunar_span *sp, int i, int *month, int *leap)
{
    int ordinal = sp->leap_index >= 0 && i >= sp->leap_index ? i - 1 : i;

    *leap = i == sp->leap_index;
    *month = (10 + ordinal) % 12 + 1; /* ordinal 0 is month 11 */
}

/* Index of month 1 in the span (after 11, 12 and perhaps a leap 11 or 12). */
static int span_first_month_index(const struct lunar_span *sp)
{
    return sp->leap_index == 1 || sp->leap_index == 2 ? 3 : 2;
}

static int year_supported(int year)
{
    return year >= MC_LUNAR_MIN_YEAR && year <= MC_LUNAR_MAX_YEAR;
}

int mc_lunar_from_solar_tz(int32_t day, int utc_offset_min, struct mc_lunar_date *out)
{
    struct lunar_span sp;
    int gy, gm, gd, i, month, leap, year;

    /* The day lies in the span that starts in month 11 of the previous
     * Gregorian year, or, from this year's month 11 on, in the next one. */
    mc_civil_from_days(day, &gy, &gm, &gd);
    span_build(gy - 1, utc_offset_min, &sp);
    if (day >= sp.start[sp.nmonths])
        span_build(gy, utc_offset_min, &sp);
    for (i = 0; i < sp.nmonths - 1 && day >= sp.start[i + 1]; i++)
        ;
    span_label(&sp, i, &month, &leap);
    year = i < span_first_month_index(&sp) ? sp.year : sp.year + 1;
    if (!year_supported(year))
        return MC_EINVAL;
    out->year = year;
    out->month = month;
    out->leap = leap;
    out->day = (int)(day - sp.start[i]) + 1;
    return 0;
}

/* Finds a month of lunar year `year` in its span; -1 if it does not exist. */
static int find_month(int year, int month, int leap, int offset_min, struct lunar_span *sp)
{
    if (!year_supported(year) || month < 1 || month > 12)
        return -1;
    /* Months 11 and 12 (and a leap 11 or 12) open the span of their own
     * Gregorian year; months 1 to 10 close the previous one. */
    span_build(month >= 11 ? year : year - 1, offset_min, sp);
    for (int i = 0; i < sp->nmonths; i++) {
        int m, l;
        span_label(sp, i, &m, &l);
        if (m == month && l == (leap != 0))
            return i;
    }
    return -1;
}

int mc_lunar_to_solar_tz(int year, int month, int day, int leap, int utc_offset_min, int32_t *out)
{
    struct lunar_span sp;
    int i = find_month(year, month, leap, utc_offset_min, &sp);

    if (i < 0 || day < 1 || day > sp.start[i + 1] - sp.start[i])
        return MC_EINVAL;
    *out = sp.start[i] + day - 1;
    return 0;
}

int mc_lunar_from_solar(int32_t day, struct mc_lunar_date *out)
{
    return mc_lunar_from_solar_tz(day, MC_LUNAR_VN_OFFSET_MIN, out);
}

int mc_lunar_to_solar(int year, int month, int day, int leap, int32_t *out)
{
    return mc_lunar_to_solar_tz(year, month, day, leap, MC_LUNAR_VN_OFFSET_MIN, out);
}

int mc_lunar_leap_month(int year)
{
    struct lunar_span sp;
    int month, leap;

    if (!year_supported(year))
        return MC_EINVAL;
    span_build(year - 1, MC_LUNAR_VN_OFFSET_MIN, &sp); /* months 1..10 */
    if (sp.leap_index >= span_first_month_index(&sp)) {
        span_label(&sp, sp.leap_index, &month, &leap);
        return month;
    }
    span_build(year, MC_LUNAR_VN_OFFSET_MIN, &sp); /* months 11 and 12 */
    if (sp.leap_index >= 0 && sp.leap_index < span_first_month_index(&sp)) {
        span_label(&sp, sp.leap_index, &month, &leap);
        return month;
    }
    return 0;
}

int mc_lunar_month_days(int year, int month, int leap)
{
    struct lunar_span sp;
    int i = find_month(year, month, leap, MC_LUNAR_VN_OFFSET_MIN, &sp);

    return i < 0 ? MC_EINVAL : (int)(sp.start[i + 1] - sp.start[i]);
}

char *mc_lunar_year_name(int year, char *buf, size_t len)
{
    static const char *const stems[10] = {"Giáp", "Ất",   "Bính", "Đinh", "Mậu",
                                          "Kỷ",   "Canh", "Tân",  "Nhâm", "Quý"};
    static const char *const branches[12] = {"Tý",  "Sửu", "Dần",  "Mão", "Thìn", "Tỵ",
                                             "Ngọ", "Mùi", "Thân", "Dậu", "Tuất", "Hợi"};
    /* 4 CE (and every 60 years after) was a Giáp Tý year. */
    int cycle = ((year - 4) % 60 + 60) % 60;

    snprintf(buf, len, "%s %s", stems[cycle % 10], branches[cycle % 12]);
    return buf;
}
