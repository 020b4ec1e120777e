#!/usr/bin/env bash
# Writes docs/topics.md from the topic table in common/topics.c, through
# `motcua topics list --format markdown` (the table's only reader of record).
# Usage: tools/gen/topics_doc.sh [BUILD_DIR] [OUTPUT]  (default build/,
# docs/topics.md; OUTPUT - for stdout). tests/contract/topics.sh checks that
# the committed file is what this prints.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${1:-$root/build}
out=${2:-$root/docs/topics.md}
cli=$build/tools/motcua
[ -x "$cli" ] || {
    echo "topics_doc: $cli is not built" >&2
    exit 1
}

render() {
    cat <<'HEAD'
# Topics

Generated from the topic table in `common/topics.c` by
`tools/gen/topics_doc.sh`; do not edit by hand. What travels on each topic,
its key, producers and consumer groups: `schemas/asyncapi.yaml`.

`motcua topics apply` creates these on the cluster at `MOTCUA_KAFKA_BROKERS`
(names with the default prefix `motcua.`; `MOTCUA_TOPIC_PREFIX` changes it).
Topics whose partitions say `MOTCUA_TOPIC_PARTITIONS` get that many (default
6): a service runs at most that many instances usefully, so choose it for
the largest deployment you expect; partitions can be added later (`apply`
reports the shortfall as drift) but a dossier's events then move to another
partition, so add them only with producers stopped and every consumer caught
up. On a cluster with fewer brokers than the replication factor, replication
is capped at the cluster size and `min.insync.replicas` below it (at least
1), so one node for development gets replication 1.

The largest message is what a consumer of the topic accepts, checked before
any parser sees the bytes: a bigger one is answered to its portal
(`submissions`) and dead-lettered unparsed. `MOTCUA_MESSAGE_MAX_BYTES`
lowers every limit (never raises one). Producers keep well under them: a
dead letter, the largest message of all, holds at most 384 KiB of the
original bytes (512 KiB in base64) and a text copy of at most 256 KiB.

HEAD
    env -u MOTCUA_TOPIC_PREFIX -u MOTCUA_TOPIC_PARTITIONS -u MOTCUA_TOPIC_REPLICATION \
        -u MOTCUA_CONFIG_FILE "$cli" topics list --format markdown
}

if [ "$out" = - ]; then
    render
else
    render >"$out.tmp"
    mv "$out.tmp" "$out"
fi
