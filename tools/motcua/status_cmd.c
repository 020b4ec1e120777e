/* `motcua status`: every service at a glance, from where the truth is (the
 * broker's consumer groups and committed offsets, the services' outboxes
 * in PostgreSQL), and, for the instances given with --http, their own
 * /readyz. The services are the runtime definitions themselves
 * (services/<name>/<name>.h): their names, schemas and topics. */
#include "status_cmd.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "deadline.h"
#include "intake.h"
#include "motcua/error.h"
#include "motcua/kafka.h"
#include "motcua/pg.h"
#include "motcua/service.h"
#include "motcua/topics.h"
#include "notify.h"
#include "router.h"
#include "sender.h"

#define TIMEOUT_MS 5000
#define OUTBOX_OLD_S 60

/* A service's outbox: its backlog (the first column; all three take the
 * schema's name). */
#define OUTBOX_REST(X)                                                                             \
    X(OS_AGE, "age",                                                                               \
      "(SELECT coalesce(extract(epoch FROM now() - min(created_at))::bigint, 0) FROM %s.outbox)")  \
    X(OS_PARKED, "parked", "(SELECT count(*) FROM %s.outbox_parked)")
enum { OS_BACKLOG, OUTBOX_REST(MC_PG_COL_ENUM) OS_COUNT };

static const struct mc_service_def *const services[] = {
    &mc_intake_def, &mc_router_def, &mc_deadline_def, &mc_notify_def, &mc_api_def,
    &mc_sender_def, NULL,
};

static int usage(FILE *out)
{
    fprintf(out, "usage: motcua status [--http URL]...\n\n"
                 "For every service: its consumer group on the broker (state, members,\n"
                 "messages not yet consumed), its outbox (events not yet published, the\n"
                 "oldest's age, parked rows) and the dead letters. --http URL (repeatable,\n"
                 "e.g. http://10.0.0.5:9101) also asks that instance's /readyz.\n"
                 "The reference sender is optional: when its group never consumed it is\n"
                 "shown as not running and needs no look.\n"
                 "Exit status 1 when something needs a look.\n");
    return out == stderr ? 2 : 0;
}

/* Messages of the service's topics its group has not committed yet; -1
 * when the broker could not say. *committed: partitions with a committed
 * offset (0: the group never consumed). */
static long long group_lag(const struct mc_config *cfg, const struct mc_service_def *def,
                           const char *group, int *committed, char *err, size_t errlen)
{
    rd_kafka_t *rk = mc_kafka_consumer_new(cfg, group, NULL, NULL, err, errlen);
    rd_kafka_topic_partition_list_t *parts;
    long long lag = 0;

    *committed = 0;
    if (rk == NULL)
        return -1;
    parts = rd_kafka_topic_partition_list_new(16);
    for (const char *const *t = def->topics; *t; t++) {
        const struct rd_kafka_metadata *md = NULL;
        char name[256];
        rd_kafka_topic_t *rkt =
            rd_kafka_topic_new(rk, mc_topic_name(cfg, *t, name, sizeof name), NULL);
        if (rd_kafka_metadata(rk, 0, rkt, &md, TIMEOUT_MS) == RD_KAFKA_RESP_ERR_NO_ERROR &&
            md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR)
            for (int i = 0; i < md->topics[0].partition_cnt; i++)
                rd_kafka_topic_partition_list_add(parts, name, md->topics[0].partitions[i].id);
        if (md)
            rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
    }
    if (rd_kafka_committed(rk, parts, TIMEOUT_MS) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, errlen, "committed offsets of %s: not answered", group);
        lag = -1;
    }
    for (int i = 0; lag >= 0 && i < parts->cnt; i++) {
        int64_t lo, hi, at = parts->elems[i].offset;
        if (rd_kafka_query_watermark_offsets(rk, parts->elems[i].topic, parts->elems[i].partition,
                                             &lo, &hi, TIMEOUT_MS) != RD_KAFKA_RESP_ERR_NO_ERROR) {
            snprintf(err, errlen, "watermarks of %s: not answered", parts->elems[i].topic);
            lag = -1;
            break;
        }
        lag += at >= 0 ? (hi > at ? hi - at : 0) : hi - lo; /* no commit: all of it */
        *committed += at >= 0;
    }
    rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_destroy(rk);
    return lag;
}

/* The group's state and member count on the broker. */
static void group_state(rd_kafka_t *admin, const char *group, char *state, size_t len, int *members)
{
    const struct rd_kafka_group_list *list = NULL;
    snprintf(state, len, "?");
    *members = 0;
    if (rd_kafka_list_groups(admin, group, &list, TIMEOUT_MS) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        list->group_cnt == 1) {
        snprintf(state, len, "%s", list->groups[0].state[0] ? list->groups[0].state : "Empty");
        *members = list->groups[0].member_cnt;
    }
    if (list)
        rd_kafka_group_list_destroy(list);
}

static long long dead_letters(rd_kafka_t *admin, const struct mc_config *cfg)
{
    const struct rd_kafka_metadata *md = NULL;
    char name[256];
    long long n = 0;
    rd_kafka_topic_t *rkt =
        rd_kafka_topic_new(admin, mc_topic_name(cfg, "deadletter", name, sizeof name), NULL);
    if (rd_kafka_metadata(admin, 0, rkt, &md, TIMEOUT_MS) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        md->topic_cnt != 1 || md->topics[0].err)
        n = -1;
    for (int i = 0; n >= 0 && i < md->topics[0].partition_cnt; i++) {
        int64_t lo, hi;
        if (rd_kafka_query_watermark_offsets(admin, name, md->topics[0].partitions[i].id, &lo, &hi,
                                             TIMEOUT_MS) != RD_KAFKA_RESP_ERR_NO_ERROR)
            n = -1;
        else
            n += hi - lo;
    }
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return n;
}

static size_t keep_body(char *p, size_t size, size_t n, void *opaque)
{
    char *buf = opaque;
    size_t have = strlen(buf), add = size * n;
    if (have + 1 < 256)
        snprintf(buf + have, 256 - have, "%.*s", (int)add, p);
    return add;
}

/* GET <url>/readyz: 1 when ready; why otherwise. */
static int readyz(const char *url, char *why, size_t len)
{
    char full[1024], body[256] = "";
    long code = 0;
    CURL *c = curl_easy_init();
    CURLcode rc;
    snprintf(full, sizeof full, "%s/readyz", url);
    curl_easy_setopt(c, CURLOPT_URL, full);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, (void *)body);
    rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK)
        snprintf(why, len, "%s", curl_easy_strerror(rc));
    else
        snprintf(why, len, "%s", body);
    return rc == CURLE_OK && code == 200;
}

int mc_cli_status(const struct mc_config *cfg, int argc, char **argv)
{
    char err[512], state[64];
    PGconn *conn;
    rd_kafka_t *admin;
    int attention = 0, members, committed;
    long long n;

    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0)
            return usage(stdout);
        else if (strcmp(argv[i], "--http") != 0 || i + 1 >= argc)
            return usage(stderr);
        else
            i++;
    if ((conn = mc_pg_connect(cfg->pg_url, "motcua-cli", err, sizeof err)) == NULL) {
        fprintf(stderr, "motcua status: %s\n", err);
        return 1;
    }
    if ((admin = mc_kafka_admin_new(cfg, err, sizeof err)) == NULL) {
        fprintf(stderr, "motcua status: %s\n", err);
        PQfinish(conn);
        return 1;
    }
    printf("%-9s %-16s %-20s %7s %9s %8s %7s %6s\n", "service", "group", "state", "members", "lag",
           "outbox", "oldest", "parked");
    for (const struct mc_service_def *const *d = services; *d; d++) {
        char group[128], sql[512];
        PGresult *res;
        long long lag;
        snprintf(group, sizeof group, "motcua-%s", (*d)->name);
        group_state(admin, group, state, sizeof state, &members);
        lag = group_lag(cfg, *d, group, &committed, err, sizeof err);
        if ((*d)->optional && members == 0 && committed == 0 && lag >= 0) {
            printf("%-9s %-16s not running (optional)\n", (*d)->name, group);
            continue;
        }
        snprintf(sql, sizeof sql,
                 "SELECT (SELECT count(*) FROM %s.outbox) AS backlog" OUTBOX_REST(MC_PG_COL_SQL),
                 (*d)->schema, (*d)->schema, (*d)->schema);
        res = mc_pg_query(conn, sql, 0, NULL, err, sizeof err);
        printf("%-9s %-16s %-20s %7d ", (*d)->name, group, state, members);
        if (lag >= 0)
            printf("%9lld ", lag);
        else
            printf("%9s ", "?");
        if (res)
            printf("%8s %6ss %6s\n", PQgetvalue(res, 0, OS_BACKLOG), PQgetvalue(res, 0, OS_AGE),
                   PQgetvalue(res, 0, OS_PARKED));
        else
            printf("%8s %7s %6s\n", "?", "?", "?");
        if (members == 0 || lag < 0 || res == NULL ||
            atoll(PQgetvalue(res, 0, OS_AGE)) > OUTBOX_OLD_S ||
            atoll(PQgetvalue(res, 0, OS_PARKED)) > 0)
            attention = 1;
        PQclear(res);
    }
    n = dead_letters(admin, cfg);
    if (n >= 0)
        printf("dead letters: %lld on the topic (motcua deadletter list)\n", n);
    else
        printf("dead letters: the broker did not say\n");
    for (int i = 1; i + 1 < argc; i += 2) {
        char why[256];
        int ok = readyz(argv[i + 1], why, sizeof why);
        printf("%s: %s%s%s\n", argv[i + 1], ok ? "ready" : "NOT READY", ok ? "" : ": ",
               ok ? "" : why);
        attention |= !ok;
    }
    rd_kafka_destroy(admin);
    PQfinish(conn);
    return attention;
}
