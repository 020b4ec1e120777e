/* The integration-test harness (see harness.h): database, mock cluster,
 * produce/read/query helpers and pumps that step services in-process. */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <regex.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "motcua/error.h"
#include "motcua/jsonutil.h"
#include "motcua/migrate.h"
#include "motcua/pg.h"
#include "motcua/schema.h"
#include "motcua/topics.h"

#define MAX_PARAMS 16
#define TEST_PARTITIONS 3 /* MOTCUA_TOPIC_PARTITIONS of every test */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    if (s == NULL)
        abort();
    return s;
}

/* The topic table as the tests provision it (MOTCUA_TOPIC_PARTITIONS=3). */
static void topic_plan(const struct h_env *env, const struct mc_topic_spec *spec,
                       struct mc_topic_plan *plan)
{
    struct mc_config cfg = {.topic_prefix = (char *)env->prefix,
                            .topic_partitions = TEST_PARTITIONS,
                            .topic_replication = 3};
    mc_topic_plan(&cfg, spec, 3, plan);
}

static int partitions_of(struct h_env *env, const char *topic)
{
    const struct mc_topic_spec *spec = mc_topic_find(topic);
    struct mc_topic_plan plan;
    if (spec == NULL)
        fail_msg("harness: unknown topic %s", topic);
    topic_plan(env, spec, &plan);
    return plan.partitions;
}

static void full_topic(struct h_env *env, const char *logical, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s", env->prefix, logical);
}

char *h_topic_name(struct h_env *env, const char *logical, char *buf, size_t len)
{
    full_topic(env, logical, buf, len);
    return buf;
}

/* url with its database replaced by db (URI or key=value form). */
static char *url_with_db(const char *url, const char *db)
{
    const char *scheme = strstr(url, "://"), *auth, *path, *query, *end;
    if (scheme == NULL)
        return xasprintf("%s dbname=%s", url, db);
    auth = scheme + 3;
    path = strchr(auth, '/');
    query = strchr(auth, '?');
    if (path && query && path > query)
        path = NULL;
    end = path ? path : query ? query : auth + strlen(auth);
    return xasprintf("%.*s/%s%s", (int)(end - url), url, db, query ? query : "");
}

static void quiet_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    /* The anchor and helper handles have nothing useful to say below errors. */
    if (level <= 3)
        fprintf(stderr, "harness librdkafka %s: %s\n", fac, buf);
}

static rd_kafka_conf_t *client_conf(struct h_env *env)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char errstr[256];
    rd_kafka_conf_set_log_cb(conf, quiet_log_cb);
    if (rd_kafka_conf_set(conf, "bootstrap.servers", env->bootstraps, errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "fetch.wait.max.ms", "20", errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "topic.metadata.refresh.interval.ms", "1000", errstr,
                          sizeof errstr))
        fprintf(stderr, "harness: %s\n", errstr);
    return conf;
}

struct delivery {
    int done;
    rd_kafka_resp_err_t err;
    int32_t partition;
    int64_t offset;
};

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct delivery *d = m->_private;
    (void)rk;
    (void)opaque;
    if (d == NULL)
        return;
    d->done = 1;
    d->err = m->err;
    d->partition = m->partition;
    d->offset = m->offset;
}

static rd_kafka_t *new_consumer(struct h_env *env, const char *group)
{
    rd_kafka_conf_t *conf = client_conf(env);
    char errstr[256];
    rd_kafka_t *rk;
    if (rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "enable.auto.offset.store", "false", errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "enable.partition.eof", "true", errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", errstr, sizeof errstr)) {
        rd_kafka_conf_destroy(conf);
        fail_msg("harness consumer config: %s", errstr);
    }
    if ((rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr)) == NULL) {
        rd_kafka_conf_destroy(conf);
        fail_msg("harness consumer: %s", errstr);
    }
    rd_kafka_poll_set_consumer(rk);
    return rk;
}

/* ---- environment --------------------------------------------------------- */

/* The tests' own producer, on whichever cluster env uses. */
static int setup_producer(struct h_env *env, char *err, size_t errlen)
{
    rd_kafka_conf_t *conf = client_conf(env);
    char errstr[256];
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    if (rd_kafka_conf_set(conf, "linger.ms", "0", errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "acks", "all", errstr, sizeof errstr) ||
        (env->producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr)) == NULL) {
        rd_kafka_conf_destroy(conf);
        return mc_err(err, errlen, MC_EKAFKA, "test producer: %s", errstr);
    }
    return 0;
}

/* The broker tests/run started (MOTCUA_TEST_KAFKA_BROKERS): the topics of
 * the table under this environment's own prefix, provisioned the way an
 * operator does it (`motcua topics apply`). */
static int setup_real_kafka(struct h_env *env, const char *brokers, char *err, size_t errlen)
{
    struct mc_config cfg = {.kafka_brokers = (char *)brokers,
                            .kafka_props = (char *)"",
                            .topic_prefix = env->prefix,
                            .topic_partitions = TEST_PARTITIONS,
                            .topic_replication = 3};
    int drift = 0, rc;
    char *report = NULL;
    size_t report_len = 0;
    FILE *out = open_memstream(&report, &report_len);
    env->bootstraps = strdup(brokers);
    env->real_broker = 1;
    rc = mc_topics_apply(&cfg, 0, out, &drift, err, errlen);
    fclose(out);
    if (rc == 0 && drift != 0)
        rc = mc_err(err, errlen, MC_EKAFKA, "topics of %s differ from the table:\n%s", env->prefix,
                    report);
    free(report);
    return rc;
}

/* An in-process mock cluster with every topic of the table (machines
 * without Java: tests/run with MOTCUA_BROKER=devkafka). */
static int setup_mock_kafka(struct h_env *env, char *err, size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    struct mc_topic_plan plan;
    char errstr[256];
    rd_kafka_conf_set_log_cb(conf, quiet_log_cb);
    /* The anchor only carries the mock cluster; it never connects anywhere. */
    if ((env->anchor = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr)) == NULL) {
        rd_kafka_conf_destroy(conf);
        return mc_err(err, errlen, MC_EKAFKA, "mock anchor: %s", errstr);
    }
    if ((env->mcluster = rd_kafka_mock_cluster_new(env->anchor, 3)) == NULL)
        return mc_err(err, errlen, MC_EKAFKA, "mock cluster did not start");
    env->bootstraps = strdup(rd_kafka_mock_cluster_bootstraps(env->mcluster));
    for (size_t i = 0; i < mc_topic_count; i++) {
        rd_kafka_resp_err_t kerr;
        topic_plan(env, &mc_topics[i], &plan);
        if ((kerr = rd_kafka_mock_topic_create(env->mcluster, plan.name, plan.partitions,
                                               plan.replication)))
            return mc_err(err, errlen, MC_EKAFKA, "create %s: %s", plan.name,
                          rd_kafka_err2str(kerr));
    }
    return 0;
}

static int setup_kafka(struct h_env *env, char *err, size_t errlen)
{
    static int envs; /* environments made by this program: each gets fresh topics */
    const char *brokers = getenv("MOTCUA_TEST_KAFKA_BROKERS");
    int rc;
    snprintf(env->prefix, sizeof env->prefix, "test-%s-%ld-%d.", env->name, (long)getpid(), ++envs);
    rc = brokers && *brokers ? setup_real_kafka(env, brokers, err, errlen)
                             : setup_mock_kafka(env, err, errlen);
    return rc ? rc : setup_producer(env, err, errlen);
}

static int setup_db(struct h_env *env, char *err, size_t errlen)
{
    char sql[256];
    int applied = 0, files = 0, rc;
    if ((env->admin = mc_pg_connect(env->admin_url, "motcua-test-admin", err, errlen)) == NULL)
        return MC_EDB;
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", env->dbname);
    if ((rc = mc_pg_exec(env->admin, sql, 0, NULL, err, errlen)) != 0)
        return rc;
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", env->dbname);
    if ((rc = mc_pg_exec(env->admin, sql, 0, NULL, err, errlen)) != 0)
        return rc;
    env->db_url = url_with_db(env->admin_url, env->dbname);
    if ((env->conn = mc_pg_connect(env->db_url, "motcua-test", err, errlen)) == NULL)
        return MC_EDB;
    if ((rc = mc_migrate(env->conn, mc_migrations_dir(), &applied, err, errlen)) != 0)
        return rc;
    if ((rc = mc_sql_dir(env->conn, mc_seed_dir(), &files, err, errlen)) != 0)
        return rc;
    if (applied == 0 || files == 0)
        return mc_err(err, errlen, MC_EIO, "no migrations (%d) or seed files (%d) found", applied,
                      files);
    return 0;
}

struct h_env *h_env_new(const char *name)
{
    const char *url = getenv("MOTCUA_TEST_PG_URL");
    struct h_env *env;
    char err[1024];

    if (url == NULL || *url == '\0') {
        fprintf(stderr, "MOTCUA_TEST_PG_URL is not set: run ./tests/run\n");
        return NULL;
    }
    /* Services log JSON lines; keep the test output to warnings and errors. */
    setenv("MOTCUA_LOG_LEVEL", "warn", 0);
    env = calloc(1, sizeof *env);
    snprintf(env->name, sizeof env->name, "%s", name);
    snprintf(env->dbname, sizeof env->dbname, "test_%s_%ld", name, (long)getpid());
    env->admin_url = strdup(url);
    uv_loop_init(&env->loop);
    if (setup_db(env, err, sizeof err) != 0 || setup_kafka(env, err, sizeof err) != 0) {
        fprintf(stderr, "harness: cannot set up %s: %s\n", name, err);
        h_env_free(env);
        return NULL;
    }
    return env;
}

void h_env_free(struct h_env *env)
{
    char sql[256], err[512];
    if (env == NULL)
        return;
    while (env->nservices > 0)
        h_service_free(env, env->services[env->nservices - 1]);
    for (int i = 0; i < env->nconfigs; i++) {
        mc_config_free(env->configs[i]);
        free(env->configs[i]);
    }
    for (int i = 0; i < H_MAX_GROUPS && env->checkers[i].rk; i++) {
        rd_kafka_destroy(env->checkers[i].rk);
        free(env->checkers[i].group);
    }
    if (env->producer) {
        rd_kafka_flush(env->producer, 5000);
        rd_kafka_destroy(env->producer);
    }
    if (env->real_broker) {
        struct mc_config cfg = {.kafka_brokers = env->bootstraps,
                                .kafka_props = (char *)"",
                                .topic_prefix = env->prefix};
        if (mc_topics_delete(&cfg, err, sizeof err) != 0)
            fprintf(stderr, "harness: %s\n", err);
    }
    if (env->mcluster)
        rd_kafka_mock_cluster_destroy(env->mcluster);
    if (env->anchor)
        rd_kafka_destroy(env->anchor);
    PQfinish(env->conn);
    if (env->admin) {
        snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", env->dbname);
        if (mc_pg_exec(env->admin, sql, 0, NULL, err, sizeof err) != 0)
            fprintf(stderr, "harness: %s\n", err);
        PQfinish(env->admin);
    }
    uv_run(&env->loop, UV_RUN_NOWAIT);
    uv_loop_close(&env->loop);
    free(env->bootstraps);
    free(env->admin_url);
    free(env->db_url);
    free(env);
}

/* ---- services ------------------------------------------------------------ */

struct mc_config *h_config_new(struct h_env *env, const char *service)
{
    struct mc_config *cfg = calloc(1, sizeof *cfg);
    char err[512];
    assert_true(env->nconfigs < (int)(sizeof env->configs / sizeof env->configs[0]));
    /* Through mc_config_load, so every key has its documented default. */
    unsetenv("MOTCUA_CONFIG_FILE");
    unsetenv("MOTCUA_GROUP_ID");
    unsetenv("MOTCUA_HTTP_PORT_FILE");
    setenv("MOTCUA_KAFKA_BROKERS", env->bootstraps, 1);
    setenv("MOTCUA_KAFKA_PROPS", env->real_broker ? H_KAFKA_PROPS : H_MOCK_KAFKA_PROPS, 1);
    setenv("MOTCUA_KAFKA_ASSIGNOR", "range,roundrobin", 1);
    setenv("MOTCUA_TOPIC_PREFIX", env->prefix, 1);
    setenv("MOTCUA_PG_URL", env->db_url, 1);
    setenv("MOTCUA_HTTP_ADDR", "127.0.0.1", 1);
    setenv("MOTCUA_HTTP_PORT", "0", 1);
    setenv("MOTCUA_BATCH_MAX", "100", 1);
    setenv("MOTCUA_CLOCK", "wall", 1);
    if (mc_config_load(cfg, service, err, sizeof err) != 0)
        fail_msg("configuration of %s: %s", service, err);
    env->configs[env->nconfigs++] = cfg;
    return cfg;
}

void h_config_set(char **field, const char *value)
{
    free(*field);
    *field = strdup(value);
}

struct mc_service *h_service_new(struct h_env *env, const struct mc_service_def *def,
                                 struct mc_config *cfg)
{
    char err[1024];
    struct mc_service *svc;
    assert_true(env->nservices < H_MAX_SERVICES);
    svc = mc_service_new(def, cfg, &env->loop, err, sizeof err);
    if (svc == NULL)
        fail_msg("cannot start %s: %s", def->name, err);
    env->services[env->nservices++] = svc;
    return svc;
}

void h_service_free(struct h_env *env, struct mc_service *svc)
{
    for (int i = 0; i < env->nservices; i++) {
        if (env->services[i] != svc)
            continue;
        memmove(&env->services[i], &env->services[i + 1],
                (size_t)(env->nservices - i - 1) * sizeof env->services[0]);
        env->nservices--;
        break;
    }
    mc_service_free(svc);
}

int h_step_all(struct h_env *env)
{
    int failures = 0, processed;
    for (int i = 0; i < env->nservices; i++)
        if (mc_service_step(env->services[i], &processed) != 0)
            failures++;
    env->failures += failures;
    return failures;
}

struct h_pump h_pump_start(struct h_env *env, int timeout_ms, const char *what, const char *file,
                           int line)
{
    struct h_pump pump = {env, now_ms() + (uint64_t)timeout_ms, what, file, line};
    return pump;
}

void h_pump_step(struct h_pump *pump)
{
    if (now_ms() > pump->deadline) {
        print_error("timed out waiting for: %s\n", pump->what);
        _fail(pump->file, pump->line);
    }
    if (h_step_all(pump->env) > 0 && !pump->env->tolerate_failures) {
        print_error("a service step failed while waiting for: %s (see the log above)\n",
                    pump->what);
        _fail(pump->file, pump->line);
    }
    /* The services' HTTP (the read side's event streams) lives on the loop. */
    uv_run(&pump->env->loop, UV_RUN_NOWAIT);
    usleep(10000);
}

void h_pump_for(struct h_env *env, int ms)
{
    uint64_t end = now_ms() + (uint64_t)ms;
    while (now_ms() < end) {
        if (h_step_all(env) > 0 && !env->tolerate_failures)
            fail_msg("a service step failed (see the log above)");
        usleep(10000);
    }
}

static int all_ready(struct h_env *env)
{
    for (int i = 0; i < env->nservices; i++)
        if (!mc_service_ready(env->services[i]))
            return 0;
    return 1;
}

void h_wait_ready(struct h_env *env, int timeout_ms)
{
    H_PUMP_UNTIL(env, timeout_ms, all_ready(env));
}

/* ---- Kafka --------------------------------------------------------------- */

void h_produce(struct h_env *env, const char *topic, const char *key, const void *payload,
               size_t len, int32_t *partition, int64_t *offset)
{
    char name[256];
    struct delivery d = {0, 0, -1, -1};
    rd_kafka_resp_err_t kerr;
    full_topic(env, topic, name, sizeof name);
    kerr = rd_kafka_producev(
        env->producer, RD_KAFKA_V_TOPIC(name), RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
        RD_KAFKA_V_VALUE((void *)payload, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_OPAQUE(&d), RD_KAFKA_V_END);
    if (kerr)
        fail_msg("produce to %s: %s", name, rd_kafka_err2str(kerr));
    rd_kafka_flush(env->producer, 15000);
    if (!d.done || d.err)
        fail_msg("produce to %s: %s", name,
                 d.done ? rd_kafka_err2str(d.err) : "no delivery report");
    if (partition)
        *partition = d.partition;
    if (offset)
        *offset = d.offset;
}

void h_produce_json(struct h_env *env, const char *topic, const char *key, const json_t *doc,
                    int32_t *partition, int64_t *offset)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    assert_non_null(text);
    h_produce(env, topic, key, text, strlen(text), partition, offset);
    free(text);
}

void h_tick(struct h_env *env, const char *now)
{
    char text[128];
    snprintf(text, sizeof text, "{\"now\":\"%s\"}", now);
    h_produce(env, "clock", NULL, text, strlen(text), NULL, NULL);
}

int64_t h_topic_count(struct h_env *env, const char *topic)
{
    char name[256];
    int64_t total = 0, lo, hi;
    int n = partitions_of(env, topic);
    full_topic(env, topic, name, sizeof name);
    for (int p = 0; p < n; p++) {
        rd_kafka_resp_err_t kerr =
            rd_kafka_query_watermark_offsets(env->producer, name, p, &lo, &hi, 10000);
        if (kerr)
            fail_msg("watermarks of %s [%d]: %s", name, p, rd_kafka_err2str(kerr));
        total += hi - lo;
    }
    return total;
}

json_t *h_read_topic(struct h_env *env, const char *topic, size_t min_count, int timeout_ms)
{
    char name[256], group[64];
    int n = partitions_of(env, topic), eofs = 0, eof[64] = {0};
    uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(n);
    json_t *out = json_array();
    rd_kafka_t *rk;

    full_topic(env, topic, name, sizeof name);
    while (h_topic_count(env, topic) < (int64_t)min_count && now_ms() < deadline)
        usleep(50000);
    snprintf(group, sizeof group, "motcua-test-reader-%ld", (long)getpid());
    rk = new_consumer(env, group);
    for (int p = 0; p < n; p++)
        rd_kafka_topic_partition_list_add(parts, name, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    if (rd_kafka_assign(rk, parts))
        fail_msg("assign %s", name);
    rd_kafka_topic_partition_list_destroy(parts);
    deadline = now_ms() + 20000;
    while (eofs < n && now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m == NULL)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (m->partition >= 0 && m->partition < 64 && !eof[m->partition]) {
                eof[m->partition] = 1;
                eofs++;
            }
        } else if (m->err) {
            fprintf(stderr, "harness: reading %s: %s\n", name, rd_kafka_message_errstr(m));
        } else {
            json_t *payload =
                m->payload ? json_loadb(m->payload, m->len, JSON_DECODE_ANY, NULL) : NULL;
            json_t *raw = m->payload ? json_stringn(m->payload, m->len) : NULL;
            json_array_append_new(
                out, json_pack("{s:o, s:i, s:I, s:o, s:o}", "key",
                               m->key ? json_stringn(m->key, m->key_len) : json_null(), "partition",
                               (int)m->partition, "offset", (json_int_t)m->offset, "payload",
                               payload ? payload : json_null(), "raw", raw ? raw : json_null()));
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    if (eofs < n)
        fail_msg("reading %s: only %d of %d partitions reached their end", name, eofs, n);
    return out;
}

json_t *h_select(const json_t *msgs, const char *path, const char *value)
{
    json_t *out = json_array(), *m;
    size_t i;
    json_array_foreach(msgs, i, m)
    {
        const char *v = mc_json_str(m, path);
        if (v && strcmp(v, value) == 0)
            json_array_append(out, m);
    }
    return out;
}

static rd_kafka_t *checker(struct h_env *env, const char *group)
{
    int i;
    for (i = 0; i < H_MAX_GROUPS && env->checkers[i].rk; i++)
        if (strcmp(env->checkers[i].group, group) == 0)
            return env->checkers[i].rk;
    assert_true(i < H_MAX_GROUPS);
    /* Never subscribes: it only asks the coordinator for committed offsets. */
    env->checkers[i].rk = new_consumer(env, group);
    env->checkers[i].group = strdup(group);
    return env->checkers[i].rk;
}

int h_offsets_committed(struct h_env *env, const char *group, const char *topic)
{
    char name[256];
    int n = partitions_of(env, topic), covered = 1;
    rd_kafka_t *rk = checker(env, group);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(n);
    rd_kafka_resp_err_t kerr;

    full_topic(env, topic, name, sizeof name);
    for (int p = 0; p < n; p++)
        rd_kafka_topic_partition_list_add(parts, name, p);
    if ((kerr = rd_kafka_committed(rk, parts, 10000)) != 0) {
        rd_kafka_topic_partition_list_destroy(parts);
        fail_msg("committed offsets of %s for %s: %s", group, name, rd_kafka_err2str(kerr));
    }
    for (int i = 0; i < parts->cnt; i++) {
        int64_t lo, hi;
        rd_kafka_topic_partition_t *tp = &parts->elems[i];
        if ((kerr = rd_kafka_query_watermark_offsets(env->producer, name, tp->partition, &lo, &hi,
                                                     10000)))
            fail_msg("watermarks of %s: %s", name, rd_kafka_err2str(kerr));
        if (hi > lo && tp->offset < hi)
            covered = 0;
    }
    rd_kafka_topic_partition_list_destroy(parts);
    return covered;
}

/* ---- SQL ----------------------------------------------------------------- */

static PGresult *vquery(PGconn *conn, const char *sql, va_list ap)
{
    const char *params[MAX_PARAMS];
    int n = 0;
    const char *p;
    char err[1024];
    PGresult *res;
    while ((p = va_arg(ap, const char *)) != NULL) {
        assert_true(n < MAX_PARAMS);
        params[n++] = p;
    }
    res = mc_pg_query(conn, sql, n, params, err, sizeof err);
    if (res == NULL)
        fail_msg("SQL failed: %s\n  in: %s", err, sql);
    return res;
}

long long h_sql_int(struct h_env *env, const char *sql, ...)
{
    va_list ap;
    PGresult *res;
    const char *v;
    long long n;
    va_start(ap, sql);
    res = vquery(env->conn, sql, ap);
    va_end(ap);
    v = mc_pg_value(res, 0, 0);
    if (v == NULL) {
        PQclear(res);
        fail_msg("SQL gave no value: %s", sql);
    }
    n = atoll(v);
    PQclear(res);
    return n;
}

char *h_cli(struct h_env *env, const char *args, int *status)
{
    const char *bin = getenv("MOTCUA_TEST_BIN_DIR");
    char cmd[1024], *out = NULL;
    size_t len = 0;
    FILE *p, *mem = open_memstream(&out, &len);
    int c;
    if (bin == NULL)
        fail_msg("MOTCUA_TEST_BIN_DIR is not set: run ./tests/run");
    setenv("MOTCUA_PG_URL", env->db_url, 1);
    snprintf(cmd, sizeof cmd, "'%s/tools/motcua' %s 2>&1", bin, args);
    if ((p = popen(cmd, "r")) == NULL)
        fail_msg("cannot run %s", cmd);
    while ((c = fgetc(p)) != EOF)
        fputc(c, mem);
    *status = pclose(p);
    fclose(mem);
    return out;
}

char *h_sql_text(struct h_env *env, const char *sql, ...)
{
    va_list ap;
    PGresult *res;
    const char *v;
    char *out;
    va_start(ap, sql);
    res = vquery(env->conn, sql, ap);
    va_end(ap);
    v = mc_pg_value(res, 0, 0);
    out = v ? strdup(v) : NULL;
    PQclear(res);
    return out;
}

void h_sql_exec(struct h_env *env, const char *sql, ...)
{
    va_list ap;
    va_start(ap, sql);
    PQclear(vquery(env->conn, sql, ap));
    va_end(ap);
}

void h_pg_setting(PGconn *conn, const char *name, char *out, size_t outlen)
{
    const char *params[1] = {name};
    PGresult *res =
        PQexecParams(conn, "SELECT current_setting($1)", 1, NULL, params, NULL, NULL, 0);
    snprintf(out, outlen, "%s",
             PQresultStatus(res) == PGRES_TUPLES_OK ? PQgetvalue(res, 0, 0) : "");
    PQclear(res);
}

void h_admin_exec(struct h_env *env, const char *sql, ...)
{
    va_list ap;
    va_start(ap, sql);
    PQclear(vquery(env->admin, sql, ap));
    va_end(ap);
}

/* ---- small checks -------------------------------------------------------- */

void h_uuid(char out[H_UUID_LEN])
{
    static unsigned counter;
    static unsigned long long salt;
    if (salt == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        salt = ((unsigned long long)ts.tv_nsec << 20) ^ (unsigned long long)ts.tv_sec ^
               ((unsigned long long)getpid() << 32);
    }
    counter++;
    snprintf(out, H_UUID_LEN, "%08x-%04x-4%03x-8%03x-%012llx", (unsigned)getpid(),
             (counter >> 24) & 0xffff, (counter >> 12) & 0xfff, counter & 0xfff,
             salt & 0xffffffffffffULL);
}

int h_matches(const char *re, const char *s)
{
    regex_t rx;
    int ok;
    if (s == NULL)
        return 0;
    if (regcomp(&rx, re, REG_EXTENDED | REG_NOSUB) != 0)
        fail_msg("bad regular expression %s", re);
    ok = regexec(&rx, s, 0, NULL, 0) == 0;
    regfree(&rx);
    return ok;
}

char *h_base64(const void *bytes, size_t n)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = bytes;
    char *out = malloc(4 * ((n + 2) / 3) + 1), *o = out;
    size_t i;
    for (i = 0; i + 2 < n; i += 3) {
        *o++ = tbl[p[i] >> 2];
        *o++ = tbl[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
        *o++ = tbl[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)];
        *o++ = tbl[p[i + 2] & 63];
    }
    if (i < n) {
        *o++ = tbl[p[i] >> 2];
        if (i + 1 < n) {
            *o++ = tbl[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
            *o++ = tbl[(p[i + 1] & 15) << 2];
        } else {
            *o++ = tbl[(p[i] & 3) << 4];
            *o++ = '=';
        }
        *o++ = '=';
    }
    *o = '\0';
    return out;
}

void h_assert_schema(const json_t *doc, const char *name)
{
    char err[512];
    json_t *problems = NULL;
    struct mc_schema *schema = mc_schema_load_named(name, err, sizeof err);
    if (schema == NULL)
        fail_msg("schema %s: %s", name, err);
    if (mc_schema_validate(schema, doc, &problems) != 0) {
        char *p = json_dumps(problems, JSON_COMPACT), *d = json_dumps(doc, JSON_COMPACT);
        print_error("not a valid %s: %s\n  document: %s\n", name, p ? p : "?", d ? d : "?");
        free(p);
        free(d);
        json_decref(problems);
        mc_schema_free(schema);
        fail();
    }
    mc_schema_free(schema);
}

void h_assert_str_at(const json_t *doc, const char *path, const char *expected, const char *file,
                     int line)
{
    const char *v = mc_json_str(doc, path);
    if (expected == NULL ? v == NULL : v != NULL && strcmp(v, expected) == 0)
        return;
    print_error("%s is \"%s\", expected \"%s\"\n", path, v ? v : "(absent or not a string)",
                expected ? expected : "(null)");
    _fail(file, line);
}

/* ---- event builders ------------------------------------------------------ */

static json_t *sql_json(struct h_env *env, const char *sql, const char *param)
{
    char *text = h_sql_text(env, sql, param, NULL);
    json_t *doc;
    if (text == NULL)
        fail_msg("no catalog row for %s", param);
    doc = json_loads(text, 0, NULL);
    free(text);
    assert_non_null(doc);
    return doc;
}

/* The unit as events carry it: a deputy signs on the Chairman's behalf,
 * which the events' v1 vocabulary says as city_chairman. */
json_t *h_unit_json(struct h_env *env, const char *unit_code)
{
    return sql_json(env,
                    "SELECT json_build_object('code', code, 'name', name, 'kind', kind, "
                    "'head_title', head_title, 'head_name', head_name, 'signer_policy', "
                    "CASE signer_policy WHEN 'city_deputy' THEN 'city_chairman' ELSE "
                    "signer_policy END)::text FROM catalog.unit WHERE code = $1",
                    unit_code);
}

static json_t *applicant(void)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "kind", "citizen", "name", "Nguyễn Thị Lan",
                     "id_number", "017190000123", "phone", "0912345678", "email",
                     "lan.nguyen@example.vn", "address",
                     "Số 12 đường Cù Chính Lan, phường Phương Lâm, thành phố Hòa Bình");
}

json_t *h_received_event(struct h_env *env, const char *code, const char *procedure_code,
                         const char *ward_code, const char *received_at, const char *due_at)
{
    char id[H_UUID_LEN], external_id[128];
    json_t *procedure = sql_json(env,
                                 "SELECT json_build_object('code', code, 'name', name, 'field', "
                                 "field, 'level', level, 'time', time_amount || time_unit)::text "
                                 "FROM catalog.procedure WHERE code = $1",
                                 procedure_code);
    json_t *ward = h_unit_json(env, ward_code);
    char *agency =
        h_sql_text(env, "SELECT agency_id FROM catalog.unit WHERE code = $1", ward_code, NULL);
    json_t *ev;
    h_uuid(id);
    snprintf(external_id, sizeof external_id, "EXT-%s", code);
    ev = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:o, s:s, s:n, s:s, s:o, s:n, s:[], "
        "s:[s], s:s, s:s, s:s, s:s, s:{s:s, s:s}}}",
        "event_id", id, "type", "dossier.received", "occurred_at", received_at, "producer",
        "motcua-intake", "dossier_code", code, "data", "source", "dvc-hoabinh", "external_id",
        external_id, "channel", "counter", "procedure", procedure, "ward_code", ward_code,
        "reception_point", "receiving_agency", agency, "applicant", applicant(), "summary",
        "documents", "notify_channels", "email", "submitted_at", received_at, "received_at",
        received_at, "receipt_at", received_at, "due_at", due_at, "rule_set", "code", "ND61-2018",
        "supplement_policy", "pause");
    free(agency);
    json_decref(ward);
    assert_non_null(ev);
    h_assert_schema(ev, "dossier-received.v1");
    return ev;
}

json_t *h_assigned_event(struct h_env *env, const char *code, const char *procedure_code,
                         const char *ward_code, const char *unit_code, const char *assigned_at,
                         const char *due_at)
{
    char id[H_UUID_LEN];
    json_t *ev;
    h_uuid(id);
    ev = json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:o, s:s, s:s, s:s, s:s, s:s, s:i}}", "event_id",
                   id, "type", "dossier.assigned", "occurred_at", assigned_at, "producer",
                   "motcua-router", "dossier_code", code, "data", "unit",
                   h_unit_json(env, unit_code), "procedure_code", procedure_code, "ward_code",
                   ward_code, "assigned_at", assigned_at, "due_at", due_at, "reason", "rule",
                   "rule_id", 1);
    assert_non_null(ev);
    h_assert_schema(ev, "dossier-assigned.v1");
    return ev;
}

json_t *h_update_event(const char *code, const char *status, const char *unit_code,
                       const char *occurred_at)
{
    char id[H_UUID_LEN];
    json_t *ev;
    h_uuid(id);
    ev = json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s}}", "event_id", id, "type",
                   "dossier.update", "occurred_at", occurred_at, "producer", "unit-software",
                   "dossier_code", code, "data", "status", status, "unit_code", unit_code,
                   "officer", "Cán bộ Đỗ Thị Hoa");
    assert_non_null(ev);
    return ev;
}

/* ---- HTTP ---------------------------------------------------------------- */

struct http_call {
    int port;
    const char *path;
    char response[65536];
    size_t len;
    atomic_int done;
};

static void *http_thread(void *arg)
{
    struct http_call *call = arg;
    struct sockaddr_in addr;
    struct timeval tv = {5, 0};
    char req[512];
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ssize_t n;

    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)call->port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0) {
        snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                 call->path);
        if (send(fd, req, strlen(req), 0) == (ssize_t)strlen(req))
            while (call->len < sizeof call->response - 1 &&
                   (n = recv(fd, call->response + call->len, sizeof call->response - 1 - call->len,
                             0)) > 0)
                call->len += (size_t)n;
    }
    if (fd >= 0)
        close(fd);
    call->response[call->len] = '\0';
    atomic_store(&call->done, 1);
    return NULL;
}

int h_http_request(struct h_env *env, int port, const char *path, char *head, size_t headlen,
                   char *body, size_t bodylen)
{
    struct http_call *call = calloc(1, sizeof *call);
    pthread_t thread;
    int status = -1;
    const char *b;
    call->port = port;
    call->path = path;
    atomic_init(&call->done, 0);
    if (pthread_create(&thread, NULL, http_thread, call) != 0)
        fail_msg("pthread_create: %s", strerror(errno));
    /* The services' HTTP server lives on env's loop: run it meanwhile. */
    while (!atomic_load(&call->done)) {
        uv_run(&env->loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
    pthread_join(thread, NULL);
    uv_run(&env->loop, UV_RUN_NOWAIT);
    if (sscanf(call->response, "HTTP/1.%*d %d", &status) != 1)
        status = -1;
    b = strstr(call->response, "\r\n\r\n");
    if (head && headlen)
        snprintf(head, headlen, "%.*s", b ? (int)(b - call->response) : 0, call->response);
    if (body && bodylen)
        snprintf(body, bodylen, "%s", b ? b + 4 : "");
    free(call);
    return status;
}

int h_http_get(struct h_env *env, int port, const char *path, char *body, size_t bodylen)
{
    return h_http_request(env, port, path, NULL, 0, body, bodylen);
}
