/* `motcua notification show ID|--dossier CODE`: what became of a
 * notification (a letter to the citizen, or a notice to a unit): its reference, template, channels
 * in order, where it is now, and its history: each attempt (the first, a retry on the same channel,
 * a fallback to the next) with the receipts the senders sent about it. Read from notify's tables;
 * no personal data but what a receipt's detail may hold (an SMTP reply names the address). */
#include "notification_cmd.h"

#include <regex.h>
#include <stdio.h>
#include <string.h>

#include "motcua/error.h"
#include "motcua/pg.h"

/* The dossier's letters to the citizen, then its notices to the units
 * (no document number, no appointment: "-"). */
#define LETTER_REST(X)                                                                             \
    X(NL_REFERENCE, "reference",                                                                   \
      "coalesce(message->>'reference', dossier_code || '/' || kind || '/' || breach)")             \
    X(NL_TEMPLATE, "template_id", "coalesce(message->'template'->>'id', '-')")                     \
    X(NL_VERSION, "template_version", "coalesce(message->'template'->>'version', '-')")            \
    X(NL_NUMBER, "doc_number", "coalesce(document_number, '-')")                                   \
    X(NL_ISSUED, "issued", "motcua_rfc3339(issued_at)")                                            \
    X(NL_APPOINTMENT, "appointment", "coalesce(motcua_rfc3339(new_appointment_at), '-')")          \
    X(NL_CHANNELS, "channel_list", "array_to_string(channels, ', ')")                              \
    X(NL_STATUS, "status_now", "status")                                                           \
    X(NL_ATTEMPT, "attempt_now", "attempt")                                                        \
    X(NL_CHANNEL, "channel_now", "delivery_channel")                                               \
    X(NL_RETRIES, "retries_now", "retries")                                                        \
    X(NL_NEXT, "next_retry", "motcua_rfc3339(next_attempt_at)")
enum { NL_ID, LETTER_REST(MC_PG_COL_ENUM) NL_COUNT };
static const char SELECT_LETTERS[] = "SELECT notification_id::text AS id" LETTER_REST(
    MC_PG_COL_SQL) " FROM (SELECT "
                   "notification_id, dossier_code, kind, breach, message, document_number, "
                   "issued_at, "
                   "new_appointment_at, channels, status, attempt, delivery_channel, retries, "
                   "next_attempt_at, "
                   "0 AS o FROM notify.letter UNION ALL SELECT notification_id, dossier_code, "
                   "kind, breach, "
                   "message, NULL, issued_at, NULL, channels, status, attempt, delivery_channel, "
                   "retries, "
                   "next_attempt_at, 1 FROM notify.notice) n WHERE CASE WHEN $2 = 'id' THEN "
                   "notification_id = "
                   "$1::text::uuid ELSE dossier_code = $1::text END ORDER BY o, breach, issued_at";

/* The attempts and the receipts of one notification, attempt by attempt:
 * its start, "sending", then the outcome (receipts of one second are
 * ordered so). */
#define HISTORY_REST(X)                                                                            \
    X(NH_ATTEMPT, "attempt_text", "coalesce(attempt::text, '?')")                                  \
    X(NH_CHANNEL, "channel_text", "coalesce(channel, '-')")                                        \
    X(NH_WHAT, "what_text", "what")
enum { NH_AT, HISTORY_REST(MC_PG_COL_ENUM) NH_COUNT };
static const char SELECT_HISTORY[] =
    "SELECT coalesce(motcua_rfc3339(at), '-') AS at_text" HISTORY_REST(
        MC_PG_COL_SQL) " FROM (SELECT started_at AS at, attempt, channel, "
                       "'started (' || reason || ')' AS what, 0 AS o FROM notify.attempt WHERE "
                       "notification_id = "
                       "$1::uuid UNION ALL SELECT reported_at, attempt, channel, status || "
                       "coalesce(': ' || "
                       "detail, ''), CASE status WHEN 'sending' THEN 1 ELSE 2 END FROM "
                       "notify.delivery WHERE "
                       "notification_id = $1::uuid) h ORDER BY h.attempt NULLS LAST, h.o, h.at";

static int usage(FILE *out)
{
    fprintf(out, "usage: motcua notification show ID\n"
                 "       motcua notification show --dossier CODE\n\n"
                 "show  a notification (by its notification_id, or every one of a dossier):\n"
                 "      its reference, template, document number, channels in the order they\n"
                 "      are tried, its status and attempt now, the next retry if one waits,\n"
                 "      and its history: each attempt (first, retry, fallback) with the\n"
                 "      receipts the senders sent about it (a receipt's detail may hold an\n"
                 "      address: an SMTP reply names it)\n");
    return out == stderr ? 2 : 0;
}

static int is_uuid(const char *s)
{
    regex_t re;
    int ok;
    if (regcomp(&re,
                "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
                REG_EXTENDED | REG_NOSUB) != 0)
        return 0;
    ok = regexec(&re, s, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

static int show_history(PGconn *conn, const char *id)
{
    char err[512];
    PGresult *res = mc_pg_query(conn, SELECT_HISTORY, 1, &id, err, sizeof err);
    if (res == NULL) {
        fprintf(stderr, "motcua notification: %s\n", err);
        return 1;
    }
    printf("history:\n");
    for (int i = 0; i < PQntuples(res); i++)
        printf("  %-25s  attempt %-3s %-8s %s\n", PQgetvalue(res, i, NH_AT),
               PQgetvalue(res, i, NH_ATTEMPT), PQgetvalue(res, i, NH_CHANNEL),
               PQgetvalue(res, i, NH_WHAT));
    PQclear(res);
    return 0;
}

int mc_cli_notification(const struct mc_config *cfg, int argc, char **argv)
{
    const char *params[2];
    char err[512];
    PGconn *conn;
    PGresult *res;
    int rc = 0, n;

    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
        return usage(stdout);
    if (argc == 3 && strcmp(argv[1], "show") == 0 && strcmp(argv[2], "--dossier") != 0) {
        if (!is_uuid(argv[2])) {
            fprintf(stderr, "motcua notification: %s is not a notification id (a UUID)\n", argv[2]);
            return 2;
        }
        params[0] = argv[2];
        params[1] = "id";
    } else if (argc == 4 && strcmp(argv[1], "show") == 0 && strcmp(argv[2], "--dossier") == 0) {
        params[0] = argv[3];
        params[1] = "dossier";
    } else {
        return usage(stderr);
    }
    if ((conn = mc_pg_connect(cfg->pg_url, "motcua-cli", err, sizeof err)) == NULL) {
        fprintf(stderr, "motcua notification: %s\n", err);
        return 1;
    }
    if ((res = mc_pg_query(conn, SELECT_LETTERS, 2, params, err, sizeof err)) == NULL) {
        fprintf(stderr, "motcua notification: %s\n", err);
        PQfinish(conn);
        return 1;
    }
    n = PQntuples(res);
    if (n == 0) {
        fprintf(stderr, "motcua notification: no notification %s %s\n",
                strcmp(params[1], "id") == 0 ? "with id" : "for dossier", params[0]);
        rc = 1;
    }
    for (int i = 0; i < n && rc == 0; i++) {
        const char *next = mc_pg_value(res, i, NL_NEXT);
        if (i > 0)
            printf("\n");
        printf("notification %s\n", PQgetvalue(res, i, NL_ID));
        printf("reference    %s\n", PQgetvalue(res, i, NL_REFERENCE));
        printf("template     %s, version %s\n", PQgetvalue(res, i, NL_TEMPLATE),
               PQgetvalue(res, i, NL_VERSION));
        printf("document     %s, issued %s, new appointment %s\n", PQgetvalue(res, i, NL_NUMBER),
               PQgetvalue(res, i, NL_ISSUED), PQgetvalue(res, i, NL_APPOINTMENT));
        printf("channels     %s\n", PQgetvalue(res, i, NL_CHANNELS));
        printf("now          %s, attempt %s on %s (%s retries on it)\n",
               PQgetvalue(res, i, NL_STATUS), PQgetvalue(res, i, NL_ATTEMPT),
               PQgetvalue(res, i, NL_CHANNEL), PQgetvalue(res, i, NL_RETRIES));
        if (next)
            printf("next retry   %s\n", next);
        rc = show_history(conn, PQgetvalue(res, i, NL_ID));
    }
    PQclear(res);
    PQfinish(conn);
    return rc;
}
