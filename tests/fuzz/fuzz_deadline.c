/* libFuzzer harness: the deadline service's update handling in memory
 * (services/deadline/rules.c), on an in-memory catalog
 * (tests/fuzz/catalog/intake.json) with warning rungs 2wd, due-day and 50%.
 *
 * Input, one item per line:
 *   line 1      the clock: "<statutory time> <pause|restart> [<unit code>]",
 *               received 2024-03-05 08:00 +07:00;
 *   "@<instant>" a sweep at that instant (RFC 3339; the clock never goes back);
 *   otherwise   a dossier.update as the service reads it (the depth check,
 *               Jansson with duplicate keys refused, dossier-update.v1).
 *
 * Invariants: what the schema accepts, the parsers read (occurred_at,
 * new_due_at); the state is one of six and a final state never changes; an
 * update the rules leave alone (history, or refused) leaves the clock as it
 * was; a version grows by at most one per update, and the rescheduled date
 * is set once, after the due date; paused means a pause instant, counted
 * late means a second supplement request; the plan is in time order with
 * its breach one second after the due date; the next fire instant is after
 * what is done, and only for an open clock; a sweep fires only items due by
 * its instant and after what was done, each (version, rung) at most once,
 * and every breach fired is counted. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "motcua/catalog.h"
#include "motcua/jsonutil.h"
#include "motcua/schema.h"
#include "rules.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FIRED 256

static struct mc_schema *schema;
static struct mc_catalog *catalog;
static struct mc_dl_rules rules;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char path[4096], err[512];
    json_error_t jerr;
    json_t *doc;
    (void)argc;
    (void)argv;
    snprintf(path, sizeof path, "%s/dossier-update.v1.schema.json", mc_schema_dir());
    if ((schema = mc_schema_load(path, err, sizeof err)) == NULL) {
        fprintf(stderr, "fuzz_deadline: %s\n", err);
        abort();
    }
    snprintf(path, sizeof path, "%s/tests/fuzz/catalog/intake.json", MOTCUA_SOURCE_DIR);
    if ((doc = json_load_file(path, 0, &jerr)) == NULL) {
        fprintf(stderr, "fuzz_deadline: %s: %s\n", path, jerr.text);
        abort();
    }
    if ((catalog = mc_catalog_from_json(doc, err, sizeof err)) == NULL) {
        fprintf(stderr, "fuzz_deadline: %s\n", err);
        abort();
    }
    json_decref(doc);
    rules.catalog = catalog;
    rules.reappoint_wd = 3;
    if (mc_dl_parse_rungs(&rules, "2wd,due-day,50%", err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_deadline: %s\n", err);
        abort();
    }
    return 0;
}

/* What has fired: (version, rung) pairs, the ledger's key for one clock. */
struct fired {
    int n;
    struct {
        int version;
        char rung[24];
    } at[MAX_FIRED];
};

static int fired_before(const struct fired *f, int version, const char *rung)
{
    for (int i = 0; i < f->n; i++)
        if (f->at[i].version == version && strcmp(f->at[i].rung, rung) == 0)
            return 1;
    return 0;
}

static int is_final(enum mc_dl_state s)
{
    return s != MC_DL_OPEN && s != MC_DL_PAUSED;
}

/* The invariants of a clock at rest. */
static void check_clock(const struct mc_dl_clock *c)
{
    struct mc_dl_item items[MC_DL_MAX_ITEMS];
    mc_instant next = mc_dl_next_fire(&rules, c);
    int n = mc_dl_plan(&rules, c, items), breach = 0;

    if (c->state < MC_DL_OPEN || c->state > MC_DL_STOPPED)
        abort();
    if ((c->state == MC_DL_PAUSED) != (c->paused_at != 0))
        abort();
    if (c->counted_late != (c->supplements >= 2))
        abort();
    if (c->due_at < c->period_start_at || c->version < 1)
        abort();
    if (n < 1 || n > MC_DL_MAX_ITEMS)
        abort();
    for (int i = 0; i < n; i++) {
        if (i > 0 && items[i].at < items[i - 1].at)
            abort();
        if (items[i].overdue && strcmp(items[i].rung, "overdue") == 0) {
            if (items[i].at != c->due_at + 1)
                abort();
            breach = 1;
        }
    }
    if (!breach)
        abort();
    if (next != 0 && (c->state != MC_DL_OPEN || next <= mc_dl_boundary(c)))
        abort();
}

/* A sweep at now, with f as the ledger. */
static void sweep(struct mc_dl_clock *c, mc_instant now, struct fired *f)
{
    struct mc_dl_fire fires[MC_DL_MAX_ITEMS];
    mc_instant done = mc_dl_boundary(c);
    int breaches = c->breaches, counted = 0;
    int n = c->state == MC_DL_OPEN ? mc_dl_due(&rules, c, now, fires) : 0;

    if (n < 0 || n > MC_DL_MAX_ITEMS)
        abort();
    for (int i = 0; i < n; i++) {
        int fresh = !fired_before(f, c->version, fires[i].item.rung);
        if (fires[i].item.at > now || fires[i].item.at <= done)
            abort();
        if (i > 0 && fires[i].item.at < fires[i - 1].item.at)
            abort();
        if (fires[i].item.overdue && fires[i].appointment <= now)
            abort(); /* a new appointment is ahead */
        if (fresh && f->n < MAX_FIRED) {
            f->at[f->n].version = c->version;
            snprintf(f->at[f->n].rung, sizeof f->at[f->n].rung, "%s", fires[i].item.rung);
            f->n++;
            counted += fires[i].item.overdue;
        }
        mc_dl_fired(c, &fires[i], fresh);
    }
    if (c->breaches != breaches + counted)
        abort();
    /* Nothing due by now is left for this version. */
    if (c->state == MC_DL_OPEN && mc_dl_due(&rules, c, now, fires) != 0)
        abort();
}

/* One update line: parsed and checked as deadline reads it, then applied. */
static void update(struct mc_dl_clock *c, const char *line, size_t len)
{
    struct mc_dl_clock before = *c;
    struct mc_dl_update u;
    json_error_t jerr;
    const char *why = NULL;
    char err[256];
    size_t at;
    json_t *ev;
    int rc;

    if (!mc_json_depth_ok(line, len, MC_JSON_MAX_DEPTH, &at))
        return;
    ev = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (ev == NULL || !json_is_object(ev) ||
        mc_schema_check(schema, ev, "dossier.updates", err, sizeof err) != 0) {
        json_decref(ev);
        return;
    }
    /* What the schema accepts, the parsers read. */
    u.status = mc_json_str(ev, "data/status");
    u.reason = mc_json_str(ev, "data/reason");
    u.has_new_due = mc_json_time(ev, "data/new_due_at", &u.new_due_at) == 0;
    if (u.status == NULL || mc_json_time(ev, "occurred_at", &u.occurred) != 0 ||
        (json_object_get(json_object_get(ev, "data"), "new_due_at") && !u.has_new_due))
        abort();
    rc = mc_dl_apply_update(&rules, c, &u, &why, err, sizeof err);
    if (rc == MC_DL_HISTORY || rc == MC_DL_REFUSED || rc < 0) {
        if (memcmp(&before, c, sizeof before) != 0)
            abort();
        if ((rc == MC_DL_REFUSED) != (why != NULL) ||
            (rc == MC_DL_REFUSED && strcmp(u.status, "reschedule") != 0))
            abort();
    } else if (rc == MC_DL_CHANGED) {
        if (is_final(before.state) || c->version < before.version ||
            c->version > before.version + 1)
            abort();
        if (before.rescheduled_due_at && c->rescheduled_due_at != before.rescheduled_due_at)
            abort();
        if (!before.rescheduled_due_at && c->rescheduled_due_at &&
            c->rescheduled_due_at <= c->due_at)
            abort();
    } else {
        abort();
    }
    json_decref(ev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size, *nl;
    char head[128], statutory[32], policy[16], unit[64];
    struct mc_dl_clock c;
    struct fired f;
    mc_instant now = 0, t;
    size_t len;

    nl = memchr(p, '\n', size);
    len = (size_t)((nl ? nl : end) - p);
    if (len >= sizeof head)
        return 0;
    memcpy(head, p, len);
    head[len] = '\0';
    unit[0] = '\0';
    if (sscanf(head, "%31s %15s %63s", statutory, policy, unit) < 2)
        return 0;
    memset(&c, 0, sizeof c);
    memset(&f, 0, sizeof f);
    snprintf(c.code, sizeof c.code, "000.00.06.H56-240305-0042");
    snprintf(c.calendar_unit, sizeof c.calendar_unit, "%s", unit);
    snprintf(c.statutory, sizeof c.statutory, "%s", statutory);
    c.restart_policy = strcmp(policy, "restart") == 0;
    c.state = MC_DL_OPEN;
    c.received = 1;
    c.version = 1;
    if (mc_time_parse("2024-03-05T08:00:00+07:00", &c.receipt_at) != 0)
        abort();
    c.period_start_at = c.receipt_at;
    if ((c.due_at = mc_dl_legal_due(&rules, c.calendar_unit, c.receipt_at, c.statutory, 0)) == 0)
        return 0; /* intake never opens such a clock */
    check_clock(&c);

    for (p = nl ? nl + 1 : end; p < end; p = nl ? nl + 1 : end) {
        enum mc_dl_state was = c.state;
        nl = memchr(p, '\n', (size_t)(end - p));
        len = (size_t)((nl ? nl : end) - p);
        if (len > 0 && p[0] == '@') {
            char instant[64];
            if (len - 1 >= sizeof instant)
                continue;
            memcpy(instant, p + 1, len - 1);
            instant[len - 1] = '\0';
            if (mc_time_parse(instant, &t) != 0 || t < now)
                continue;
            now = t;
            sweep(&c, now, &f);
        } else {
            update(&c, p, len);
        }
        if (is_final(was) && c.state != was)
            abort();
        check_clock(&c);
    }
    return 0;
}
