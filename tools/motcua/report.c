/* `motcua report`: the city's summary (received, online share, on-time
 * rate, late dossiers, warnings, reschedules, breaches, apology letters),
 * the units' table behind the monthly ranking, the reschedules, and one
 * apology letter in full. Reads every service schema (run it as the
 * superuser of .motcua/env). */
#include "report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "motcua/pg.h"

/* Every received dossier with its outcome: the update that closed it (the
 * first final one), whether it breached, and whether it counts as late:
 * breached, finished after its legal due date (extended by supplement
 * pauses; a reschedule does not move it), or counted late for a second
 * supplement request (docs/domain.md). */
#define OUTCOME_CTE                                                                                \
    "WITH fin AS (SELECT DISTINCT ON (dossier_code) dossier_code, status, occurred_at "            \
    "FROM deadline.update WHERE status IN ('result_ready', 'returned', 'withdrawn', "              \
    "'stopped') ORDER BY dossier_code, occurred_at, event_id), "                                   \
    "o AS (SELECT c.dossier_code, c.state, c.unit->>'code' AS unit_code, c.receipt_at, "           \
    "c.due_at, c.rescheduled_due_at, c.counted_late, f.status AS final_status, "                   \
    "f.occurred_at AS finished_at, EXISTS (SELECT 1 FROM deadline.ledger l WHERE "                 \
    "l.dossier_code = c.dossier_code AND l.kind = 'overdue') AS breached "                         \
    "FROM deadline.clock c LEFT JOIN fin f ON f.dossier_code = c.dossier_code "                    \
    "WHERE c.received), "                                                                          \
    "s AS (SELECT o.*, (breached OR counted_late OR coalesce(finished_at > due_at, false)) "       \
    "AS late FROM o) "

/* Characters (UTF-8 code points) in text, so Vietnamese names line up. */
static int width_of(const char *text)
{
    int chars = 0;
    for (const char *p = text; *p; p++)
        if (((unsigned char)*p & 0xC0) != 0x80)
            chars++;
    return chars;
}

/* Writes text in a column of |width| characters, left-aligned (width > 0)
 * or right-aligned (width < 0), after two spaces unless it is the first;
 * width 0: as is. */
static void cell(FILE *out, const char *text, int width, int first)
{
    int w = abs(width), chars = width_of(text);
    if (!first)
        fputs("  ", out);
    if (width < 0)
        for (; chars < w; chars++)
            fputc(' ', out);
    fputs(text, out);
    if (width > 0)
        for (; chars < w; chars++)
            fputc(' ', out);
}

/* Prints a title, an optional header row and every row of sql, column c in
 * widths[c] (see cell; missing widths: 0). Returns 0 or 1. */
static int table(FILE *out, PGconn *conn, const char *title, const char *const *header,
                 const int *widths, int nwidths, const char *sql)
{
    char err[512];
    PGresult *res = mc_pg_query(conn, sql, 0, NULL, err, sizeof err);
    if (res == NULL) {
        fprintf(stderr, "motcua report: %s\n", err);
        return 1;
    }
    fprintf(out, "\n%s\n", title);
    if (header) {
        fprintf(out, "  ");
        for (int c = 0; header[c]; c++)
            cell(out, header[c], c < nwidths && header[c + 1] ? widths[c] : 0, c == 0);
        fprintf(out, "\n");
    }
    for (int i = 0; i < PQntuples(res); i++) {
        fprintf(out, "  ");
        for (int c = 0; c < PQnfields(res); c++)
            cell(out, PQgetisnull(res, i, c) ? "-" : PQgetvalue(res, i, c),
                 c < nwidths && (c + 1 < PQnfields(res) || widths[c] < 0) ? widths[c] : 0, c == 0);
        fprintf(out, "\n");
    }
    if (PQntuples(res) == 0)
        fprintf(out, "  (none)\n");
    PQclear(res);
    return 0;
}

static const char summary_sql[] = OUTCOME_CTE
    "SELECT label, value FROM ("
    "SELECT 1 AS k, 'dossiers received' AS label, "
    "(SELECT count(*) FROM intake.dossier)::text || coalesce(' (' || (SELECT "
    "to_char(min(received_at) AT TIME ZONE 'Asia/Ho_Chi_Minh', 'YYYY-MM-DD') || ' .. ' || "
    "to_char(max(received_at) AT TIME ZONE 'Asia/Ho_Chi_Minh', 'YYYY-MM-DD') FROM "
    "intake.dossier) || ')', '') AS value "
    "UNION ALL SELECT 2, 'submissions rejected at intake', "
    "(SELECT count(*) FROM intake.rejection)::text "
    "UNION ALL SELECT 3, 'online share', (SELECT coalesce(round(100.0 * count(*) FILTER "
    "(WHERE channel = 'online') / nullif(count(*), 0), 1)::text || ' %', '-') FROM "
    "intake.dossier) "
    "UNION ALL SELECT 4, 'on-time rate', coalesce(round(100.0 * count(*) FILTER (WHERE NOT "
    "late) / nullif((SELECT count(*) FROM intake.dossier), 0), 1)::text || ' % (' || "
    "count(*) FILTER (WHERE NOT late AND finished_at IS NOT NULL) || ' done by the due date "
    "+ ' || count(*) FILTER (WHERE NOT late AND finished_at IS NULL) || ' still within it)', "
    "'-') FROM s "
    "UNION ALL SELECT 5, 'late dossiers', count(*) FILTER (WHERE late) || coalesce(' (late "
    "rate ' || round(100.0 * count(*) FILTER (WHERE late) / nullif((SELECT count(*) FROM "
    "intake.dossier), 0), 1) || ' %)', '') FROM s "
    "UNION ALL SELECT 6, '  finished late (after the official due date)', count(*)::text || "
    "' (' || count(*) FILTER (WHERE rescheduled_due_at IS NOT NULL AND finished_at <= "
    "rescheduled_due_at) || ' by their rescheduled date)' FROM s WHERE late AND finished_at "
    "IS NOT NULL AND finished_at > due_at "
    "UNION ALL SELECT 7, '  late and still being processed', count(*)::text FROM s WHERE late "
    "AND finished_at IS NULL "
    "UNION ALL SELECT 8, '  counted late for a second supplement', count(*)::text FROM s WHERE "
    "counted_late "
    "UNION ALL SELECT 9, 'finished (result ready)', count(*)::text FROM s WHERE final_status = "
    "'result_ready' "
    "UNION ALL SELECT 10, 'returned to the applicant', count(*)::text FROM s WHERE "
    "final_status = 'returned' "
    "UNION ALL SELECT 11, 'still being processed', count(*)::text FROM s WHERE finished_at IS "
    "NULL "
    "UNION ALL SELECT 12, 'average processing time (finished)', coalesce(round((avg(extract("
    "epoch FROM finished_at - receipt_at)) / 86400.0)::numeric, 1)::text || ' days', '-') "
    "FROM s WHERE final_status = 'result_ready' "
    "UNION ALL SELECT 13, 'supplement requests (dossiers)', (SELECT count(*) || ' (' || "
    "count(DISTINCT dossier_code) || ')' FROM deadline.update WHERE status = "
    "'supplement_requested') "
    "UNION ALL SELECT 14, 'warnings fired: ' || CASE rung WHEN '1wd' THEN '1 working day "
    "before due' WHEN 'due-day' THEN 'on the due day' ELSE rung END, "
    "count(*)::text FROM deadline.ledger WHERE kind = 'warning' GROUP BY rung "
    "UNION ALL SELECT 15, 'reschedules accepted', count(*)::text FROM deadline.clock WHERE "
    "rescheduled_due_at IS NOT NULL "
    "UNION ALL SELECT 16, 'reschedules refused (a second one, or not later)', "
    "((SELECT count(*) FROM deadline.update WHERE status = 'reschedule') - (SELECT count(*) "
    "FROM deadline.clock WHERE rescheduled_due_at IS NOT NULL))::text "
    "UNION ALL SELECT 17, 'breaches (official due date missed)', count(*)::text FROM "
    "deadline.ledger WHERE kind = 'overdue' AND rung = 'overdue' "
    "UNION ALL SELECT 18, 'second breaches (rescheduled date missed)', count(*)::text FROM "
    "deadline.ledger WHERE kind = 'overdue' AND rung <> 'overdue' "
    "UNION ALL SELECT 19, 'apology letters', count(*) || ' (' || count(*) FILTER (WHERE breach "
    "= 1) || ' first, ' || count(*) FILTER (WHERE breach > 1) || ' second)' FROM notify.letter"
    ") t ORDER BY k, label";

static const char units_sql[] = OUTCOME_CTE
    "SELECT coalesce(u.name || ' (' || u.code || ')', s.unit_code, '?'), count(*)::text, "
    "count(*) FILTER (WHERE finished_at IS NOT NULL)::text, count(*) FILTER (WHERE NOT "
    "late)::text, count(*) FILTER (WHERE late)::text, (SELECT count(*) FROM notify.letter n "
    "WHERE n.unit_code = s.unit_code)::text, round(100.0 * count(*) FILTER (WHERE NOT late) / "
    "count(*), 1)::text || ' %' "
    "FROM s LEFT JOIN catalog.unit u ON u.code = s.unit_code "
    "GROUP BY u.name, u.code, s.unit_code "
    "ORDER BY count(*) FILTER (WHERE late) DESC, count(*) DESC, 1";

static const char late_sql[] = OUTCOME_CTE
    "SELECT s.dossier_code, d.procedure_code, s.unit_code, motcua_rfc3339(s.due_at), "
    "CASE WHEN s.finished_at IS NULL THEN 'not yet' ELSE to_char(s.finished_at AT TIME ZONE "
    "'Asia/Ho_Chi_Minh', 'YYYY-MM-DD') END, (SELECT count(*) FROM notify.letter n WHERE "
    "n.dossier_code = s.dossier_code)::text, CASE WHEN s.breached AND s.counted_late THEN "
    "'due date missed; second supplement' WHEN s.breached THEN 'due date missed' WHEN "
    "s.counted_late THEN 'second supplement request' ELSE 'finished after the due date' END "
    "FROM s JOIN intake.dossier d ON d.code = s.dossier_code WHERE s.late "
    "ORDER BY s.due_at, s.dossier_code LIMIT 10";

static const char reschedules_sql[] = OUTCOME_CTE
    "SELECT s.dossier_code, s.unit_code, to_char(s.due_at AT TIME ZONE 'Asia/Ho_Chi_Minh', "
    "'YYYY-MM-DD'), to_char(s.rescheduled_due_at AT TIME ZONE 'Asia/Ho_Chi_Minh', "
    "'YYYY-MM-DD'), CASE WHEN s.finished_at IS NULL AND EXISTS (SELECT 1 FROM deadline.ledger "
    "l WHERE l.dossier_code = s.dossier_code AND l.rung <> 'overdue' AND l.kind = 'overdue') "
    "THEN 'missed again' WHEN s.finished_at IS NULL THEN 'waiting' WHEN s.finished_at <= "
    "s.rescheduled_due_at THEN 'kept, ' || to_char(s.finished_at AT TIME ZONE "
    "'Asia/Ho_Chi_Minh', 'MM-DD') ELSE 'late, ' || to_char(s.finished_at AT TIME ZONE "
    "'Asia/Ho_Chi_Minh', 'MM-DD') END || CASE WHEN (SELECT count(*) FROM deadline.update u "
    "WHERE u.dossier_code = s.dossier_code AND u.status = 'reschedule') > 1 THEN ' (asked "
    "again: refused)' ELSE '' END, c.reschedule_reason "
    "FROM s JOIN deadline.clock c ON c.dossier_code = s.dossier_code "
    "WHERE s.rescheduled_due_at IS NOT NULL ORDER BY s.due_at, s.dossier_code LIMIT 20";

/* Each letter at its channel now (the last one tried): delivered, on the
 * way (created, sending, or a failure waiting for its retry), failed for
 * good (the last channel failed). */
static const char delivery_sql[] =
    "SELECT delivery_channel, count(*)::text, count(*) FILTER (WHERE status = 'delivered')::text, "
    "count(*) FILTER (WHERE status IN ('created', 'sending') OR next_attempt_at IS NOT "
    "NULL)::text, count(*) FILTER (WHERE status LIKE '%failure' AND next_attempt_at IS "
    "NULL)::text FROM notify.letter GROUP BY 1 ORDER BY count(*) DESC, 1";

/* The attempts: first tries, retries on the same channel, fallbacks to the
 * next one. */
#define LETTER_ATTEMPTS                                                                            \
    "(SELECT a.* FROM notify.attempt a JOIN notify.letter l USING (notification_id)) a"
static const char attempts_sql[] =
    "SELECT 'attempts: first', count(*) FILTER (WHERE reason = 'first')::text FROM " LETTER_ATTEMPTS
    " UNION ALL SELECT 'attempts: retries after a temporary failure', count(*) FILTER (WHERE "
    "reason = 'retry')::text FROM " LETTER_ATTEMPTS " UNION ALL SELECT 'attempts: fallbacks to "
    "the next channel', count(*) FILTER (WHERE reason = 'fallback')::text FROM " LETTER_ATTEMPTS " "
    "UNION ALL SELECT 'letters delivered on their first channel', count(*)::text FROM "
    "notify.letter WHERE status = 'delivered' AND delivery_channel = channels[1]";

/* Notices to the units and what came of the requests for an explanation. */
static const char accountability_sql[] =
    "SELECT label, value FROM ("
    "SELECT 1 AS k, 'warning notices to processing units' AS label, count(*)::text AS value FROM "
    "notify.notice WHERE kind = 'warning' "
    "UNION ALL SELECT 2, 'explanations requested from late units'' heads', count(*)::text FROM "
    "notify.explanation "
    "UNION ALL SELECT 3, '  explained in time', count(*)::text FROM notify.explanation e WHERE "
    "EXISTS (SELECT 1 FROM notify.explanation_given g WHERE g.dossier_code = e.dossier_code AND "
    "g.unit_code = e.unit_code AND g.occurred_at BETWEEN e.requested_at AND e.due_at) "
    "UNION ALL SELECT 4, '  escalated to the Chairman''s office', count(*)::text "
    "FROM notify.explanation WHERE outcome = 'escalated' "
    "UNION ALL SELECT 5, '  still within their deadline', count(*)::text FROM notify.explanation "
    "WHERE outcome IS NULL "
    "UNION ALL SELECT 6, 'notices delivered (of all notices)', count(*) FILTER (WHERE status = "
    "'delivered') || ' (' || count(*) || ')' FROM notify.notice"
    ") t ORDER BY k";

int mc_cli_report(PGconn *conn, FILE *out)
{
    static const int summary_w[] = {48, 0};
    static const char *const delivery_h[] = {"channel",    "letters", "delivered",
                                             "on the way", "failed",  NULL};
    static const int delivery_w[] = {8, -7, -9, -10, -6};
    static const char *const units_h[] = {"unit", "received", "finished",  "on time",
                                          "late", "letters",  "on time %", NULL};
    static const int units_w[] = {48, -8, -8, -7, -4, -7, -9};
    static const char *const late_h[] = {"dossier",  "procedure", "unit", "due",
                                         "finished", "letters",   "why",  NULL};
    static const int late_w[] = {25, 10, 8, 25, 10, -7, 0};
    static const char *const resched_h[] = {"dossier", "unit",   "due", "new date",
                                            "outcome", "reason", NULL};
    static const int resched_w[] = {25, 8, 10, 10, 36, 0};
    int rc = 0;

    fprintf(out, "motcua report\n=============\n");
    rc |= table(out, conn, "Summary", NULL, summary_w, 2, summary_sql);
    rc |= table(out, conn, "Per unit (late first): the basis of the monthly ranking", units_h,
                units_w, 7, units_sql);
    rc |= table(out, conn, "Late dossiers (first 10 by due date)", late_h, late_w, 7, late_sql);
    rc |= table(out, conn,
                "Reschedules (first 20 by due date; official due date kept; one new date allowed)",
                resched_h, resched_w, 6, reschedules_sql);
    rc |= table(out, conn, "Apology letters by the channel that took them", delivery_h, delivery_w,
                5, delivery_sql);
    rc |= table(out, conn, "Deliveries", NULL, summary_w, 2, attempts_sql);
    rc |= table(out, conn, "Accountability: notices to the units", NULL, summary_w, 2,
                accountability_sql);
    {
        /* One letter in full: preferably one that gives a unit's reschedule
         * reason and new date. */
        char err[512];
        PGresult *res = mc_pg_query(conn,
                                    "SELECT n.body FROM notify.letter n LEFT JOIN deadline.clock "
                                    "c ON c.dossier_code = n.dossier_code ORDER BY "
                                    "c.reschedule_reason IS NULL, n.breach, n.issued_at, "
                                    "n.document_number LIMIT 1",
                                    0, NULL, err, sizeof err);
        if (res && PQntuples(res) == 1) {
            fprintf(out, "\nOne apology letter in full\n--------------------------\n%s\n",
                    PQgetvalue(res, 0, 0));
        } else if (res) {
            fprintf(out, "\nNo apology letter yet.\n");
        } else {
            fprintf(stderr, "motcua report: %s\n", err);
            rc = 1;
        }
        PQclear(res);
    }
    return rc ? 1 : 0;
}

/* The month's ranking of units ($1: the month's first day, 'YYYY-MM-01'),
 * computed from the services' schemas, best first: on-time share, then
 * fewer late dossiers, then fewer explanations overdue. A dossier counts in
 * the month it was finished, or in every month it was open at the end of;
 * it is on time when finished by (or still within) its official due date
 * (docs/domain.md, "Measures"). An explanation is overdue in the month its
 * deadline passed when notify escalated it (none given by then, judged on
 * the services' clock, not the database's). */
static const char ranking_sql[] = OUTCOME_CTE
    ", b AS (SELECT ($1::date)::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh' AS s, "
    "($1::date + interval '1 month')::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh' AS e), "
    "h AS (SELECT s.unit_code, count(*) AS handled, count(*) FILTER (WHERE (s.finished_at < b.e "
    "AND NOT s.late) OR (s.finished_at IS NULL OR s.finished_at >= b.e) AND s.due_at >= b.e) AS "
    "on_time FROM s, b WHERE s.unit_code IS NOT NULL AND s.receipt_at < b.e AND "
    "(s.finished_at IS NULL OR s.finished_at >= b.s) GROUP BY s.unit_code), "
    "lt AS (SELECT l.unit_code, count(*) AS letters FROM notify.letter l, b WHERE l.issued_at >= "
    "b.s AND l.issued_at < b.e GROUP BY l.unit_code), "
    "ex AS (SELECT x.unit_code, count(*) FILTER (WHERE x.requested_at >= b.s AND x.requested_at "
    "< b.e) AS requested, count(*) FILTER (WHERE x.due_at >= b.s AND x.due_at < b.e AND "
    "x.outcome = 'escalated') AS overdue FROM notify.explanation x, b GROUP BY x.unit_code), "
    "r AS (SELECT u.code, u.name, coalesce(h.handled, 0) AS handled, coalesce(h.on_time, 0) AS "
    "on_time, coalesce(h.handled, 0) - coalesce(h.on_time, 0) AS late, round(100.0 * h.on_time "
    "/ nullif(h.handled, 0), 1) AS pct, coalesce(lt.letters, 0) AS letters, "
    "coalesce(ex.requested, 0) AS requested, coalesce(ex.overdue, 0) AS overdue FROM "
    "catalog.unit u LEFT JOIN h ON h.unit_code = u.code LEFT JOIN lt ON lt.unit_code = u.code "
    "LEFT JOIN ex ON ex.unit_code = u.code WHERE h.handled > 0 OR lt.letters > 0 OR "
    "ex.requested > 0 OR ex.overdue > 0) "
    "SELECT row_number() OVER (ORDER BY pct DESC NULLS LAST, late, overdue, code) AS position, "
    "code AS unit_code, name AS unit_name, handled, on_time, late, pct AS on_time_pct, letters, "
    "requested AS explanations_requested, overdue AS explanations_overdue FROM r ORDER BY 1";

/* The ranking's columns, computed or frozen, read by these names; after
 * the unit, printed in this order under the headers. */
static const char *const ranking_columns[] = {"position",
                                              "unit_code",
                                              "unit_name",
                                              "handled",
                                              "on_time",
                                              "late",
                                              "on_time_pct",
                                              "letters",
                                              "explanations_requested",
                                              "explanations_overdue"};
enum {
    RK_POSITION,
    RK_UNIT_CODE,
    RK_UNIT_NAME,
    RK_HANDLED,
    RK_COUNT = sizeof ranking_columns / sizeof *ranking_columns
};

/* Freezes a month: its ranking as computed now, once. */
static const char freeze_sql[] =
    "INSERT INTO report.ranking (month, position, unit_code, unit_name, handled, on_time, late, "
    "on_time_pct, letters, explanations_requested, explanations_overdue, frozen_at) SELECT "
    "$1::date, x.position, x.unit_code, x.unit_name, x.handled, x.on_time, x.late, "
    "x.on_time_pct, x.letters, x.explanations_requested, x.explanations_overdue, now() FROM (%s) "
    "x ON CONFLICT DO NOTHING";

static const char frozen_sql[] =
    "SELECT position, unit_code, unit_name, handled, on_time, late, on_time_pct, letters, "
    "explanations_requested, explanations_overdue, to_char(frozen_at AT TIME ZONE "
    "'Asia/Ho_Chi_Minh', 'YYYY-MM-DD HH24:MI') AS frozen FROM report.ranking WHERE month = "
    "$1::date ORDER BY position";

int mc_cli_ranking(PGconn *conn, FILE *out, const char *month, int freeze)
{
    static const char *const h[] = {"#", "unit",    "handled",   "on time",      "late",
                                    "%", "letters", "asked why", "not answered", NULL};
    static const int w[] = {-2, 56, -7, -7, -4, -5, -7, -9, -12};
    char first[16], err[512], *sql = NULL;
    const char *p[1] = {first};
    PGresult *res = NULL, *frozen = NULL;
    int y, m, rc = 1, col[RK_COUNT];

    if (sscanf(month, "%4d-%2d", &y, &m) != 2 || strlen(month) != 7 || m < 1 || m > 12) {
        fprintf(stderr, "motcua report: --month wants YYYY-MM, not '%s'\n", month);
        return 2;
    }
    snprintf(first, sizeof first, "%04d-%02d-01", y, m);
    if (freeze) {
        /* Only a month that is over (in Vietnam) can be frozen. */
        if ((res = mc_pg_query(conn,
                               "SELECT now() >= ($1::date + interval '1 month')::timestamp AT "
                               "TIME ZONE 'Asia/Ho_Chi_Minh'",
                               1, p, err, sizeof err)) == NULL)
            goto fail;
        if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
            fprintf(stderr, "motcua report: %s is not over; a month is frozen once it is\n", month);
            rc = 2;
            goto out;
        }
        PQclear(res);
        res = NULL;
        if (asprintf(&sql, freeze_sql, ranking_sql) < 0)
            goto out;
        if (mc_pg_exec(conn, sql, 1, p, err, sizeof err) != 0)
            goto fail;
    }
    if ((frozen = mc_pg_query(conn, frozen_sql, 1, p, err, sizeof err)) == NULL)
        goto fail;
    if (PQntuples(frozen) > 0) {
        fprintf(out, "Ranking of units, %s (frozen %s; stored in report.ranking)\n", month,
                PQgetvalue(frozen, 0, PQfnumber(frozen, "frozen")));
        res = frozen;
        frozen = NULL;
    } else {
        fprintf(out,
                "Ranking of units, %s (computed now, not frozen: `motcua report --month %s "
                "--by unit --freeze` keeps it)\n",
                month, month);
        if ((res = mc_pg_query(conn, ranking_sql, 1, p, err, sizeof err)) == NULL)
            goto fail;
    }
    if (mc_pg_columns(res, ranking_columns, RK_COUNT, col, err, sizeof err) != 0)
        goto fail;
    fprintf(out, "  ");
    for (int c = 0; h[c]; c++)
        cell(out, h[c], h[c + 1] ? w[c] : 0, c == 0);
    fprintf(out, "\n");
    for (int i = 0; i < PQntuples(res); i++) {
        char unit[300];
        snprintf(unit, sizeof unit, "%s (%s)", PQgetvalue(res, i, col[RK_UNIT_NAME]),
                 PQgetvalue(res, i, col[RK_UNIT_CODE]));
        fprintf(out, "  ");
        cell(out, PQgetvalue(res, i, col[RK_POSITION]), w[0], 1);
        cell(out, unit, w[1], 0);
        for (int k = RK_HANDLED; k < RK_COUNT; k++) {
            int c = col[k];
            cell(out, PQgetisnull(res, i, c) ? "-" : PQgetvalue(res, i, c),
                 k < RK_COUNT - 1 ? w[k - 1] : 0, 0);
        }
        fprintf(out, "\n");
    }
    if (PQntuples(res) == 0)
        fprintf(out, "  (no unit handled a dossier that month)\n");
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "motcua report: %s\n", err);
out:
    free(sql);
    PQclear(res);
    PQclear(frozen);
    return rc;
}
