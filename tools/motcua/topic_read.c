/* A whole topic, read from its beginning by assignment. */
#include "topic_read.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "motcua/error.h"
#include "motcua/kafka.h"
#include "motcua/topics.h"

int mc_cli_read_topic(const struct mc_config *cfg, const char *logical, int idle_ms,
                      int (*cb)(const rd_kafka_message_t *m, void *opaque), void *opaque, char *err,
                      size_t errlen)
{
    struct mc_config c = *cfg;
    char topic[256], group[64], *props;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_partition_list_t *parts;
    rd_kafka_topic_t *rkt;
    rd_kafka_t *rk;
    int nparts, eofs = 0, rc = 0;
    size_t n = strlen(cfg->kafka_props) + 64;

    /* Partition EOF events tell when every partition has been read. */
    props = mc_xmalloc(n);
    snprintf(props, n, "%s%senable.partition.eof=true", cfg->kafka_props,
             cfg->kafka_props[0] ? "," : "");
    c.kafka_props = props;
    snprintf(group, sizeof group, "motcua-cli-%d", (int)getpid());
    rk = mc_kafka_consumer_new(&c, group, NULL, NULL, err, errlen);
    free(props);
    if (rk == NULL)
        return -1;
    mc_topic_name(cfg, logical, topic, sizeof topic);
    rkt = rd_kafka_topic_new(rk, topic, NULL);
    if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) || md->topic_cnt != 1 || md->topics[0].err) {
        snprintf(err, errlen, "no topic %s", topic);
        if (md)
            rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
        rd_kafka_destroy(rk);
        return -1;
    }
    nparts = md->topics[0].partition_cnt;
    parts = rd_kafka_topic_partition_list_new(nparts);
    for (int i = 0; i < nparts; i++)
        rd_kafka_topic_partition_list_add(parts, topic, md->topics[0].partitions[i].id)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    while (rc == 0) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, idle_ms);
        if (m == NULL) {
            if (eofs >= nparts)
                break;
            continue; /* not every partition reached its end yet */
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
            eofs++;
        else if (m->err)
            fprintf(stderr, "motcua: reading %s: %s\n", topic, rd_kafka_message_errstr(m));
        else
            rc = cb(m, opaque);
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}
