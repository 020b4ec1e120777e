/* Service configuration from MOTCUA_* environment variables, optionally
 * preceded by a file of KEY=VALUE lines (MOTCUA_CONFIG_FILE or --config).
 * Environment wins over the file. Validated at start; --help lists all. */
#ifndef MOTCUA_CONFIG_H
#define MOTCUA_CONFIG_H

#include <stdio.h>

enum mc_clock_mode { MC_CLOCK_WALL, MC_CLOCK_TOPIC };

#define MC_NOTIFY_RETRIES_MAX 16

struct mc_config {
    const char *service;      /* "intake", ... (not from the environment) */
    char *kafka_brokers;      /* MOTCUA_KAFKA_BROKERS */
    char *kafka_props;        /* MOTCUA_KAFKA_PROPS: "k=v,k=v" passed to librdkafka */
    char *assignor;           /* MOTCUA_KAFKA_ASSIGNOR (partition.assignment.strategy) */
    char *topic_prefix;       /* MOTCUA_TOPIC_PREFIX, default "motcua." */
    int topic_partitions;     /* MOTCUA_TOPIC_PARTITIONS: of topics created, default 6 */
    int topic_replication;    /* MOTCUA_TOPIC_REPLICATION: wanted, default 3 (capped) */
    char *group_id;           /* MOTCUA_GROUP_ID, default "motcua-<service>" */
    char *pg_url;             /* MOTCUA_PG_URL */
    char *http_addr;          /* MOTCUA_HTTP_ADDR, default 127.0.0.1 */
    int http_port;            /* MOTCUA_HTTP_PORT, default 0 (any free port) */
    char *http_port_file;     /* MOTCUA_HTTP_PORT_FILE: the bound port is written here */
    enum mc_clock_mode clock; /* MOTCUA_CLOCK=wall|topic */
    int batch_max;            /* MOTCUA_BATCH_MAX, default 500 messages */
    int batch_wait_ms;        /* MOTCUA_BATCH_WAIT_MS, default 20 */
    int message_max_bytes;    /* MOTCUA_MESSAGE_MAX_BYTES: lowers every topic's limit; 0 (the
                                 default): the topic table's limits alone */
    int sweep_max;            /* MOTCUA_SWEEP_MAX: clocks fired per transaction, 500 */
    int reappoint_wd;         /* MOTCUA_REAPPOINT_WORKING_DAYS: new appointment after a
                                 breach when the unit gave none, default 3 */
    int explanation_wd;       /* MOTCUA_EXPLANATION_WORKING_DAYS: a late unit's time to
                                 explain a breach, default 3 */
    int drain_timeout_s;      /* MOTCUA_DRAIN_TIMEOUT_S, default 25 */
    int retain_inbox_days;    /* MOTCUA_RETAIN_INBOX_DAYS, default 30 */
    int retain_parked_days;   /* MOTCUA_RETAIN_PARKED_DAYS, default 30 */
    int retain_finished_days; /* MOTCUA_RETAIN_FINISHED_DAYS, default 400 */
    int prune_interval_s;     /* MOTCUA_PRUNE_INTERVAL_S, default 3600 */
    char *warning_rungs;      /* MOTCUA_WARNING_RUNGS: "1wd,due-day" (+ "50%", "75%", "2wd", ...) */
    int api_lookups_per_minute; /* MOTCUA_API_LOOKUPS_PER_MINUTE, default 30 */
    int api_lookup_burst;       /* MOTCUA_API_LOOKUP_BURST, default 10 */
    int api_streams_max;        /* MOTCUA_API_STREAMS_MAX, default 200 */
    int require_tls;            /* MOTCUA_REQUIRE_TLS: 1 refuses plaintext to PostgreSQL or Kafka */
    int notify_retry[MC_NOTIFY_RETRIES_MAX]; /* MOTCUA_NOTIFY_RETRY_SCHEDULE: seconds before */
    int notify_retries;                      /* each retry; how many there are */
    char *sender_smtp_url;                   /* MOTCUA_SENDER_SMTP_URL */
    char *sender_mail_from;                  /* MOTCUA_SENDER_MAIL_FROM */
    char *sender_smtp_ca;                    /* MOTCUA_SENDER_SMTP_CA: PEM; "": the system's */
    char *sender_sms_url, *sender_zalo_url;  /* MOTCUA_SENDER_SMS_URL, _ZALO_URL ("": none) */
    char *sender_webhook_secret;             /* MOTCUA_SENDER_WEBHOOK_SECRET */
    int sender_timeout_ms;                   /* MOTCUA_SENDER_TIMEOUT_MS, default 10000 */
    char *sender_print_dir;                  /* MOTCUA_SENDER_PRINT_DIR ("": none) */
    char *sender_signing_cert;               /* MOTCUA_SENDER_SIGNING_CERT ("": unsigned) */
    char *sender_signing_key;                /* MOTCUA_SENDER_SIGNING_KEY */
};

/* Fills cfg for service from the environment (and config file). On a bad
 * value returns MC_EINVAL naming the key. Caller frees with mc_config_free. */
int mc_config_load(struct mc_config *cfg, const char *service, char *err, size_t errlen);
void mc_config_free(struct mc_config *cfg);

/* Prints every key with its default and meaning. */
void mc_config_usage(FILE *out, const char *program);
/* The same as a Markdown table (docs/configuration.md, through `motcua
 * config doc` and tools/gen/config_doc.sh). */
void mc_config_markdown(FILE *out);

#endif
