/* The one table of motcua's Kafka topics (name, partitions, replication,
 * min.insync.replicas, retention, cleanup policy) and
 * its provisioning through librdkafka's Admin API (`motcua topics apply`).
 * Services, the embedded broker, the tests, the AsyncAPI check and the
 * generated docs/topics.md all read this table; no topic name is written
 * anywhere else. What travels on each topic, its key, producers and consumer
 * groups are the message contract: schemas/asyncapi.yaml. */
#ifndef MOTCUA_TOPICS_H
#define MOTCUA_TOPICS_H

#include <stddef.h>
#include <stdio.h>

#include "motcua/config.h"

struct mc_topic_spec {
    const char *name;       /* logical name, after MOTCUA_TOPIC_PREFIX */
    int partitions;         /* 0: MOTCUA_TOPIC_PARTITIONS; else fixed (the clock: 1) */
    int replication;        /* wanted replication factor, capped at the cluster size */
    int min_isr;            /* wanted min.insync.replicas, capped below the replication */
    long long retention_ms; /* retention.ms; -1 keeps every message */
    const char *cleanup;    /* cleanup.policy: "delete" or "compact" */
    int max_message_bytes;  /* the largest message a consumer accepts (checked before parsing;
                               MOTCUA_MESSAGE_MAX_BYTES may lower it) */
    int personal_data;      /* 1: its messages may carry applicants' personal data (names, ids,
                               contacts, free text), and so may a dead letter's copy of one */
    const char *why;        /* one line: why these settings */
};

/* The table, in pipeline order, and its length. */
extern const struct mc_topic_spec mc_topics[];
extern const size_t mc_topic_count;

/* The entry for a logical name, or NULL. */
const struct mc_topic_spec *mc_topic_find(const char *logical);

/* The largest message a consumer of the topic accepts under cfg: the
 * table's limit, lowered by MOTCUA_MESSAGE_MAX_BYTES when that is set. */
int mc_topic_max_bytes(const struct mc_config *cfg, const char *logical);

/* Full topic name: prefix + logical name ("submissions"), which must be in
 * the table (asserted). Returns buf. */
char *mc_topic_name(const struct mc_config *cfg, const char *logical, char *buf, size_t buflen);

/* What a topic should look like on a cluster of `brokers` brokers under cfg
 * (prefix, MOTCUA_TOPIC_PARTITIONS, MOTCUA_TOPIC_REPLICATION). */
struct mc_topic_plan {
    char name[256];
    int partitions;
    int replication;
    int min_isr;
    char retention_ms[24];
    const char *cleanup;
};
void mc_topic_plan(const struct mc_config *cfg, const struct mc_topic_spec *spec, int brokers,
                   struct mc_topic_plan *plan);

/* Waits until the cluster's metadata lists at least `brokers` brokers. On
 * KRaft a broker is listed only once the controller quorum has a leader and
 * has registered it, so this is the readiness check of a fresh cluster.
 * Returns 0, or MC_EKAFKA after timeout_ms with the count seen. */
int mc_topics_wait_brokers(const struct mc_config *cfg, int brokers, int timeout_ms, char *err,
                           size_t errlen);

/* Makes the cluster at cfg->kafka_brokers carry every topic of the table:
 * creates the missing ones (unless dry_run) and waits until each has a
 * leader for every partition; reports on out, one line a topic, and counts
 * in *drift the existing topics that differ from the plan (fewer partitions,
 * another replication factor, other min.insync.replicas, retention or
 * cleanup policy). Drift is reported, never repaired: changing a live
 * topic is an operator's decision. Returns 0 when the cluster could be
 * inspected (and, unless dry_run, the missing topics were created), else
 * MC_EKAFKA with the reason in err. */
int mc_topics_apply(const struct mc_config *cfg, int dry_run, FILE *out, int *drift, char *err,
                    size_t errlen);

/* Deletes every topic of the table under cfg's prefix that exists (tests
 * clean up their own prefixes this way). Returns 0 or MC_EKAFKA. */
int mc_topics_delete(const struct mc_config *cfg, char *err, size_t errlen);

/* Prints the table: "markdown" (docs/topics.md) or "tsv" (full name,
 * partitions, replication, min ISR, retention.ms, cleanup) for scripts, as
 * planned for a cluster of `brokers` brokers. Returns 0,
 * or MC_EINVAL for an unknown format. */
int mc_topics_print(const struct mc_config *cfg, const char *format, int brokers, FILE *out);

#endif
