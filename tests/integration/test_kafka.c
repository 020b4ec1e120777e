/* The real broker (Apache Kafka, MOTCUA_TEST_KAFKA_BROKERS from tests/run):
 * topic provisioning as an operator runs it (`motcua topics apply`: create,
 * idempotent re-run, drift, dry run) and a backlog far beyond what the mock
 * cluster keeps (about 5 MiB a partition): 100 MiB published to one
 * partition before anyone reads, then every message read back intact. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "motcua/topics.h"

#define BACKLOG_MESSAGES 1600
#define BACKLOG_MESSAGE_BYTES (64 * 1024) /* 1600 x 64 KiB = 100 MiB */

static struct h_env *env;

static int setup(void **state)
{
    (void)state;
    if (getenv("MOTCUA_TEST_KAFKA_BROKERS") == NULL) {
        fprintf(stderr, "test_kafka needs Apache Kafka: MOTCUA_TEST_KAFKA_BROKERS is not set "
                        "(./tests/run starts the broker)\n");
        return -1;
    }
    return (env = h_env_new("kafka")) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    h_env_free(env);
    return 0;
}

/* A configuration for the admin calls: the test's broker, prefix given. */
static struct mc_config admin_config(const char *prefix, int partitions)
{
    struct mc_config cfg = {.kafka_brokers = env->bootstraps,
                            .kafka_props = (char *)"",
                            .topic_prefix = (char *)prefix,
                            .topic_partitions = partitions,
                            .topic_replication = 3};
    return cfg;
}

/* Runs mc_topics_apply and returns its report; *drift gets the count. */
static char *apply(const struct mc_config *cfg, int dry_run, int *drift)
{
    char err[512], *report = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&report, &len);
    int rc = mc_topics_apply(cfg, dry_run, out, drift, err, sizeof err);
    fclose(out);
    if (rc != 0)
        fail_msg("mc_topics_apply: %s", err);
    return report;
}

static int count_lines(const char *text, const char *prefix)
{
    int n = 0;
    for (const char *line = text; line && *line; line = strchr(line, '\n')) {
        if (*line == '\n')
            line++;
        if (strncmp(line, prefix, strlen(prefix)) == 0)
            n++;
    }
    return n;
}

/* The number of partitions of a topic on the broker, -1 if it is absent. */
static int partitions_on_broker(const char *name)
{
    const struct rd_kafka_metadata *md = NULL;
    int n = -1;
    if (rd_kafka_metadata(env->producer, 1, NULL, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        fail_msg("metadata of the test broker");
    for (int i = 0; i < md->topic_cnt; i++)
        if (strcmp(md->topics[i].topic, name) == 0 && md->topics[i].err == 0)
            n = md->topics[i].partition_cnt;
    rd_kafka_metadata_destroy(md);
    return n;
}

/* The environment provisioned its topics with mc_topics_apply; a second run
 * changes nothing and says every topic is as planned. */
static void test_apply_again_changes_nothing(void **state)
{
    struct mc_config cfg = admin_config(env->prefix, 3);
    char name[256];
    int drift = -1;
    char *report = apply(&cfg, 0, &drift);
    (void)state;
    assert_int_equal(drift, 0);
    assert_int_equal(count_lines(report, "ok "), (int)mc_topic_count);
    assert_int_equal(count_lines(report, "create"), 0);
    for (size_t i = 0; i < mc_topic_count; i++) {
        mc_topic_name(&cfg, mc_topics[i].name, name, sizeof name);
        assert_int_equal(partitions_on_broker(name), mc_topics[i].partitions ? 1 : 3);
    }
    free(report);
}

/* Asking for more partitions than the topics have is drift: reported for
 * every topic whose partitions follow MOTCUA_TOPIC_PARTITIONS (not the
 * one-partition clock), and nothing on the broker changes. */
static void test_fewer_partitions_than_asked_is_drift(void **state)
{
    struct mc_config cfg = admin_config(env->prefix, 5);
    char name[256];
    int drift = 0, expected = 0;
    char *report = apply(&cfg, 0, &drift);
    (void)state;
    for (size_t i = 0; i < mc_topic_count; i++)
        expected += mc_topics[i].partitions == 0;
    assert_int_equal(drift, expected);
    assert_int_equal(count_lines(report, "drift "), expected);
    assert_non_null(strstr(report, "3 partitions, want 5"));
    assert_int_equal(partitions_on_broker(mc_topic_name(&cfg, "submissions", name, sizeof name)),
                     3);
    free(report);
}

/* --dry-run on a cluster without the topics says what it would create and
 * creates nothing. */
static void test_dry_run_creates_nothing(void **state)
{
    char prefix[160], name[256];
    struct mc_config cfg;
    int drift = -1;
    char *report;
    (void)state;
    snprintf(prefix, sizeof prefix, "dry-%s", env->prefix);
    cfg = admin_config(prefix, 3);
    report = apply(&cfg, 1, &drift);
    assert_int_equal(drift, 0);
    assert_int_equal(count_lines(report, "would create "), (int)mc_topic_count);
    for (size_t i = 0; i < mc_topic_count; i++)
        assert_int_equal(
            partitions_on_broker(mc_topic_name(&cfg, mc_topics[i].name, name, sizeof name)), -1);
    free(report);
}

/* Message i: its number in the first 8 bytes, then bytes that depend on i
 * and on their position, so a lost, doubled, reordered or damaged message
 * is seen. */
static void backlog_message(uint64_t i, unsigned char *buf)
{
    uint64_t x = i * 0x9E3779B97F4A7C15ULL + 1;
    memcpy(buf, &i, sizeof i);
    for (size_t k = sizeof i; k < BACKLOG_MESSAGE_BYTES; k++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[k] = (unsigned char)x;
    }
}

static void delivered_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    int *failed = opaque;
    (void)rk;
    if (m->err)
        (*failed)++;
}

/* 100 MiB published to a one-partition topic before any consumer reads,
 * then read back from the beginning: every message, in order, intact. The
 * mock cluster keeps about 5 MiB a partition and would lose the start. */
static void test_hundred_mib_backlog_reads_back_whole(void **state)
{
    unsigned char *buf = malloc(BACKLOG_MESSAGE_BYTES), *want = malloc(BACKLOG_MESSAGE_BYTES);
    rd_kafka_topic_partition_list_t *parts;
    rd_kafka_conf_t *conf;
    rd_kafka_t *producer, *consumer;
    char name[256], errstr[256];
    int failed = 0;
    uint64_t next = 0;
    size_t bytes = 0;
    (void)state;

    assert_non_null(buf);
    assert_non_null(want);
    /* The clock topic has one partition; this test runs no service. */
    h_topic_name(env, "clock", name, sizeof name);
    assert_int_equal(partitions_on_broker(name), 1);

    conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", env->bootstraps, errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "enable.idempotence", "true", errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "linger.ms", "20", errstr, sizeof errstr))
        fail_msg("producer config: %s", errstr);
    rd_kafka_conf_set_dr_msg_cb(conf, delivered_cb);
    rd_kafka_conf_set_opaque(conf, &failed);
    if ((producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr)) == NULL)
        fail_msg("producer: %s", errstr);
    for (uint64_t i = 0; i < BACKLOG_MESSAGES; i++) {
        rd_kafka_resp_err_t kerr;
        backlog_message(i, buf);
        while ((kerr = rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(name), RD_KAFKA_V_PARTITION(0),
                                         RD_KAFKA_V_VALUE(buf, BACKLOG_MESSAGE_BYTES),
                                         RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                         RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(producer, 100);
        if (kerr)
            fail_msg("produce %llu: %s", (unsigned long long)i, rd_kafka_err2str(kerr));
        rd_kafka_poll(producer, 0);
    }
    assert_int_equal(rd_kafka_flush(producer, 120000), RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(failed, 0);
    rd_kafka_destroy(producer);
    assert_int_equal(h_topic_count(env, "clock"), BACKLOG_MESSAGES);

    conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", env->bootstraps, errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "group.id", "motcua-test-backlog", errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof errstr))
        fail_msg("consumer config: %s", errstr);
    if ((consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr)) == NULL)
        fail_msg("consumer: %s", errstr);
    rd_kafka_poll_set_consumer(consumer);
    parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, name, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    assert_int_equal(rd_kafka_assign(consumer, parts), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(parts);
    for (int idle = 0; next < BACKLOG_MESSAGES && idle < 100;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(consumer, 200);
        uint64_t seq;
        if (m == NULL) {
            idle++;
            continue;
        }
        idle = 0;
        if (m->err) {
            rd_kafka_message_destroy(m);
            continue;
        }
        assert_int_equal(m->offset, (int64_t)next);
        assert_int_equal(m->len, BACKLOG_MESSAGE_BYTES);
        memcpy(&seq, m->payload, sizeof seq);
        assert_int_equal(seq, next);
        backlog_message(next, want);
        assert_memory_equal(m->payload, want, BACKLOG_MESSAGE_BYTES);
        bytes += m->len;
        next++;
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);
    assert_int_equal(next, BACKLOG_MESSAGES);
    assert_int_equal(bytes, (size_t)100 * 1024 * 1024);
    free(buf);
    free(want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apply_again_changes_nothing),
        cmocka_unit_test(test_fewer_partitions_than_asked_is_drift),
        cmocka_unit_test(test_dry_run_creates_nothing),
        cmocka_unit_test(test_hundred_mib_backlog_reads_back_whole),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
