/* Unit tests for common/holidays.c: public holidays by rule, against the announced 2020-2026. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "motcua/error.h"
#include "motcua/holidays.h"
#include "motcua/lunar.h"
#include "motcua/timeutil.h"

#ifndef MOTCUA_SOURCE_DIR
#define MOTCUA_SOURCE_DIR "."
#endif
#define SEED_SQL MOTCUA_SOURCE_DIR "/schemas/seed/calendar_2020_2026.sql"

static int32_t day_of(int y, int m, int d)
{
    return mc_days_from_civil(y, m, d);
}

static int32_t parse_iso(const char *text)
{
    int y, m, d;
    if (sscanf(text, "%d-%d-%d", &y, &m, &d) != 3)
        fail_msg("bad test date \"%s\"", text);
    return day_of(y, m, d);
}

static char *iso(int32_t day, char *buf) /* buf >= 11 */
{
    int y, m, d;
    mc_civil_from_days(day, &y, &m, &d);
    snprintf(buf, 11, "%04d-%02d-%02d", y, m, d);
    return buf;
}

static int is_weekend(int32_t day)
{
    return mc_weekday(day) == 0 || mc_weekday(day) == 6;
}

static int holidays(int year, struct mc_holiday *out)
{
    char err[128];
    int n = mc_holidays_for_year(year, NULL, out, err, sizeof err);
    if (n < 0)
        fail_msg("%d: %s", year, err);
    return n;
}

static const struct mc_holiday *find(const struct mc_holiday *list, int n, int32_t day)
{
    for (int i = 0; i < n; i++)
        if (list[i].day == day)
            return &list[i];
    return NULL;
}

/* ---- the rules against the announcements of 2020-2026 ------------------ */

struct seed_row {
    int32_t day;
    char kind[8];
};

static int read_seed(struct seed_row *rows, int max)
{
    FILE *f = fopen(SEED_SQL, "r");
    char line[512];
    int n = 0;

    if (f == NULL)
        fail_msg("cannot open %s", SEED_SQL);
    while (fgets(line, sizeof line, f)) {
        const char *p = strstr(line, "(NULL, '");
        int y, m, d;
        if (p == NULL)
            continue;
        if (n == max || sscanf(p, "(NULL, '%d-%d-%d', '%7[a-z]'", &y, &m, &d, rows[n].kind) != 4)
            fail_msg("unreadable seed line: %s", line);
        rows[n++].day = day_of(y, m, d);
    }
    fclose(f);
    return n;
}

/* Every difference between the rule-generated days and the seed, each of
 * which must be a known announcement: the rules cannot foresee a swap
 * (hoán đổi) of a weekday off against a Saturday worked. Anything else —
 * a day off the rules give that the government did not, or one it gave that
 * the rules miss — fails the test. */
static void test_rules_match_announcements(void **state)
{
    (void)state;
    static const struct {
        const char *day, *kind, *why;
    } announced[] = {
        {"2024-04-29", "off", "swap: Mon 29/4 off for Sat 4/5 (Công văn 2450/VPCP-KGVX)"},
        {"2024-05-04", "work", "swap: Sat 4/5 worked for Mon 29/4"},
        {"2025-04-26", "work", "swap: Sat 26/4 worked for Fri 2/5 (Công văn 8726/VPCP-KGVX)"},
        {"2025-05-02", "off", "swap: Fri 2/5 off for Sat 26/4"},
        {"2026-01-02", "off", "swap: Fri 2/1 off for Sat 10/1 (Công văn 12729/VPCP-KGVX)"},
        {"2026-01-10", "work", "swap: Sat 10/1 worked for Fri 2/1"},
        {"2026-08-22", "work", "swap: Sat 22/8 worked for Mon 31/8"},
        {"2026-08-31", "off", "swap: Mon 31/8 off for Sat 22/8"},
    };
    struct seed_row seed[128];
    int nseed = read_seed(seed, 128), nexpected = 0, nunexpected = 0, nrule = 0;
    char buf[11];

    for (int y = 2020; y <= 2026; y++) {
        struct mc_holiday list[MC_HOLIDAYS_MAX];
        int n = holidays(y, list);
        nrule += n;
        for (int i = 0; i < n; i++) {
            int in_seed = 0;
            for (int j = 0; j < nseed; j++)
                in_seed |= seed[j].day == list[i].day && strcmp(seed[j].kind, "off") == 0;
            if (!in_seed) {
                print_error("rule only: %s %s, not announced\n", iso(list[i].day, buf),
                            list[i].name);
                nunexpected++;
            }
        }
    }
    for (int j = 0; j < nseed; j++) {
        struct mc_holiday list[MC_HOLIDAYS_MAX];
        int y, m, d, n, known = 0;
        mc_civil_from_days(seed[j].day, &y, &m, &d);
        n = holidays(y, list);
        if (strcmp(seed[j].kind, "off") == 0 && find(list, n, seed[j].day) != NULL)
            continue; /* the rule gives it too */
        for (size_t k = 0; k < sizeof announced / sizeof announced[0]; k++) {
            if (parse_iso(announced[k].day) == seed[j].day &&
                strcmp(announced[k].kind, seed[j].kind) == 0) {
                print_message("announced, not by rule (expected): %s %s - %s\n",
                              iso(seed[j].day, buf), seed[j].kind, announced[k].why);
                known = 1;
            }
        }
        if (known) {
            nexpected++;
        } else {
            print_error("announced only: %s %s, no rule gives it\n", iso(seed[j].day, buf),
                        seed[j].kind);
            nunexpected++;
        }
    }
    assert_int_equal(nunexpected, 0);
    assert_int_equal(nexpected, sizeof announced / sizeof announced[0]);
    assert_int_equal(nseed, 84);
    assert_int_equal(nrule, 76); /* 80 announced days off less the 4 swapped */
}

/* ---- rules in years without a notice ----------------------------------- */

static void test_table(void **state)
{
    (void)state;
    static const struct {
        const char *day;
        enum mc_holiday_kind kind;
        const char *name_part; /* must appear in the name */
    } cases[] = {
        /* Hùng Kings' day on a Sunday: the Monday after is off */
        {"2036-04-07", MC_HOLIDAY_COMPENSATORY,
         "Hùng Vương (10/3 Bính Thìn) - nghỉ bù for 6/4 (Sun)"},
        /* on a Saturday next to 30/4 (Mon) and 1/5 (Tue): Wednesday 2/5 */
        {"2091-05-02", MC_HOLIDAY_COMPENSATORY,
         "Hùng Vương (10/3 Tân Hợi) - nghỉ bù for 28/4 (Sat)"},
        {"2091-04-30", MC_HOLIDAY_FIXED, "Ngày Chiến thắng"},
        {"2091-05-01", MC_HOLIDAY_FIXED, "Ngày Quốc tế Lao động"},
        /* 2 September on a Sunday: 3/9 adjacent, 4/9 nghỉ bù */
        {"2029-09-03", MC_HOLIDAY_NATIONAL_ADJACENT, "after"},
        {"2029-09-04", MC_HOLIDAY_COMPENSATORY, "Quốc khánh - nghỉ bù for 2/9 (Sun)"},
        /* on a Saturday: 1/9 adjacent, 4/9 nghỉ bù (as announced for 2023) */
        {"2034-09-01", MC_HOLIDAY_NATIONAL_ADJACENT, "before"},
        {"2034-09-04", MC_HOLIDAY_COMPENSATORY, "Quốc khánh - nghỉ bù for 2/9 (Sat)"},
        /* Tết 2027 (mùng 1 Sat 6/2): Sat -> the working day before, Sun -> after */
        {"2027-02-04", MC_HOLIDAY_TET_MOVED, "(28 tháng Chạp) - nghỉ bù for mùng 1 (Sat 6/2)"},
        {"2027-02-05", MC_HOLIDAY_TET, "(29 tháng Chạp, giao thừa)"},
        {"2027-02-08", MC_HOLIDAY_TET, "(mùng 3)"},
        {"2027-02-09", MC_HOLIDAY_TET, "(mùng 4)"},
        {"2027-02-10", MC_HOLIDAY_TET_MOVED, "(mùng 5) - nghỉ bù for mùng 2 (Sun 7/2)"},
        /* 2025: the day the vacanza library mislabels '29 Tết' is the 28th */
        {"2025-01-27", MC_HOLIDAY_TET_MOVED, "(28 tháng Chạp) - nghỉ bù for mùng 4 (Sat 1/2)"},
        {"2025-01-28", MC_HOLIDAY_TET, "(29 tháng Chạp, giao thừa)"},
        /* 1 January on a Saturday and a Sunday */
        {"2033-01-03", MC_HOLIDAY_COMPENSATORY, "Tết Dương lịch - nghỉ bù for 1/1 (Sat)"},
        {"2034-01-02", MC_HOLIDAY_COMPENSATORY, "Tết Dương lịch - nghỉ bù for 1/1 (Sun)"},
        /* 2007-2012: Tết 4 days; 2013: 5 days, a Saturday still moves forward */
        {"2012-01-26", MC_HOLIDAY_TET_MOVED,
         "(mùng 4) - nghỉ bù for 29 tháng Chạp, giao thừa (Sun 22/1)"},
        {"2013-02-14", MC_HOLIDAY_TET_MOVED, "for 29 tháng Chạp, giao thừa (Sat 9/2)"},
        {"2013-02-15", MC_HOLIDAY_TET_MOVED, "for mùng 1 (Sun 10/2)"},
        /* Hùng Kings' day is a day off from 2007 */
        {"2007-04-26", MC_HOLIDAY_HUNG_KINGS, "Giỗ Tổ Hùng Vương (10/3 Đinh Hợi)"},
    };
    char buf[11];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int32_t day = parse_iso(cases[i].day);
        int y, m, d, n;
        struct mc_holiday list[MC_HOLIDAYS_MAX];
        const struct mc_holiday *h;
        mc_civil_from_days(day, &y, &m, &d);
        n = holidays(y, list);
        if ((h = find(list, n, day)) == NULL)
            fail_msg("%s is not a day off by rule", cases[i].day);
        if (h->kind != cases[i].kind || strstr(h->name, cases[i].name_part) == NULL)
            fail_msg("%s: %s \"%s\", want %s with \"%s\"", iso(day, buf),
                     mc_holiday_kind_name(h->kind), h->name, mc_holiday_kind_name(cases[i].kind),
                     cases[i].name_part);
    }
}

static void test_not_off(void **state)
{
    (void)state;
    static const char *const working[] = {
        "2006-04-07", /* 10/3 Bính Tuất: Hùng Kings' day not yet a day off */
        "2012-01-27", /* mùng 5 before Tết had 5 days (Tết 2012: Mon 23/1) */
        "2020-09-03", /* one National Day before 2021 */
        "2029-09-05", "2036-04-08",
    };
    for (size_t i = 0; i < sizeof working / sizeof working[0]; i++) {
        struct mc_holiday list[MC_HOLIDAYS_MAX];
        int32_t day = parse_iso(working[i]);
        int y, m, d;
        mc_civil_from_days(day, &y, &m, &d);
        if (find(list, holidays(y, list), day) != NULL)
            fail_msg("%s should not be off", working[i]);
    }
}

/* Every year of 2000-2100: one weekday off per statutory day, whatever
 * falls on a weekend (8 days until 2006, 9 with Hùng Kings' day from 2007,
 * 10 with the fifth day of Tết from 2013, 11 with the second National Day
 * from 2021); sorted, distinct weekdays of the year; the Tết days within a
 * week of mùng 1; Hùng Kings' day or its replacement within 4 days. */
static void test_every_year(void **state)
{
    (void)state;
    char buf[11];

    for (int y = MC_HOLIDAYS_MIN_YEAR; y <= MC_HOLIDAYS_MAX_YEAR; y++) {
        struct mc_holiday list[MC_HOLIDAYS_MAX];
        int n = holidays(y, list), want = 8 + (y >= 2007) + (y >= 2013) + (y >= 2021);
        int ntet = 0, nhung = 0;
        int32_t first, hung;
        assert_int_equal(mc_lunar_to_solar(y, 1, 1, 0, &first), 0);
        assert_int_equal(mc_lunar_to_solar(y, 3, 10, 0, &hung), 0);
        if (n != want)
            fail_msg("%d: %d days off, want %d", y, n, want);
        for (int i = 0; i < n; i++) {
            int yy, m, d;
            mc_civil_from_days(list[i].day, &yy, &m, &d);
            if (yy != y || is_weekend(list[i].day) || (i > 0 && list[i].day <= list[i - 1].day))
                fail_msg("%d: bad day %s", y, iso(list[i].day, buf));
            if (list[i].kind == MC_HOLIDAY_TET || list[i].kind == MC_HOLIDAY_TET_MOVED) {
                ntet++;
                if (list[i].day < first - 3 || list[i].day > first + 6)
                    fail_msg("%d: Tết day %s too far from mùng 1", y, iso(list[i].day, buf));
            }
            if (strstr(list[i].name, "Hùng Vương") != NULL) {
                nhung++;
                if (list[i].day < hung || list[i].day > hung + 4)
                    fail_msg("%d: Hùng Kings' day on %s", y, iso(list[i].day, buf));
            }
            if (strlen(list[i].name) == 0 || strlen(list[i].name) >= MC_HOLIDAY_NAME_LEN - 1)
                fail_msg("%d: name \"%s\"", y, list[i].name);
        }
        assert_int_equal(ntet, y >= 2013 ? 5 : 4);
        assert_int_equal(nhung, y >= 2007);
    }
}

static void test_custom_rules_and_errors(void **state)
{
    (void)state;
    struct mc_holiday_rules rules;
    struct mc_holiday list[MC_HOLIDAYS_MAX];
    char err[128] = "";

    /* a later law for the National Day: 2024 back to one day */
    mc_holiday_rules_default(&rules);
    rules.national_day_two_from = 2025;
    assert_int_equal(mc_holidays_for_year(2024, &rules, list, err, sizeof err), 10);
    assert_null(find(list, 10, day_of(2024, 9, 3)));
    /* the adjacent day chosen the other way for a Tuesday (2025) */
    mc_holiday_rules_default(&rules);
    rules.national_day_adjacent[2] = +1;
    assert_int_equal(mc_holidays_for_year(2025, &rules, list, err, sizeof err), 11);
    assert_non_null(find(list, 11, day_of(2025, 9, 3)));
    assert_null(find(list, 11, day_of(2025, 9, 1)));

    assert_int_equal(mc_holidays_for_year(1999, NULL, list, err, sizeof err), MC_EINVAL);
    assert_non_null(strstr(err, "1999"));
    assert_int_equal(mc_holidays_for_year(2101, NULL, list, NULL, 0), MC_EINVAL);
    assert_string_equal(mc_holiday_kind_name(MC_HOLIDAY_TET_MOVED), "tet_moved");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules_match_announcements),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_not_off),
        cmocka_unit_test(test_every_year),
        cmocka_unit_test(test_custom_rules_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
