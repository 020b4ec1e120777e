/* The deadline service's rules without the database (rules.h). */
#include "rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "motcua/error.h"

static const char *const state_names[] = {"open",     "paused",    "finished",
                                          "returned", "withdrawn", "stopped"};

const char *mc_dl_state_name(enum mc_dl_state s)
{
    return state_names[s];
}

int mc_dl_state_parse(const char *name)
{
    for (int i = 0; i < (int)(sizeof state_names / sizeof state_names[0]); i++)
        if (strcmp(name, state_names[i]) == 0)
            return i;
    return -1;
}

int mc_dl_parse_rungs(struct mc_dl_rules *rules, const char *spec, char *err, size_t errlen)
{
    char *copy = mc_xstrdup(spec ? spec : ""), *save = NULL, *tok;
    int rc = 0;
    rules->nrungs = 0;
    for (tok = strtok_r(copy, ",", &save); tok && rc == 0; tok = strtok_r(NULL, ",", &save)) {
        struct mc_dl_rung *r = &rules->rungs[rules->nrungs];
        char *end;
        long n = strtol(tok, &end, 10);
        if (rules->nrungs == MC_DL_MAX_RUNGS) {
            rc = mc_err(err, errlen, MC_EINVAL, "MOTCUA_WARNING_RUNGS: at most %d rungs",
                        MC_DL_MAX_RUNGS);
        } else if (strcmp(tok, "due-day") == 0) {
            r->kind = MC_DL_DUE_DAY;
        } else if (end != tok && strcmp(end, "wd") == 0 && n >= 1 && n <= 60) {
            r->kind = MC_DL_WORKING_DAYS;
            r->n = (int)n;
        } else if (end != tok && strcmp(end, "%") == 0 && n >= 1 && n <= 99) {
            r->kind = MC_DL_PERCENT;
            r->n = (int)n;
        } else {
            rc = mc_err(err, errlen, MC_EINVAL,
                        "MOTCUA_WARNING_RUNGS: '%s' is not Nwd (1-60), due-day or P%% (1-99)", tok);
        }
        if (rc == 0) {
            snprintf(r->name, sizeof r->name, "%s", tok);
            rules->nrungs++;
        }
    }
    free(copy);
    return rc;
}

/* The working calendar of a clock: its receiving desk's (or the city's). */
static const struct mc_calendar *cal_of(const struct mc_dl_rules *rules, const char *unit)
{
    return mc_catalog_calendar_for(rules->catalog, unit[0] ? unit : NULL);
}

int mc_dl_plan(const struct mc_dl_rules *rules, const struct mc_dl_clock *c,
               struct mc_dl_item *items)
{
    const struct mc_calendar *cal = cal_of(rules, c->calendar_unit);
    mc_instant target = c->rescheduled_due_at ? c->rescheduled_due_at : c->due_at;
    int64_t total = mc_calendar_working_between(cal, c->receipt_at, target);
    int n = 0;

    for (int i = 0; i < rules->nrungs; i++) {
        const struct mc_dl_rung *r = &rules->rungs[i];
        mc_instant at = 0;
        if (r->kind == MC_DL_WORKING_DAYS) {
            int64_t before = (int64_t)r->n * MC_WORKING_DAY_SECONDS;
            if (total <= before)
                continue; /* the statutory time is shorter than the rung */
            at = mc_calendar_add_working(cal, mc_calendar_receipt_at(cal, c->receipt_at),
                                         total - before);
        } else if (r->kind == MC_DL_PERCENT) {
            at = mc_calendar_add_working(cal, mc_calendar_receipt_at(cal, c->receipt_at),
                                         total * r->n / 100);
        } else {
            at = mc_calendar_receipt_at(cal, mc_vn_day_start(mc_vn_day(target)));
            if (at >= target || at <= c->receipt_at)
                continue; /* due the day it was received: nothing to warn of */
        }
        snprintf(items[n].rung, sizeof items[n].rung, "%s", r->name);
        items[n].overdue = 0;
        items[n++].at = at;
    }
    /* A breach is when the due instant has passed: one second after it. */
    snprintf(items[n].rung, sizeof items[n].rung, "overdue");
    items[n].overdue = 1;
    items[n++].at = c->due_at + 1;
    if (c->rescheduled_due_at > c->due_at) {
        snprintf(items[n].rung, sizeof items[n].rung, "overdue-rescheduled");
        items[n].overdue = 1;
        items[n++].at = c->rescheduled_due_at + 1;
    }
    for (int i = 1; i < n; i++) /* insertion sort: n is tiny */
        for (int j = i; j > 0 && items[j].at < items[j - 1].at; j--) {
            struct mc_dl_item t = items[j];
            items[j] = items[j - 1];
            items[j - 1] = t;
        }
    return n;
}

mc_instant mc_dl_boundary(const struct mc_dl_clock *c)
{
    return c->fired_through > c->armed_at ? c->fired_through : c->armed_at;
}

mc_instant mc_dl_next_fire(const struct mc_dl_rules *rules, const struct mc_dl_clock *c)
{
    struct mc_dl_item items[MC_DL_MAX_ITEMS];
    int n;
    if (!c->received || c->state != MC_DL_OPEN)
        return 0;
    n = mc_dl_plan(rules, c, items);
    for (int i = 0; i < n; i++)
        if (items[i].at > mc_dl_boundary(c))
            return items[i].at;
    return 0;
}

mc_instant mc_dl_legal_due(const struct mc_dl_rules *rules, const char *calendar_unit,
                           mc_instant start, const char *statutory, int64_t paused_s)
{
    const struct mc_calendar *cal = cal_of(rules, calendar_unit);
    struct mc_duration dur;
    char e[128];
    mc_instant due;
    if (mc_duration_parse(statutory, &dur, e, sizeof e) != 0)
        return 0;
    due = mc_calendar_due_at(cal, start, &dur);
    return paused_s > 0 ? mc_calendar_add_working(cal, due, paused_s) : due;
}

static int is(const char *status, const char *name)
{
    return strcmp(status, name) == 0;
}

/* 1 when an update that moves the clock may carry this date. */
static int plausible(const struct mc_dl_clock *c, mc_instant occurred)
{
    return occurred >= c->receipt_at - MC_DL_UPDATE_BEFORE_S &&
           occurred <= c->receipt_at + MC_DL_UPDATE_AFTER_S;
}

int mc_dl_apply_update(const struct mc_dl_rules *rules, struct mc_dl_clock *c,
                       const struct mc_dl_update *u, const char **why, char *err, size_t errlen)
{
    int live = c->state == MC_DL_OPEN || c->state == MC_DL_PAUSED;
    *why = NULL;

    if ((is(u->status, "supplement_requested") || is(u->status, "supplement_received") ||
         is(u->status, "reschedule")) &&
        !plausible(c, u->occurred)) {
        char t1[MC_RFC3339_LEN], t2[MC_RFC3339_LEN];
        return mc_err(err, errlen, MC_EINVAL,
                      "%s update of %s occurred_at %s: not within 30 days before and 10 years "
                      "after the dossier's receipt (%s)",
                      u->status, c->code, mc_time_format(u->occurred, t1),
                      mc_time_format(c->receipt_at, t2));
    }

    if (is(u->status, "result_ready") || is(u->status, "returned") || is(u->status, "withdrawn") ||
        is(u->status, "stopped")) {
        if (!live)
            return MC_DL_HISTORY; /* already final */
        c->state = is(u->status, "result_ready") ? MC_DL_FINISHED
                   : is(u->status, "returned")   ? MC_DL_RETURNED
                   : is(u->status, "withdrawn")  ? MC_DL_WITHDRAWN
                                                 : MC_DL_STOPPED;
        c->paused_at = 0;
        return MC_DL_CHANGED;
    }
    if (is(u->status, "supplement_requested")) {
        if (!live)
            return MC_DL_HISTORY;
        c->state = MC_DL_PAUSED;
        if (c->paused_at == 0)
            c->paused_at = u->occurred;
        c->supplements++;
        /* A second request on the same dossier counts it as late. */
        c->counted_late = c->counted_late || c->supplements >= 2;
        return MC_DL_CHANGED;
    }
    if (is(u->status, "supplement_received")) {
        mc_instant start = c->period_start_at, due;
        int64_t paused_s = c->paused_working_s;
        if (c->state != MC_DL_PAUSED)
            return MC_DL_HISTORY; /* nothing was asked for */
        if (c->restart_policy) {
            /* The full statutory time runs again from the completed supplement. */
            start = u->occurred;
            paused_s = 0;
        } else {
            paused_s += mc_calendar_working_between(cal_of(rules, c->calendar_unit), c->paused_at,
                                                    u->occurred);
        }
        due = mc_dl_legal_due(rules, c->calendar_unit, start, c->statutory, paused_s);
        if (due == 0)
            return mc_err(err, errlen, MC_EINVAL, "dossier %s has no valid statutory time",
                          c->code);
        c->state = MC_DL_OPEN;
        c->paused_at = 0;
        c->period_start_at = start;
        c->due_at = due;
        c->paused_working_s = paused_s;
        c->version++;
        c->armed_at = u->occurred; /* the new version's rungs count from here */
        return MC_DL_CHANGED;
    }
    if (is(u->status, "reschedule")) {
        if (u->reason == NULL || !u->has_new_due)
            *why = "a reschedule needs new_due_at and reason";
        else if (!live)
            *why = "the dossier is no longer being processed";
        else if (c->rescheduled_due_at)
            *why = "the appointment may be moved only once";
        else if (u->new_due_at <= c->due_at)
            *why = "the new date must be after the due date";
        else if (u->new_due_at > c->due_at + MC_DL_RESCHEDULE_MAX_S)
            *why = "the new date must be within a year of the due date";
        if (*why)
            return MC_DL_REFUSED;
        /* The official due date is kept; the new date is stored beside it
         * and the warnings are re-armed against it. */
        c->rescheduled_due_at = u->new_due_at;
        c->version++;
        c->armed_at = u->occurred;
        return MC_DL_CHANGED;
    }
    return MC_DL_HISTORY; /* processing, paying, transfer: history only */
}

int mc_dl_due(const struct mc_dl_rules *rules, const struct mc_dl_clock *c, mc_instant now,
              struct mc_dl_fire *fires)
{
    struct mc_dl_item items[MC_DL_MAX_ITEMS];
    const struct mc_calendar *cal = cal_of(rules, c->calendar_unit);
    /* What the warnings warn of: the unit's new date when there is one. */
    mc_instant warned_of = c->rescheduled_due_at ? c->rescheduled_due_at : c->due_at;
    mc_instant done = mc_dl_boundary(c);
    int n = mc_dl_plan(rules, c, items), k = 0;

    for (int i = 0; i < n; i++) {
        struct mc_dl_fire *f;
        if (items[i].at <= done || items[i].at > now)
            continue;
        f = &fires[k++];
        f->item = items[i];
        /* After an outage or a clock jump past the date it warns of, a
         * warning has nothing left to say: the breach says it. It is
         * recorded as skipped so that it never fires later. A warning that
         * is late but still ahead of the date fires. */
        f->skipped = !items[i].overdue && now > warned_of;
        f->appointment = 0;
        if (items[i].overdue)
            f->appointment = c->rescheduled_due_at > now
                                 ? c->rescheduled_due_at
                                 : mc_calendar_add_working(cal, mc_calendar_receipt_at(cal, now),
                                                           (int64_t)rules->reappoint_wd *
                                                               MC_WORKING_DAY_SECONDS);
    }
    return k;
}

void mc_dl_fired(struct mc_dl_clock *c, const struct mc_dl_fire *f, int fresh)
{
    c->fired_through = f->item.at;
    if (fresh && f->item.overdue)
        c->breaches++;
}
