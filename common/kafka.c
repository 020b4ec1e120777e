/* librdkafka producer and consumer construction and small helpers. */
#include "motcua/kafka.h"
#include "motcua/topics.h"

#include <stdlib.h>
#include <string.h>

#include "motcua/error.h"
#include "motcua/log.h"

static int set(rd_kafka_conf_t *conf, const char *k, const char *v, char *err, size_t errlen)
{
    char errstr[512];
    if (rd_kafka_conf_set(conf, k, v, errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
        return mc_err(err, errlen, MC_EINVAL, "kafka property %s=%s: %s", k, v, errstr);
    return 0;
}

int mc_kafka_conf_apply(rd_kafka_conf_t *conf, const char *props, char *err, size_t errlen)
{
    char *copy, *save = NULL, *item;
    int rc = 0;
    if (props == NULL || *props == '\0')
        return 0;
    copy = mc_xstrdup(props);
    for (item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        if (eq == NULL) {
            rc = mc_err(err, errlen, MC_EINVAL, "MOTCUA_KAFKA_PROPS: '%s' is not k=v", item);
            break;
        }
        *eq = '\0';
        if ((rc = set(conf, item, eq + 1, err, errlen)) != 0)
            break;
    }
    free(copy);
    return rc;
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    /* MOTCUA_KAFKA_PROPS serves producers and consumers alike: a property
     * meant for the other kind is expected, not worth a warning. */
    if (strstr(buf, "property and will be ignored by this") != NULL)
        level = 7;
    mc_log_kv(level <= 3   ? MC_LOG_ERROR
              : level <= 4 ? MC_LOG_WARN
                           : MC_LOG_DEBUG,
              buf, "kafka", fac, NULL);
}

/* bootstrap.servers, client.id, our defaults for this kind of client, then
 * MOTCUA_KAFKA_PROPS last so an operator's choice wins. defaults is a
 * NULL-terminated list of key, value pairs. */
static rd_kafka_conf_t *base_conf(const struct mc_config *cfg, const char *const *defaults,
                                  char *err, size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char client_id[128];
    int rc;
    snprintf(client_id, sizeof client_id, "motcua-%s", cfg->service ? cfg->service : "tool");
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rc = set(conf, "bootstrap.servers", cfg->kafka_brokers, err, errlen) ||
         set(conf, "client.id", client_id, err, errlen);
    for (; rc == 0 && defaults && *defaults; defaults += 2)
        rc = set(conf, defaults[0], defaults[1], err, errlen);
    if (rc || mc_kafka_conf_apply(conf, cfg->kafka_props, err, errlen)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return conf;
}

rd_kafka_t *mc_kafka_producer_new(const struct mc_config *cfg,
                                  void (*dr_msg_cb)(rd_kafka_t *, const rd_kafka_message_t *,
                                                    void *),
                                  void *opaque, char *err, size_t errlen)
{
    /* acks=all with idempotence: a delivery report means every in-sync
     * replica has the row's event, and a retried send is never duplicated
     * or reordered. linger.ms=5 lets the relay's sends share requests at a
     * cost of 5 ms latency; 0 and 20 measured the same (docs/kafka.md,
     * tests/bench/run producer). */
    static const char *const defaults[] = {"enable.idempotence", "true", "acks", "all",
                                           "linger.ms",          "5",    NULL};
    char errstr[512];
    rd_kafka_t *rk;
    rd_kafka_conf_t *conf = base_conf(cfg, defaults, err, errlen);
    if (conf == NULL)
        return NULL;
    /* Consumer-only properties in MOTCUA_KAFKA_PROPS are harmless warnings. */
    if (dr_msg_cb)
        rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
    rd_kafka_conf_set_opaque(conf, opaque);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (rk == NULL) {
        rd_kafka_conf_destroy(conf);
        mc_err(err, errlen, MC_EKAFKA, "kafka producer: %s", errstr);
    }
    return rk;
}

rd_kafka_t *mc_kafka_admin_new(const struct mc_config *cfg, char *err, size_t errlen)
{
    char errstr[512];
    rd_kafka_t *rk;
    rd_kafka_conf_t *conf = base_conf(cfg, NULL, err, errlen);
    if (conf == NULL)
        return NULL;
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (rk == NULL) {
        rd_kafka_conf_destroy(conf);
        mc_err(err, errlen, MC_EKAFKA, "kafka admin client: %s", errstr);
    }
    return rk;
}

rd_kafka_t *mc_kafka_consumer_new(const struct mc_config *cfg, const char *group_id,
                                  void (*rebalance_cb)(rd_kafka_t *, rd_kafka_resp_err_t,
                                                       rd_kafka_topic_partition_list_t *, void *),
                                  void *opaque, char *err, size_t errlen)
{
    char errstr[512];
    rd_kafka_t *rk;
    const char *const defaults[] = {"group.id", group_id ? group_id : cfg->group_id,
                                    "enable.auto.offset.store", "false", "enable.auto.commit",
                                    "true", "auto.commit.interval.ms", "1000", "auto.offset.reset",
                                    "earliest", "partition.assignment.strategy", cfg->assignor,
                                    /* A member killed with -9 gives its
                                     * partitions back after 10 s instead of
                                     * 45; heartbeats come from librdkafka's
                                     * own thread, so a long batch does not
                                     * miss them (max.poll.interval.ms, 5 min
                                     * by default, bounds a stuck batch). */
                                    "session.timeout.ms", "10000", "heartbeat.interval.ms", "1000",
                                    /* A real broker answers a fetch as soon
                                     * as data arrives; when idle it holds it
                                     * this long, which bounds the idle poll
                                     * traffic, not the latency. */
                                    "fetch.wait.max.ms", "100", NULL};
    rd_kafka_conf_t *conf = base_conf(cfg, defaults, err, errlen);
    if (conf == NULL)
        return NULL;
    /* Not negotiable: offsets are stored only after the database commit. */
    if (set(conf, "enable.auto.offset.store", "false", err, errlen) != 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    if (rebalance_cb)
        rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_conf_set_opaque(conf, opaque);
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (rk == NULL) {
        rd_kafka_conf_destroy(conf);
        mc_err(err, errlen, MC_EKAFKA, "kafka consumer: %s", errstr);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    return rk;
}

int mc_kafka_subscribe(rd_kafka_t *rk, const struct mc_config *cfg, const char *const *logical,
                       char *err, size_t errlen)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(4);
    rd_kafka_resp_err_t kerr;
    char name[256];
    for (; *logical; logical++)
        rd_kafka_topic_partition_list_add(list, mc_topic_name(cfg, *logical, name, sizeof name),
                                          RD_KAFKA_PARTITION_UA);
    kerr = rd_kafka_subscribe(rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (kerr)
        return mc_err(err, errlen, MC_EKAFKA, "subscribe: %s", rd_kafka_err2str(kerr));
    return 0;
}

void mc_kafka_wake_fd(rd_kafka_t *rk, int fd)
{
    /* The consumer queue: rd_kafka_poll_set_consumer forwarded the main
     * queue there, and the event must be enabled on the final queue. */
    rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(rk);
    rd_kafka_queue_io_event_enable(q, fd, "1", 1);
    rd_kafka_queue_destroy(q);
}

int mc_kafka_produce_sync(rd_kafka_t *rk, const char *topic, const char *key, const void *payload,
                          size_t len, int timeout_ms, char *err, size_t errlen)
{
    rd_kafka_resp_err_t kerr;
    kerr =
        rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
                          RD_KAFKA_V_VALUE((void *)payload, len),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (kerr)
        return mc_err(err, errlen, MC_EKAFKA, "produce to %s: %s", topic, rd_kafka_err2str(kerr));
    kerr = rd_kafka_flush(rk, timeout_ms);
    if (kerr)
        return mc_err(err, errlen, MC_EKAFKA, "flush to %s: %s", topic, rd_kafka_err2str(kerr));
    return 0;
}
