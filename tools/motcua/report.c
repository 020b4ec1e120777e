/* `motcua report`: the city's summary (received, online share, assignments
 * per unit, overdue dossiers, apology letters) and one apology letter. */
#include "report.h"

#include <stdio.h>

#include "motcua/pg.h"

/* Writes text padded to width characters (UTF-8 code points, so Vietnamese
 * names line up), followed by two spaces. */
static void pad(FILE *out, const char *text, int width)
{
    int chars = 0;
    for (const char *p = text; *p; p++)
        if (((unsigned char)*p & 0xC0) != 0x80)
            chars++;
    fprintf(out, "%s", text);
    for (; chars < width; chars++)
        fputc(' ', out);
    fputs("  ", out);
}

/* Prints every row of sql, the first column padded so the others line up. */
static int print_rows(FILE *out, PGconn *conn, const char *title, const char *sql)
{
    char err[512];
    PGresult *res = mc_pg_query(conn, sql, 0, NULL, err, sizeof err);
    if (res == NULL) {
        fprintf(stderr, "motcua report: %s\n", err);
        return 1;
    }
    fprintf(out, "\n%s\n", title);
    for (int i = 0; i < PQntuples(res); i++) {
        fprintf(out, "  ");
        for (int c = 0; c < PQnfields(res); c++)
            pad(out, PQgetisnull(res, i, c) ? "-" : PQgetvalue(res, i, c), c ? 0 : 48);
        fprintf(out, "\n");
    }
    PQclear(res);
    return 0;
}

int mc_cli_report(PGconn *conn, FILE *out)
{
    int rc = 0;
    fprintf(out, "motcua report\n=============\n");
    rc |= print_rows(out, conn, "Dossiers",
                     "SELECT 'received', count(*)::text FROM intake.dossier UNION ALL "
                     "SELECT 'rejected submissions', count(*)::text FROM intake.rejection UNION ALL "
                     "SELECT 'online share', coalesce(round(100.0 * count(*) FILTER (WHERE channel "
                     "= 'online') / nullif(count(*), 0), 1)::text || ' %', '-') FROM "
                     "intake.dossier UNION ALL "
                     "SELECT 'overdue (official due date missed)', count(DISTINCT dossier_code)::text "
                     "FROM deadline.ledger WHERE rung LIKE 'overdue%' UNION ALL "
                     "SELECT 'second breaches (rescheduled date missed)', count(*)::text FROM "
                     "deadline.ledger WHERE rung = 'overdue-2' UNION ALL "
                     "SELECT 'reschedules accepted', count(*)::text FROM deadline.clock WHERE "
                     "rescheduled_due_at IS NOT NULL UNION ALL "
                     "SELECT 'finished or returned', count(*)::text FROM deadline.clock WHERE state "
                     "IN ('finished', 'returned') UNION ALL "
                     "SELECT 'apology letters', count(*)::text FROM notify.letter");
    rc |= print_rows(out, conn, "Assignments per unit (unit, assigned, overdue, letters)",
                     "SELECT u.name || ' (' || u.code || ')', count(*)::text, "
                     "count(l.dossier_code)::text, count(n.dossier_code)::text "
                     "FROM routing.assignment a JOIN catalog.unit u ON u.code = a.unit_code "
                     "LEFT JOIN deadline.ledger l ON l.dossier_code = a.dossier_code AND "
                     "l.rung = 'overdue' LEFT JOIN notify.letter n ON n.dossier_code = "
                     "a.dossier_code AND n.breach = 1 GROUP BY u.name, u.code "
                     "ORDER BY count(*) DESC, u.code");
    rc |= print_rows(out, conn, "Overdue dossiers (first 10: code, procedure, due, new appointment)",
                     "SELECT l.dossier_code, d.procedure_code, motcua_rfc3339(d.due_at), "
                     "coalesce(motcua_rfc3339(n.new_appointment_at), '-') FROM deadline.ledger l "
                     "JOIN intake.dossier d ON d.code = l.dossier_code LEFT JOIN notify.letter n "
                     "ON n.dossier_code = l.dossier_code AND n.breach = 1 WHERE l.rung = 'overdue' "
                     "ORDER BY d.due_at, l.dossier_code LIMIT 10");
    rc |= print_rows(out, conn, "Apology letters by delivery channel",
                     "SELECT delivery_channel, count(*)::text FROM notify.letter GROUP BY 1 "
                     "ORDER BY 2 DESC");
    {
        char err[512];
        PGresult *res = mc_pg_query(conn,
                                    "SELECT body FROM notify.letter ORDER BY issued_at, "
                                    "document_number LIMIT 1",
                                    0, NULL, err, sizeof err);
        if (res && PQntuples(res) == 1)
            fprintf(out, "\nOne apology letter in full\n--------------------------\n%s\n",
                   PQgetvalue(res, 0, 0));
        else if (res)
            fprintf(out, "\nNo apology letter yet.\n");
        else
            rc = 1;
        PQclear(res);
    }
    return rc ? 1 : 0;
}

