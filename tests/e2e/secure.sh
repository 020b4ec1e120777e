#!/usr/bin/env bash
# End-to-end pass on a secured stack (issue 11): PostgreSQL that accepts
# only TLS with scram-sha-256 passwords (pg_hba hostssl), an Apache Kafka
# node whose clients connect with SASL_SSL (SCRAM-SHA-512 over TLS), both
# with certificates of a throwaway CA made here with openssl; the five
# services and the CLI with MOTCUA_REQUIRE_TLS=1, verifying the servers'
# certificates and names (sslmode=verify-full, ssl.ca.location).
#
#   bash tests/e2e/secure.sh <build dir>
#
# SCRAM against Kafka 4 needs librdkafka 2.6.1 or later (docs/kafka.md) and
# Debian 12 has 2.0.2: the test builds librdkafka 2.12.0 from source
# (deploy/librdkafka/build, cached) and motcua's programs against it, in a
# tree of its own; the build dir given is only checked to be built.
#
# Checks: MOTCUA_REQUIRE_TLS=1 refuses plaintext settings (a service exits
# 2 naming the setting, before connecting); the database refuses a
# plaintext connection and a wrong password, Kafka a wrong password; a
# wave of sample submissions is received, assigned, breaches after a tick
# past their due dates and gets its apology letters; every service session
# in pg_stat_ssl is encrypted; the read side answers a lookup and shows
# the breaches on its board. Starts its own PostgreSQL and Kafka (free
# loopback ports, a temporary directory) and stops them by pid.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=tests/e2e/lib.sh
. "$here/lib.sh"
# shellcheck source=deploy/local/lib.sh
. "$root/deploy/local/lib.sh"
set +e # lib.sh's callers handle failures themselves

if [ $# -ne 1 ] || [ ! -d "$1" ]; then
    echo "usage: bash secure.sh <build dir>" >&2
    exit 2
fi
if ! e2e_binaries "$1"; then
    echo "e2e: 0 passed, 1 failed"
    exit 1
fi
if ! command -v java >/dev/null 2>&1; then
    echo "secure: needs Java for Apache Kafka (MOTCUA_BROKER=devkafka machines skip it)" >&2
    echo "e2e: 0 passed, 1 failed"
    exit 1
fi
E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/motcua-secure.XXXXXX")
chmod 755 "$E2E_TMP"
tls=$E2E_TMP/tls
pg=$E2E_TMP/pg
broker=$E2E_TMP/broker
pgpass=$(head -c 12 /dev/urandom | base64 | tr '+/' '-_')

# shellcheck disable=SC2317 # reached through the trap
finish() {
    local status=$?
    trap - EXIT INT TERM
    stop_all
    "$root/deploy/kafka/broker" stop "$broker" >/dev/null 2>&1
    stop_pg "$pg" "$E2E_TMP/pg.pid" >/dev/null 2>&1
    remove_pg "$pg" >/dev/null 2>&1
    if [ "$E2E_FAILED" -gt 0 ] || [ "$status" -ne 0 ]; then
        [ "$E2E_FAILED" -gt 0 ] || e2e_fail "the test stopped with status $status"
        printf '\nfailed:\n' >&2
        printf '  - %s\n' "${E2E_FAILURES[@]}" >&2
        dump_logs
        e2e_log "logs kept in $E2E_TMP"
        rm -rf "$broker/kafka"
        status=1
    else
        rm -rf "$E2E_TMP"
    fi
    e2e_exit "$status"
}
e2e_traps finish

# ---- motcua built against a librdkafka with working SCRAM -------------------
e2e_log "motcua against librdkafka from source (in $E2E_TMP)"
rdkafka=$("$root/deploy/librdkafka/build" 2>>"$E2E_TMP/build.log") ||
    e2e_abort "could not build librdkafka (log: $E2E_TMP/build.log)"
export PKG_CONFIG_PATH=$rdkafka/lib/pkgconfig
{ cmake -S "$root" -B "$E2E_TMP/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
    cmake --build "$E2E_TMP/build" -j2 --target programs; } >>"$E2E_TMP/build.log" 2>&1 ||
    e2e_abort "could not build motcua against $rdkafka (log: $E2E_TMP/build.log)"
e2e_binaries "$E2E_TMP/build" || e2e_abort "the build against $rdkafka is incomplete"
check "the services run on that librdkafka" \
    grep -q "librdkafka.so.1 => $rdkafka/lib/" <<<"$(ldd "$E2E_SVC_DIR/motcua-intake")"

# ---- PostgreSQL: TLS and passwords only --------------------------------------
e2e_log "PostgreSQL with TLS, Kafka with SASL_SSL"
make_test_tls "$tls"
port=$(free_port)
start_pg "$pg" "$port" "$E2E_TMP/pg.pid" 2>>"$E2E_TMP/pg.log" || e2e_abort "PostgreSQL did not start"
port=$(pg_port_of "$pg")
pgdir=$(pg_realdir "$pg")
psql -X -q -h 127.0.0.1 -p "$port" -U "$MOTCUA_PG_SUPERUSER" -d postgres \
    -c "ALTER ROLE $MOTCUA_PG_SUPERUSER PASSWORD '$pgpass'" -c "CREATE DATABASE secure" >/dev/null ||
    e2e_abort "cannot prepare the database"
pg_run install -m 600 "$tls/server.pem" "$pgdir/tls-server.pem"
pg_run install -m 600 "$tls/server.key" "$pgdir/tls-server.key"
pg_run tee -a "$pgdir/postgresql.conf" >/dev/null <<EOF
ssl = on
ssl_cert_file = 'tls-server.pem'
ssl_key_file = 'tls-server.key'
password_encryption = 'scram-sha-256'
EOF
pg_run tee "$pgdir/pg_hba.conf" >/dev/null <<<"hostssl all all 127.0.0.1/32 scram-sha-256"
pg_run "$(pg_bindir)/pg_ctl" -D "$pgdir" -w reload >/dev/null
sleep 0.5

ca=$tls/ca.pem
pg_url() { # pg_url USER PASSWORD
    printf 'postgresql://%s:%s@localhost:%s/secure?sslmode=verify-full&sslrootcert=%s\n' \
        "$1" "$2" "$port" "$ca"
}
export MOTCUA_PG_URL
MOTCUA_PG_URL=$(pg_url "$MOTCUA_PG_SUPERUSER" "$pgpass")
E2E_DB_URL=$MOTCUA_PG_URL
PATH=$(pg_bindir):$PATH

check "the database refuses a plaintext connection" \
    bash -c "! psql -X -q -At 'postgresql://$MOTCUA_PG_SUPERUSER:$pgpass@127.0.0.1:$port/secure?sslmode=disable' -c 'SELECT 1' 2>/dev/null"
check "the database refuses a wrong password" \
    bash -c "! psql -X -q -At '$(pg_url "$MOTCUA_PG_SUPERUSER" wrong)' -c 'SELECT 1' 2>/dev/null"
check_eq "the test itself talks TLS to the database" t "$(sql "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")"

# ---- Kafka: SASL_SSL -----------------------------------------------------------
MOTCUA_KAFKA_SECURE=1 MOTCUA_KAFKA_NODES=1 "$root/deploy/kafka/broker" start "$broker" \
    2>>"$E2E_TMP/broker.log" || e2e_abort "the secure Kafka did not start (log: $E2E_TMP/broker.log)"
export MOTCUA_KAFKA_BROKERS MOTCUA_KAFKA_PROPS
MOTCUA_KAFKA_BROKERS=$(tr -d ' \n' <"$broker/run/kafka.secure-bootstrap")
client_props=$(tr -d '\n' <"$broker/tls/client.props")
check "clients authenticate with SCRAM-SHA-512" grep -q "sasl.mechanisms=SCRAM-SHA-512," <<<"$client_props"
MOTCUA_KAFKA_PROPS="$client_props,session.timeout.ms=6000,heartbeat.interval.ms=1000"
export MOTCUA_TOPIC_PREFIX="secure-$$." MOTCUA_CLOCK=topic MOTCUA_TOPIC_PARTITIONS=2
unset MOTCUA_CONFIG_FILE MOTCUA_GROUP_ID MOTCUA_HTTP_PORT

# ---- MOTCUA_REQUIRE_TLS refuses plaintext settings --------------------------------
export MOTCUA_REQUIRE_TLS=1
out=$(MOTCUA_PG_URL="postgresql://x@localhost:$port/secure" "$E2E_SVC_DIR/motcua-intake" 2>&1)
status=$?
check_eq "MOTCUA_REQUIRE_TLS=1: a service with a plaintext database URL exits 2" 2 "$status"
check "... naming sslmode=verify-full" grep -q "MOTCUA_PG_URL must say sslmode=verify-full" <<<"$out"
out=$(MOTCUA_KAFKA_PROPS="session.timeout.ms=6000" "$E2E_SVC_DIR/motcua-router" 2>&1)
status=$?
check_eq "MOTCUA_REQUIRE_TLS=1: a service with plaintext Kafka exits 2" 2 "$status"
check "... naming security.protocol" grep -q "security.protocol=ssl or security.protocol=sasl_ssl" <<<"$out"
out=$(MOTCUA_KAFKA_PROPS="session.timeout.ms=6000" mc count received 2>&1)
check "MOTCUA_REQUIRE_TLS=1: the CLI refuses plaintext too" \
    grep -q "security.protocol=ssl or security.protocol=sasl_ssl" <<<"$out"

# ---- the pipeline over TLS ----------------------------------------------------------
mc migrate >"$E2E_TMP/cli.log" 2>&1 || e2e_abort "motcua migrate over TLS failed"
mc catalog load >>"$E2E_TMP/cli.log" 2>&1 || e2e_abort "motcua catalog load over TLS failed"
mc topics apply >>"$E2E_TMP/cli.log" 2>&1
check_eq "motcua topics apply over SASL_SSL" 0 "$?"
out=$(MOTCUA_KAFKA_PROPS="${client_props/sasl.password=/sasl.password=wrong}" mc topics apply 2>&1)
check "Kafka refuses a wrong SCRAM password" grep -qi "authentication\|SASL" <<<"$out"

declare -A svcpass=()
for svc in intake router deadline notify api; do
    svcpass[$svc]=$(head -c 12 /dev/urandom | base64 | tr '+/' '-_')
    sql "ALTER ROLE motcua_$svc PASSWORD '${svcpass[$svc]}'" >/dev/null ||
        e2e_abort "cannot set the password of motcua_$svc"
done
# start_service (lib.sh) connects each service as its own role.
service_pg_url() { pg_url "motcua_$1" "${svcpass[$1]}"; }
for svc in intake router deadline notify api; do
    start_service "$svc"
done
for svc in intake router deadline notify api; do
    must "motcua-$svc ready over TLS" 60 ready "$svc"
done

tick "2026-10-01T00:00:00+07:00"
mc sample submissions --month 2026-10 --count 20 --seed 3 2>>"$E2E_TMP/cli.log" |
    mc produce submissions 2>>"$E2E_TMP/cli.log"
must "20 dossiers received and assigned over TLS" 90 \
    sql_is 20 "SELECT count(*) FROM routing.assignment"
must "20 deadline clocks with their unit" 60 \
    sql_is 20 "SELECT count(*) FROM deadline.clock WHERE received AND unit IS NOT NULL"
tick "2027-03-01T17:30:00+07:00"
must "every dossier breached, once" 90 \
    sql_is 20 "SELECT count(*) FROM deadline.ledger WHERE kind = 'overdue' AND rung = 'overdue'"
must "an apology letter for each breach" 90 sql_is 20 "SELECT count(*) FROM notify.letter"
must "the read side saw the 20 breaches" 60 sql_is 20 "SELECT count(*) FROM api.dossier WHERE late"
IFS='|' read -r lookup_code lookup_id < <(sql "SELECT code, submission->'applicant'->>'id_number'
    FROM intake.dossier ORDER BY code LIMIT 1")
lookup=$(curl -fsS "http://127.0.0.1:${E2E_PORT[api]}/v1/dossiers/$lookup_code?id_number=$lookup_id")
check "the read side's lookup answers the dossier, late" \
    grep -q "\"code\": *\"$lookup_code\".*\"late\": *true" <<<"$(tr -d '\n' <<<"$lookup")"
check "... with its apology letter's number" grep -q '"document_number": *"[0-9]*/PXL-' <<<"$lookup"
check_eq "every motcua session in the database is encrypted" "0 5" \
    "$(sql "SELECT count(*) FILTER (WHERE NOT s.ssl) || ' ' || count(DISTINCT a.usename)
            FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
            WHERE a.usename LIKE 'motcua\_%'")"
