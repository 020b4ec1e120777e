/* Reading a whole topic from its beginning, for the CLI (`motcua consume`,
 * `motcua deadletter`): every partition assigned (no consumer group is
 * joined, no offset committed), until each has reached its end. */
#ifndef MOTCUA_TOOLS_TOPIC_READ_H
#define MOTCUA_TOOLS_TOPIC_READ_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

#include "motcua/config.h"

/* Calls cb for every message of the logical topic (a name of the topic
 * table) in partition order as they come; cb returns 0 to go on, anything
 * else to stop (returned). Waits up to idle_ms for more at the end. Returns
 * 0, cb's value, or -1 with err. */
int mc_cli_read_topic(const struct mc_config *cfg, const char *logical, int idle_ms,
                      int (*cb)(const rd_kafka_message_t *m, void *opaque), void *opaque, char *err,
                      size_t errlen);

#endif
