/* Configuration: MOTCUA_* environment variables over an optional KEY=VALUE file. */
#include "motcua/config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libpq-fe.h>

#include "motcua/datadir.h"
#include "motcua/error.h"

struct key_def {
    const char *key;
    const char *def;
    const char *help;
};

static const struct key_def keys[] = {
    {"MOTCUA_KAFKA_BROKERS", "127.0.0.1:9092", "Kafka bootstrap servers"},
    {"MOTCUA_KAFKA_PROPS", "", "extra librdkafka properties, k=v,k=v (SASL/TLS, timeouts)"},
    {"MOTCUA_KAFKA_ASSIGNOR", "range,roundrobin",
     "partition.assignment.strategy (cooperative-sticky suits a real cluster)"},
    {"MOTCUA_TOPIC_PREFIX", "motcua.", "prefix of every topic name"},
    {"MOTCUA_TOPIC_PARTITIONS", "6",
     "partitions of each topic `motcua topics apply` creates (the clock always has 1)"},
    {"MOTCUA_TOPIC_REPLICATION", "3",
     "replication factor of the topics it creates, capped at the cluster size"},
    {"MOTCUA_GROUP_ID", "motcua-<service>", "consumer group id"},
    {"MOTCUA_PG_URL", "postgresql://127.0.0.1/motcua", "PostgreSQL connection URL"},
    {"MOTCUA_HTTP_ADDR", "127.0.0.1", "address of /livez, /readyz, /metrics"},
    {"MOTCUA_HTTP_PORT", "0", "HTTP port (0: any free port)"},
    {"MOTCUA_HTTP_PORT_FILE", "", "file the bound HTTP port is written to"},
    {"MOTCUA_CLOCK", "wall", "wall, or topic (time from ticks on <prefix>clock)"},
    {"MOTCUA_BATCH_MAX", "500", "messages per database transaction"},
    {"MOTCUA_BATCH_WAIT_MS", "20",
     "the loop's idle timer (periodic work, relay, gauges), milliseconds; a message or a tick "
     "wakes it at once"},
    {"MOTCUA_MESSAGE_MAX_BYTES", "0",
     "lowers every topic's largest message (docs/topics.md; 0: the topics' own limits); larger "
     "messages are rejected or dead-lettered unparsed"},
    {"MOTCUA_SWEEP_MAX", "500", "deadline clocks fired per transaction"},
    {"MOTCUA_REAPPOINT_WORKING_DAYS", "3",
     "new appointment after a breach, in working days, when the unit gave none"},
    {"MOTCUA_EXPLANATION_WORKING_DAYS", "3",
     "motcua-notify: working days a late unit's head has to explain a breach (giải trình) "
     "before it is escalated to the Chairman's office"},
    {"MOTCUA_DRAIN_TIMEOUT_S", "25", "seconds allowed to drain on SIGTERM"},
    {"MOTCUA_RETAIN_INBOX_DAYS", "30",
     "inbox rows (event ids applied) are kept this long; older redeliveries are caught by the "
     "domain's own unique keys"},
    {"MOTCUA_RETAIN_PARKED_DAYS", "30",
     "an update or transfer parked for a dossier that has not arrived after this long goes to "
     "the dead letters"},
    {"MOTCUA_RETAIN_FINISHED_DAYS", "400",
     "finished deadline clocks with their ledger and updates, and intake's rejections, are kept "
     "this long"},
    {"MOTCUA_PRUNE_INTERVAL_S", "3600", "how often each service applies the retention above"},
    {"MOTCUA_WARNING_RUNGS", "1wd,due-day",
     "deadline warnings: Nwd (N working days before the due date), due-day (opening of the "
     "due day), P% (share of the statutory time used)"},
    {"MOTCUA_NOTIFY_RETRY_SCHEDULE", "60,300,1800,7200,21600",
     "motcua-notify: seconds to wait before each retry of a notification after a temporary or "
     "technical failure, comma-separated (at most 16; empty: none); once they are used up, the "
     "next channel is tried"},
    {"MOTCUA_SENDER_SMTP_URL", "smtp://127.0.0.1:25",
     "motcua-sender: the SMTP server letters are e-mailed through (smtp:// with STARTTLS when "
     "the server offers it, or smtps://)"},
    {"MOTCUA_SENDER_SMTP_CA", "",
     "motcua-sender: the CA certificates (PEM) the SMTP server's certificate must chain to once "
     "STARTTLS (or smtps://) is in use; empty: the system's; the certificate is always verified"},
    {"MOTCUA_SENDER_MAIL_FROM", "motcua@localhost", "motcua-sender: the e-mails' sender address"},
    {"MOTCUA_SENDER_SMS_URL", "",
     "motcua-sender: the SMS gateway's webhook (JSON POST); empty: SMS is not offered"},
    {"MOTCUA_SENDER_ZALO_URL", "",
     "motcua-sender: the Zalo gateway's webhook (JSON POST); empty: Zalo is not offered"},
    {"MOTCUA_SENDER_WEBHOOK_SECRET", "",
     "motcua-sender: the key of the webhooks' HMAC-SHA256 signature (X-Motcua-Signature); "
     "required when a webhook is set"},
    {"MOTCUA_SENDER_TIMEOUT_MS", "10000",
     "motcua-sender: how long one delivery (SMTP or webhook) may take"},
    {"MOTCUA_SENDER_PRINT_DIR", "",
     "motcua-sender: the print queue of letters for the post and the counter (a file per "
     "letter and index.tsv); empty: neither is offered"},
    {"MOTCUA_SENDER_SIGNING_CERT", "",
     "motcua-sender: the letters' signer's certificate (PEM; its chain may follow it); with "
     "MOTCUA_SENDER_SIGNING_KEY each PDF letter gets a detached CMS signature (.p7s)"},
    {"MOTCUA_SENDER_SIGNING_KEY", "", "motcua-sender: the signer's private key (PEM)"},
    {"MOTCUA_API_LOOKUPS_PER_MINUTE", "30",
     "motcua-api: dossier lookups allowed per client address and minute (then 429 with "
     "Retry-After)"},
    {"MOTCUA_API_LOOKUP_BURST", "10", "motcua-api: lookups a client address may make at once"},
    {"MOTCUA_API_STREAMS_MAX", "200", "motcua-api: event stream clients served at once"},
    {"MOTCUA_REQUIRE_TLS", "0",
     "1: refuse to start unless MOTCUA_PG_URL says sslmode=verify-full and MOTCUA_KAFKA_PROPS "
     "says security.protocol=ssl or sasl_ssl"},
    {"MOTCUA_CONFIG_FILE", "", "optional file of KEY=VALUE lines (environment wins)"},
    {"MOTCUA_DATA_DIR", "",
     "directory holding schemas/ (JSON Schemas, migrations/, seed/); empty: <binary's "
     "directory>/../share/motcua when installed there, else the source tree it was built from"},
    {"MOTCUA_LOG_LEVEL", "info", "debug, info, warn or error"},
    {NULL, NULL, NULL},
};

/* Values read from the config file, consulted when the environment is silent. */
struct file_kv {
    char *key;
    char *value;
};

static const char *lookup(const struct file_kv *kv, size_t n, const char *key)
{
    const char *v = getenv(key);
    if (v != NULL)
        return v;
    for (size_t i = 0; i < n; i++)
        if (strcmp(kv[i].key, key) == 0)
            return kv[i].value;
    for (const struct key_def *k = keys; k->key; k++)
        if (strcmp(k->key, key) == 0)
            return k->def;
    return "";
}

static int known_key(const char *key)
{
    for (const struct key_def *k = keys; k->key; k++)
        if (strcmp(k->key, key) == 0)
            return 1;
    return 0;
}

static int read_file(const char *path, struct file_kv **out, size_t *n, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    int lineno = 0;
    if (f == NULL)
        return mc_err(err, errlen, MC_EINVAL, "MOTCUA_CONFIG_FILE %s: %s", path, strerror(errno));
    while (fgets(line, sizeof line, f)) {
        char *eq, *end;
        lineno++;
        end = line + strcspn(line, "\r\n");
        *end = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        eq = strchr(line, '=');
        if (eq == NULL || strncmp(line, "MOTCUA_", 7) != 0) {
            fclose(f);
            return mc_err(err, errlen, MC_EINVAL, "%s:%d: expected MOTCUA_KEY=value", path, lineno);
        }
        *eq = '\0';
        if (!known_key(line)) {
            fclose(f);
            return mc_err(err, errlen, MC_EINVAL,
                          "%s:%d: unknown key %s (`--help` lists the keys; a typo would silently "
                          "leave the default in force)",
                          path, lineno, line);
        }
        *out = mc_xrealloc(*out, (*n + 1) * sizeof **out);
        (*out)[*n].key = mc_xstrdup(line);
        (*out)[*n].value = mc_xstrdup(eq + 1);
        (*n)++;
    }
    fclose(f);
    return 0;
}

/* MOTCUA_REQUIRE_TLS=1: PostgreSQL with sslmode=verify-full (the server's
 * certificate checked against a CA and its name), Kafka over TLS. */
static int check_tls(const struct mc_config *cfg, char *err, size_t errlen)
{
    char *perr = NULL, props[2048], *save = NULL;
    const char *protocol = NULL;
    int verify_full = 0;
    PQconninfoOption *opts = PQconninfoParse(cfg->pg_url, &perr);
    if (opts == NULL) {
        mc_err(err, errlen, MC_EINVAL, "MOTCUA_PG_URL: %s", perr ? perr : "cannot be parsed");
        PQfreemem(perr);
        return MC_EINVAL;
    }
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (strcmp(o->keyword, "sslmode") == 0)
            verify_full = o->val && strcmp(o->val, "verify-full") == 0;
    PQconninfoFree(opts);
    if (!verify_full)
        return mc_err(err, errlen, MC_EINVAL,
                      "MOTCUA_REQUIRE_TLS=1: MOTCUA_PG_URL must say sslmode=verify-full (with "
                      "sslrootcert naming the CA when it is not the system's)");
    snprintf(props, sizeof props, "%s", cfg->kafka_props);
    for (char *kv = strtok_r(props, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (eq && (size_t)(eq - kv) == strlen("security.protocol") &&
            strncmp(kv, "security.protocol", (size_t)(eq - kv)) == 0)
            protocol = eq + 1;
    }
    if (protocol == NULL ||
        (strcasecmp(protocol, "ssl") != 0 && strcasecmp(protocol, "sasl_ssl") != 0))
        return mc_err(err, errlen, MC_EINVAL,
                      "MOTCUA_REQUIRE_TLS=1: MOTCUA_KAFKA_PROPS must say security.protocol=ssl or "
                      "security.protocol=sasl_ssl");
    return 0;
}

static int parse_int(const char *key, const char *s, int min, int max, int *out, char *err,
                     size_t errlen)
{
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < min || v > max)
        return mc_err(err, errlen, MC_EINVAL, "%s=%s: expected an integer from %d to %d", key, s,
                      min, max);
    *out = (int)v;
    return 0;
}

/* "60,300,1800": the retry schedule, each from 1 s to 7 days. */
static int parse_schedule(const char *key, const char *s, int *out, int max, int *n, char *err,
                          size_t errlen)
{
    const char *p = s;
    *n = 0;
    while (*p) {
        char *end;
        long v;
        errno = 0;
        v = strtol(p, &end, 10);
        if (errno || end == p || v < 1 || v > 604800 || (*end != ',' && *end != '\0') || *n == max)
            return mc_err(err, errlen, MC_EINVAL,
                          "%s=%s: expected up to %d comma-separated seconds from 1 to 604800", key,
                          s, max);
        out[(*n)++] = (int)v;
        p = *end == ',' ? end + 1 : end;
        if (*end == ',' && *p == '\0')
            return mc_err(err, errlen, MC_EINVAL, "%s=%s: a trailing comma", key, s);
    }
    return 0;
}

int mc_config_load(struct mc_config *cfg, const char *service, char *err, size_t errlen)
{
    struct file_kv *kv = NULL;
    size_t n = 0;
    const char *file = getenv("MOTCUA_CONFIG_FILE");
    const char *clock;
    int rc = 0;

    memset(cfg, 0, sizeof *cfg);
    cfg->service = service;
    if (file != NULL && *file && (rc = read_file(file, &kv, &n, err, errlen)) != 0)
        goto out;

    cfg->kafka_brokers = mc_xstrdup(lookup(kv, n, "MOTCUA_KAFKA_BROKERS"));
    cfg->kafka_props = mc_xstrdup(lookup(kv, n, "MOTCUA_KAFKA_PROPS"));
    cfg->assignor = mc_xstrdup(lookup(kv, n, "MOTCUA_KAFKA_ASSIGNOR"));
    cfg->topic_prefix = mc_xstrdup(lookup(kv, n, "MOTCUA_TOPIC_PREFIX"));
    if (strcmp(lookup(kv, n, "MOTCUA_GROUP_ID"), "motcua-<service>") == 0) {
        char g[128];
        snprintf(g, sizeof g, "motcua-%s", service);
        cfg->group_id = mc_xstrdup(g);
    } else {
        cfg->group_id = mc_xstrdup(lookup(kv, n, "MOTCUA_GROUP_ID"));
    }
    cfg->pg_url = mc_xstrdup(lookup(kv, n, "MOTCUA_PG_URL"));
    cfg->http_addr = mc_xstrdup(lookup(kv, n, "MOTCUA_HTTP_ADDR"));
    cfg->http_port_file = mc_xstrdup(lookup(kv, n, "MOTCUA_HTTP_PORT_FILE"));
    cfg->warning_rungs = mc_xstrdup(lookup(kv, n, "MOTCUA_WARNING_RUNGS"));
    cfg->sender_smtp_url = mc_xstrdup(lookup(kv, n, "MOTCUA_SENDER_SMTP_URL"));
    cfg->sender_mail_from = mc_xstrdup(lookup(kv, n, "MOTCUA_SENDER_MAIL_FROM"));
    cfg->sender_smtp_ca = mc_xstrdup(lookup(kv, n, "MOTCUA_SENDER_SMTP_CA"));
    cfg->sender_sms_url = mc_xstrdup(lookup(kv, n, "MOTCUA_SENDER_SMS_URL"));
    cfg->sender_zalo_url = mc_xstrdup(lookup(kv, n, "MOTCUA_SENDER_ZALO_URL"));
    cfg->sender_webhook_secret = mc_xstrdup(lookup(kv, n, "MOTCUA_SENDER_WEBHOOK_SECRET"));
    cfg->sender_print_dir = mc_xstrdup(lookup(kv, n, "MOTCUA_SENDER_PRINT_DIR"));
    cfg->sender_signing_cert = mc_xstrdup(lookup(kv, n, "MOTCUA_SENDER_SIGNING_CERT"));
    cfg->sender_signing_key = mc_xstrdup(lookup(kv, n, "MOTCUA_SENDER_SIGNING_KEY"));

    clock = lookup(kv, n, "MOTCUA_CLOCK");
    if (strcmp(clock, "wall") == 0) {
        cfg->clock = MC_CLOCK_WALL;
    } else if (strcmp(clock, "topic") == 0) {
        cfg->clock = MC_CLOCK_TOPIC;
    } else {
        rc = mc_err(err, errlen, MC_EINVAL, "MOTCUA_CLOCK=%s: expected wall or topic", clock);
        goto out;
    }
    if ((rc = parse_int("MOTCUA_HTTP_PORT", lookup(kv, n, "MOTCUA_HTTP_PORT"), 0, 65535,
                        &cfg->http_port, err, errlen)) ||
        (rc = parse_int("MOTCUA_BATCH_MAX", lookup(kv, n, "MOTCUA_BATCH_MAX"), 1, 100000,
                        &cfg->batch_max, err, errlen)) ||
        (rc = parse_int("MOTCUA_BATCH_WAIT_MS", lookup(kv, n, "MOTCUA_BATCH_WAIT_MS"), 1, 10000,
                        &cfg->batch_wait_ms, err, errlen)) ||
        (rc = parse_int("MOTCUA_MESSAGE_MAX_BYTES", lookup(kv, n, "MOTCUA_MESSAGE_MAX_BYTES"), 0,
                        16 << 20, &cfg->message_max_bytes, err, errlen)) ||
        (rc = parse_int("MOTCUA_SWEEP_MAX", lookup(kv, n, "MOTCUA_SWEEP_MAX"), 1, 100000,
                        &cfg->sweep_max, err, errlen)) ||
        (rc = parse_int("MOTCUA_REAPPOINT_WORKING_DAYS",
                        lookup(kv, n, "MOTCUA_REAPPOINT_WORKING_DAYS"), 1, 60, &cfg->reappoint_wd,
                        err, errlen)) ||
        (rc = parse_int("MOTCUA_EXPLANATION_WORKING_DAYS",
                        lookup(kv, n, "MOTCUA_EXPLANATION_WORKING_DAYS"), 1, 60,
                        &cfg->explanation_wd, err, errlen)) ||
        (rc = parse_int("MOTCUA_TOPIC_PARTITIONS", lookup(kv, n, "MOTCUA_TOPIC_PARTITIONS"), 1,
                        10000, &cfg->topic_partitions, err, errlen)) ||
        (rc = parse_int("MOTCUA_TOPIC_REPLICATION", lookup(kv, n, "MOTCUA_TOPIC_REPLICATION"), 1,
                        16, &cfg->topic_replication, err, errlen)) ||
        (rc = parse_int("MOTCUA_RETAIN_INBOX_DAYS", lookup(kv, n, "MOTCUA_RETAIN_INBOX_DAYS"), 1,
                        36500, &cfg->retain_inbox_days, err, errlen)) ||
        (rc = parse_int("MOTCUA_RETAIN_PARKED_DAYS", lookup(kv, n, "MOTCUA_RETAIN_PARKED_DAYS"), 1,
                        36500, &cfg->retain_parked_days, err, errlen)) ||
        (rc = parse_int("MOTCUA_RETAIN_FINISHED_DAYS", lookup(kv, n, "MOTCUA_RETAIN_FINISHED_DAYS"),
                        1, 36500, &cfg->retain_finished_days, err, errlen)) ||
        (rc = parse_int("MOTCUA_PRUNE_INTERVAL_S", lookup(kv, n, "MOTCUA_PRUNE_INTERVAL_S"), 1,
                        604800, &cfg->prune_interval_s, err, errlen)) ||
        (rc = parse_int("MOTCUA_DRAIN_TIMEOUT_S", lookup(kv, n, "MOTCUA_DRAIN_TIMEOUT_S"), 1, 300,
                        &cfg->drain_timeout_s, err, errlen)) ||
        (rc = parse_int("MOTCUA_API_LOOKUPS_PER_MINUTE",
                        lookup(kv, n, "MOTCUA_API_LOOKUPS_PER_MINUTE"), 1, 10000000,
                        &cfg->api_lookups_per_minute, err, errlen)) ||
        (rc = parse_int("MOTCUA_API_LOOKUP_BURST", lookup(kv, n, "MOTCUA_API_LOOKUP_BURST"), 1,
                        10000000, &cfg->api_lookup_burst, err, errlen)) ||
        (rc = parse_int("MOTCUA_API_STREAMS_MAX", lookup(kv, n, "MOTCUA_API_STREAMS_MAX"), 1,
                        100000, &cfg->api_streams_max, err, errlen)) ||
        (rc = parse_int("MOTCUA_REQUIRE_TLS", lookup(kv, n, "MOTCUA_REQUIRE_TLS"), 0, 1,
                        &cfg->require_tls, err, errlen)) ||
        (rc = parse_int("MOTCUA_SENDER_TIMEOUT_MS", lookup(kv, n, "MOTCUA_SENDER_TIMEOUT_MS"), 100,
                        600000, &cfg->sender_timeout_ms, err, errlen)) ||
        (rc = parse_schedule("MOTCUA_NOTIFY_RETRY_SCHEDULE",
                             lookup(kv, n, "MOTCUA_NOTIFY_RETRY_SCHEDULE"), cfg->notify_retry,
                             MC_NOTIFY_RETRIES_MAX, &cfg->notify_retries, err, errlen)))
        goto out;
    if (lookup(kv, n, "MOTCUA_DATA_DIR")[0] != '\0')
        mc_data_dir_set(lookup(kv, n, "MOTCUA_DATA_DIR"));
    if ((rc = mc_data_dir_check(err, errlen)) != 0)
        goto out;
    if (cfg->kafka_brokers[0] == '\0')
        rc = mc_err(err, errlen, MC_EINVAL, "MOTCUA_KAFKA_BROKERS is empty");
    else if (cfg->pg_url[0] == '\0')
        rc = mc_err(err, errlen, MC_EINVAL, "MOTCUA_PG_URL is empty");
    else if (cfg->require_tls)
        rc = check_tls(cfg, err, errlen);
out:
    for (size_t i = 0; i < n; i++) {
        free(kv[i].key);
        free(kv[i].value);
    }
    free(kv);
    if (rc)
        mc_config_free(cfg);
    return rc;
}

void mc_config_free(struct mc_config *cfg)
{
    free(cfg->kafka_brokers);
    free(cfg->kafka_props);
    free(cfg->assignor);
    free(cfg->topic_prefix);
    free(cfg->group_id);
    free(cfg->pg_url);
    free(cfg->http_addr);
    free(cfg->http_port_file);
    free(cfg->warning_rungs);
    cfg->warning_rungs = NULL;
    free(cfg->sender_smtp_url);
    free(cfg->sender_mail_from);
    free(cfg->sender_smtp_ca);
    free(cfg->sender_sms_url);
    free(cfg->sender_zalo_url);
    free(cfg->sender_webhook_secret);
    free(cfg->sender_print_dir);
    free(cfg->sender_signing_cert);
    free(cfg->sender_signing_key);
    cfg->sender_signing_cert = cfg->sender_signing_key = cfg->sender_smtp_ca = NULL;
    cfg->sender_smtp_url = cfg->sender_mail_from = cfg->sender_sms_url = NULL;
    cfg->sender_zalo_url = cfg->sender_webhook_secret = cfg->sender_print_dir = NULL;
    cfg->kafka_brokers = cfg->kafka_props = cfg->assignor = cfg->topic_prefix = NULL;
    cfg->group_id = cfg->pg_url = cfg->http_addr = cfg->http_port_file = NULL;
}

void mc_config_markdown(FILE *out)
{
    fprintf(out, "| key | default | meaning |\n|---|---|---|\n");
    for (const struct key_def *k = keys; k->key; k++) {
        fprintf(out, "| `%s` | %s%s%s | ", k->key, k->def[0] ? "`" : "",
                k->def[0] ? k->def : "none", k->def[0] ? "`" : "");
        /* The help text as Markdown: no HTML tags, no cell breaks. */
        for (const char *c = k->help; *c; c++)
            fputs(*c == '<'   ? "&lt;"
                  : *c == '>' ? "&gt;"
                  : *c == '|' ? "\\|"
                              : (char[]){*c, 0},
                  out);
        fputs(" |\n", out);
    }
}

void mc_config_usage(FILE *out, const char *program)
{
    fprintf(out,
            "usage: %s [--config FILE] [--help]\n\n--config FILE reads KEY=VALUE lines from "
            "FILE (as MOTCUA_CONFIG_FILE=FILE; the\nenvironment wins over the file, an unknown "
            "key in it is an error).\n\nConfiguration (environment variables):\n",
            program);
    for (const struct key_def *k = keys; k->key; k++)
        fprintf(out, "  %-32s %s (default: %s)\n", k->key, k->help, k->def[0] ? k->def : "none");
}
