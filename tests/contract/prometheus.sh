#!/usr/bin/env bash
# Contract test of the monitoring files: deploy/prometheus/prometheus.yml and
# alerts.yml pass `promtool check config|rules`, every alert fires on the
# series that should fire it and not before (`promtool test rules
# alerts_test.yml`), and deploy/grafana/motcua.json is a dashboard whose
# every panel queries something. (That the metrics they name exist is
# checked against the running services by tests/e2e/pipeline.sh.)
# Usage: tests/contract/prometheus.sh [build dir] (unused).
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
passed=0 failed=0
check() {
    local what=$1
    shift
    if "$@" >"${TMPDIR:-/tmp}/prometheus-check.$$" 2>&1; then
        passed=$((passed + 1))
        echo "  ok   $what"
    else
        failed=$((failed + 1))
        echo "  FAIL $what"
        sed 's/^/       /' "${TMPDIR:-/tmp}/prometheus-check.$$"
    fi
    rm -f "${TMPDIR:-/tmp}/prometheus-check.$$"
}

if ! command -v promtool >/dev/null; then
    echo "prometheus: promtool is not installed (Debian's prometheus package; tests/run installs it)" >&2
    echo "prometheus: 0 passed, 1 failed"
    exit 1
fi
cd "$root/deploy/prometheus" || exit 1
check "promtool check config prometheus.yml" promtool check config prometheus.yml
check "promtool check rules alerts.yml" promtool check rules alerts.yml
check "promtool test rules alerts_test.yml (each alert fires when it should)" \
    promtool test rules alerts_test.yml
# shellcheck disable=SC2016 # the script is for bash -c
check "every alert of alerts.yml has a test in alerts_test.yml" bash -c '
    for a in $(sed -n "s/^ *- alert: //p" alerts.yml); do
        grep -q "alertname: $a\$" alerts_test.yml || { echo "no test for $a"; exit 1; }
    done'
check "deploy/grafana/motcua.json: a dashboard whose every panel has queries" \
    python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["panels"], "no panels"
for p in d["panels"]:
    assert p["targets"] and all(t["expr"].strip() for t in p["targets"]), p["title"]
' "$root/deploy/grafana/motcua.json"
echo "prometheus: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
