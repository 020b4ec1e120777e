/* Deterministic sample data for Hòa Bình city (tools/motcua/sample.c),
 * shared by `motcua sample` (the demo) and `motcua replay` (a whole year).
 * All people are invented; the output depends only on the arguments and
 * the database contents (catalog, calendar, assignments). */
#ifndef MOTCUA_TOOLS_SAMPLE_H
#define MOTCUA_TOOLS_SAMPLE_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "motcua/timeutil.h"

/* One message to publish and when it happens in simulated time. */
struct mc_sample_msg {
    mc_instant at;
    int index;   /* creation order: breaks ties, keeps the order total */
    json_t *doc; /* the event (owned) */
};

struct mc_sample_list {
    struct mc_sample_msg *items;
    int n, cap;
};

/* Sorts by time, then creation order. */
void mc_sample_list_sort(struct mc_sample_list *l);
void mc_sample_list_free(struct mc_sample_list *l);
/* The Kafka key of a message: "source/external_id" for a submission, the
 * dossier code for an update. Points into msg->doc. */
const char *mc_sample_key(const struct mc_sample_msg *msg, char *buf, size_t len);

/* Appends `count` submissions of the local days [first_day, next_day)
 * (mc_days_from_civil), exactly `online` of them online, in time order,
 * with external ids "DVC-<tag>-<n>" (online) and "TN-<tag>-<n>" (counter).
 * Counter submissions fall in office hours of working days; online ones
 * mostly too, but also evenings and days off. Reads the catalog and the
 * calendar. */
int mc_sample_submissions(PGconn *conn, int32_t first_day, int32_t next_day, int count, int online,
                          uint64_t seed, const char *tag, struct mc_sample_list *out, char *err,
                          size_t errlen);

/* What the units do with their dossiers: processing, transfers (liên
 * thông), supplements, payments, returns, reschedules, results in time and
 * late, and the late heads' explanations. */
struct mc_sample_units;

/* late_share: the dossiers whose unit never answers. Reads the calendar
 * and the units a dossier can be transferred to. */
struct mc_sample_units *mc_sample_units_new(PGconn *conn, double late_share, uint64_t seed,
                                            char *err, size_t errlen);
void mc_sample_units_free(struct mc_sample_units *u);
/* Appends the updates of the assigned dossiers in res, whose columns are
 * named dossier_code, unit_code, receipt and due (Unix seconds), field
 * (the procedure's) and, optionally, submission ("source/external_id"),
 * which seeds the dossier's fate (else the code does). The shares of
 * fates that only some dossiers can have (reschedules, supplements) are
 * scaled over the rows of one call. Returns 0, or MC_EINVAL naming a
 * column res lacks. */
int mc_sample_units_plan(struct mc_sample_units *u, const PGresult *res, struct mc_sample_list *out,
                         char *err, size_t errlen);

#endif
