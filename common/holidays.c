/* Vietnam's public holidays by rule: fixed dates, Tết and the Hùng Kings' day, weekend moves. */
#include "motcua/holidays.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "motcua/error.h"
#include "motcua/lunar.h"
#include "motcua/timeutil.h"

void mc_holiday_rules_default(struct mc_holiday_rules *rules)
{
    static const int adjacent[7] = {+1, +1, -1, -1, +1, -1, -1}; /* Sun .. Sat */

    memset(rules, 0, sizeof *rules);
    rules->hung_kings_from = 2007;
    rules->tet_five_days_from = 2013;
    rules->tet_saturday_back_from = 2014;
    rules->national_day_two_from = 2021;
    memcpy(rules->national_day_adjacent, adjacent, sizeof adjacent);
}

const char *mc_holiday_kind_name(enum mc_holiday_kind kind)
{
    switch (kind) {
    case MC_HOLIDAY_FIXED:
        return "fixed";
    case MC_HOLIDAY_TET:
        return "tet";
    case MC_HOLIDAY_TET_MOVED:
        return "tet_moved";
    case MC_HOLIDAY_HUNG_KINGS:
        return "hung_kings";
    case MC_HOLIDAY_NATIONAL_ADJACENT:
        return "national_adjacent";
    case MC_HOLIDAY_COMPENSATORY:
        return "compensatory";
    }
    return "?";
}

static const char *const weekday_abbr[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

/* A holiday that fell on Saturday or Sunday and must be taken on a weekday. */
struct weekend_holiday {
    int32_t day;
    int direction; /* +1: the next working day, -1: the previous one */
    enum mc_holiday_kind kind;
    char name[MC_HOLIDAY_NAME_LEN]; /* of the holiday itself */
};

struct year_list {
    int n, nweekend;
    struct mc_holiday *out;
    struct weekend_holiday weekend[MC_HOLIDAYS_MAX];
};

static int is_weekend(int32_t day)
{
    int w = mc_weekday(day);
    return w == 0 || w == 6;
}

static int is_listed(const struct year_list *list, int32_t day)
{
    for (int i = 0; i < list->n; i++)
        if (list->out[i].day == day)
            return 1;
    return 0;
}

static void add_off(struct year_list *list, int32_t day, enum mc_holiday_kind kind, const char *fmt,
                    ...) __attribute__((format(printf, 4, 5)));

static void add_off(struct year_list *list, int32_t day, enum mc_holiday_kind kind, const char *fmt,
                    ...)
{
    struct mc_holiday *h;
    va_list ap;

    if (list->n >= MC_HOLIDAYS_MAX)
        abort(); /* the rules give at most about 15 a year: a bug */
    h = &list->out[list->n++];
    h->day = day;
    h->kind = kind;
    va_start(ap, fmt);
    vsnprintf(h->name, sizeof h->name, fmt, ap);
    va_end(ap);
}

/* Lists a holiday taken on its own day, or remembers it for a move when it
 * falls on a weekend. */
static void add_holiday(struct year_list *list, int32_t day, enum mc_holiday_kind kind,
                        int weekend_direction, const char *name)
{
    struct weekend_holiday *w;

    if (!is_weekend(day) && !is_listed(list, day)) {
        add_off(list, day, kind, "%s", name);
        return;
    }
    /* On a weekend, or on a day another holiday already takes. */
    if (list->nweekend >= MC_HOLIDAYS_MAX)
        abort();
    w = &list->weekend[list->nweekend++];
    w->day = day;
    w->direction = weekend_direction;
    w->kind = kind;
    snprintf(w->name, sizeof w->name, "%s", name);
}

/* "mùng 3", "29 tháng Chạp", "30 tháng Chạp, giao thừa" for a day around Tết. */
static void tet_day_label(int32_t day, char *buf, size_t len)
{
    struct mc_lunar_date ld;
    int32_t next_day_month;
    struct mc_lunar_date next;

    if (mc_lunar_from_solar(day, &ld) != 0) {
        snprintf(buf, len, "?");
        return;
    }
    if (ld.month == 1 && !ld.leap) {
        snprintf(buf, len, "mùng %d", ld.day);
        return;
    }
    next_day_month = mc_lunar_from_solar(day + 1, &next) == 0 ? next.month : 0;
    if (ld.month == 12)
        snprintf(buf, len, "%d tháng Chạp%s", ld.day, next_day_month == 1 ? ", giao thừa" : "");
    else
        snprintf(buf, len, "%d/%d%s âm lịch", ld.day, ld.month, ld.leap ? " nhuận" : "");
}

static int cmp_weekend(const void *a, const void *b)
{
    const struct weekend_holiday *x = a, *y = b;
    return (x->day > y->day) - (x->day < y->day);
}

static int cmp_holiday(const void *a, const void *b)
{
    const struct mc_holiday *x = a, *y = b;
    return (x->day > y->day) - (x->day < y->day);
}

/* Gives every weekend holiday its weekday, in the order of the holidays:
 * the nearest weekday in its direction that is not already off. */
static void place_weekend_holidays(struct year_list *list)
{
    qsort(list->weekend, (size_t)list->nweekend, sizeof list->weekend[0], cmp_weekend);
    for (int i = 0; i < list->nweekend; i++) {
        const struct weekend_holiday *w = &list->weekend[i];
        int32_t day = w->day;
        int y, m, d;
        char label[48];

        do
            day += w->direction;
        while (is_weekend(day) || is_listed(list, day));
        mc_civil_from_days(w->day, &y, &m, &d);
        if (w->kind == MC_HOLIDAY_TET) {
            char moved[48];
            tet_day_label(day, label, sizeof label);
            tet_day_label(w->day, moved, sizeof moved);
            add_off(list, day, MC_HOLIDAY_TET_MOVED,
                    "Tết Nguyên đán (%s) - nghỉ bù for %s (%s %d/%d)", label, moved,
                    weekday_abbr[mc_weekday(w->day)], d, m);
        } else {
            add_off(list, day, MC_HOLIDAY_COMPENSATORY, "%s - nghỉ bù for %d/%d (%s)", w->name, d,
                    m, weekday_abbr[mc_weekday(w->day)]);
        }
    }
}

static int add_tet(struct year_list *list, int year, const struct mc_holiday_rules *rules,
                   char *err, size_t errlen)
{
    int32_t first; /* mùng 1 */
    int last = year >= rules->tet_five_days_from ? 4 : 3;
    int saturday_direction = year >= rules->tet_saturday_back_from ? -1 : +1;

    if (mc_lunar_to_solar(year, 1, 1, 0, &first) != 0)
        return mc_err(err, errlen, MC_EINVAL, "no lunar calendar for %d", year);
    /* The eve (giao thừa) is the last day of month 12, 29th or 30th. */
    for (int32_t day = first - 1; day <= first + last - 1; day++) {
        char label[48], name[MC_HOLIDAY_NAME_LEN];
        tet_day_label(day, label, sizeof label);
        snprintf(name, sizeof name, "Tết Nguyên đán (%s)", label);
        add_holiday(list, day, MC_HOLIDAY_TET, mc_weekday(day) == 6 ? saturday_direction : +1,
                    name);
    }
    return 0;
}

int mc_holidays_for_year(int year, const struct mc_holiday_rules *rules, struct mc_holiday *out,
                         char *err, size_t errlen)
{
    struct mc_holiday_rules defaults;
    struct year_list list;
    int rc;

    if (year < MC_HOLIDAYS_MIN_YEAR || year > MC_HOLIDAYS_MAX_YEAR)
        return mc_err(err, errlen, MC_EINVAL, "year %d is outside %d..%d", year,
                      MC_HOLIDAYS_MIN_YEAR, MC_HOLIDAYS_MAX_YEAR);
    if (rules == NULL) {
        mc_holiday_rules_default(&defaults);
        rules = &defaults;
    }
    memset(&list, 0, sizeof list);
    list.out = out;

    add_holiday(&list, mc_days_from_civil(year, 1, 1), MC_HOLIDAY_FIXED, +1, "Tết Dương lịch");
    if ((rc = add_tet(&list, year, rules, err, errlen)) != 0)
        return rc;
    if (year >= rules->hung_kings_from) {
        int32_t hung;
        char name[MC_HOLIDAY_NAME_LEN], cycle[24];
        if (mc_lunar_to_solar(year, 3, 10, 0, &hung) != 0)
            return mc_err(err, errlen, MC_EINVAL, "no lunar calendar for %d", year);
        snprintf(name, sizeof name, "Giỗ Tổ Hùng Vương (10/3 %s)",
                 mc_lunar_year_name(year, cycle, sizeof cycle));
        add_holiday(&list, hung, MC_HOLIDAY_HUNG_KINGS, +1, name);
    }
    add_holiday(&list, mc_days_from_civil(year, 4, 30), MC_HOLIDAY_FIXED, +1, "Ngày Chiến thắng");
    add_holiday(&list, mc_days_from_civil(year, 5, 1), MC_HOLIDAY_FIXED, +1,
                "Ngày Quốc tế Lao động");
    add_holiday(&list, mc_days_from_civil(year, 9, 2), MC_HOLIDAY_FIXED, +1, "Quốc khánh");
    if (year >= rules->national_day_two_from) {
        int32_t national = mc_days_from_civil(year, 9, 2);
        int side = rules->national_day_adjacent[mc_weekday(national)] < 0 ? -1 : +1;
        add_holiday(&list, national + side, MC_HOLIDAY_NATIONAL_ADJACENT, +1,
                    side < 0 ? "Quốc khánh - adjacent day (before)"
                             : "Quốc khánh - adjacent day (after)");
    }
    place_weekend_holidays(&list);
    qsort(out, (size_t)list.n, sizeof out[0], cmp_holiday);
    return list.n;
}
