/* motcua: the operator CLI (migrate, catalog, produce/consume, clock ticks,
 * counts, the report, due-date arithmetic, sample data). */
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "calendar_cmd.h"
#include "cli.h"
#include "deadline.h"
#include "outbox_cmd.h"
#include "report.h"
#include "deadletter_cmd.h"
#include "letter_cmd.h"
#include "notification_cmd.h"
#include "status_cmd.h"
#include "topic_read.h"
#include "topics_cmd.h"
#include "motcua/calendar.h"
#include "motcua/topics.h"
#include "motcua/catalog.h"
#include "motcua/config.h"
#include "motcua/error.h"
#include "motcua/kafka.h"
#include "motcua/log.h"
#include "motcua/migrate.h"
#include "motcua/pg.h"
#include "motcua/timeutil.h"

static struct mc_config cfg;

static int usage(FILE *out)
{
    fprintf(out,
            "usage: motcua <command> [args]\n\n"
            "  migrate                       apply schemas/migrations to MOTCUA_PG_URL\n"
            "  catalog load [FILE.sql...]    load the sample catalog (default schemas/seed/*.sql)\n"
            "  produce <topic>               publish stdin lines (\"KEY<TAB>JSON\" or JSON)\n"
            "  consume <topic> [--idle-ms N] [--keys] [--timestamps]\n"
            "                                print a topic from the beginning (each line:\n"
            "                                [ms since 1970 TAB] [key TAB] payload)\n"
            "  tick <RFC 3339>               publish a clock tick on <prefix>clock\n"
            "  count received|assigned|overdue|letters|rejected|reschedules\n"
            "  report                        the city's summary and one apology letter\n"
            "  report --month YYYY-MM --by unit [--freeze]\n"
            "                                the month's ranking of units (frozen: as stored)\n"
            "  calendar seed|list|add|remove days off and extra working days (calendar --help)\n"
            "  calendar recompute            move running deadlines after a calendar correction\n"
            "  due --received T --time 5wd   receipt_at and due_at over the catalog calendar\n"
            "  sample submissions|updates    sample data for the demo (see --help there)\n"
            "  replay --year YYYY [--scale F] [--seed S]\n"
            "                                the reference city's year through the running\n"
            "                                services on the topic clock, with its checks\n"
            "  topics apply [--dry-run]      create the topics of the table, report drift\n"
            "  topics list [--format F]      the topic table (tsv or markdown)\n"
            "  outbox list|retry|drop        outbox rows the broker refused, parked\n"
            "  deadletter list|show|replay   dead letters; replay one after a fix\n"
            "  letter pdf --out FILE [--cert C --key K] < NOTIFICATION\n"
            "                                a notification's letter as a (signed) PDF\n"
            "  notification show ID|--dossier CODE\n"
            "                                a notification's attempts and receipts\n"
            "  status [--http URL]...        every service's group, lag, outbox; readiness\n"
            "  config doc                    the configuration keys as a Markdown table\n\n"
            "Topics are logical names (submissions, dossier.updates, ...); the prefix\n"
            "MOTCUA_TOPIC_PREFIX is added.\n\n");
    mc_config_usage(out, "motcua");
    return out == stderr ? 2 : 0;
}

static PGconn *connect_db(void)
{
    char err[512];
    PGconn *conn = mc_pg_connect(cfg.pg_url, "motcua-cli", err, sizeof err);
    if (conn == NULL)
        fprintf(stderr, "motcua: %s\n", err);
    return conn;
}

static int cmd_migrate(void)
{
    char err[1024];
    int applied, rc;
    PGconn *conn = connect_db();
    if (conn == NULL)
        return 1;
    rc = mc_migrate(conn, mc_migrations_dir(), &applied, err, sizeof err);
    PQfinish(conn);
    if (rc) {
        fprintf(stderr, "motcua migrate: %s\n", err);
        return 1;
    }
    printf("migrations applied: %d\n", applied);
    return 0;
}

static int cmd_catalog(int argc, char **argv)
{
    char err[1024];
    int rc = 0, files = 0;
    PGconn *conn;
    if (argc < 2 || strcmp(argv[1], "load") != 0) {
        fprintf(stderr, "usage: motcua catalog load [FILE.sql...]\n");
        return 2;
    }
    if ((conn = connect_db()) == NULL)
        return 1;
    if (argc == 2) {
        rc = mc_sql_dir(conn, mc_seed_dir(), &files, err, sizeof err);
    } else {
        for (int i = 2; i < argc && rc == 0; i++)
            if ((rc = mc_sql_file(conn, argv[i], err, sizeof err)) == 0)
                files++;
    }
    PQfinish(conn);
    if (rc) {
        fprintf(stderr, "motcua catalog load: %s\n", err);
        return 1;
    }
    printf("catalog files loaded: %d\n", files);
    return 0;
}

static int delivery_failures;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    if (msg->err) {
        delivery_failures++;
        fprintf(stderr, "motcua produce: delivery failed: %s\n", rd_kafka_err2str(msg->err));
    }
}

/* 0 if logical is a topic of the table; else says which ones are. */
static int known_topic(const char *command, const char *logical)
{
    if (mc_topic_find(logical) != NULL)
        return 0;
    fprintf(stderr, "motcua %s: unknown topic \"%s\"; the topics are:", command, logical);
    for (size_t i = 0; i < mc_topic_count; i++)
        fprintf(stderr, " %s", mc_topics[i].name);
    fprintf(stderr, "\n");
    return -1;
}

static int cmd_produce(int argc, char **argv)
{
    char err[512], topic[256];
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long count = 0;
    rd_kafka_t *rk;
    if (argc != 2) {
        fprintf(stderr, "usage: motcua produce <topic> < lines\n");
        return 2;
    }
    if (known_topic("produce", argv[1]) != 0)
        return 2;
    if ((rk = mc_kafka_producer_new(&cfg, dr_cb, NULL, err, sizeof err)) == NULL) {
        fprintf(stderr, "motcua produce: %s\n", err);
        return 1;
    }
    mc_topic_name(&cfg, argv[1], topic, sizeof topic);
    while ((len = getline(&line, &cap, stdin)) > 0) {
        char *key = NULL, *value = line, *tab;
        rd_kafka_resp_err_t kerr;
        if (line[len - 1] == '\n')
            line[--len] = '\0';
        if (len == 0)
            continue;
        if ((tab = memchr(line, '\t', (size_t)len)) != NULL) {
            *tab = '\0';
            key = line;
            value = tab + 1;
        }
        do {
            kerr = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
                                     RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
                                     RD_KAFKA_V_VALUE(value, strlen(value)),
                                     RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
            if (kerr == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                rd_kafka_poll(rk, 100);
        } while (kerr == RD_KAFKA_RESP_ERR__QUEUE_FULL);
        if (kerr) {
            fprintf(stderr, "motcua produce: %s\n", rd_kafka_err2str(kerr));
            delivery_failures++;
            break;
        }
        rd_kafka_poll(rk, 0);
        count++;
    }
    free(line);
    if (rd_kafka_flush(rk, 30000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "motcua produce: %d messages not delivered in 30 s\n",
                rd_kafka_outq_len(rk));
        delivery_failures++;
    }
    rd_kafka_destroy(rk);
    fprintf(stderr, "produced %ld messages to %s\n", count, topic);
    return delivery_failures ? 1 : 0;
}

static int cmd_tick(int argc, char **argv)
{
    char err[512], topic[256], payload[96], ts[MC_RFC3339_LEN];
    mc_instant t;
    rd_kafka_t *rk;
    int rc;
    if (argc != 2 || mc_time_parse(argv[1], &t) != 0) {
        fprintf(stderr, "usage: motcua tick <RFC 3339 instant with offset>\n");
        return 2;
    }
    snprintf(payload, sizeof payload, "{\"now\":\"%s\"}", mc_time_format(t, ts));
    if ((rk = mc_kafka_producer_new(&cfg, dr_cb, NULL, err, sizeof err)) == NULL) {
        fprintf(stderr, "motcua tick: %s\n", err);
        return 1;
    }
    rc = mc_kafka_produce_sync(rk, mc_topic_name(&cfg, "clock", topic, sizeof topic), "clock",
                               payload, strlen(payload), 10000, err, sizeof err);
    rd_kafka_destroy(rk);
    if (rc || delivery_failures) {
        fprintf(stderr, "motcua tick: %s\n", rc ? err : "not delivered");
        return 1;
    }
    return 0;
}

struct consume_opts {
    int keys, stamps;
    long count;
};

static int print_message(const rd_kafka_message_t *m, void *opaque)
{
    struct consume_opts *o = opaque;
    if (o->stamps)
        printf("%lld\t", (long long)rd_kafka_message_timestamp(m, NULL));
    if (o->keys)
        printf("%.*s\t", (int)m->key_len, m->key ? (const char *)m->key : "");
    printf("%.*s\n", (int)m->len, (const char *)m->payload);
    o->count++;
    return 0;
}

static int cmd_consume(int argc, char **argv)
{
    char err[512], topic[256];
    struct consume_opts o = {0, 0, 0};
    int idle_ms = 3000;
    if (argc < 2) {
        fprintf(stderr, "usage: motcua consume <topic> [--idle-ms N] [--keys] [--timestamps]\n");
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--idle-ms") == 0 && i + 1 < argc)
            idle_ms = atoi(argv[++i]);
        else if (strcmp(argv[i], "--keys") == 0)
            o.keys = 1;
        else if (strcmp(argv[i], "--timestamps") == 0)
            o.stamps = 1;
        else {
            fprintf(stderr, "motcua consume: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (known_topic("consume", argv[1]) != 0)
        return 2;
    if (mc_cli_read_topic(&cfg, argv[1], idle_ms, print_message, &o, err, sizeof err) != 0) {
        fprintf(stderr, "motcua consume: %s\n", err);
        return 1;
    }
    fprintf(stderr, "consumed %ld messages from %s\n", o.count,
            mc_topic_name(&cfg, argv[1], topic, sizeof topic));
    return 0;
}

static const char *const count_sql[][2] = {
    {"received", "SELECT count(*) FROM intake.dossier"},
    {"rejected", "SELECT count(*) FROM intake.rejection"},
    {"assigned", "SELECT count(*) FROM routing.assignment"},
    {"overdue",
     "SELECT count(DISTINCT dossier_code) FROM deadline.ledger WHERE rung LIKE 'overdue%'"},
    {"reschedules", "SELECT count(*) FROM deadline.clock WHERE rescheduled_due_at IS NOT NULL"},
    {"letters", "SELECT count(*) FROM notify.letter"},
    {NULL, NULL},
};

static int cmd_count(int argc, char **argv)
{
    char err[512];
    PGconn *conn;
    PGresult *res;
    for (int i = 0; argc == 2 && count_sql[i][0]; i++) {
        if (strcmp(argv[1], count_sql[i][0]) != 0)
            continue;
        if ((conn = connect_db()) == NULL)
            return 1;
        res = mc_pg_query(conn, count_sql[i][1], 0, NULL, err, sizeof err);
        if (res == NULL) {
            fprintf(stderr, "motcua count: %s\n", err);
            PQfinish(conn);
            return 1;
        }
        printf("%s\n", PQgetvalue(res, 0, 0));
        PQclear(res);
        PQfinish(conn);
        return 0;
    }
    fprintf(stderr, "usage: motcua count received|rejected|assigned|overdue|reschedules|letters\n");
    return 2;
}

/* motcua report [--month YYYY-MM --by unit [--freeze]] */
static int cmd_report(int argc, char **argv)
{
    const char *month = NULL, *by = NULL;
    int freeze = 0, rc;
    PGconn *conn;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--month") == 0 && i + 1 < argc)
            month = argv[++i];
        else if (strcmp(argv[i], "--by") == 0 && i + 1 < argc)
            by = argv[++i];
        else if (strcmp(argv[i], "--freeze") == 0)
            freeze = 1;
        else
            month = by = "";
    }
    if ((month || by || freeze) &&
        (month == NULL || by == NULL || *month == '\0' || strcmp(by, "unit") != 0)) {
        fprintf(stderr, "usage: motcua report [--month YYYY-MM --by unit [--freeze]]\n");
        return 2;
    }
    if ((conn = connect_db()) == NULL)
        return 1;
    rc = month ? mc_cli_ranking(conn, stdout, month, freeze) : mc_cli_report(conn, stdout);
    PQfinish(conn);
    return rc;
}

/* Asks the deadline service to recompute running deadlines (a calendar
 * correction made by SQL does it by itself): bumps the catalog's calendar
 * revision, which wakes the deadline instances, and waits until one of them
 * has applied it. Writes no deadline table. */
static int cmd_recompute(int argc, char **argv)
{
    char err[1024];
    const char *params[1];
    PGresult *res;
    PGconn *conn;
    int timeout_s = 120, rc = 1, failed = 0;
    if (argc == 3 && strcmp(argv[1], "--timeout") == 0 && atoi(argv[2]) > 0)
        timeout_s = atoi(argv[2]);
    else if (argc != 1) {
        fprintf(stderr, "usage: motcua calendar recompute [--timeout SECONDS]\n");
        return 2;
    }
    if ((conn = connect_db()) == NULL)
        return 1;
    res = mc_pg_query(conn,
                      "UPDATE catalog.calendar_revision SET revision = revision + 1, changed_at = "
                      "now() RETURNING revision::text",
                      0, NULL, err, sizeof err);
    if (res == NULL || mc_pg_exec(conn, "NOTIFY motcua_deadline_wake", 0, NULL, err, sizeof err)) {
        fprintf(stderr, "motcua calendar recompute: %s\n", err);
        PQclear(res);
        PQfinish(conn);
        return 1;
    }
    params[0] = PQgetvalue(res, 0, 0);
    printf("calendar revision %s requested\n", params[0]);
    for (int waited = 0; waited <= timeout_s * 10; waited++) {
        PGresult *r = mc_pg_query(conn,
                                  "SELECT moved FROM deadline.recompute WHERE revision >= "
                                  "$1::bigint AND done",
                                  1, params, err, sizeof err);
        if (r == NULL) {
            fprintf(stderr, "motcua calendar recompute: %s\n", err);
            failed = 1;
            break;
        }
        if (PQntuples(r) == 1) {
            printf("deadlines moved: %s\n", PQgetvalue(r, 0, 0));
            PQclear(r);
            rc = 0;
            break;
        }
        PQclear(r);
        usleep(100 * 1000);
    }
    if (rc != 0 && !failed)
        fprintf(stderr,
                "motcua calendar recompute: no deadline instance applied revision %s within %d "
                "s; it will when one runs\n",
                params[0], timeout_s);
    PQclear(res);
    PQfinish(conn);
    return rc;
}

static int cmd_due(int argc, char **argv)
{
    static const struct option opts[] = {{"received", required_argument, NULL, 'r'},
                                         {"time", required_argument, NULL, 't'},
                                         {"agency", required_argument, NULL, 'a'},
                                         {NULL, 0, NULL, 0}};
    const char *received = NULL, *time_text = NULL, *agency = NULL;
    char err[512], rtext[MC_RFC3339_LEN], dtext[MC_RFC3339_LEN];
    struct mc_duration dur;
    struct mc_calendar *cal;
    mc_instant t;
    PGconn *conn;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'r')
            received = optarg;
        else if (c == 't')
            time_text = optarg;
        else if (c == 'a')
            agency = optarg;
        else
            return 2;
    }
    if (received == NULL || time_text == NULL) {
        fprintf(stderr, "usage: motcua due --received <RFC 3339> --time <N>wd|wh|cd|sd "
                        "[--agency CODE]\n");
        return 2;
    }
    if (mc_time_parse(received, &t) != 0) {
        fprintf(stderr, "motcua due: --received %s is not an RFC 3339 instant with offset\n",
                received);
        return 2;
    }
    if (mc_duration_parse(time_text, &dur, err, sizeof err) != 0) {
        fprintf(stderr, "motcua due: --time %s: %s\n", time_text, err);
        return 2;
    }
    if ((conn = connect_db()) == NULL)
        return 1;
    cal = mc_calendar_new(NULL);
    if (mc_calendar_load(cal, conn, agency, err, sizeof err) != 0) {
        fprintf(stderr, "motcua due: %s\n", err);
        mc_calendar_free(cal);
        PQfinish(conn);
        return 1;
    }
    printf("{\"receipt_at\":\"%s\",\"due_at\":\"%s\"}\n",
           mc_time_format(mc_calendar_receipt_at(cal, t), rtext),
           mc_time_format(mc_calendar_due_at(cal, t, &dur), dtext));
    mc_calendar_free(cal);
    PQfinish(conn);
    return 0;
}

int main(int argc, char **argv)
{
    char err[512];
    int rc;
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        return usage(argc < 2 ? stderr : stdout);
    if (strcmp(argv[1], "sample") == 0)
        return mc_cli_sample(argc - 1, argv + 1);
    /* The keys themselves, whatever the environment says (no loading). */
    if (strcmp(argv[1], "letter") == 0) /* needs no configuration */
        return mc_cli_letter(argc - 1, argv + 1);
    if (strcmp(argv[1], "config") == 0 && argc == 3 && strcmp(argv[2], "doc") == 0) {
        mc_config_markdown(stdout);
        return 0;
    }
    mc_log_init("cli");
    if (mc_config_load(&cfg, "cli", err, sizeof err) != 0) {
        fprintf(stderr, "motcua: %s\n", err);
        return 2;
    }
    if (strcmp(argv[1], "migrate") == 0)
        rc = cmd_migrate();
    else if (strcmp(argv[1], "catalog") == 0)
        rc = cmd_catalog(argc - 1, argv + 1);
    else if (strcmp(argv[1], "produce") == 0)
        rc = cmd_produce(argc - 1, argv + 1);
    else if (strcmp(argv[1], "consume") == 0)
        rc = cmd_consume(argc - 1, argv + 1);
    else if (strcmp(argv[1], "tick") == 0)
        rc = cmd_tick(argc - 1, argv + 1);
    else if (strcmp(argv[1], "count") == 0)
        rc = cmd_count(argc - 1, argv + 1);
    else if (strcmp(argv[1], "report") == 0)
        rc = cmd_report(argc - 1, argv + 1);
    else if (strcmp(argv[1], "calendar") == 0 && argc >= 3 && strcmp(argv[2], "recompute") == 0)
        rc = cmd_recompute(argc - 2, argv + 2);
    else if (strcmp(argv[1], "calendar") == 0)
        rc = mc_cli_calendar(argc - 1, argv + 1, cfg.pg_url);
    else if (strcmp(argv[1], "due") == 0)
        rc = cmd_due(argc - 1, argv + 1);
    else if (strcmp(argv[1], "outbox") == 0)
        rc = mc_cli_outbox(cfg.pg_url, argc - 1, argv + 1);
    else if (strcmp(argv[1], "status") == 0)
        rc = mc_cli_status(&cfg, argc - 1, argv + 1);
    else if (strcmp(argv[1], "deadletter") == 0)
        rc = mc_cli_deadletter(&cfg, argc - 1, argv + 1);
    else if (strcmp(argv[1], "notification") == 0)
        rc = mc_cli_notification(&cfg, argc - 1, argv + 1);
    else if (strcmp(argv[1], "topics") == 0)
        rc = mc_cli_topics(&cfg, argc - 1, argv + 1);
    else if (strcmp(argv[1], "replay") == 0)
        rc = mc_cli_replay(&cfg, argc - 1, argv + 1);
    else
        rc = usage(stderr);
    mc_config_free(&cfg);
    return rc;
}
