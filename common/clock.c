/* Wall clock or topic clock (ticks {"now": RFC 3339} on <prefix>clock). */
#include "motcua/clock.h"
#include "motcua/topics.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "motcua/error.h"
#include "motcua/kafka.h"
#include "motcua/log.h"

struct mc_clock {
    enum mc_clock_mode mode;
    rd_kafka_t *rk;
    mc_instant now;
    int known;
};

struct mc_clock *mc_clock_new(const struct mc_config *cfg, char *err, size_t errlen)
{
    struct mc_clock *clock = mc_xcalloc(1, sizeof *clock);
    rd_kafka_topic_partition_list_t *parts = NULL;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = NULL;
    char topic[256], group[128];
    rd_kafka_resp_err_t kerr;

    clock->mode = cfg->clock;
    if (clock->mode == MC_CLOCK_WALL)
        return clock;
    /* A private group id: offsets are never committed (we assign, and read
     * from the beginning so a restarted instance knows the latest tick). */
    snprintf(group, sizeof group, "motcua-clock-%s-%d", cfg->service ? cfg->service : "x",
             (int)getpid());
    clock->rk = mc_kafka_consumer_new(cfg, group, NULL, NULL, err, errlen);
    if (clock->rk == NULL)
        goto fail;
    mc_topic_name(cfg, "clock", topic, sizeof topic);
    rkt = rd_kafka_topic_new(clock->rk, topic, NULL);
    kerr = rd_kafka_metadata(clock->rk, 0, rkt, &md, 10000);
    if (kerr || md->topic_cnt != 1 || md->topics[0].err) {
        mc_err(err, errlen, MC_EKAFKA, "clock topic %s: %s", topic,
               rd_kafka_err2str(kerr            ? kerr
                                : md->topic_cnt ? md->topics[0].err
                                                : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
        goto fail;
    }
    parts = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
    for (int i = 0; i < md->topics[0].partition_cnt; i++)
        rd_kafka_topic_partition_list_add(parts, topic, md->topics[0].partitions[i].id)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    if ((kerr = rd_kafka_assign(clock->rk, parts)) != 0) {
        mc_err(err, errlen, MC_EKAFKA, "clock assign: %s", rd_kafka_err2str(kerr));
        goto fail;
    }
    rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return clock;
fail:
    if (parts)
        rd_kafka_topic_partition_list_destroy(parts);
    if (md)
        rd_kafka_metadata_destroy(md);
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    mc_clock_free(clock);
    return NULL;
}

void mc_clock_free(struct mc_clock *clock)
{
    if (clock == NULL)
        return;
    if (clock->rk) {
        rd_kafka_consumer_close(clock->rk);
        rd_kafka_destroy(clock->rk);
    }
    free(clock);
}

void mc_clock_wake_fd(struct mc_clock *clock, int fd)
{
    if (clock->rk)
        mc_kafka_wake_fd(clock->rk, fd);
}

int mc_clock_poll(struct mc_clock *clock)
{
    int advanced = 0;
    rd_kafka_message_t *msg;
    if (clock->mode == MC_CLOCK_WALL)
        return 0;
    while ((msg = rd_kafka_consumer_poll(clock->rk, 0)) != NULL) {
        json_t *doc = NULL, *now;
        mc_instant t;
        if (msg->err == 0) {
            doc = json_loadb(msg->payload, msg->len, 0, NULL);
            now = json_object_get(doc, "now");
            if (json_is_string(now) && mc_time_parse(json_string_value(now), &t) == 0) {
                /* Time never goes back: a late or replayed tick is ignored. */
                if (!clock->known || t > clock->now) {
                    clock->now = t;
                    clock->known = 1;
                    advanced = 1;
                }
            } else {
                mc_log_kv(MC_LOG_WARN, "ignored a clock tick that is not {\"now\": RFC 3339}",
                          NULL);
            }
        } else if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            mc_log_kv(MC_LOG_WARN, "clock consumer", "error", rd_kafka_err2str(msg->err), NULL);
        }
        json_decref(doc);
        rd_kafka_message_destroy(msg);
    }
    return advanced;
}

int mc_clock_now(const struct mc_clock *clock, mc_instant *now)
{
    if (clock->mode == MC_CLOCK_WALL) {
        *now = mc_time_now();
        return 0;
    }
    if (!clock->known)
        return MC_ENOTFOUND;
    *now = clock->now;
    return 0;
}
