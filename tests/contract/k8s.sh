#!/usr/bin/env bash
# Contract test of the Kubernetes manifests (deploy/k8s): the base and the
# example overlay render with kustomize (`kubectl kustomize`) and every
# resource validates, strictly (no unknown field), against the Kubernetes
# API schemas that kubernetes-validate (PyPI, tests/api/requirements.txt)
# ships, offline; each service has a Deployment with both probes, its
# PodDisruptionBudget, and a grace period above the drain time.
# Usage: tests/contract/k8s.sh <build dir>.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=tests/api/tools.sh
. "$root/tests/api/tools.sh"
# shellcheck source=deploy/local/lib.sh
. "$root/deploy/local/lib.sh"
K8S_VERSION=1.30.0

if ! command -v kubectl >/dev/null; then
    echo "k8s: kubectl is not installed (Debian's kubernetes-client; tests/run installs it)" >&2
    echo "k8s: 0 passed, 1 failed"
    exit 1
fi
bin=$(api_python "${1:-${TMPDIR:-/tmp}/motcua-build}") || exit 1
work=$(mktemp -d "${TMPDIR:-/tmp}/motcua-k8s.XXXXXX")
trap 'rm -rf "$work"' EXIT
passed=0 failed=0
ok() {
    passed=$((passed + 1))
    echo "  ok   $1"
}
bad() {
    failed=$((failed + 1))
    echo "  FAIL $1"
}

for dir in base overlays/example; do
    if kubectl kustomize "$root/deploy/k8s/$dir" >"$work/${dir//\//-}.yaml" 2>"$work/err"; then
        ok "kustomize renders deploy/k8s/$dir"
    else
        bad "kustomize renders deploy/k8s/$dir: $(cat "$work/err")"
        continue
    fi
    if "$bin/kubernetes-validate" -k "$K8S_VERSION" --strict --quiet \
        "$work/${dir//\//-}.yaml" >"$work/out" 2>&1; then
        ok "deploy/k8s/$dir: $(grep -c '^kind:' "$work/${dir//\//-}.yaml") resources valid against Kubernetes $K8S_VERSION (strict)"
    else
        bad "deploy/k8s/$dir does not validate:"
        sed 's/^/       /' "$work/out"
    fi
done

# What the operations need, resource by resource (python3: the YAML as JSON
# through kubernetes-validate's own PyYAML).
if "$bin/python" - "$work/overlays-example.yaml" "${MOTCUA_SERVICES[@]}" >"$work/out" 2>&1 <<'PY'; then
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
by = {(d["kind"], d["metadata"]["name"]): d for d in docs}
problems = []
for svc in sys.argv[2:]:
    dep = by.get(("Deployment", "motcua-" + svc))
    if dep is None:
        problems.append("no Deployment motcua-" + svc)
        continue
    pod = dep["spec"]["template"]["spec"]
    c = pod["containers"][0]
    if c.get("readinessProbe", {}).get("httpGet", {}).get("path") != "/readyz":
        problems.append(svc + ": readiness probe is not /readyz")
    if c.get("livenessProbe", {}).get("httpGet", {}).get("path") != "/livez":
        problems.append(svc + ": liveness probe is not /livez")
    if pod.get("terminationGracePeriodSeconds", 30) <= 25:
        problems.append(svc + ": grace period not above MOTCUA_DRAIN_TIMEOUT_S (25 s)")
    if "requests" not in c.get("resources", {}) or "limits" not in c.get("resources", {}):
        problems.append(svc + ": no resources")
    if ("PodDisruptionBudget", "motcua-" + svc) not in by:
        problems.append(svc + ": no PodDisruptionBudget")
for job in ("motcua-migrate", "motcua-topics"):
    if ("Job", job) not in by:
        problems.append("no Job " + job)
print("\n".join(problems))
sys.exit(1 if problems else 0)
PY
    ok "every service: both probes, resources, a PodDisruptionBudget, grace above the drain; the migrate and topics Jobs"
else
    bad "the manifests lack what operations need:"
    sed 's/^/       /' "$work/out"
fi
echo "k8s: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
