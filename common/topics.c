/* The topic table and its provisioning with librdkafka's Admin API. */
#include "motcua/topics.h"

#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "motcua/error.h"
#include "motcua/kafka.h"

#define DAY_MS (24LL * 3600 * 1000)
#define ADMIN_TIMEOUT_MS 30000
#define DESCRIBE_TIMEOUT_MS 5000

/* replication 3 and min.insync.replicas 2 everywhere: an acknowledged write
 * survives the loss of any one broker, and one broker may be down for
 * maintenance without stopping producers (acks=all). Both are capped on
 * smaller clusters (see mc_topic_plan). */
#define KIB 1024

const struct mc_topic_spec mc_topics[] = {
    {"submissions", 0, 3, 2, 30 * DAY_MS, "delete", 256 * KIB, 1,
     "portal input, consumed within seconds; 30 days allow re-reading it after a restore"},
    {"submission.rejected", 0, 3, 2, 30 * DAY_MS, "delete", 64 * KIB, 1,
     "answers portals read back; 30 days like the submissions they answer"},
    {"dossier.received", 0, 3, 2, -1, "delete", 512 * KIB, 1,
     "dossier history: kept, the read side rebuilds its projection from it"},
    {"dossier.assigned", 0, 3, 2, -1, "delete", 64 * KIB, 0, "dossier history: kept"},
    {"dossier.updates", 0, 3, 2, -1, "delete", 64 * KIB, 1, "dossier history: kept"},
    {"dossier.deadlines", 0, 3, 2, -1, "delete", 128 * KIB, 1, "dossier history: kept"},
    {"notifications", 0, 3, 2, -1, "delete", 256 * KIB, 1,
     "letters sent: kept with the dossier history"},
    {"notification.receipts", 0, 3, 2, -1, "delete", 16 * KIB, 1, "delivery history: kept"},
    {"deadletter", 0, 3, 2, 90 * DAY_MS, "delete", 1024 * KIB, 1,
     "operators' repair window; copies may hold personal data, so not kept longer"},
    {"clock", 1, 3, 2, 7 * DAY_MS, "delete", 4 * KIB, 0,
     "one partition: ticks are totally ordered; only the latest matters"},
};
const size_t mc_topic_count = sizeof mc_topics / sizeof mc_topics[0];

const struct mc_topic_spec *mc_topic_find(const char *logical)
{
    for (size_t i = 0; i < mc_topic_count; i++)
        if (strcmp(mc_topics[i].name, logical) == 0)
            return &mc_topics[i];
    return NULL;
}

int mc_topic_max_bytes(const struct mc_config *cfg, const char *logical)
{
    const struct mc_topic_spec *t = mc_topic_find(logical);
    int max = t ? t->max_message_bytes : 256 * KIB;
    return cfg->message_max_bytes > 0 && cfg->message_max_bytes < max ? cfg->message_max_bytes
                                                                      : max;
}

char *mc_topic_name(const struct mc_config *cfg, const char *logical, char *buf, size_t buflen)
{
    /* Every name a service or tool uses is in the table: a typo is a bug. */
    assert(mc_topic_find(logical) != NULL);
    snprintf(buf, buflen, "%s%s", cfg->topic_prefix, logical);
    return buf;
}

void mc_topic_plan(const struct mc_config *cfg, const struct mc_topic_spec *spec, int brokers,
                   struct mc_topic_plan *plan)
{
    int rf = spec->replication;
    if (cfg->topic_replication > 0 && cfg->topic_replication < rf)
        rf = cfg->topic_replication;
    if (brokers > 0 && rf > brokers)
        rf = brokers;
    if (rf < 1)
        rf = 1;
    mc_topic_name(cfg, spec->name, plan->name, sizeof plan->name);
    plan->partitions = spec->partitions > 0 ? spec->partitions : cfg->topic_partitions;
    plan->replication = rf;
    /* Below the replication factor, so one replica may be away; at least 1. */
    plan->min_isr = spec->min_isr < rf ? spec->min_isr : rf - 1;
    if (plan->min_isr < 1)
        plan->min_isr = 1;
    snprintf(plan->retention_ms, sizeof plan->retention_ms, "%lld", spec->retention_ms);
    plan->cleanup = spec->cleanup;
}

static const char *retention_text(long long ms, char *buf, size_t len)
{
    if (ms < 0)
        snprintf(buf, len, "forever");
    else if (ms % DAY_MS == 0)
        snprintf(buf, len, "%lld days", ms / DAY_MS);
    else
        snprintf(buf, len, "%lld ms", ms);
    return buf;
}

int mc_topics_print(const struct mc_config *cfg, const char *format, int brokers, FILE *out)
{
    struct mc_topic_plan plan;
    char ret[32];
    int markdown = strcmp(format, "markdown") == 0;
    if (!markdown && strcmp(format, "tsv") != 0)
        return MC_EINVAL;
    if (markdown)
        fprintf(out, "| topic | partitions | replication | min.insync.replicas | retention | "
                     "cleanup | largest message | personal data | why |\n"
                     "|---|---|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < mc_topic_count; i++) {
        const struct mc_topic_spec *t = &mc_topics[i];
        mc_topic_plan(cfg, t, brokers, &plan);
        if (markdown) {
            char parts[48];
            if (t->partitions > 0)
                snprintf(parts, sizeof parts, "%d", t->partitions);
            else
                snprintf(parts, sizeof parts, "MOTCUA_TOPIC_PARTITIONS");
            fprintf(out, "| `%s` | %s | %d | %d | %s | %s | %d KiB | %s | %s |\n", plan.name, parts,
                    t->replication, t->min_isr, retention_text(t->retention_ms, ret, sizeof ret),
                    t->cleanup, t->max_message_bytes / KIB, t->personal_data ? "yes" : "no",
                    t->why);
        } else {
            fprintf(out, "%s\t%d\t%d\t%d\t%s\t%s\t%d\n", plan.name, plan.partitions,
                    plan.replication, plan.min_isr, plan.retention_ms, plan.cleanup,
                    t->max_message_bytes);
        }
    }
    return 0;
}

/* ---- Admin API ------------------------------------------------------------ */

static int admin_wait(rd_kafka_queue_t *q, rd_kafka_event_type_t type, rd_kafka_event_t **evp,
                      const char *what, char *err, size_t errlen)
{
    /* The request's own timeout fires first and yields an error event. */
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, ADMIN_TIMEOUT_MS + 5000);
    if (ev == NULL)
        return mc_err(err, errlen, MC_EKAFKA, "%s: no answer from the cluster", what);
    if (rd_kafka_event_type(ev) != type || rd_kafka_event_error(ev)) {
        mc_err(err, errlen, MC_EKAFKA, "%s: %s", what,
               rd_kafka_event_error(ev) ? rd_kafka_event_error_string(ev) : "unexpected event");
        rd_kafka_event_destroy(ev);
        return MC_EKAFKA;
    }
    *evp = ev;
    return 0;
}

static rd_kafka_AdminOptions_t *admin_options(rd_kafka_t *rk, rd_kafka_admin_op_t op)
{
    rd_kafka_AdminOptions_t *opts = rd_kafka_AdminOptions_new(rk, op);
    char errstr[256];
    rd_kafka_AdminOptions_set_request_timeout(opts, ADMIN_TIMEOUT_MS, errstr, sizeof errstr);
    if (op == RD_KAFKA_ADMIN_OP_CREATETOPICS || op == RD_KAFKA_ADMIN_OP_DELETETOPICS)
        rd_kafka_AdminOptions_set_operation_timeout(opts, ADMIN_TIMEOUT_MS, errstr, sizeof errstr);
    return opts;
}

static int fetch_metadata(rd_kafka_t *rk, const struct rd_kafka_metadata **md, char *err,
                          size_t errlen)
{
    rd_kafka_resp_err_t kerr = rd_kafka_metadata(rk, 1, NULL, md, 10000);
    if (kerr)
        return mc_err(err, errlen, MC_EKAFKA, "metadata: %s", rd_kafka_err2str(kerr));
    return 0;
}

static const rd_kafka_metadata_topic_t *md_topic(const struct rd_kafka_metadata *md,
                                                 const char *name)
{
    for (int i = 0; i < md->topic_cnt; i++)
        if (strcmp(md->topics[i].topic, name) == 0 && md->topics[i].err == 0)
            return &md->topics[i];
    return NULL;
}

/* 1 when every partition of the topic has a leader. */
static int topic_led(const rd_kafka_metadata_topic_t *t, int partitions)
{
    if (t == NULL || t->partition_cnt < partitions)
        return 0;
    for (int p = 0; p < t->partition_cnt; p++)
        if (t->partitions[p].err || t->partitions[p].leader < 0)
            return 0;
    return 1;
}

/* Compares the configured values of existing topics with their plans;
 * prints and counts every difference. A cluster that cannot describe
 * configs (the mock cluster) is said so, not counted as drift. */
static int check_configs(rd_kafka_t *rk, struct mc_topic_plan *plans, const int *exists, FILE *out,
                         int *drift, char *err, size_t errlen)
{
    rd_kafka_ConfigResource_t *res[64];
    const rd_kafka_ConfigResource_t **got;
    rd_kafka_queue_t *q = NULL;
    rd_kafka_AdminOptions_t *opts = NULL;
    rd_kafka_event_t *ev = NULL;
    char errstr[256];
    size_t n = 0, ngot = 0;
    int rc = 0;

    for (size_t i = 0; i < mc_topic_count && n < 64; i++)
        if (exists[i])
            res[n++] = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, plans[i].name);
    if (n == 0)
        return 0;
    q = rd_kafka_queue_new(rk);
    opts = admin_options(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
    /* A cluster answers in milliseconds; librdkafka's mock cluster never
     * does (it lacks DescribeConfigs), and its start should not wait 30 s. */
    rd_kafka_AdminOptions_set_request_timeout(opts, DESCRIBE_TIMEOUT_MS, errstr, sizeof errstr);
    rd_kafka_DescribeConfigs(rk, res, n, opts, q);
    if (admin_wait(q, RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT, &ev, "describe configs", err,
                   errlen) != 0) {
        fprintf(out, "note: topic configs not checked (%s)\n", err);
        goto out;
    }
    got =
        rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &ngot);
    for (size_t r = 0; r < ngot; r++) {
        const char *name = rd_kafka_ConfigResource_name(got[r]);
        const rd_kafka_ConfigEntry_t **entries;
        struct mc_topic_plan *plan = NULL;
        char want_isr[16];
        size_t ne;
        for (size_t i = 0; i < mc_topic_count; i++)
            if (strcmp(plans[i].name, name) == 0)
                plan = &plans[i];
        if (plan == NULL)
            continue;
        if (rd_kafka_ConfigResource_error(got[r])) {
            fprintf(out, "note: configs of %s not checked (%s)\n", name,
                    rd_kafka_ConfigResource_error_string(got[r]));
            continue;
        }
        snprintf(want_isr, sizeof want_isr, "%d", plan->min_isr);
        entries = rd_kafka_ConfigResource_configs(got[r], &ne);
        for (size_t e = 0; e < ne; e++) {
            const char *k = rd_kafka_ConfigEntry_name(entries[e]);
            const char *v = rd_kafka_ConfigEntry_value(entries[e]);
            const char *want = strcmp(k, "min.insync.replicas") == 0 ? want_isr
                               : strcmp(k, "retention.ms") == 0      ? plan->retention_ms
                               : strcmp(k, "cleanup.policy") == 0    ? plan->cleanup
                                                                     : NULL;
            if (want && v && strcmp(v, want) != 0) {
                fprintf(out, "drift   %s: %s is %s, want %s\n", name, k, v, want);
                (*drift)++;
            }
        }
    }
out:
    rd_kafka_event_destroy(ev);
    if (opts)
        rd_kafka_AdminOptions_destroy(opts);
    if (q)
        rd_kafka_queue_destroy(q);
    for (size_t i = 0; i < n; i++)
        rd_kafka_ConfigResource_destroy(res[i]);
    return rc;
}

static int create_topics(rd_kafka_t *rk, struct mc_topic_plan *plans, const int *missing, FILE *out,
                         char *err, size_t errlen)
{
    rd_kafka_NewTopic_t *nts[64];
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *opts = admin_options(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_event_t *ev = NULL;
    const rd_kafka_topic_result_t **res;
    char errstr[256], isr[16];
    size_t n = 0, nres;
    int rc = 0;

    for (size_t i = 0; i < mc_topic_count; i++) {
        rd_kafka_NewTopic_t *nt;
        if (!missing[i])
            continue;
        nt = rd_kafka_NewTopic_new(plans[i].name, plans[i].partitions, plans[i].replication, errstr,
                                   sizeof errstr);
        if (nt == NULL) {
            rc = mc_err(err, errlen, MC_EKAFKA, "topic %s: %s", plans[i].name, errstr);
            goto out;
        }
        nts[n++] = nt;
        snprintf(isr, sizeof isr, "%d", plans[i].min_isr);
        rd_kafka_NewTopic_set_config(nt, "min.insync.replicas", isr);
        rd_kafka_NewTopic_set_config(nt, "retention.ms", plans[i].retention_ms);
        rd_kafka_NewTopic_set_config(nt, "cleanup.policy", plans[i].cleanup);
    }
    rd_kafka_CreateTopics(rk, nts, n, opts, q);
    if ((rc = admin_wait(q, RD_KAFKA_EVENT_CREATETOPICS_RESULT, &ev, "create topics", err,
                         errlen)) != 0)
        goto out;
    res = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &nres);
    for (size_t r = 0; r < nres; r++) {
        rd_kafka_resp_err_t terr = rd_kafka_topic_result_error(res[r]);
        const char *name = rd_kafka_topic_result_name(res[r]);
        /* Another `topics apply` may have won the race: that is success. */
        if (terr && terr != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            rc = mc_err(err, errlen, MC_EKAFKA, "create %s: %s", name,
                        rd_kafka_topic_result_error_string(res[r]));
            goto out;
        }
        fprintf(out, "created %s\n", name);
    }
out:
    rd_kafka_event_destroy(ev);
    for (size_t i = 0; i < n; i++)
        rd_kafka_NewTopic_destroy(nts[i]);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_queue_destroy(q);
    return rc;
}

/* Waits until every table topic has a leader for each partition, so the
 * services and tests that start next never meet UNKNOWN_TOPIC_OR_PART. */
static int wait_led(rd_kafka_t *rk, const struct mc_topic_plan *plans, char *err, size_t errlen)
{
    struct timespec pause = {0, 100 * 1000 * 1000};
    for (int tries = 0; tries < ADMIN_TIMEOUT_MS / 100; tries++) {
        const struct rd_kafka_metadata *md = NULL;
        size_t led = 0;
        if (fetch_metadata(rk, &md, err, errlen) == 0) {
            for (size_t i = 0; i < mc_topic_count; i++)
                led += (size_t)topic_led(md_topic(md, plans[i].name), plans[i].partitions);
            rd_kafka_metadata_destroy(md);
            if (led == mc_topic_count)
                return 0;
        }
        nanosleep(&pause, NULL);
    }
    return mc_err(err, errlen, MC_EKAFKA,
                  "topics created but not all partitions have a leader "
                  "after %d s",
                  ADMIN_TIMEOUT_MS / 1000);
}

int mc_topics_wait_brokers(const struct mc_config *cfg, int brokers, int timeout_ms, char *err,
                           size_t errlen)
{
    struct timespec pause = {0, 200 * 1000 * 1000};
    int seen = 0, rc = 0;
    rd_kafka_t *rk = mc_kafka_admin_new(cfg, err, errlen);
    if (rk == NULL)
        return MC_EKAFKA;
    for (int waited = 0;; waited += 200) {
        const struct rd_kafka_metadata *md = NULL;
        if (rd_kafka_metadata(rk, 0, NULL, &md, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            seen = md->broker_cnt;
            rd_kafka_metadata_destroy(md);
            if (seen >= brokers)
                break;
        }
        if (waited >= timeout_ms) {
            rc = mc_err(err, errlen, MC_EKAFKA, "%d of %d broker(s) registered after %d s", seen,
                        brokers, timeout_ms / 1000);
            break;
        }
        nanosleep(&pause, NULL);
    }
    rd_kafka_destroy(rk);
    return rc;
}

int mc_topics_apply(const struct mc_config *cfg, int dry_run, FILE *out, int *drift, char *err,
                    size_t errlen)
{
    struct mc_topic_plan plans[64];
    int exists[64] = {0}, missing[64] = {0}, nmissing = 0, rc;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_t *rk;

    *drift = 0;
    if ((rk = mc_kafka_admin_new(cfg, err, errlen)) == NULL)
        return MC_EKAFKA;
    if ((rc = fetch_metadata(rk, &md, err, errlen)) != 0)
        goto out;
    if (md->broker_cnt < 1) {
        rc = mc_err(err, errlen, MC_EKAFKA, "the cluster lists no broker");
        goto out;
    }
    fprintf(out, "cluster: %d broker(s)\n", md->broker_cnt);
    for (size_t i = 0; i < mc_topic_count; i++) {
        const rd_kafka_metadata_topic_t *t;
        struct mc_topic_plan *p = &plans[i];
        mc_topic_plan(cfg, &mc_topics[i], md->broker_cnt, p);
        t = md_topic(md, p->name);
        if (t == NULL) {
            missing[i] = 1;
            nmissing++;
            fprintf(out,
                    "%s %s partitions=%d replication=%d min.insync.replicas=%d "
                    "retention.ms=%s cleanup.policy=%s\n",
                    dry_run ? "would create" : "create ", p->name, p->partitions, p->replication,
                    p->min_isr, p->retention_ms, p->cleanup);
            continue;
        }
        exists[i] = 1;
        if (t->partition_cnt < p->partitions) {
            fprintf(out, "drift   %s: %d partitions, want %d\n", p->name, t->partition_cnt,
                    p->partitions);
            (*drift)++;
        } else if (t->partition_cnt > 0 && t->partitions[0].replica_cnt != p->replication) {
            fprintf(out, "drift   %s: replication %d, want %d\n", p->name,
                    t->partitions[0].replica_cnt, p->replication);
            (*drift)++;
        } else {
            fprintf(out, "ok      %s partitions=%d replication=%d\n", p->name, t->partition_cnt,
                    t->partitions[0].replica_cnt);
        }
    }
    rd_kafka_metadata_destroy(md);
    md = NULL;
    if ((rc = check_configs(rk, plans, exists, out, drift, err, errlen)) != 0)
        goto out;
    if (nmissing > 0 && !dry_run) {
        if ((rc = create_topics(rk, plans, missing, out, err, errlen)) != 0 ||
            (rc = wait_led(rk, plans, err, errlen)) != 0)
            goto out;
    }
out:
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    return rc;
}

int mc_topics_delete(const struct mc_config *cfg, char *err, size_t errlen)
{
    rd_kafka_DeleteTopic_t *dts[64];
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_queue_t *q = NULL;
    rd_kafka_AdminOptions_t *opts = NULL;
    rd_kafka_event_t *ev = NULL;
    char name[256];
    size_t n = 0;
    int rc;
    rd_kafka_t *rk = mc_kafka_admin_new(cfg, err, errlen);

    if (rk == NULL)
        return MC_EKAFKA;
    if ((rc = fetch_metadata(rk, &md, err, errlen)) != 0)
        goto out;
    for (size_t i = 0; i < mc_topic_count; i++)
        if (md_topic(md, mc_topic_name(cfg, mc_topics[i].name, name, sizeof name)))
            dts[n++] = rd_kafka_DeleteTopic_new(name);
    if (n == 0)
        goto out;
    q = rd_kafka_queue_new(rk);
    opts = admin_options(rk, RD_KAFKA_ADMIN_OP_DELETETOPICS);
    rd_kafka_DeleteTopics(rk, dts, n, opts, q);
    rc = admin_wait(q, RD_KAFKA_EVENT_DELETETOPICS_RESULT, &ev, "delete topics", err, errlen);
out:
    rd_kafka_event_destroy(ev);
    for (size_t i = 0; i < n; i++)
        rd_kafka_DeleteTopic_destroy(dts[i]);
    if (opts)
        rd_kafka_AdminOptions_destroy(opts);
    if (q)
        rd_kafka_queue_destroy(q);
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    return rc;
}
