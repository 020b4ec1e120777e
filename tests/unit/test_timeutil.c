/* Unit tests for common/timeutil.c: RFC 3339 instants and Vietnamese civil dates. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "motcua/error.h"
#include "motcua/timeutil.h"

static void test_parse_accepts(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        mc_instant want;
    } cases[] = {
        {"1970-01-01T00:00:00Z", 0},
        {"1970-01-01T07:00:00+07:00", 0},
        {"1970-01-01t00:00:00z", 0},
        {"1969-12-31T23:59:59Z", -1},
        {"2024-03-04T08:00:00+07:00", 1709514000},
        {"2024-03-04T01:00:00Z", 1709514000},
        {"2024-03-04T01:00:00+00:00", 1709514000},
        {"2024-03-03T20:00:00-05:00", 1709514000},
        {"2024-03-04T06:30:00+05:30", 1709514000},
        {"2024-03-04T08:00:00.999999+07:00", 1709514000}, /* truncated, not rounded */
        {"2024-03-04T08:00:00.5Z", 1709539200},
        {"2024-02-29T12:00:00+07:00", 1709182800}, /* leap day */
        {"2000-02-29T00:00:00Z", 951782400},       /* 2000 is a leap year */
        {"2024-12-31T23:59:59+07:00", 1735664399},
        {"2038-01-19T03:14:08Z", 2147483648LL}, /* past 32-bit time_t */
        {"2200-12-31T17:00:00Z", 7289629200LL},
        /* A leap second is the second after it (2017-01-01T00:00:00Z). */
        {"2016-12-31T23:59:60Z", 1483228800},
        {"2017-01-01T06:59:60+07:00", 1483228800},
        /* The first and last instants with a four-digit year in +07:00. */
        {"0001-01-01T00:00:00+07:00", -62135622000LL},
        {"9999-12-31T23:59:59+07:00", 253402275599LL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mc_instant got = 12345;
        if (mc_time_parse(cases[i].text, &got) != 0)
            fail_msg("refused valid \"%s\"", cases[i].text);
        if (got != cases[i].want)
            fail_msg("\"%s\": got %lld want %lld", cases[i].text, (long long)got,
                     (long long)cases[i].want);
    }
}

static void test_parse_rejects(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "2024-03-04T08:00:00",        /* missing offset */
        "2024-03-04",                 /* date only */
        "2024-13-01T00:00:00Z",       /* month 13 */
        "2024-00-10T00:00:00Z",       /* month 0 */
        "2024-02-30T00:00:00Z",       /* Feb 30 */
        "2023-02-29T00:00:00Z",       /* not a leap year */
        "1900-02-29T00:00:00Z",       /* century, not a leap year */
        "2024-04-31T00:00:00Z",       /* April has 30 days */
        "2024-01-00T00:00:00Z",       /* day 0 */
        "2024-03-04T24:00:00Z",       /* hour 24 */
        "2024-03-04T08:60:00Z",       /* minute 60 */
        "2024-03-04T08:00:60Z",       /* second 60 away from 23:59 UTC */
        "2016-12-31T23:59:60+07:00",  /* 16:59 UTC */
        "1970-01-01 00:00:00Z",       /* a space for the T (the schema refuses it too) */
        "0000-01-01T08:00:00+17:00",  /* year -1 in +07:00 (found by fuzzing) */
        "0001-01-01T00:00:00+07:01",  /* a minute before year 1 in +07:00 */
        "9999-12-31T23:59:59-05:00",  /* year 10000 in +07:00 */
        "2024-03-04T08:00:00+24:00",  /* offset hour */
        "2024-03-04T08:00:00+07:60",  /* offset minute */
        "2024-03-04T08:00:00+0700",   /* offset without colon */
        "2024-03-04T08:00:00+7:00",   /* offset with one digit */
        "2024-03-04T08:00:00.Z",      /* dot without digits */
        "2024-03-04T08:00:00Zjunk",   /* trailing text */
        "2024-03-04T08:00:00+07:00 ", /* trailing space */
        "2024-3-04T08:00:00Z",        /* one-digit month */
        "2024-03-04X08:00:00Z",       /* bad separator */
        "2024-03-04T8:00:00Z",        /* one-digit hour */
        "24-03-04T08:00:00Z",         /* two-digit year */
        " 2024-03-04T08:00:00Z",      /* leading space */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mc_instant got = 0;
        int rc = mc_time_parse(bad[i], &got);
        if (rc != MC_EINVAL)
            fail_msg("\"%s\": got rc %d, want MC_EINVAL", bad[i], rc);
    }
    assert_int_equal(mc_time_parse(NULL, &(mc_instant){0}), MC_EINVAL);
}

static void test_format(void **state)
{
    (void)state;
    static const struct {
        mc_instant t;
        const char *want;
    } cases[] = {
        {0, "1970-01-01T07:00:00+07:00"},          {-1, "1970-01-01T06:59:59+07:00"},
        {-25201, "1969-12-31T23:59:59+07:00"},     {1709514000, "2024-03-04T08:00:00+07:00"},
        {1709485200, "2024-03-04T00:00:00+07:00"}, /* local midnight: 17:00 UTC the day before */
        {1735664399, "2024-12-31T23:59:59+07:00"},
    };
    char buf[MC_RFC3339_LEN];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_ptr_equal(mc_time_format(cases[i].t, buf), buf);
        assert_string_equal(buf, cases[i].want);
    }
}

/* format then parse gives the same instant, over a wide range of instants. */
static void test_format_parse_roundtrip(void **state)
{
    (void)state;
    char buf[MC_RFC3339_LEN];
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < 20000; i++) {
        mc_instant t, back = 0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        /* 1900 .. 2200 */
        t = -2208988800LL + (mc_instant)(x % (uint64_t)(7289654400LL + 2208988800LL));
        mc_time_format(t, buf);
        assert_int_equal(strlen(buf), 25);
        assert_int_equal(mc_time_parse(buf, &back), 0);
        if (back != t)
            fail_msg("%lld -> %s -> %lld", (long long)t, buf, (long long)back);
    }
}

static void test_civil_days(void **state)
{
    (void)state;
    static const struct {
        int y, m, d;
        int32_t day;
        int weekday;
    } cases[] = {
        {1970, 1, 1, 0, 4},       {1969, 12, 31, -1, 3},   {2000, 3, 1, 11017, 3},
        {2024, 2, 10, 19763, 6},  {2024, 3, 4, 19786, 1},  {2024, 5, 4, 19847, 6},
        {2200, 12, 31, 84370, 3}, {1900, 1, 1, -25567, 1}, {1601, 1, 1, -134774, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int y, m, d;
        assert_int_equal(mc_days_from_civil(cases[i].y, cases[i].m, cases[i].d), cases[i].day);
        mc_civil_from_days(cases[i].day, &y, &m, &d);
        assert_int_equal(y, cases[i].y);
        assert_int_equal(m, cases[i].m);
        assert_int_equal(d, cases[i].d);
        assert_int_equal(mc_weekday(cases[i].day), cases[i].weekday);
    }
}

/* Every day from 1600 to 2400 converts both ways and weekdays cycle. */
static void test_civil_days_roundtrip(void **state)
{
    (void)state;
    int32_t first = mc_days_from_civil(1600, 1, 1), last = mc_days_from_civil(2400, 12, 31);
    int py = 1599, pm = 12, pd = 31;
    for (int32_t day = first; day <= last; day++) {
        int y, m, d;
        mc_civil_from_days(day, &y, &m, &d);
        assert_int_equal(mc_days_from_civil(y, m, d), day);
        /* the next day follows the previous one */
        assert_true((y == py && m == pm && d == pd + 1) || (y == py && m == pm + 1 && d == 1) ||
                    (y == py + 1 && m == 1 && d == 1 && pm == 12 && pd == 31));
        assert_int_equal(mc_weekday(day), (mc_weekday(day - 1) + 1) % 7);
        py = y, pm = m, pd = d;
    }
}

static void test_vn_day(void **state)
{
    (void)state;
    mc_instant midnight;
    int32_t day = mc_days_from_civil(2024, 3, 4);

    assert_int_equal(mc_time_parse("2024-03-04T00:00:00+07:00", &midnight), 0);
    assert_int_equal(mc_vn_day_start(day), midnight);
    assert_int_equal(mc_vn_day(midnight), day);
    assert_int_equal(mc_vn_day(midnight - 1), day - 1);
    assert_int_equal(mc_vn_day(midnight + 86399), day);
    assert_int_equal(mc_vn_day(midnight + 86400), day + 1);
    /* 1970-01-01 started at 17:00 UTC on 1969-12-31 in Vietnam */
    assert_int_equal(mc_vn_day(0), 0);
    assert_int_equal(mc_vn_day(-7 * 3600), 0);
    assert_int_equal(mc_vn_day(-7 * 3600 - 1), -1);
    assert_int_equal(mc_vn_day_start(0), -7 * 3600);
    assert_int_equal(mc_vn_day_start(-1), -7 * 3600 - 86400);
}

static void test_now(void **state)
{
    (void)state;
    mc_instant now = mc_time_now();
    assert_true(now > 1704067200); /* after 2024-01-01 */
    assert_true(now < 7289654400LL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_accepts), cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_format),        cmocka_unit_test(test_format_parse_roundtrip),
        cmocka_unit_test(test_civil_days),    cmocka_unit_test(test_civil_days_roundtrip),
        cmocka_unit_test(test_vn_day),        cmocka_unit_test(test_now),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
