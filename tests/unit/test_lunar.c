/* Unit tests for common/lunar.c: the Vietnamese lunisolar calendar (UTC+7). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "motcua/error.h"
#include "motcua/lunar.h"
#include "motcua/timeutil.h"

#define CN_OFFSET_MIN (8 * 60) /* the Chinese calendar's meridian, UTC+8 */

static int32_t day_of(int y, int m, int d)
{
    return mc_days_from_civil(y, m, d);
}

static char *iso(int32_t day, char *buf) /* buf >= 11 */
{
    int y, m, d;
    mc_civil_from_days(day, &y, &m, &d);
    snprintf(buf, 11, "%04d-%02d-%02d", y, m, d);
    return buf;
}

static void expect_day(const char *what, int32_t got, int32_t want)
{
    char g[11], w[11];
    if (got != want)
        fail_msg("%s: got %s, want %s", what, iso(got, g), iso(want, w));
}

static int32_t tet(int year, int offset_min)
{
    int32_t day = 0;
    if (mc_lunar_to_solar_tz(year, 1, 1, 0, offset_min, &day) != 0)
        fail_msg("no Tết for %d", year);
    return day;
}

/* Independent reference for 1950-2150: Tết (month-day of mùng 1), Hùng
 * Kings' day (10/3) and the leap month of the lunar year (0: none; 11 or
 * 12 fall at the end of the Gregorian year, as in 2033), computed for UTC+7 with
 * PyEphem 4.1.4 (VSOP87 sun, ELP moon, its own ΔT) by searching the exact
 * new moons and the instants the sun reaches each multiple of 30°, then
 * applying the rules stated at the top of common/lunar.c. It shares no code
 * or series with common/lunar.c. Every month start of 1950-2150 also agreed
 * but one: the new moon of 7 July 1967 (lunar 6/1967) falls 3 seconds after
 * local midnight for PyEphem and 3 seconds before for lunar.c; neither is
 * right to that precision. */
static const struct {
    short year, tet_md, hung_md, leap;
} reference[] = {
    {1950, 217, 426, 0}, {1951, 206, 415, 0}, {1952, 127, 404, 5},  {1953, 214, 423, 0},
    {1954, 203, 412, 0}, {1955, 124, 402, 3}, {1956, 212, 420, 0},  {1957, 131, 409, 8},
    {1958, 218, 428, 0}, {1959, 208, 417, 0}, {1960, 128, 405, 6},  {1961, 215, 424, 0},
    {1962, 205, 414, 0}, {1963, 125, 403, 4}, {1964, 213, 421, 0},  {1965, 201, 411, 0},
    {1966, 121, 331, 3}, {1967, 209, 419, 0}, {1968, 129, 407, 7},  {1969, 216, 426, 0},
    {1970, 206, 415, 0}, {1971, 127, 405, 5}, {1972, 215, 423, 0},  {1973, 203, 412, 0},
    {1974, 123, 402, 4}, {1975, 211, 420, 0}, {1976, 131, 409, 8},  {1977, 218, 427, 0},
    {1978, 207, 416, 0}, {1979, 128, 406, 6}, {1980, 216, 424, 0},  {1981, 205, 414, 0},
    {1982, 125, 403, 4}, {1983, 213, 422, 0}, {1984, 202, 410, 0},  {1985, 121, 429, 2},
    {1986, 209, 418, 0}, {1987, 129, 407, 7}, {1988, 217, 425, 0},  {1989, 206, 415, 0},
    {1990, 127, 405, 5}, {1991, 215, 424, 0}, {1992, 204, 412, 0},  {1993, 123, 401, 3},
    {1994, 210, 420, 0}, {1995, 131, 409, 8}, {1996, 219, 427, 0},  {1997, 207, 416, 0},
    {1998, 128, 406, 5}, {1999, 216, 425, 0}, {2000, 205, 414, 0},  {2001, 124, 403, 4},
    {2002, 212, 422, 0}, {2003, 201, 411, 0}, {2004, 122, 428, 2},  {2005, 209, 418, 0},
    {2006, 129, 407, 7}, {2007, 217, 426, 0}, {2008, 207, 415, 0},  {2009, 126, 404, 5},
    {2010, 214, 423, 0}, {2011, 203, 412, 0}, {2012, 123, 331, 4},  {2013, 210, 419, 0},
    {2014, 131, 409, 9}, {2015, 219, 428, 0}, {2016, 208, 416, 0},  {2017, 128, 406, 6},
    {2018, 216, 425, 0}, {2019, 205, 414, 0}, {2020, 125, 402, 4},  {2021, 212, 421, 0},
    {2022, 201, 410, 0}, {2023, 122, 429, 2}, {2024, 210, 418, 0},  {2025, 129, 407, 6},
    {2026, 217, 426, 0}, {2027, 206, 416, 0}, {2028, 126, 404, 5},  {2029, 213, 423, 0},
    {2030, 202, 412, 0}, {2031, 123, 401, 3}, {2032, 211, 419, 0},  {2033, 131, 409, 11},
    {2034, 219, 428, 0}, {2035, 208, 417, 0}, {2036, 128, 406, 6},  {2037, 215, 424, 0},
    {2038, 204, 413, 0}, {2039, 124, 403, 5}, {2040, 212, 420, 0},  {2041, 201, 410, 0},
    {2042, 122, 429, 2}, {2043, 210, 419, 0}, {2044, 130, 407, 7},  {2045, 217, 426, 0},
    {2046, 206, 415, 0}, {2047, 126, 404, 5}, {2048, 214, 422, 0},  {2049, 202, 411, 0},
    {2050, 123, 401, 3}, {2051, 211, 420, 0}, {2052, 201, 409, 8},  {2053, 218, 428, 0},
    {2054, 208, 417, 0}, {2055, 128, 406, 6}, {2056, 215, 424, 0},  {2057, 204, 413, 0},
    {2058, 124, 402, 4}, {2059, 212, 421, 0}, {2060, 202, 410, 0},  {2061, 121, 331, 3},
    {2062, 209, 419, 0}, {2063, 129, 408, 7}, {2064, 217, 426, 0},  {2065, 205, 415, 0},
    {2066, 126, 404, 5}, {2067, 214, 423, 0}, {2068, 203, 411, 0},  {2069, 123, 401, 4},
    {2070, 211, 420, 0}, {2071, 131, 409, 8}, {2072, 219, 427, 0},  {2073, 207, 416, 0},
    {2074, 127, 405, 6}, {2075, 215, 424, 0}, {2076, 205, 413, 0},  {2077, 124, 402, 4},
    {2078, 212, 421, 0}, {2079, 202, 411, 0}, {2080, 122, 330, 3},  {2081, 209, 418, 0},
    {2082, 129, 407, 7}, {2083, 217, 426, 0}, {2084, 206, 414, 0},  {2085, 126, 403, 5},
    {2086, 214, 422, 0}, {2087, 203, 412, 0}, {2088, 124, 401, 4},  {2089, 210, 420, 0},
    {2090, 130, 409, 8}, {2091, 218, 428, 0}, {2092, 207, 416, 0},  {2093, 127, 405, 6},
    {2094, 215, 424, 0}, {2095, 205, 413, 0}, {2096, 125, 402, 4},  {2097, 212, 421, 0},
    {2098, 201, 411, 0}, {2099, 121, 429, 2}, {2100, 209, 418, 0},  {2101, 129, 408, 7},
    {2102, 217, 426, 0}, {2103, 207, 416, 0}, {2104, 128, 404, 5},  {2105, 215, 424, 0},
    {2106, 204, 413, 0}, {2107, 124, 402, 4}, {2108, 212, 420, 0},  {2109, 131, 409, 9},
    {2110, 219, 428, 0}, {2111, 208, 417, 0}, {2112, 129, 406, 6},  {2113, 216, 425, 0},
    {2114, 206, 415, 0}, {2115, 126, 404, 4}, {2116, 214, 422, 0},  {2117, 202, 411, 0},
    {2118, 122, 331, 3}, {2119, 210, 419, 0}, {2120, 130, 407, 7},  {2121, 217, 426, 0},
    {2122, 207, 416, 0}, {2123, 127, 405, 5}, {2124, 215, 423, 0},  {2125, 203, 413, 0},
    {2126, 123, 402, 4}, {2127, 211, 421, 0}, {2128, 201, 409, 11}, {2129, 219, 428, 0},
    {2130, 208, 417, 0}, {2131, 129, 407, 6}, {2132, 217, 425, 0},  {2133, 205, 414, 0},
    {2134, 125, 404, 5}, {2135, 213, 422, 0}, {2136, 202, 410, 0},  {2137, 122, 429, 2},
    {2138, 210, 419, 0}, {2139, 130, 408, 7}, {2140, 218, 426, 0},  {2141, 207, 416, 0},
    {2142, 127, 405, 5}, {2143, 215, 424, 0}, {2144, 204, 412, 0},  {2145, 123, 401, 4},
    {2146, 211, 420, 0}, {2147, 201, 409, 0}, {2148, 121, 427, 1},  {2149, 208, 417, 0},
    {2150, 129, 407, 6},
};

static void test_reference_1950_2150(void **state)
{
    (void)state;
    char what[64];

    assert_int_equal(sizeof reference / sizeof reference[0],
                     MC_LUNAR_MAX_YEAR - MC_LUNAR_MIN_YEAR + 1);
    for (size_t i = 0; i < sizeof reference / sizeof reference[0]; i++) {
        int y = reference[i].year;
        int32_t hung = 0;
        assert_int_equal(y, MC_LUNAR_MIN_YEAR + (int)i);
        snprintf(what, sizeof what, "Tết %d", y);
        expect_day(what, tet(y, MC_LUNAR_VN_OFFSET_MIN),
                   day_of(y, reference[i].tet_md / 100, reference[i].tet_md % 100));
        snprintf(what, sizeof what, "Hùng Kings' day %d", y);
        assert_int_equal(mc_lunar_to_solar(y, 3, 10, 0, &hung), 0);
        expect_day(what, hung, day_of(y, reference[i].hung_md / 100, reference[i].hung_md % 100));
        if (mc_lunar_leap_month(y) != reference[i].leap)
            fail_msg("%d: leap month %d, want %d", y, mc_lunar_leap_month(y), reference[i].leap);
    }
}

/* The dates the brief and the announcements name. */
static void test_known_dates(void **state)
{
    (void)state;
    static const struct {
        int year;
        const char *tet, *hung;
    } known[] = {
        {2020, "2020-01-25", "2020-04-02"}, {2021, "2021-02-12", "2021-04-21"},
        {2022, "2022-02-01", "2022-04-10"}, {2023, "2023-01-22", "2023-04-29"},
        {2024, "2024-02-10", "2024-04-18"}, {2025, "2025-01-29", "2025-04-07"},
        {2026, "2026-02-17", "2026-04-26"}, {2007, "2007-02-17", "2007-04-26"},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        int y, m, d;
        int32_t hung;
        sscanf(known[i].tet, "%d-%d-%d", &y, &m, &d);
        expect_day(known[i].tet, tet(known[i].year, MC_LUNAR_VN_OFFSET_MIN), day_of(y, m, d));
        sscanf(known[i].hung, "%d-%d-%d", &y, &m, &d);
        assert_int_equal(mc_lunar_to_solar(known[i].year, 3, 10, 0, &hung), 0);
        expect_day(known[i].hung, hung, day_of(y, m, d));
    }
    /* 2025: month 12 of Giáp Thìn has 29 days, so the eve is the 29th */
    assert_int_equal(mc_lunar_month_days(2024, 12, 0), 29);
    assert_int_equal(mc_lunar_month_days(2023, 12, 0), 30);
    /* leap months: 2020 (4), 2023 (2), 2025 (6) */
    assert_int_equal(mc_lunar_leap_month(2020), 4);
    assert_int_equal(mc_lunar_leap_month(2023), 2);
    assert_int_equal(mc_lunar_leap_month(2025), 6);
    assert_int_equal(mc_lunar_leap_month(2024), 0);
}

/* The Vietnamese calendar (UTC+7) against the same rules at UTC+8 (the
 * Chinese calendar): Tết differs in 1965, 1968 (the Tết offensive: the North
 * had moved to UTC+7 in 1967), 1969, 1985 (a month apart: different leap
 * months), 2007, 2030 and 2053, and in no other year of 1950-2147. */
static void test_vietnam_differs_from_china(void **state)
{
    (void)state;
    static const struct {
        int year;
        int vn_md, cn_md;
    } differ[] = {
        {1965, 201, 202}, {1968, 129, 130}, {1969, 216, 217}, {1985, 121, 220},
        {2007, 217, 218}, {2030, 202, 203}, {2053, 218, 219},
    };
    size_t next = 0;

    for (int y = MC_LUNAR_MIN_YEAR; y <= 2147; y++) {
        int32_t vn = tet(y, MC_LUNAR_VN_OFFSET_MIN), cn = tet(y, CN_OFFSET_MIN);
        char a[11], b[11];
        if (next < sizeof differ / sizeof differ[0] && differ[next].year == y) {
            expect_day("VN Tết", vn, day_of(y, differ[next].vn_md / 100, differ[next].vn_md % 100));
            expect_day("CN Tết", cn, day_of(y, differ[next].cn_md / 100, differ[next].cn_md % 100));
            next++;
        } else if (vn != cn) {
            fail_msg("%d: VN Tết %s, CN %s: an unlisted difference", y, iso(vn, a), iso(cn, b));
        }
    }
    assert_int_equal(next, sizeof differ / sizeof differ[0]);
    /* 1985: Vietnam's leap month was 2, China's was month 10 of 1984 */
    assert_int_equal(mc_lunar_leap_month(1985), 2);
    assert_int_equal(mc_lunar_leap_month(1984), 0);
}

/* Month by month over every supported year: each month starts where the
 * previous ends, lasts 29 or 30 days, converts both ways, and a year has 12
 * months, or 13 with exactly the leap month mc_lunar_leap_month names. */
static void test_months_are_consistent(void **state)
{
    (void)state;
    int32_t expected_start = -1;

    for (int y = MC_LUNAR_MIN_YEAR; y < MC_LUNAR_MAX_YEAR; y++) {
        int leap_month = mc_lunar_leap_month(y), nmonths = 0;
        for (int m = 1; m <= 12; m++) {
            for (int leap = 0; leap <= 1; leap++) {
                struct mc_lunar_date ld;
                int32_t first, last;
                int len = mc_lunar_month_days(y, m, leap);
                if (leap && m != leap_month) {
                    assert_int_equal(len, MC_EINVAL);
                    assert_int_equal(mc_lunar_to_solar(y, m, 1, 1, &first), MC_EINVAL);
                    continue;
                }
                if (len != 29 && len != 30)
                    fail_msg("%d/%d%s: %d days", m, y, leap ? " leap" : "", len);
                assert_int_equal(mc_lunar_to_solar(y, m, 1, leap, &first), 0);
                assert_int_equal(mc_lunar_to_solar(y, m, len, leap, &last), 0);
                assert_int_equal(last - first, len - 1);
                assert_int_equal(mc_lunar_to_solar(y, m, len + 1, leap, &last), MC_EINVAL);
                if (expected_start >= 0)
                    expect_day("month follows month", first, expected_start);
                expected_start = first + len;
                for (int32_t d = first; d < first + len; d += len - 1) {
                    assert_int_equal(mc_lunar_from_solar(d, &ld), 0);
                    if (ld.year != y || ld.month != m || ld.leap != leap ||
                        ld.day != (int)(d - first) + 1)
                        fail_msg("%d-%d%s-%d read back as %d-%d%s-%d", y, m, leap ? "L" : "",
                                 (int)(d - first) + 1, ld.year, ld.month, ld.leap ? "L" : "",
                                 ld.day);
                }
                nmonths++;
            }
        }
        assert_int_equal(nmonths, leap_month ? 13 : 12);
    }
}

/* A lunar year lasts 353-355 days, or 383-385 with a leap month. */
static void test_year_lengths(void **state)
{
    (void)state;
    for (int y = MC_LUNAR_MIN_YEAR; y < MC_LUNAR_MAX_YEAR; y++) {
        int32_t len = tet(y + 1, MC_LUNAR_VN_OFFSET_MIN) - tet(y, MC_LUNAR_VN_OFFSET_MIN);
        int ok = mc_lunar_leap_month(y) ? len >= 383 && len <= 385 : len >= 353 && len <= 355;
        if (!ok)
            fail_msg("lunar year %d lasts %d days", y, (int)len);
        /* Tết is never before 21 January nor after 20 February */
        if (tet(y, MC_LUNAR_VN_OFFSET_MIN) < day_of(y, 1, 21) ||
            tet(y, MC_LUNAR_VN_OFFSET_MIN) > day_of(y, 2, 20))
            fail_msg("Tết %d out of its window", y);
    }
}

/* New moons within a minute of local midnight: the answer depends on ΔT and
 * on every term of the series; these agree with the reference and are kept
 * here so that a change of the astronomy that moves them is noticed. */
static void test_close_calls(void **state)
{
    (void)state;
    static const struct {
        int y, m, d;
    } firsts[] = {
        {2054, 5, 8},   /* new moon 00:00:14 local */
        {2077, 11, 15}, /* new moon 23:59:34 local */
        {2085, 10, 18}, /* new moon 23:59:15 local */
        {2031, 4, 21},  /* new moon 23:56:56 local */
    };
    for (size_t i = 0; i < sizeof firsts / sizeof firsts[0]; i++) {
        struct mc_lunar_date ld;
        assert_int_equal(mc_lunar_from_solar(day_of(firsts[i].y, firsts[i].m, firsts[i].d), &ld),
                         0);
        if (ld.day != 1)
            fail_msg("%04d-%02d-%02d: lunar day %d, want 1", firsts[i].y, firsts[i].m, firsts[i].d,
                     ld.day);
    }
}

static void test_bad_input(void **state)
{
    (void)state;
    int32_t day = 12345;
    struct mc_lunar_date ld = {0, 0, 0, 0};

    assert_int_equal(mc_lunar_to_solar(2024, 13, 1, 0, &day), MC_EINVAL);
    assert_int_equal(mc_lunar_to_solar(2024, 0, 1, 0, &day), MC_EINVAL);
    assert_int_equal(mc_lunar_to_solar(2024, 1, 0, 0, &day), MC_EINVAL);
    assert_int_equal(mc_lunar_to_solar(2024, 1, 31, 0, &day), MC_EINVAL);
    assert_int_equal(mc_lunar_to_solar(2024, 12, 30, 0, &day), MC_EINVAL); /* 29 days */
    assert_int_equal(mc_lunar_to_solar(2024, 4, 1, 1, &day), MC_EINVAL);   /* no leap */
    assert_int_equal(mc_lunar_to_solar(MC_LUNAR_MIN_YEAR - 1, 1, 1, 0, &day), MC_EINVAL);
    assert_int_equal(mc_lunar_to_solar(MC_LUNAR_MAX_YEAR + 1, 1, 1, 0, &day), MC_EINVAL);
    assert_int_equal(day, 12345); /* untouched on failure */
    assert_int_equal(mc_lunar_from_solar(day_of(1900, 6, 1), &ld), MC_EINVAL);
    assert_int_equal(mc_lunar_from_solar(day_of(2160, 6, 1), &ld), MC_EINVAL);
    assert_int_equal(ld.year, 0);
    assert_int_equal(mc_lunar_leap_month(1800), MC_EINVAL);
    assert_int_equal(mc_lunar_month_days(2024, 14, 0), MC_EINVAL);
    /* the first and last supported days */
    assert_int_equal(mc_lunar_from_solar(tet(MC_LUNAR_MIN_YEAR, MC_LUNAR_VN_OFFSET_MIN), &ld), 0);
    assert_int_equal(mc_lunar_from_solar(tet(MC_LUNAR_MIN_YEAR, MC_LUNAR_VN_OFFSET_MIN) - 1, &ld),
                     MC_EINVAL);
    assert_int_equal(mc_lunar_from_solar(day_of(MC_LUNAR_MAX_YEAR, 12, 31), &ld), 0);
}

static void test_year_names(void **state)
{
    (void)state;
    char buf[24];
    assert_string_equal(mc_lunar_year_name(2024, buf, sizeof buf), "Giáp Thìn");
    assert_string_equal(mc_lunar_year_name(2025, buf, sizeof buf), "Ất Tỵ");
    assert_string_equal(mc_lunar_year_name(2026, buf, sizeof buf), "Bính Ngọ");
    assert_string_equal(mc_lunar_year_name(2020, buf, sizeof buf), "Canh Tý");
    assert_string_equal(mc_lunar_year_name(1984, buf, sizeof buf), "Giáp Tý");
    assert_string_equal(mc_lunar_year_name(2023, buf, sizeof buf), "Quý Mão");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_1950_2150),
        cmocka_unit_test(test_known_dates),
        cmocka_unit_test(test_vietnam_differs_from_china),
        cmocka_unit_test(test_months_are_consistent),
        cmocka_unit_test(test_year_lengths),
        cmocka_unit_test(test_close_calls),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_year_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
