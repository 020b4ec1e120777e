#!/usr/bin/env bash
# The container image (issue 12): builds the Containerfile with podman from
# a copy of the source, on the base deploy/container/base.sh makes with
# debootstrap (no registry is reachable here; cached between runs), prints
# the image's size, and runs the smoke with every service in its own
# container on the test stack (loopback, --network=host): migrations and
# topics from the image's CLI, the five services ready, their health check,
# non-root, twenty sample submissions received, routed and projected by the
# read side, a lookup answered, and each container stopping with exit 0 on
# SIGTERM.
#
#   bash tests/e2e/container.sh <build dir>   (the build dir is not used)
#
# Needs podman (with runc), debootstrap, MOTCUA_TEST_PG_URL and the broker
# of ./tests/run (MOTCUA_TEST_KAFKA_BROKERS).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$here/lib.sh"
# shellcheck source=deploy/local/lib.sh
. "$root/deploy/local/lib.sh"

for tool in podman debootstrap psql curl; do
    if ! command -v "$tool" >/dev/null; then
        echo "container: $tool is not installed (tests/run installs it)" >&2
        echo "e2e: 0 passed, 1 failed" >&2
        exit 1
    fi
done
if [ -z "${MOTCUA_TEST_PG_URL:-}" ] || [ -z "${MOTCUA_TEST_KAFKA_BROKERS:-}" ]; then
    echo "container: needs MOTCUA_TEST_PG_URL and MOTCUA_TEST_KAFKA_BROKERS (./tests/run sets them)" >&2
    echo "e2e: 0 passed, 1 failed" >&2
    exit 1
fi

# podman on these machines: runc (crun fails on this cgroup setup), the
# host's network (no bridges), explicit limits (podman's defaults are
# refused; the open files at most this shell's), and the health check kept
# but not scheduled (podman schedules it with systemd timers, and systemd
# is not PID 1 here): `podman healthcheck run` runs it.
PODMAN_RUN=(--runtime /usr/sbin/runc --network=host --ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)"
    --ulimit nproc=4096:4096 --health-interval disable)
image=localhost/motcua:e2e-$$
tmp=$(mktemp -d "${TMPDIR:-/tmp}/motcua-container.XXXXXX")
chmod 755 "$tmp"
E2E_DB=e2e_container_$$
pg_base=${MOTCUA_TEST_PG_URL%%\?*}
E2E_DB_URL=${pg_base%/*}/$E2E_DB
pg_hostport=${pg_base#*://}
pg_hostport=${pg_hostport#*@}
pg_hostport=${pg_hostport%%/*}
containers=()
db_created=

# shellcheck disable=SC2317 # reached through the trap
finish() {
    local status=0 c
    for c in "${containers[@]}"; do
        podman rm -f -t 0 "$c" >/dev/null 2>&1 || true
    done
    podman rmi -f "$image" >/dev/null 2>&1 || true
    [ -z "$db_created" ] || sql_admin "DROP DATABASE IF EXISTS $E2E_DB WITH (FORCE)" >/dev/null 2>&1
    e2e_verdict || status=1
    if [ "$status" -ne 0 ]; then
        for c in "$tmp"/*.log; do
            [ -f "$c" ] && { printf '\n--- %s (end)\n' "$c" >&2; tail -n 30 "$c" >&2; }
        done
    fi
    rm -rf "$tmp"
    e2e_exit "$status"
}
e2e_traps finish

# in_image ARG...: a program of the image, on the test stack.
in_image() {
    podman run --rm -i "${PODMAN_RUN[@]}" -e MOTCUA_PG_URL="$E2E_DB_URL" \
        -e MOTCUA_KAFKA_BROKERS="$MOTCUA_TEST_KAFKA_BROKERS" -e MOTCUA_TOPIC_PREFIX="$prefix" \
        -e MOTCUA_TOPIC_PARTITIONS=3 "$image" "$@" 2>>"$tmp/cli.log"
}

e2e_log "the base image (debootstrap, cached)"
"$root/deploy/container/base.sh" >"$tmp/base.log" 2>&1 || e2e_abort "deploy/container/base.sh failed"
e2e_log "podman build (from a copy of the source)"
e2e_copy_source "$root" "$tmp/src" || e2e_abort "copy the source"
# The docker format: OCI images have no HEALTHCHECK.
if podman build --runtime /usr/sbin/runc --network=host --format docker -t "$image" \
    -f "$tmp/src/Containerfile" \
    "$tmp/src" >"$tmp/build.log" 2>&1; then
    size=$(podman image inspect --format '{{.Size}}' "$image")
    e2e_pass "podman build: $image, $((size / 1024 / 1024)) MiB"
else
    e2e_abort "podman build (see build.log)"
fi
rm -rf "$tmp/src"
check_eq "the image runs as the non-root user motcua (uid 10001)" 10001 \
    "$(podman run --rm "${PODMAN_RUN[@]}" "$image" id -u)"
check_eq "its stop signal is SIGTERM" SIGTERM \
    "$(podman image inspect --format '{{.Config.StopSignal}}' "$image")"

sql_admin "CREATE DATABASE $E2E_DB" >/dev/null || e2e_abort "cannot create database $E2E_DB"
db_created=1
prefix="e2e-container-$$."
check "motcua migrate, from the image" in_image motcua migrate
check "motcua catalog load, from the image" in_image motcua catalog load
check "motcua topics apply, from the image" in_image motcua topics apply

declare -A port=()
for svc in "${MOTCUA_SERVICES[@]}"; do
    port[$svc]=$(free_port)
    name=motcua-e2e-$$-$svc
    if podman run -d --name "$name" "${PODMAN_RUN[@]}" \
        -e MOTCUA_PG_URL="postgresql://motcua_$svc@$pg_hostport/$E2E_DB" \
        -e MOTCUA_KAFKA_BROKERS="$MOTCUA_TEST_KAFKA_BROKERS" -e MOTCUA_TOPIC_PREFIX="$prefix" \
        -e MOTCUA_KAFKA_PROPS="session.timeout.ms=6000,heartbeat.interval.ms=1000" \
        -e MOTCUA_HTTP_ADDR=127.0.0.1 -e MOTCUA_HTTP_PORT="${port[$svc]}" \
        "$image" "motcua-$svc" >/dev/null 2>"$tmp/$svc.log"; then
        containers+=("$name")
    else
        e2e_abort "podman run motcua-$svc"
    fi
done
for svc in "${MOTCUA_SERVICES[@]}"; do
    must "motcua-$svc in its container answers 200 on /readyz" 90 \
        curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:${port[$svc]}/readyz"
done
check "the image's health check passes (motcua-api)" podman healthcheck run "motcua-e2e-$$-api"

in_image motcua sample submissions --month 2024-03 --count 20 --seed 3 >"$tmp/submissions.tsv" ||
    e2e_abort "motcua sample submissions"
in_image motcua produce submissions <"$tmp/submissions.tsv" >/dev/null 2>>"$tmp/cli.log" ||
    e2e_abort "motcua produce submissions"
must "the twenty submissions answered, the dossiers routed and projected by the read side" 60 \
    sql_true "SELECT (SELECT count(*) FROM intake.dossier) + (SELECT count(*) FROM intake.rejection) = 20
                 AND (SELECT count(*) FROM routing.assignment) = (SELECT count(*) FROM intake.dossier)
                 AND (SELECT count(*) FROM api.dossier WHERE unit_code IS NOT NULL)
                     = (SELECT count(*) FROM intake.dossier)
                 AND (SELECT count(*) FROM intake.dossier) > 0"
IFS='|' read -r code id_number < <(sql "SELECT code, submission->'applicant'->>'id_number'
    FROM intake.dossier ORDER BY code LIMIT 1")
check "the read side in its container answers a lookup" \
    grep -q "\"code\": *\"$code\"" <<<"$(curl -fsS "http://127.0.0.1:${port[api]}/v1/dossiers/$code?id_number=$id_number")"

for svc in "${MOTCUA_SERVICES[@]}"; do
    podman stop -t 40 "motcua-e2e-$$-$svc" >/dev/null 2>&1
    check_eq "motcua-$svc's container stops on SIGTERM with exit 0" 0 \
        "$(podman inspect --format '{{.State.ExitCode}}' "motcua-e2e-$$-$svc")"
    podman logs "motcua-e2e-$$-$svc" >"$tmp/$svc.log" 2>&1 || true
done
