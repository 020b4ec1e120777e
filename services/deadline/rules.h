/* The deadline service's rules, with no database: what a clock plans to
 * fire (warning rungs and breaches), what a unit's update does to it, and
 * what a sweep at a given instant fires. deadline.c loads and stores clock
 * rows and publishes; the fuzz harness (tests/fuzz/fuzz_deadline.c) drives
 * these with an in-memory catalog. */
#ifndef MOTCUA_DEADLINE_RULES_H
#define MOTCUA_DEADLINE_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "motcua/catalog.h"
#include "motcua/timeutil.h"

#define MC_DL_MAX_RUNGS 8
#define MC_DL_MAX_ITEMS (MC_DL_MAX_RUNGS + 2)

enum mc_dl_rung_kind { MC_DL_WORKING_DAYS, MC_DL_DUE_DAY, MC_DL_PERCENT };

struct mc_dl_rung {
    enum mc_dl_rung_kind kind;
    int n; /* working days, or percent */
    char name[16];
};

/* What the rules need besides a clock: the catalog's calendars, the warning
 * rungs (MOTCUA_WARNING_RUNGS) and the working days to a new appointment
 * (MOTCUA_REAPPOINT_WD). The catalog is borrowed. */
struct mc_dl_rules {
    const struct mc_catalog *catalog;
    struct mc_dl_rung rungs[MC_DL_MAX_RUNGS];
    int nrungs;
    int reappoint_wd;
};

/* Parses "2wd,due-day,50%" into rules->rungs. Returns 0 or MC_EINVAL with
 * err naming the bad rung. */
int mc_dl_parse_rungs(struct mc_dl_rules *rules, const char *spec, char *err, size_t errlen);

enum mc_dl_state {
    MC_DL_OPEN,
    MC_DL_PAUSED,
    MC_DL_FINISHED,
    MC_DL_RETURNED,
    MC_DL_WITHDRAWN,
    MC_DL_STOPPED
};

/* The state's name as deadline.clock stores it, and back (-1: unknown). */
const char *mc_dl_state_name(enum mc_dl_state s);
int mc_dl_state_parse(const char *name);

/* A clock: the columns of deadline.clock the rules read and change
 * (instants in Unix seconds, 0 = NULL). */
struct mc_dl_clock {
    char code[96];
    char calendar_unit[64]; /* "" = the city's calendar */
    char statutory[32];     /* e.g. "5wd" */
    int restart_policy;     /* supplement_policy 'restart' (else 'pause') */
    enum mc_dl_state state;
    int received, version, breaches, supplements, counted_late;
    mc_instant receipt_at, period_start_at, due_at, rescheduled_due_at, armed_at, paused_at,
        fired_through;
    int64_t paused_working_s;
};

/* Something to fire: a warning rung or a breach, at an instant. */
struct mc_dl_item {
    char rung[24];
    int overdue;
    mc_instant at;
};

/* Every warning rung and breach of the clock's current deadline version, in
 * time order (at most MC_DL_MAX_ITEMS). The rungs count towards the
 * rescheduled date when there is one; the first breach is always one second
 * after the legal due date. */
int mc_dl_plan(const struct mc_dl_rules *rules, const struct mc_dl_clock *c,
               struct mc_dl_item *items);

/* Items at or before this instant are done for the current version. */
mc_instant mc_dl_boundary(const struct mc_dl_clock *c);

/* The instant the clock next has something to fire; 0 when nothing (not
 * received, paused or final, or every item done). */
mc_instant mc_dl_next_fire(const struct mc_dl_rules *rules, const struct mc_dl_clock *c);

/* The legal due date of a statutory period started at start, extended by
 * the pause policy's accumulated waiting time; 0 when statutory is not a
 * statutory time. */
mc_instant mc_dl_legal_due(const struct mc_dl_rules *rules, const char *calendar_unit,
                           mc_instant start, const char *statutory, int64_t paused_s);

/* A unit's update as the rules read it (borrowed strings). */
struct mc_dl_update {
    const char *status;
    mc_instant occurred;
    const char *reason; /* NULL: none */
    int has_new_due;    /* new_due_at given and parsed */
    mc_instant new_due_at;
};

enum mc_dl_outcome {
    MC_DL_HISTORY, /* nothing changes (history only, or already final) */
    MC_DL_CHANGED, /* the clock changed: store it, with mc_dl_next_fire */
    MC_DL_REFUSED  /* a reschedule refused: *why says why, to the unit */
};

/* Bounds on the dates units send, so that a wrong one (2204 typed for
 * 2024) neither moves a statutory time by centuries nor makes every plan
 * of the clock walk the calendar day by day to it: an update that moves
 * the clock (a supplement, a reschedule) occurs at most 30 days before the
 * receipt and 10 years after it; a rescheduled date is at most a year
 * after the due date. */
#define MC_DL_UPDATE_BEFORE_S (30LL * 86400)
#define MC_DL_UPDATE_AFTER_S (3653LL * 86400)
#define MC_DL_RESCHEDULE_MAX_S (366LL * 86400)

/* Applies one update to a received clock. Returns an outcome, or MC_EINVAL
 * with err when the update's date is outside the bounds above or the
 * clock's statutory time cannot be computed again; the clock is then as it
 * was. */
int mc_dl_apply_update(const struct mc_dl_rules *rules, struct mc_dl_clock *c,
                       const struct mc_dl_update *u, const char **why, char *err, size_t errlen);

/* One item a sweep at now found due. skipped: a warning whose date has
 * passed (recorded, never sent). appointment: for a breach, the new
 * appointment (the unit's rescheduled date while still ahead, else
 * reappoint_wd working days from now). */
struct mc_dl_fire {
    struct mc_dl_item item;
    int skipped;
    mc_instant appointment;
};

/* The items of c due by now and not yet done, in time order (at most
 * MC_DL_MAX_ITEMS). The caller records each in the ledger, then calls
 * mc_dl_fired for each in order. */
int mc_dl_due(const struct mc_dl_rules *rules, const struct mc_dl_clock *c, mc_instant now,
              struct mc_dl_fire *fires);

/* Marks a due item done: fired_through advances; a breach recorded for the
 * first time (fresh) counts in breaches. */
void mc_dl_fired(struct mc_dl_clock *c, const struct mc_dl_fire *f, int fresh);

#endif
