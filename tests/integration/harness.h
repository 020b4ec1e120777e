/* Integration-test harness: a fresh PostgreSQL database with the migrations
 * and the sample catalog, motcua's topics under a prefix of the test's own
 * on the Apache Kafka broker tests/run started (MOTCUA_TEST_KAFKA_BROKERS),
 * or on an in-process librdkafka mock cluster when that is unset, and helpers that produce, read
 * topics back, query SQL and step services in-process (mc_service_step) until something holds.
 *
 * Helpers that cannot do their job fail the running cmocka test (they are
 * meant for test bodies and fixtures only). */
#ifndef MOTCUA_TEST_HARNESS_H
#define MOTCUA_TEST_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <uv.h>

#include "motcua/config.h"
#include "motcua/service.h"

#define H_MAX_SERVICES 8
#define H_MAX_GROUPS 8
#define H_JOIN_TIMEOUT_MS 60000 /* group joins on the mock cluster take seconds */
#define H_TIMEOUT_MS 30000      /* default wait for an effect after a join */
/* The broker's smallest session timeout, so a test that drops a member
 * without leaving waits 6 s, not 10. */
#define H_KAFKA_PROPS "session.timeout.ms=6000,heartbeat.interval.ms=1000"
/* The mock cluster holds empty fetches for fetch.wait.max.ms: keep it short. */
#define H_MOCK_KAFKA_PROPS "session.timeout.ms=6000,heartbeat.interval.ms=1000,fetch.wait.max.ms=20"
#define H_UUID_LEN 37

struct h_group_checker {
    char *group;
    rd_kafka_t *rk;
};

struct h_env {
    char name[64];
    char dbname[128];
    char *admin_url;    /* MOTCUA_TEST_PG_URL: a superuser on the server's postgres database */
    char *db_url;       /* the same server, the test's own database */
    PGconn *admin;      /* connection to admin_url (create/drop database, outages) */
    PGconn *conn;       /* connection to the test database */
    char prefix[128];   /* topic prefix of this environment: test-<name>-<pid>-<n>. */
    int real_broker;    /* 1: MOTCUA_TEST_KAFKA_BROKERS; topics deleted at the end */
    rd_kafka_t *anchor; /* the handle the mock cluster lives on (no real broker) */
    rd_kafka_mock_cluster_t *mcluster;
    char *bootstraps;
    rd_kafka_t *producer;                          /* the tests' own producer */
    rd_kafka_t *reader;                            /* assign-only consumer for h_read_topic */
    struct h_group_checker checkers[H_MAX_GROUPS]; /* consumers asking for committed offsets */
    uv_loop_t loop;
    struct mc_service *services[H_MAX_SERVICES]; /* stepped by the pumps */
    struct mc_config *configs[H_MAX_SERVICES * 2];
    int nservices, nconfigs;
    int tolerate_failures; /* 0: a failing mc_service_step inside a pump fails the test */
    int failures;          /* failing steps seen by the pumps */
};

/* Creates the environment for the test program name: database
 * test_<name>_<pid> migrated and seeded, every topic under a fresh prefix.
 * Returns NULL (after printing why) when it cannot, e.g. when
 * MOTCUA_TEST_PG_URL is not set. Free with h_env_free. */
struct h_env *h_env_new(const char *name);
/* Frees services and configs, deletes the topics (or destroys the mock
 * cluster), drops the database. */
void h_env_free(struct h_env *env);

/* A configuration for service from mc_config_load (every default), pointed
 * at the test's topics and database: wall clock, batch_max 100,
 * HTTP port 0, group motcua-<service>, eager assignor. Adjust fields before
 * h_service_new (string fields with h_config_set). Owned by env. */
struct mc_config *h_config_new(struct h_env *env, const char *service);
/* Replaces a string field of a config (frees the old value). */
void h_config_set(char **field, const char *value);

/* Starts a service in-process (not its loop); env steps it in the pumps and
 * frees it at the end. Fails the test when it cannot start. */
struct mc_service *h_service_new(struct h_env *env, const struct mc_service_def *def,
                                 struct mc_config *cfg);
/* Frees a service now (leaves its group, commits stored offsets). */
void h_service_free(struct h_env *env, struct mc_service *svc);
/* Steps every service once; returns how many steps failed. */
int h_step_all(struct h_env *env);

/* Pumping: step every service of env every ~10 ms until cond holds; the test
 * fails when timeout_ms passes first. cond is re-evaluated each round. */
struct h_pump {
    struct h_env *env;
    uint64_t deadline;
    const char *what, *file;
    int line;
};
struct h_pump h_pump_start(struct h_env *env, int timeout_ms, const char *what, const char *file,
                           int line);
void h_pump_step(struct h_pump *pump);
#define H_PUMP_UNTIL(env, timeout_ms, cond)                                                        \
    do {                                                                                           \
        struct h_pump h_pump_ = h_pump_start((env), (timeout_ms), #cond, __FILE__, __LINE__);      \
        while (!(cond))                                                                            \
            h_pump_step(&h_pump_);                                                                 \
    } while (0)
/* Steps every service for ms milliseconds (to show nothing more happens). */
void h_pump_for(struct h_env *env, int ms);
/* Pumps until every service is ready (database and group joined). */
void h_wait_ready(struct h_env *env, int timeout_ms);

/* Produces one message to the logical topic ("submissions") and waits for
 * its delivery; partition and offset (may be NULL) get where it went. */
void h_produce(struct h_env *env, const char *topic, const char *key, const void *payload,
               size_t len, int32_t *partition, int64_t *offset);
/* Same with a JSON document (borrowed), serialised compactly. */
void h_produce_json(struct h_env *env, const char *topic, const char *key, const json_t *doc,
                    int32_t *partition, int64_t *offset);
/* Publishes a clock tick {"now": now} on <prefix>clock. */
void h_tick(struct h_env *env, const char *now);

/* Messages in the logical topic (sum over partitions of high - low). */
int64_t h_topic_count(struct h_env *env, const char *topic);
/* Reads every message of the logical topic from the beginning, waiting up to
 * timeout_ms for at least min_count. Returns a new array of objects
 * {"key": string|null, "partition", "offset", "payload": parsed JSON or null,
 * "raw": the bytes as a string, or null when not UTF-8}. */
json_t *h_read_topic(struct h_env *env, const char *topic, size_t min_count, int timeout_ms);
/* The messages whose value at path (e.g. "payload/dossier_code", "key") is
 * the string value. New array; the elements are shared with msgs. */
json_t *h_select(const json_t *msgs, const char *path, const char *value);

/* The full name of a logical topic in this environment (its prefix added),
 * as services write it in dead letters. Returns buf. */
char *h_topic_name(struct h_env *env, const char *logical, char *buf, size_t len);
/* 1 when group's committed offsets cover every message of the logical topic
 * (committed == high watermark on each partition), else 0. */
int h_offsets_committed(struct h_env *env, const char *group, const char *topic);

/* SQL on the test database with text parameters ending in NULL:
 * h_sql_int(env, "SELECT count(*) FROM t WHERE a = $1", "x", NULL).
 * h_sql_int fails the test on an error or a NULL/missing value;
 * h_sql_text returns a malloc'd string or NULL for no row / SQL NULL. */
long long h_sql_int(struct h_env *env, const char *sql, ...);
/* Runs `motcua ARGS` (shell words) on the test database; returns its
 * output, stdout and stderr (caller frees), and its exit status in *status. */
char *h_cli(struct h_env *env, const char *args, int *status);
char *h_sql_text(struct h_env *env, const char *sql, ...);
void h_sql_exec(struct h_env *env, const char *sql, ...);
/* The same on the admin connection (server-wide statements). */
void h_admin_exec(struct h_env *env, const char *sql, ...);

/* The value of setting NAME on conn (a service's own connection, e.g. as
 * its init sees it), or "" when it cannot be read. */
void h_pg_setting(PGconn *conn, const char *name, char *out, size_t outlen);

/* A fresh random-looking uuid (lower-case hex). */
void h_uuid(char out[H_UUID_LEN]);
/* 1 when s matches the POSIX extended regular expression re. */
int h_matches(const char *re, const char *s);
/* Base64 of bytes (malloc'd), as the dead-letter records carry them. */
char *h_base64(const void *bytes, size_t len);
/* Fails the test unless doc is valid against schemas/<name>.schema.json. */
void h_assert_schema(const json_t *doc, const char *name);
/* Asserts the string at path of doc equals expected (NULL: JSON null/absent). */
#define h_assert_str(doc, path, expected)                                                          \
    h_assert_str_at((doc), (path), (expected), __FILE__, __LINE__)
void h_assert_str_at(const json_t *doc, const char *path, const char *expected, const char *file,
                     int line);

/* Event builders (new references, valid against their schemas).
 * A dossier.received as motcua-intake publishes it, for procedure (from the
 * catalog) and ward, with the given instants (RFC 3339). */
json_t *h_received_event(struct h_env *env, const char *code, const char *procedure_code,
                         const char *ward_code, const char *received_at, const char *due_at);
/* A dossier.assigned to unit_code (catalog fields), reason "rule". */
json_t *h_assigned_event(struct h_env *env, const char *code, const char *procedure_code,
                         const char *ward_code, const char *unit_code, const char *assigned_at,
                         const char *due_at);
/* A dossier.update from a unit: status, at occurred_at; add data fields
 * (reason, new_due_at, to_unit_code) to the result as needed. */
json_t *h_update_event(const char *code, const char *status, const char *unit_code,
                       const char *occurred_at);
/* The catalog row of a unit as the "unit" object of events. */
json_t *h_unit_json(struct h_env *env, const char *unit_code);

/* GET http://127.0.0.1:port/path while running env's loop (which serves the
 * services' HTTP). Returns the status (or -1) and copies the body. */
int h_http_get(struct h_env *env, int port, const char *path, char *body, size_t bodylen);
/* The same, also copying the status line and headers (lines joined by
 * CRLF) into head. Responses up to 64 KiB. */
int h_http_request(struct h_env *env, int port, const char *path, char *head, size_t headlen,
                   char *body, size_t bodylen);

#endif
