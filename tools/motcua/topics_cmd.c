/* `motcua topics`: provision and show motcua's topics from the one table in
 * common/topics.c (apply, list). */
#include "topics_cmd.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "motcua/topics.h"

static int usage(FILE *out)
{
    fprintf(out, "usage: motcua topics apply [--dry-run] [--wait-brokers N] [--timeout S]\n"
                 "       motcua topics list [--format markdown|tsv] [--brokers N]\n\n"
                 "apply   creates every missing topic of the table on MOTCUA_KAFKA_BROKERS (with\n"
                 "        MOTCUA_TOPIC_PREFIX, MOTCUA_TOPIC_PARTITIONS, MOTCUA_TOPIC_REPLICATION\n"
                 "        capped at the cluster size) and waits until each has leaders; existing\n"
                 "        topics that differ from the table are reported as drift, never changed.\n"
                 "        --wait-brokers N first waits (up to --timeout S, default 60) until the\n"
                 "        cluster lists N brokers. Exit 0: all as planned; 1: drift or failure.\n"
                 "list    prints the table as planned for a cluster of N brokers (default 3).\n");
    return out == stderr ? 2 : 0;
}

static int parse_positive(const char *arg, const char *what, int *out)
{
    char *end;
    long v = strtol(arg, &end, 10);
    if (end == arg || *end != '\0' || v < 1 || v > 100000) {
        fprintf(stderr, "motcua topics: %s must be a positive integer, not \"%s\"\n", what, arg);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int cmd_apply(const struct mc_config *cfg, int argc, char **argv)
{
    static const struct option opts[] = {{"dry-run", no_argument, NULL, 'n'},
                                         {"wait-brokers", required_argument, NULL, 'w'},
                                         {"timeout", required_argument, NULL, 't'},
                                         {NULL, 0, NULL, 0}};
    int dry_run = 0, wait_brokers = 0, timeout_s = 60, drift = 0, c;
    char err[1024];
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'n')
            dry_run = 1;
        else if (c == 'w' && parse_positive(optarg, "--wait-brokers", &wait_brokers) == 0)
            continue;
        else if (c == 't' && parse_positive(optarg, "--timeout", &timeout_s) == 0)
            continue;
        else
            return usage(stderr);
    }
    if (optind != argc)
        return usage(stderr);
    if (wait_brokers > 0 &&
        mc_topics_wait_brokers(cfg, wait_brokers, timeout_s * 1000, err, sizeof err) != 0) {
        fprintf(stderr, "motcua topics apply: %s\n", err);
        return 1;
    }
    if (mc_topics_apply(cfg, dry_run, stdout, &drift, err, sizeof err) != 0) {
        fprintf(stderr, "motcua topics apply: %s\n", err);
        return 1;
    }
    if (drift > 0) {
        fprintf(stderr,
                "motcua topics apply: %d difference(s) from the topic table; change the "
                "topics by hand or the table, then run again\n",
                drift);
        return 1;
    }
    return 0;
}

static int cmd_list(const struct mc_config *cfg, int argc, char **argv)
{
    static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
                                         {"brokers", required_argument, NULL, 'b'},
                                         {NULL, 0, NULL, 0}};
    const char *format = "tsv";
    int brokers = 3, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'f')
            format = optarg;
        else if (c == 'b' && parse_positive(optarg, "--brokers", &brokers) == 0)
            continue;
        else
            return usage(stderr);
    }
    if (optind != argc || mc_topics_print(cfg, format, brokers, stdout) != 0)
        return usage(stderr);
    return 0;
}

int mc_cli_topics(const struct mc_config *cfg, int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "apply") == 0)
        return cmd_apply(cfg, argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "list") == 0)
        return cmd_list(cfg, argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
        return usage(stdout);
    return usage(stderr);
}
