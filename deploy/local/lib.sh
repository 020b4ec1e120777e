# shellcheck shell=bash
# Shared functions of the embedded stack: sourced by deploy/local/{up,down,demo}
# and tests/run. Defines functions and the variables below only; starts nothing.

MOTCUA_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MOTCUA_BUILD_DIR=${MOTCUA_BUILD_DIR:-$MOTCUA_ROOT/build}
# Where up, down and the demo keep the stack (default .motcua/ in the
# checkout; the board's browser test runs a demo of its own elsewhere).
MOTCUA_STATE_DIR=${MOTCUA_STATE_DIR:-$MOTCUA_ROOT/.motcua}
# The services of the stack, in start order: the four of the pipeline, the
# read side and the reference notification sender.
# shellcheck disable=SC2034 # used by the scripts that source this file
MOTCUA_SERVICES=(intake router deadline notify api sender)
# The unprivileged system user that runs PostgreSQL when we are root, and the
# name of the cluster's superuser in every case.
MOTCUA_PG_OS_USER=motcua
MOTCUA_PG_SUPERUSER=motcua

mc_say() { printf '%s\n' "$*" >&2; }

# Where motcua-sender delivers on this machine (deploy/local/up): an SMTP
# server writing into STATE/mail and an endpoint standing for the SMS and
# Zalo gateways (deploy/local/sinks/), the print queue STATE/print; letters
# signed with a throwaway certificate of the city (STATE/signer). Exports
# the sender's MOTCUA_SENDER_* settings. start_sinks STATE
start_sinks() {
    local state=$1 name port
    mkdir -p "$state/run" "$state/log" "$state/mail" "$state/print"
    for name in smtp gateway; do
        if pid_alive "$state/run/$name.pid" python3 && [ -s "$state/run/$name.port" ]; then
            continue
        fi
        port=$(free_port) || return 1
        printf '%s\n' "$port" >"$state/run/$name.port"
        case $name in
        smtp)
            spawn "$state/run/smtp.pid" "$state/log/smtp.log" /usr/bin/python3 \
                "$MOTCUA_ROOT/deploy/local/sinks/smtp_sink.py" "$port" "$state/mail" \
                "$state/run/smtp.ready" || return 1
            ;;
        gateway)
            [ -f "$state/gateway-script.json" ] || echo '{}' >"$state/gateway-script.json"
            spawn "$state/run/gateway.pid" "$state/log/gateway.log" /usr/bin/python3 \
                "$MOTCUA_ROOT/deploy/local/sinks/gateway_sink.py" "$port" \
                "$state/gateway-script.json" "$state/gateway-requests.jsonl" \
                "$state/run/gateway.ready" || return 1
            ;;
        esac
    done
    [ -s "$state/sender.secret" ] ||
        head -c 24 /dev/urandom | base64 | tr '+/' '-_' >"$state/sender.secret"
    make_test_signer "$state/signer" || return 1
    MOTCUA_SENDER_SMTP_URL="smtp://127.0.0.1:$(<"$state/run/smtp.port")"
    MOTCUA_SENDER_SMS_URL="http://127.0.0.1:$(<"$state/run/gateway.port")/sms"
    MOTCUA_SENDER_ZALO_URL="http://127.0.0.1:$(<"$state/run/gateway.port")/zalo"
    MOTCUA_SENDER_WEBHOOK_SECRET=$(<"$state/sender.secret")
    export MOTCUA_SENDER_SMTP_URL MOTCUA_SENDER_SMS_URL MOTCUA_SENDER_ZALO_URL
    export MOTCUA_SENDER_WEBHOOK_SECRET MOTCUA_SENDER_MAIL_FROM=mot-cua@hoabinh.example.vn
    export MOTCUA_SENDER_PRINT_DIR=$state/print
    export MOTCUA_SENDER_SIGNING_CERT=$state/signer/signer.pem
    export MOTCUA_SENDER_SIGNING_KEY=$state/signer/signer.key
}

# stop_sinks STATE: stops what start_sinks started.
stop_sinks() {
    stop_pid "$1/run/smtp.pid" python3
    stop_pid "$1/run/gateway.pid" python3
    rm -f "$1/run/smtp.port" "$1/run/gateway.port"
}
mc_die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# Runs a command as root: directly when we are root, else through sudo.
mc_as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        mc_die "need root for: $* (run as root or install sudo)"
    fi
}

# Installs the Debian packages the build, the stack and the tests need, and
# only those that are missing; `apt-get update` runs once, first.
ensure_packages() {
    local pkgs=(build-essential cmake pkg-config librdkafka-dev libpq-dev libjansson-dev
        libuv1-dev libh2o-dev libcmocka-dev libunistring-dev libcurl4-openssl-dev postgresql curl
        ca-certificates
        json-schema-test-suite clang libclang-rt-dev python3-confluent-kafka python3-psycopg2
        openssl python3-venv chromium fonts-noto-core prometheus podman runc debootstrap
        libssl-dev libsasl2-dev zlib1g-dev python3-aiosmtpd libpango1.0-dev libcairo2-dev
        poppler-utils)
    # python3-venv, chromium and fonts-noto-core: the read side's tests
    # (tests/api); prometheus: its promtool (tests/contract/prometheus.sh);
    # podman, runc, debootstrap: the container image's test
    # (tests/e2e/container.sh); libssl-dev, libsasl2-dev, zlib1g-dev:
    # librdkafka built from source for SCRAM (deploy/librdkafka/build,
    # tests/e2e/secure.sh); python3-aiosmtpd: the SMTP server of the
    # sender's test (tests/e2e/sender.sh); libpango1.0-dev, libcairo2-dev:
    # the letters as PDF (letters/), poppler-utils: their text in the tests.
    local missing=() p
    for p in "${pkgs[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$p")
        fi
    done
    # Node.js and npm (for the independent JSON Schema validator in the
    # tests) only when absent: a NodeSource node conflicts with Debian's npm.
    command -v node >/dev/null 2>&1 || missing+=(nodejs)
    command -v npm >/dev/null 2>&1 || missing+=(npm)
    # kubectl (its kustomize) for tests/contract/k8s.sh, only when absent: a
    # cloud SDK's kubectl conflicts with Debian's package.
    command -v kubectl >/dev/null 2>&1 || missing+=(kubernetes-client)
    # Apache Kafka runs on Java 17 with jars fetched by Maven; whatever Java
    # the machine has is used when there is one.
    if [ "$(broker_kind)" = kafka ]; then
        command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)
        command -v mvn >/dev/null 2>&1 || missing+=(maven)
    fi
    [ "${#missing[@]}" -eq 0 ] && return 0
    mc_say "installing Debian packages: ${missing[*]}"
    if [ -z "${MC_APT_UPDATED:-}" ]; then
        mc_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
        MC_APT_UPDATED=1
    fi
    mc_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends "${missing[@]}"
    # The prometheus package is here for its promtool; under systemd its
    # install starts a Prometheus server on :9090, which we do not want.
    if [[ " ${missing[*]} " == *" prometheus "* ]] && [ -d /run/systemd/system ] &&
        systemctl is-active --quiet prometheus 2>/dev/null; then
        mc_say "stopping and disabling the Prometheus server the prometheus package started" \
            "(only its promtool is used)"
        mc_as_root systemctl disable --now prometheus || true
    fi
}

# Configures (when there is no build tree yet, or MOTCUA_CMAKE_ARGS asks for
# options) and builds; cmake decides what is out of date.
build() {
    local extra=()
    if [ -n "${MOTCUA_CMAKE_ARGS:-}" ]; then
        read -r -a extra <<<"$MOTCUA_CMAKE_ARGS"
    fi
    if [ ! -f "$MOTCUA_BUILD_DIR/CMakeCache.txt" ] || [ "${#extra[@]}" -gt 0 ]; then
        cmake -S "$MOTCUA_ROOT" -B "$MOTCUA_BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
            "${extra[@]}" >&2
    fi
    cmake --build "$MOTCUA_BUILD_DIR" -j2 >&2
}

# Prints a TCP port on which nothing listens on 127.0.0.1, below the
# kernel's range of ephemeral ports (ip_local_port_range, 32768-60999 by
# default): a port in that range may be taken by any outgoing connection
# between this check and the server's bind.
free_port() {
    local i port low=32768 span
    read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
    [[ "$low" =~ ^[0-9]+$ ]] && [ "$low" -gt 12000 ] || low=32768
    span=$((low - 10000))
    for ((i = 0; i < 200; i++)); do
        port=$((10000 + ((RANDOM << 15) | RANDOM) % span))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            printf '%s\n' "$port"
            return 0
        fi
    done
    mc_say "no free port found"
    return 1
}

# 0 if something accepts connections on 127.0.0.1:$1.
port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# 0 if the pid in PIDFILE runs (not a zombie) and, when NAME is given, its
# program (argv[0]) contains NAME. A stale pid file is not trusted further.
pid_alive() {
    local pidfile=$1 name=${2:-} pid state argv0
    [ -f "$pidfile" ] || return 1
    pid=$(<"$pidfile")
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [ -r "/proc/$pid/stat" ] || return 1
    state=$(sed -e 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1) || return 1
    [ "$state" != Z ] || return 1
    if [ -n "$name" ]; then
        argv0=$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | head -n1) || return 1
        [[ "$argv0" == *"$name"* ]] || return 1
    fi
    return 0
}

# jit_ticks PIDFILE...: CPU time so far (clock ticks) of the JIT compiler
# threads ("C1 CompilerThre", "C2 CompilerThre") of the JVMs in the pid
# files: what a broker spent compiling itself rather than serving (0 for
# devkafka, a C program). The JVM retires idle compiler threads and their
# ticks go with them: a lower bound, and a difference of two may be < 0.
jit_ticks() {
    local f t sum=0
    for f in "$@"; do
        [ -f "$f" ] || continue
        for t in /proc/"$(<"$f")"/task/*; do
            case $(cat "$t/comm" 2>/dev/null) in
            C[12]\ CompilerThre*)
                sum=$((sum + $(awk '{ print $14 + $15 }' "$t/stat" 2>/dev/null || echo 0)))
                ;;
            esac
        done
    done
    echo "$sum"
}

# Stops the process whose pid is in PIDFILE: SIGTERM, up to 30 s, then
# SIGKILL; only that pid. NAME, if given, must match its program (so a stale
# pid file never kills a stranger). Removes the pid file. Harmless if gone.
stop_pid() {
    local pidfile=$1 name=${2:-} pid i
    [ -f "$pidfile" ] || return 0
    if pid_alive "$pidfile" "$name"; then
        pid=$(<"$pidfile")
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 300; i++)); do
            pid_alive "$pidfile" || break
            sleep 0.1
        done
        if pid_alive "$pidfile"; then
            mc_say "pid $pid ($(basename "$pidfile" .pid)) did not stop in 30 s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            for ((i = 0; i < 50; i++)); do
                pid_alive "$pidfile" || break
                sleep 0.1
            done
        fi
    fi
    rm -f "$pidfile"
}

# Starts a program in its own session (so ^C in the caller's terminal does not
# reach it) with output to LOGFILE; the program itself writes its pid to
# PIDFILE before it execs. Usage: spawn PIDFILE LOGFILE PROGRAM [ARG...]
spawn() {
    local pidfile=$1 logfile=$2 i
    shift 2
    rm -f "$pidfile"
    # shellcheck disable=SC2016 # $$ and $@ expand in the child shell
    setsid bash -c 'echo $$ >"$0.tmp" && mv "$0.tmp" "$0" && exec "$@"' "$pidfile" "$@" \
        </dev/null >>"$logfile" 2>&1 &
    disown "$!" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        [ -s "$pidfile" ] && return 0
        sleep 0.05
    done
    mc_say "could not start $1 (see $logfile)"
    return 1
}

# Makes DIR/ca.pem (a throwaway certificate authority, 30 days) and
# DIR/server.pem with DIR/server.key, a server certificate it signed for
# 127.0.0.1 and localhost, for tests of TLS on loopback. Kept if present.
# The key is readable by all (tests copy it where a server wants it, with
# the owner and mode that server requires).
make_test_tls() {
    local dir=$1
    [ -s "$dir/server.pem" ] && return 0
    mkdir -p "$dir"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/ca.key" -out "$dir/ca.pem" \
        -days 30 -subj "/CN=motcua test CA" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout "$dir/server.key" -out "$dir/server.csr" \
        -subj "/CN=localhost" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$dir/san.ext"
    openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
        -CAcreateserial -out "$dir/server.pem" -days 30 -extfile "$dir/san.ext" 2>/dev/null
    chmod 644 "$dir/server.key" "$dir/ca.pem" "$dir/server.pem"
    chmod 755 "$dir"
}

# make_test_signer DIR: a throwaway CA of the city (ca.pem) and a signer's
# certificate and key it issued (signer.pem, signer.key: digitalSignature,
# nonRepudiation, emailProtection), for signing letters in tests and the
# demo (MOTCUA_SENDER_SIGNING_CERT, _KEY). Kept when DIR has them.
make_test_signer() {
    local dir=$1
    [ -s "$dir/signer.pem" ] && return 0
    mkdir -p "$dir"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/ca.key" -out "$dir/ca.pem" \
        -days 30 -utf8 -subj "/O=motcua/CN=CA thử nghiệm của thành phố (không dùng thật)" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
        2>/dev/null || return 1
    openssl req -newkey rsa:2048 -nodes -keyout "$dir/signer.key" -out "$dir/signer.csr" \
        -utf8 -subj "/O=motcua/CN=Chủ tịch Ủy ban nhân dân thành phố (thử nghiệm)" 2>/dev/null ||
        return 1
    printf '%s\n' basicConstraints=CA:FALSE keyUsage=critical,digitalSignature,nonRepudiation \
        extendedKeyUsage=emailProtection >"$dir/signer.ext"
    openssl x509 -req -in "$dir/signer.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
        -CAcreateserial -out "$dir/signer.pem" -days 30 -extfile "$dir/signer.ext" 2>/dev/null
}

# The directory of the PostgreSQL server programs: Debian's newest
# /usr/lib/postgresql/N/bin, else wherever initdb is on PATH.
pg_bindir() {
    local d best=
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/initdb" ] || continue
        if [ -z "$best" ] || [ "$(basename "$(dirname "$d")")" -gt "$(basename "$(dirname "$best")")" ]; then
            best=$d
        fi
    done
    if [ -z "$best" ] && command -v initdb >/dev/null 2>&1; then
        best=$(dirname "$(command -v initdb)")
    fi
    [ -n "$best" ] || mc_die "PostgreSQL server programs not found (package postgresql)"
    printf '%s\n' "$best"
}

# Runs a command as the user that owns the clusters: motcua when we are root
# (PostgreSQL refuses to run as root), ourselves otherwise. From / so that an
# unreadable working directory (/root) does not matter.
pg_run() {
    if [ "$(id -u)" -eq 0 ]; then
        (cd / && runuser -u "$MOTCUA_PG_OS_USER" -- "$@")
    else
        (cd / && "$@")
    fi
}

# Creates the unprivileged system user motcua if it does not exist (root only).
ensure_pg_user() {
    [ "$(id -u)" -eq 0 ] || return 0
    id -u "$MOTCUA_PG_OS_USER" >/dev/null 2>&1 && return 0
    useradd --system --user-group --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin "$MOTCUA_PG_OS_USER"
}

# DIR with symlinks resolved: the cluster owner may not be able to traverse
# the directory that holds the symlink.
pg_realdir() {
    readlink -m "$1"
}

# 0 if the cluster in DIR is running.
pg_running() {
    local dir
    dir=$(pg_realdir "$1")
    [ -f "$dir/PG_VERSION" ] || return 1
    pg_run "$(pg_bindir)/pg_ctl" -D "$dir" status >/dev/null 2>&1
}

# The port the cluster in DIR is configured for, or nothing.
pg_port_of() {
    local dir=$1
    [ -f "$dir/motcua.conf" ] || return 0
    sed -n "s/^port *= *\([0-9][0-9]*\).*/\1/p" "$dir/motcua.conf" | tail -n1
}

# Makes DIR an empty directory the cluster owner can write. When run as root
# and motcua cannot reach DIR (a parent such as /root is not traversable), the
# cluster lives in a mktemp -d directory owned by motcua and DIR is a symlink.
prepare_pg_dir() {
    local dir=$1 target
    if [ -L "$dir" ] && [ ! -e "$dir" ]; then
        rm -f "$dir" # the temporary target is gone (reboot): start afresh
    fi
    if [ -e "$dir" ]; then
        return 0
    fi
    mkdir -p "$dir"
    chmod 700 "$dir"
    if [ "$(id -u)" -eq 0 ]; then
        chown "$MOTCUA_PG_OS_USER:$MOTCUA_PG_OS_USER" "$dir"
        if ! pg_run test -w "$dir"; then
            rmdir "$dir"
            target=$(mktemp -d "${TMPDIR:-/tmp}/motcua-pg.XXXXXX")
            chown "$MOTCUA_PG_OS_USER:$MOTCUA_PG_OS_USER" "$target"
            chmod 700 "$target"
            ln -s "$target" "$dir"
            mc_say "PostgreSQL data in $target ($MOTCUA_PG_OS_USER cannot reach $(dirname "$dir"))"
        fi
    fi
}

# Starts a throwaway PostgreSQL cluster in DIR on 127.0.0.1:PORT (initdb if
# DIR holds none; reused as is if already running). Superuser motcua, trust
# for 127.0.0.1 only, no Unix socket, fsync off. Writes the postmaster's pid
# to PIDFILE if given. Waits until pg_isready answers.
start_pg() {
    local dir=$1 port=$2 pidfile=${3:-} bin i
    bin=$(pg_bindir)
    ensure_pg_user
    if pg_running "$dir"; then
        mc_say "PostgreSQL already running in $dir"
        dir=$(pg_realdir "$dir")
    else
        prepare_pg_dir "$dir"
        dir=$(pg_realdir "$dir")
        if [ ! -f "$dir/PG_VERSION" ]; then
            pg_run "$bin/initdb" -D "$dir" -U "$MOTCUA_PG_SUPERUSER" --auth=trust \
                --encoding=UTF8 --locale=C.UTF-8 >"$dir.initdb.log" 2>&1 ||
                pg_run "$bin/initdb" -D "$dir" -U "$MOTCUA_PG_SUPERUSER" --auth=trust \
                    --encoding=UTF8 --no-locale >"$dir.initdb.log" 2>&1 ||
                {
                    cat "$dir.initdb.log" >&2
                    mc_die "initdb failed in $dir"
                }
            rm -f "$dir.initdb.log"
            pg_run tee -a "$dir/postgresql.conf" >/dev/null <<<"include_if_exists = 'motcua.conf'"
            # A throwaway cluster: TCP from 127.0.0.1 only, no password.
            pg_run tee "$dir/pg_hba.conf" >/dev/null <<<"host all all 127.0.0.1/32 trust"
        fi
        # Rewritten at every start: the port may change between runs. A
        # port that another socket holds (a client's ephemeral port does not
        # show as listening) is replaced by a free one, up to 5 times.
        for ((i = 0; ; i++)); do
            pg_run tee "$dir/motcua.conf" >/dev/null <<EOF
# Written by deploy/local/lib.sh at every start; a throwaway cluster.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = ''
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
            # Time per statement, for a profile (deploy/local/replay).
            if [ "${MOTCUA_PG_STATEMENT_STATS:-0}" = 1 ]; then
                pg_run tee -a "$dir/motcua.conf" >/dev/null \
                    <<<"shared_preload_libraries = 'pg_stat_statements'"
            fi
            pg_run "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 start >/dev/null && break
            if [ "$i" -lt 5 ] && tail -n 5 "$dir/server.log" | grep -q "Address already in use"; then
                mc_say "port $port is taken; PostgreSQL tries another"
                port=$(free_port)
                continue
            fi
            tail -n 30 "$dir/server.log" >&2 || true
            mc_die "PostgreSQL did not start in $dir"
        done
    fi
    port=$(pg_port_of "$dir")
    for ((i = 0; i < 600; i++)); do
        "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" && break
        sleep 0.1
    done
    "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" || mc_die "PostgreSQL on port $port is not ready"
    if [ -n "$pidfile" ]; then
        mkdir -p "$(dirname "$pidfile")"
        head -n1 "$dir/postmaster.pid" >"$pidfile"
    fi
}

# Stops the cluster in DIR (fast shutdown); if that fails, stops the pid in
# PIDFILE. Harmless if nothing runs.
stop_pg() {
    local dir pidfile=${2:-}
    dir=$(pg_realdir "$1")
    if pg_running "$dir"; then
        pg_run "$(pg_bindir)/pg_ctl" -D "$dir" -m fast -w -t 30 stop >/dev/null ||
            mc_say "pg_ctl stop failed in $dir"
    fi
    if [ -n "$pidfile" ]; then
        stop_pid "$pidfile" postgres
    fi
}

# Removes a cluster directory made by start_pg, and its temporary target
# when DIR is a symlink. Stop it first.
remove_pg() {
    local dir=$1 target
    if [ -L "$dir" ]; then
        target=$(readlink "$dir")
        rm -f "$dir"
        case $(basename "$target") in
        motcua-pg.*) rm -rf "$target" ;;
        esac
    else
        rm -rf "$dir"
    fi
}

# The broker under the stack and the tests: MOTCUA_BROKER=kafka (Apache
# Kafka from deploy/kafka, the default) or devkafka (librdkafka's mock
# cluster, for machines without Java).
broker_kind() {
    case "${MOTCUA_BROKER:-kafka}" in
    kafka | devkafka) printf '%s\n' "${MOTCUA_BROKER:-kafka}" ;;
    *) mc_die "MOTCUA_BROKER=${MOTCUA_BROKER}: expected kafka or devkafka" ;;
    esac
}

# The librdkafka properties services need on this broker kind. Apache Kafka
# takes the defaults in common/kafka.c; the mock cluster holds empty fetches
# for fetch.wait.max.ms and joins groups only after session.timeout.ms.
broker_client_props() {
    if [ "$(broker_kind)" = devkafka ]; then
        printf '%s\n' "session.timeout.ms=6000,heartbeat.interval.ms=1000,fetch.wait.max.ms=20"
    fi
}

# Starts the broker of broker_kind under STATE (reused if already running),
# its bootstrap list in STATE/run/kafka.bootstrap, then provisions every
# topic with `motcua topics apply` as an operator would (MOTCUA_TOPIC_PREFIX
# and MOTCUA_TOPIC_PARTITIONS from the caller). Fails on topic drift.
start_broker() {
    local state=$1 bootstrap
    if [ "$(broker_kind)" = kafka ]; then
        "$MOTCUA_ROOT/deploy/kafka/broker" start "$state"
    else
        start_devkafka "$state"
    fi
    bootstrap=$(tr -d ' \n' <"$state/run/kafka.bootstrap")
    MOTCUA_KAFKA_BROKERS=$bootstrap MOTCUA_LOG_LEVEL=error \
        "$MOTCUA_BUILD_DIR/tools/motcua" topics apply --wait-brokers "$(broker_nodes "$state")" \
        >"$state/log/topics.log" 2>&1 || {
        cat "$state/log/topics.log" >&2
        mc_die "motcua topics apply failed on $bootstrap"
    }
}

# The number of brokers the chosen kind runs under STATE (Apache Kafka: as
# recorded at the state's first start, else MOTCUA_KAFKA_NODES, default 1).
broker_nodes() {
    local state=$1
    if [ "$(broker_kind)" = devkafka ]; then
        printf '3\n'
    elif [ -s "$state/kafka/nodes" ]; then
        cat "$state/kafka/nodes"
    else
        printf '%s\n' "${MOTCUA_KAFKA_NODES:-1}"
    fi
}

# A line about the running broker under STATE, for summaries.
broker_summary() {
    local state=$1 pids
    if [ -f "$state/run/devkafka.pid" ]; then
        printf 'motcua-devkafka (mock cluster) pid %s\n' "$(<"$state/run/devkafka.pid")"
    else
        pids=$(cat "$state"/run/kafka-*.pid 2>/dev/null | tr '\n' ' ')
        printf 'Apache Kafka %s, %s node(s), pid %s\n' \
            "$(sed -n 's:.*<kafka\.version>\([^<]*\)</kafka\.version>.*:\1:p' \
                "$MOTCUA_ROOT/deploy/kafka/pom.xml" | head -n1)" "$(broker_nodes "$state")" "${pids% }"
    fi
}

# Stops whichever broker runs under STATE, by the pids it recorded.
stop_broker() {
    local state=$1
    if [ -d "$state/kafka" ]; then
        "$MOTCUA_ROOT/deploy/kafka/broker" stop "$state" || true
    fi
    stop_pid "$state/run/devkafka.pid" motcua-devkafka
    rm -f "$state/run/kafka.bootstrap"
}

# Starts the mock-cluster broker (reused if already running) with its
# bootstrap list in STATE/run/kafka.bootstrap, pid in STATE/run/devkafka.pid,
# log in STATE/log/devkafka.log. Partitions: MOTCUA_TOPIC_PARTITIONS (6).
start_devkafka() {
    local state=$1 bootstrap pidfile logfile i
    bootstrap=$state/run/kafka.bootstrap
    pidfile=$state/run/devkafka.pid
    logfile=$state/log/devkafka.log
    mkdir -p "$state/run" "$state/log"
    if pid_alive "$pidfile" motcua-devkafka && [ -s "$bootstrap" ]; then
        mc_say "motcua-devkafka already running (pid $(<"$pidfile"))"
        return 0
    fi
    stop_pid "$pidfile" motcua-devkafka
    rm -f "$bootstrap"
    [ -x "$MOTCUA_BUILD_DIR/tools/motcua-devkafka" ] ||
        mc_die "$MOTCUA_BUILD_DIR/tools/motcua-devkafka is not built"
    spawn "$pidfile" "$logfile" "$MOTCUA_BUILD_DIR/tools/motcua-devkafka" \
        --bootstrap-file "$bootstrap" --partitions "${MOTCUA_TOPIC_PARTITIONS:-6}" \
        --prefix "${MOTCUA_TOPIC_PREFIX:-motcua.}"
    for ((i = 0; i < 300; i++)); do
        [ -s "$bootstrap" ] && return 0
        if ! pid_alive "$pidfile"; then
            tail -n 20 "$logfile" >&2 || true
            mc_die "motcua-devkafka exited (log: $logfile)"
        fi
        sleep 0.1
    done
    tail -n 20 "$logfile" >&2 || true
    mc_die "motcua-devkafka wrote no bootstrap file in 30 s (log: $logfile)"
}

# A fresh embedded stack for the demo and the replay: stops what runs under
# state dir $1 and removes its database and the broker's topics (the topic
# clock never goes back, and an earlier run's dossiers, clocks and letters
# would mix into the report; the state dir is a throwaway).
reset_state() {
    local state=$1
    if [ -d "$state/run" ]; then
        "$MOTCUA_ROOT/deploy/local/down" >/dev/null
    fi
    remove_pg "$state/pg"
    # Apache Kafka keeps its topics on disk: an earlier run's events would be
    # read again by the new services.
    rm -rf "$state/kafka" "$state/run/kafka.bootstrap"
}

# Prints how many apology letters and notices to units are still on their
# way (created, being sent, or waiting for a retry) in the database at URL $1.
notifications_on_their_way() {
    "$(pg_bindir)/psql" -X -q -tA -d "$1" -c "SELECT
        (SELECT count(*) FROM notify.letter
         WHERE status IN ('created', 'sending') OR next_attempt_at IS NOT NULL)
      + (SELECT count(*) FROM notify.notice
         WHERE status IN ('created', 'sending') OR next_attempt_at IS NOT NULL)"
}
