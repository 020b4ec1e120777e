/* motcua-devkafka: the embedded Kafka broker for development, demos and tests,
 * a librdkafka mock cluster (real Kafka protocol, in memory, loopback only)
 * with every motcua topic created before its bootstrap list is published. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "motcua/error.h"
#include "motcua/log.h"
#include "motcua/topics.h"

struct options {
    int brokers;
    int partitions;
    const char *prefix;
    const char *bootstrap_file;
    const char *pid_file;
};

static void usage(FILE *out)
{
    fprintf(out, "usage: motcua-devkafka --bootstrap-file PATH [options]\n"
                 "\n"
                 "Runs an in-memory Kafka cluster (librdkafka mock cluster) on 127.0.0.1 with\n"
                 "every motcua topic, writes its bootstrap servers to PATH once the topics\n"
                 "exist, and serves until SIGTERM or SIGINT (then removes PATH and exits 0).\n"
                 "\n"
                 "  --bootstrap-file PATH  where to write the bootstrap list (required)\n"
                 "  --brokers N            brokers in the cluster (default 3)\n"
                 "  --partitions N         partitions per topic, except <prefix>clock: 1\n"
                 "                         (default 6)\n"
                 "  --prefix P             topic name prefix (default \"motcua.\")\n"
                 "  --pid-file PATH        write the process id here (optional)\n"
                 "  --help                 this text\n"
                 "\n"
                 "Environment: MOTCUA_LOG_LEVEL=debug|info|warn|error (default info).\n");
}

static int parse_count(const char *arg, const char *what, int max, int *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(arg, &end, 10);
    if (errno != 0 || end == arg || *end != '\0' || v < 1 || v > max) {
        fprintf(stderr, "motcua-devkafka: --%s must be an integer in 1..%d, not \"%s\"\n", what,
                max, arg);
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* Returns 0 to run, 1 to exit 0 (help), -1 to exit 2 (usage error). */
static int parse_options(int argc, char **argv, struct options *opt)
{
    enum { OPT_BROKERS = 1, OPT_PARTITIONS, OPT_PREFIX, OPT_BOOTSTRAP, OPT_PID, OPT_HELP };
    static const struct option longopts[] = {
        {"brokers", required_argument, NULL, OPT_BROKERS},
        {"partitions", required_argument, NULL, OPT_PARTITIONS},
        {"prefix", required_argument, NULL, OPT_PREFIX},
        {"bootstrap-file", required_argument, NULL, OPT_BOOTSTRAP},
        {"pid-file", required_argument, NULL, OPT_PID},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    int c;

    opt->brokers = 3;
    opt->partitions = 6;
    opt->prefix = "motcua.";
    opt->bootstrap_file = NULL;
    opt->pid_file = NULL;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_BROKERS:
            if (parse_count(optarg, "brokers", 64, &opt->brokers) != 0)
                return -1;
            break;
        case OPT_PARTITIONS:
            if (parse_count(optarg, "partitions", 10000, &opt->partitions) != 0)
                return -1;
            break;
        case OPT_PREFIX:
            opt->prefix = optarg;
            break;
        case OPT_BOOTSTRAP:
            opt->bootstrap_file = optarg;
            break;
        case OPT_PID:
            opt->pid_file = optarg;
            break;
        case 'h':
        case OPT_HELP:
            usage(stdout);
            return 1;
        default:
            usage(stderr);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "motcua-devkafka: unexpected argument \"%s\"\n", argv[optind]);
        return -1;
    }
    if (opt->bootstrap_file == NULL || opt->bootstrap_file[0] == '\0') {
        fprintf(stderr, "motcua-devkafka: --bootstrap-file is required\n");
        usage(stderr);
        return -1;
    }
    return 0;
}

/* Writes content to path atomically: a reader sees the whole file or none. */
static int write_file_atomic(const char *path, const char *content, char *err, size_t errlen)
{
    char tmp[PATH_MAX];
    size_t len = strlen(content), off = 0;
    int fd, rc = 0;

    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= sizeof(tmp))
        return mc_err(err, errlen, MC_EINVAL, "path too long: %s", path);
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
        return mc_err(err, errlen, MC_EIO, "open %s: %s", tmp, strerror(errno));
    while (off < len) {
        ssize_t w = write(fd, content + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            rc = mc_err(err, errlen, MC_EIO, "write %s: %s", tmp, strerror(errno));
            break;
        }
        off += (size_t)w;
    }
    if (rc == 0 && fsync(fd) != 0)
        rc = mc_err(err, errlen, MC_EIO, "fsync %s: %s", tmp, strerror(errno));
    if (close(fd) != 0 && rc == 0)
        rc = mc_err(err, errlen, MC_EIO, "close %s: %s", tmp, strerror(errno));
    if (rc == 0 && rename(tmp, path) != 0)
        rc = mc_err(err, errlen, MC_EIO, "rename %s to %s: %s", tmp, path, strerror(errno));
    if (rc != 0)
        unlink(tmp);
    return rc;
}

/* librdkafka logs from its own threads; mc_log writes each line with one
 * write(2), so lines do not interleave. */
static void on_rdkafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    enum mc_log_level lvl = level <= 3   ? MC_LOG_ERROR
                            : level == 4 ? MC_LOG_WARN
                            : level <= 6 ? MC_LOG_INFO
                                         : MC_LOG_DEBUG;

    /* The anchor handle has no bootstrap.servers on purpose. */
    if (strcmp(fac, "CONFWARN") == 0 && strstr(buf, "bootstrap.servers") != NULL)
        lvl = MC_LOG_DEBUG;
    mc_log_kv(lvl, buf, "source", "librdkafka", "facility", fac, NULL);
}

/* Every topic of the table (common/topics.c), planned as `motcua topics
 * apply` plans it; --partitions stands for MOTCUA_TOPIC_PARTITIONS. */
static int create_topics(rd_kafka_mock_cluster_t *mcluster, const struct options *opt, char *err,
                         size_t errlen)
{
    struct mc_config cfg = {.topic_prefix = (char *)opt->prefix,
                            .topic_partitions = opt->partitions,
                            .topic_replication = 3};
    struct mc_topic_plan plan;

    if (strlen(opt->prefix) > 200)
        return mc_err(err, errlen, MC_EINVAL, "topic prefix too long: %s", opt->prefix);
    for (size_t i = 0; i < mc_topic_count; i++) {
        rd_kafka_resp_err_t kerr;
        mc_topic_plan(&cfg, &mc_topics[i], opt->brokers, &plan);
        kerr = rd_kafka_mock_topic_create(mcluster, plan.name, plan.partitions, plan.replication);
        if (kerr != RD_KAFKA_RESP_ERR_NO_ERROR)
            return mc_err(err, errlen, MC_EKAFKA, "create topic %s: %s", plan.name,
                          rd_kafka_err2str(kerr));
    }
    return 0;
}

/* Blocks until SIGTERM or SIGINT; returns the signal. */
static int wait_for_stop(const sigset_t *stop_signals)
{
    int sig = 0;

    while (sigwait(stop_signals, &sig) != 0)
        ;
    return sig;
}

int main(int argc, char **argv)
{
    struct options opt;
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_t *rk = NULL;
    rd_kafka_mock_cluster_t *mcluster = NULL;
    sigset_t stop_signals;
    char err[512] = "", num_brokers[16], num_partitions[16], pid[32];
    const char *bootstraps;
    int rc, sig, exit_code = 1, wrote_bootstrap = 0, wrote_pid = 0;

    rc = parse_options(argc, argv, &opt);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    mc_log_init("devkafka");

    /* Block the stop signals before librdkafka starts its threads, so that
     * they are inherited blocked and only sigwait() below receives them. */
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

    conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, on_rdkafka_log);
    if (rd_kafka_conf_set(conf, "client.id", "motcua-devkafka", err, sizeof(err)) !=
        RD_KAFKA_CONF_OK) {
        mc_log_kv(MC_LOG_ERROR, "librdkafka configuration failed", "error", err, NULL);
        goto out;
    }
    /* The handle only anchors the mock cluster; it never connects anywhere. */
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (rk == NULL) {
        mc_log_kv(MC_LOG_ERROR, "librdkafka handle failed", "error", err, NULL);
        goto out;
    }
    conf = NULL; /* rd_kafka_new took it */
    mcluster = rd_kafka_mock_cluster_new(rk, opt.brokers);
    if (mcluster == NULL) {
        mc_log_kv(MC_LOG_ERROR, "mock cluster failed to start", NULL);
        goto out;
    }
    if (create_topics(mcluster, &opt, err, sizeof(err)) != 0) {
        mc_log_kv(MC_LOG_ERROR, "topic creation failed", "error", err, NULL);
        goto out;
    }
    bootstraps = rd_kafka_mock_cluster_bootstraps(mcluster);

    if (opt.pid_file != NULL) {
        snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
        if (write_file_atomic(opt.pid_file, pid, err, sizeof(err)) != 0) {
            mc_log_kv(MC_LOG_ERROR, "cannot write pid file", "error", err, NULL);
            goto out;
        }
        wrote_pid = 1;
    }
    /* Last: readers take the file's existence to mean "topics are there". */
    if (write_file_atomic(opt.bootstrap_file, bootstraps, err, sizeof(err)) != 0) {
        mc_log_kv(MC_LOG_ERROR, "cannot write bootstrap file", "error", err, NULL);
        goto out;
    }
    wrote_bootstrap = 1;
    snprintf(num_brokers, sizeof(num_brokers), "%d", opt.brokers);
    snprintf(num_partitions, sizeof(num_partitions), "%d", opt.partitions);
    mc_log_kv(MC_LOG_INFO, "embedded kafka ready", "bootstrap", bootstraps, "brokers", num_brokers,
              "partitions", num_partitions, "prefix", opt.prefix, "bootstrap_file",
              opt.bootstrap_file, NULL);

    sig = wait_for_stop(&stop_signals);
    mc_log_kv(MC_LOG_INFO, "stopping", "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT", NULL);
    exit_code = 0;

out:
    /* The bootstrap list goes first, so nobody picks up a dying cluster. */
    if (wrote_bootstrap && unlink(opt.bootstrap_file) != 0)
        mc_log_kv(MC_LOG_WARN, "cannot remove bootstrap file", "error", strerror(errno), NULL);
    if (mcluster != NULL)
        rd_kafka_mock_cluster_destroy(mcluster);
    if (rk != NULL)
        rd_kafka_destroy(rk);
    if (conf != NULL)
        rd_kafka_conf_destroy(conf);
    if (wrote_pid)
        unlink(opt.pid_file);
    if (exit_code == 0)
        mc_log_info("stopped");
    return exit_code;
}
