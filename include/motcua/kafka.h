/* librdkafka handles configured from mc_config: an idempotent producer and a
 * group consumer that stores offsets only when told (after the database
 * commit). Every librdkafka property can be passed via MOTCUA_KAFKA_PROPS. */
#ifndef MOTCUA_KAFKA_H
#define MOTCUA_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

#include "motcua/config.h"

/* Idempotent producer (acks=all). Delivery reports go to dr_msg_cb if given,
 * with rd_kafka_conf opaque set to opaque. Caller destroys with
 * rd_kafka_destroy after rd_kafka_flush. */
rd_kafka_t *mc_kafka_producer_new(const struct mc_config *cfg,
                                  void (*dr_msg_cb)(rd_kafka_t *, const rd_kafka_message_t *,
                                                    void *),
                                  void *opaque, char *err, size_t errlen);

/* A handle for the Admin API and metadata (a producer that never produces),
 * with MOTCUA_KAFKA_PROPS applied. Caller destroys with rd_kafka_destroy. */
rd_kafka_t *mc_kafka_admin_new(const struct mc_config *cfg, char *err, size_t errlen);

/* Group consumer for group_id (NULL: cfg->group_id) with auto commit of
 * *stored* offsets only (enable.auto.offset.store=false), reset to earliest.
 * rebalance_cb (optional) and opaque go to the conf. rd_kafka_poll_set_consumer()
 * already called. */
rd_kafka_t *mc_kafka_consumer_new(const struct mc_config *cfg, const char *group_id,
                                  void (*rebalance_cb)(rd_kafka_t *, rd_kafka_resp_err_t,
                                                       rd_kafka_topic_partition_list_t *, void *),
                                  void *opaque, char *err, size_t errlen);

/* Subscribes to prefix+logical topics (NULL-terminated list). */
int mc_kafka_subscribe(rd_kafka_t *rk, const struct mc_config *cfg, const char *const *logical,
                       char *err, size_t errlen);

/* Produces one message and waits for its delivery report (timeout_ms).
 * For tools and tests; services publish through the outbox. */
/* Has librdkafka write a byte to fd (non-blocking) whenever the
 * consumer rk's queue, empty, gets a message or event, so an event loop
 * can wake at once instead of polling on a timer. */
void mc_kafka_wake_fd(rd_kafka_t *rk, int fd);

int mc_kafka_produce_sync(rd_kafka_t *rk, const char *topic, const char *key, const void *payload,
                          size_t len, int timeout_ms, char *err, size_t errlen);

/* Applies "k=v,k=v" to conf. */
int mc_kafka_conf_apply(rd_kafka_conf_t *conf, const char *props, char *err, size_t errlen);

#endif
