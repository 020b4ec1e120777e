/* `motcua deadletter`: the dead letters of every service (the deadletter
 * topic), one in full, and the replay of one to the topic it was read
 * from after the cause was mended. A replay is recorded in
 * ops.deadletter_replay: the same dead letter is not sent twice unless
 * asked (--force), and a service that applied the message already skips
 * it anyway (its inbox, or intake's source/external_id). */
#include "deadletter_cmd.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "motcua/error.h"
#include "motcua/jsonutil.h"
#include "motcua/kafka.h"
#include "motcua/pg.h"
#include "topic_read.h"

#define REASON_SHOWN 140
#define TRUNCATED_MARK "; the copy holds the first "

/* The dead letters replayed: when last and how often (after the id). */
#define REPLAYS_REST(X)                                                                            \
    X(RP_AT, "replayed", "motcua_rfc3339(replayed_at)")                                            \
    X(RP_TIMES, "times", "replays")
enum { RP_ID, REPLAYS_REST(MC_PG_COL_ENUM) RP_COUNT };
static const char SELECT_REPLAYS[] =
    "SELECT deadletter_id::text AS id" REPLAYS_REST(MC_PG_COL_SQL) " FROM ops.deadletter_replay";
/* One dead letter's replays: when last (the first column), how often, to
 * which topic. */
#define REPLAY_REST(X)                                                                             \
    X(RO_TIMES, "times", "replays")                                                                \
    X(RO_TOPIC, "topic", "topic")
enum { RO_AT, REPLAY_REST(MC_PG_COL_ENUM) RO_COUNT };
static const char SELECT_REPLAY[] = "SELECT motcua_rfc3339(replayed_at) AS replayed" REPLAY_REST(
    MC_PG_COL_SQL) " FROM ops.deadletter_replay WHERE deadletter_id = $1";
static const char RECORD_REPLAY[] =
    "INSERT INTO ops.deadletter_replay AS r (deadletter_id, topic, key, partition, \"offset\") "
    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (deadletter_id) DO UPDATE SET "
    "replays = r.replays + 1, replayed_at = now(), partition = EXCLUDED.partition, "
    "\"offset\" = EXCLUDED.\"offset\"";

static int usage(FILE *out)
{
    fprintf(out, "usage: motcua deadletter list [--consumer GROUP]\n"
                 "       motcua deadletter show ID\n"
                 "       motcua deadletter replay ID [--force]\n\n"
                 "list    every dead letter, one per line: its ID, when, the service that gave\n"
                 "        up, the dossier (or -), where the message was read\n"
                 "        (topic/partition/offset), why, and its replays (tab-separated)\n"
                 "show    one dead letter in full (it may hold applicants' personal data)\n"
                 "replay  sends the original message again, with its key, to the topic it was\n"
                 "        read from, once its cause is mended (the catalog fixed, a sender's bug\n"
                 "        fixed). A dead letter is replayed once: again only with --force (the\n"
                 "        services skip what they applied already). A copy that was cut to fit\n"
                 "        the dead letter is not replayed.\n");
    return out == stderr ? 2 : 0;
}

struct scan {
    const char *want_id;  /* show/replay: the one asked for */
    const char *consumer; /* list: only this group */
    json_t *replays;      /* list: id -> "at (n)" */
    json_t *found;        /* show/replay: the dead letter and its Kafka key */
    long listed;
};

static int scan_cb(const rd_kafka_message_t *m, void *opaque)
{
    struct scan *s = opaque;
    json_t *doc = json_loadb(m->payload, m->len, 0, NULL);
    const char *id = mc_json_str(doc, "event_id");
    int rc = 0;

    if (doc == NULL || id == NULL) {
        json_decref(doc);
        return 0;
    }
    if (s->want_id) {
        if (strcmp(id, s->want_id) == 0) {
            json_object_set_new(doc, "kafka_key",
                                m->key ? json_stringn(m->key, m->key_len) : json_null());
            s->found = doc;
            return 1; /* stop */
        }
    } else if (s->consumer == NULL ||
               (mc_json_str(doc, "data/consumer") &&
                strcmp(s->consumer, mc_json_str(doc, "data/consumer")) == 0)) {
        const char *reason = mc_json_str(doc, "data/reason");
        const json_t *replayed = json_object_get(s->replays, id);
        char shown[REASON_SHOWN + 4];
        snprintf(shown, sizeof shown, "%.*s%s", REASON_SHOWN, reason ? reason : "",
                 reason && strlen(reason) > REASON_SHOWN ? "..." : "");
        for (char *c = shown; *c; c++)
            if (*c == '\n' || *c == '\t')
                *c = ' ';
        printf("%s\t%s\t%s\t%s\t%s/%lld/%lld\t%s%s%s\n", id, mc_json_str(doc, "occurred_at"),
               mc_json_str(doc, "data/consumer"),
               mc_json_str(doc, "dossier_code") ? mc_json_str(doc, "dossier_code") : "-",
               mc_json_str(doc, "data/topic"),
               (long long)json_integer_value(mc_json_at(doc, "data/partition")),
               (long long)json_integer_value(mc_json_at(doc, "data/offset")), shown,
               replayed ? "\treplayed " : "", replayed ? json_string_value(replayed) : "");
        s->listed++;
    }
    json_decref(doc);
    return rc;
}

static int cmd_list(const struct mc_config *cfg, PGconn *conn, const char *consumer)
{
    struct scan s = {.consumer = consumer, .replays = json_object()};
    char err[512];
    PGresult *res = mc_pg_query(conn, SELECT_REPLAYS, 0, NULL, err, sizeof err);
    int rc;

    if (res == NULL) {
        fprintf(stderr, "motcua deadletter list: %s\n", err);
        json_decref(s.replays);
        return 1;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        char text[96];
        snprintf(text, sizeof text, "%s (%s time%s)", PQgetvalue(res, i, RP_AT),
                 PQgetvalue(res, i, RP_TIMES),
                 strcmp(PQgetvalue(res, i, RP_TIMES), "1") == 0 ? "" : "s");
        json_object_set_new(s.replays, PQgetvalue(res, i, RP_ID), json_string(text));
    }
    PQclear(res);
    rc = mc_cli_read_topic(cfg, "deadletter", 300, scan_cb, &s, err, sizeof err);
    json_decref(s.replays);
    if (rc != 0) {
        fprintf(stderr, "motcua deadletter list: %s\n", err);
        return 1;
    }
    fprintf(stderr, "%ld dead letter%s\n", s.listed, s.listed == 1 ? "" : "s");
    return 0;
}

/* The dead letter ID, or NULL after saying why. */
static json_t *find(const struct mc_config *cfg, const char *command, const char *id)
{
    struct scan s = {.want_id = id};
    char err[512];
    if (mc_cli_read_topic(cfg, "deadletter", 300, scan_cb, &s, err, sizeof err) < 0) {
        fprintf(stderr, "motcua deadletter %s: %s\n", command, err);
        return NULL;
    }
    if (s.found == NULL)
        fprintf(stderr, "motcua deadletter %s: no dead letter %s (`motcua deadletter list`)\n",
                command, id);
    return s.found;
}

static int cmd_show(const struct mc_config *cfg, const char *id)
{
    json_t *dl = find(cfg, "show", id);
    if (dl == NULL)
        return 1;
    json_object_del(dl, "kafka_key");
    if (json_is_true(mc_json_at(dl, "data/personal_data")))
        fprintf(stderr, "(this dead letter may hold applicants' personal data)\n");
    json_dumpf(dl, stdout, JSON_INDENT(2));
    printf("\n");
    json_decref(dl);
    return 0;
}

struct delivery {
    int done, failed;
    int32_t partition;
    int64_t offset;
    char error[256];
};

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct delivery *d = opaque;
    (void)rk;
    d->done = 1;
    if (m->err) {
        d->failed = 1;
        snprintf(d->error, sizeof d->error, "%s", rd_kafka_err2str(m->err));
    } else {
        d->partition = m->partition;
        d->offset = m->offset;
    }
}

/* The original message's bytes, from the dead letter's base64. */
static unsigned char *original_bytes(const char *b64, size_t *len)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(b64), o = 0;
    unsigned char *out = mc_xmalloc(n / 4 * 3 + 3);
    unsigned v = 0;
    int bits = 0;
    for (size_t i = 0; i < n && b64[i] != '='; i++) {
        const char *p = strchr(alphabet, b64[i]);
        if (p == NULL) {
            free(out);
            return NULL;
        }
        v = (v << 6) | (unsigned)(p - alphabet);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)((v >> bits) & 0xff);
        }
    }
    *len = o;
    return out;
}

static int cmd_replay(const struct mc_config *cfg, PGconn *conn, const char *id, int force)
{
    json_t *dl;
    const char *topic, *reason, *key, *b64;
    const char *params[5];
    char err[512], where[300], part[16], off[24];
    struct delivery d = {0};
    unsigned char *bytes;
    size_t len = 0;
    rd_kafka_t *rk;
    PGresult *res;
    int rc = 1;

    params[0] = id;
    if ((res = mc_pg_query(conn, SELECT_REPLAY, 1, params, err, sizeof err)) == NULL) {
        fprintf(stderr, "motcua deadletter replay: %s\n", err);
        return 1;
    }
    if (PQntuples(res) > 0 && !force) {
        printf("dead letter %s was replayed already (%s, %s time%s, to %s): nothing sent; "
               "--force sends it again\n",
               id, PQgetvalue(res, 0, RO_AT), PQgetvalue(res, 0, RO_TIMES),
               strcmp(PQgetvalue(res, 0, RO_TIMES), "1") == 0 ? "" : "s",
               PQgetvalue(res, 0, RO_TOPIC));
        PQclear(res);
        return 0;
    }
    PQclear(res);
    if ((dl = find(cfg, "replay", id)) == NULL)
        return 1;
    topic = mc_json_str(dl, "data/topic");
    reason = mc_json_str(dl, "data/reason");
    b64 = mc_json_str(dl, "data/original_base64");
    if (topic == NULL || b64 == NULL) {
        fprintf(stderr, "motcua deadletter replay: %s is not a dead letter of this version\n", id);
        goto out;
    }
    if (reason && strstr(reason, TRUNCATED_MARK)) {
        fprintf(stderr,
                "motcua deadletter replay: %s holds only part of the message (%s): it cannot "
                "be replayed; have its sender publish it again\n",
                id, strstr(reason, TRUNCATED_MARK) + 2);
        goto out;
    }
    /* The original key: recorded since deadletter.v1 gained "key"; before,
     * the dead letter's own key, unless that is where the message was read
     * (a message without a key). */
    snprintf(where, sizeof where, "%s/%lld/%lld", topic,
             (long long)json_integer_value(mc_json_at(dl, "data/partition")),
             (long long)json_integer_value(mc_json_at(dl, "data/offset")));
    if (json_object_get(json_object_get(dl, "data"), "key"))
        key = mc_json_str(dl, "data/key");
    else
        key = mc_json_str(dl, "kafka_key") && strcmp(mc_json_str(dl, "kafka_key"), where) != 0
                  ? mc_json_str(dl, "kafka_key")
                  : NULL;
    if ((bytes = original_bytes(b64, &len)) == NULL) {
        fprintf(stderr, "motcua deadletter replay: %s: its copy is not base64\n", id);
        goto out;
    }
    if ((rk = mc_kafka_producer_new(cfg, dr_cb, &d, err, sizeof err)) == NULL) {
        fprintf(stderr, "motcua deadletter replay: %s\n", err);
        free(bytes);
        goto out;
    }
    if (mc_kafka_produce_sync(rk, topic, key, bytes, len, 30000, err, sizeof err) != 0 || !d.done ||
        d.failed) {
        fprintf(stderr, "motcua deadletter replay: not delivered to %s: %s\n", topic,
                d.failed ? d.error
                : d.done ? err
                         : "no delivery report within 30 s");
        rd_kafka_destroy(rk);
        free(bytes);
        goto out;
    }
    rd_kafka_destroy(rk);
    free(bytes);
    snprintf(part, sizeof part, "%d", (int)d.partition);
    snprintf(off, sizeof off, "%lld", (long long)d.offset);
    params[1] = topic;
    params[2] = key;
    params[3] = part;
    params[4] = off;
    if (mc_pg_exec(conn, RECORD_REPLAY, 5, params, err, sizeof err) != 0) {
        fprintf(stderr, "motcua deadletter replay: sent, but not recorded: %s\n", err);
        goto out;
    }
    printf("replayed %s: %zu bytes to %s/%d/%lld (key %s), as read from %s\n", id, len, topic,
           (int)d.partition, (long long)d.offset, key ? key : "none", where);
    rc = 0;
out:
    json_decref(dl);
    return rc;
}

int mc_cli_deadletter(const struct mc_config *cfg, int argc, char **argv)
{
    char err[512];
    PGconn *conn;
    int rc;

    if (argc < 2 || strcmp(argv[1], "--help") == 0)
        return usage(argc < 2 ? stderr : stdout);
    if (strcmp(argv[1], "show") == 0)
        return argc == 3 ? cmd_show(cfg, argv[2]) : usage(stderr);
    if ((conn = mc_pg_connect(cfg->pg_url, "motcua-cli", err, sizeof err)) == NULL) {
        fprintf(stderr, "motcua deadletter: %s\n", err);
        return 1;
    }
    if (strcmp(argv[1], "list") == 0 && argc == 2)
        rc = cmd_list(cfg, conn, NULL);
    else if (strcmp(argv[1], "list") == 0 && argc == 4 && strcmp(argv[2], "--consumer") == 0)
        rc = cmd_list(cfg, conn, argv[3]);
    else if (strcmp(argv[1], "replay") == 0 && (argc == 3 || argc == 4) &&
             (argc == 3 || strcmp(argv[3], "--force") == 0))
        rc = cmd_replay(cfg, conn, argv[2], argc == 4);
    else
        rc = usage(stderr);
    PQfinish(conn);
    return rc;
}
