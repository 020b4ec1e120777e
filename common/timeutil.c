/* Instants: RFC 3339 parsing and printing, civil dates at Vietnam's fixed UTC+7. */
#include "motcua/timeutil.h"

#include <stdio.h>
#include <time.h>

#include "motcua/error.h"

#define DAY_SECONDS 86400

/* Floor division: civil arithmetic must round toward the past for instants
 * and days before 1970. */
static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

/* Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's
 * days_from_civil, exact for every int year we accept). */
int32_t mc_days_from_civil(int y, int m, int d)
{
    int64_t yy = (int64_t)y - (m <= 2);
    int64_t era = floor_div(yy, 400);
    int64_t yoe = yy - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (int32_t)(era * 146097 + doe - 719468);
}

void mc_civil_from_days(int32_t day, int *y, int *m, int *d)
{
    int64_t z = (int64_t)day + 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t mm = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yoe + era * 400 + (mm <= 2));
    *m = (int)mm;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
}

int mc_weekday(int32_t day)
{
    /* 1970-01-01 was a Thursday. */
    return (int)(((int64_t)day % 7 + 7 + 4) % 7);
}

int32_t mc_vn_day(mc_instant t)
{
    return (int32_t)floor_div(t + MC_VN_OFFSET_SECONDS, DAY_SECONDS);
}

mc_instant mc_vn_day_start(int32_t day)
{
    return (mc_instant)day * DAY_SECONDS - MC_VN_OFFSET_SECONDS;
}

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : mdays[m - 1];
}

/* Reads exactly n decimal digits at *p; advances *p. */
static int read_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

static int expect_char(const char **p, char c)
{
    if (**p != c)
        return -1;
    (*p)++;
    return 0;
}

/* A leap second (":60", which RFC 3339 allows only at 23:59 UTC) is taken
 * as the second after it, as PostgreSQL takes it: Unix instants cannot name
 * it. The JSON Schema validator checks date-times with this function, so
 * what a schema accepts always parses. */
int mc_time_parse(const char *s, mc_instant *out)
{
    const char *p = s;
    int y, mo, d, h, mi, sec, off_h = 0, off_m = 0, sign = 0, local_year;
    mc_instant t;

    if (s == NULL)
        return MC_EINVAL;
    if (read_digits(&p, 4, &y) || expect_char(&p, '-') || read_digits(&p, 2, &mo) ||
        expect_char(&p, '-') || read_digits(&p, 2, &d))
        return MC_EINVAL;
    if (*p != 'T' && *p != 't')
        return MC_EINVAL;
    p++;
    if (read_digits(&p, 2, &h) || expect_char(&p, ':') || read_digits(&p, 2, &mi) ||
        expect_char(&p, ':') || read_digits(&p, 2, &sec))
        return MC_EINVAL;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return MC_EINVAL;
        while (*p >= '0' && *p <= '9')
            p++; /* sub-second parts are truncated */
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p == '+' ? 1 : -1;
        p++;
        if (read_digits(&p, 2, &off_h) || expect_char(&p, ':') || read_digits(&p, 2, &off_m))
            return MC_EINVAL;
    } else {
        return MC_EINVAL; /* the offset is mandatory */
    }
    if (*p != '\0')
        return MC_EINVAL;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60 ||
        off_h > 23 || off_m > 59)
        return MC_EINVAL;
    if (sec == 60) {
        int utc_minutes = ((h * 60 + mi - sign * (off_h * 60 + off_m)) % 1440 + 1440) % 1440;
        if (utc_minutes != 23 * 60 + 59)
            return MC_EINVAL; /* a leap second is the last second of a UTC day */
    }

    t = (mc_instant)mc_days_from_civil(y, mo, d) * DAY_SECONDS + h * 3600 + mi * 60 + sec -
        sign * (off_h * 3600 + off_m * 60);
    /* Every accepted instant has a four-digit year in Vietnam's time, so
     * mc_time_format writes it back as RFC 3339 (found by fuzzing:
     * 0000-01-01T08:00:00+17:00 is in year -1 there). */
    mc_civil_from_days(mc_vn_day(t), &local_year, &mo, &d);
    if (local_year < 1 || local_year > 9999)
        return MC_EINVAL;
    *out = t;
    return 0;
}

char *mc_time_format(mc_instant t, char *buf)
{
    int32_t day = mc_vn_day(t);
    int64_t sod = t - mc_vn_day_start(day);
    int y, m, d;

    mc_civil_from_days(day, &y, &m, &d);
    snprintf(buf, MC_RFC3339_LEN, "%04d-%02d-%02dT%02d:%02d:%02d+07:00", y, m, d, (int)(sod / 3600),
             (int)(sod / 60 % 60), (int)(sod % 60));
    return buf;
}

mc_instant mc_time_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (mc_instant)ts.tv_sec;
}
