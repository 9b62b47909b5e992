#!/usr/bin/env bash
# End-to-end story on a throwaway kind (or k3d) cluster. Not run in CI here (no Docker registry
# access); run it on a machine with Docker and `kind` (or set CLUSTER_CMD=k3d) and kubectl:
#
#   scripts/e2e.sh
#
# 1. creates a cluster, installs rampart's CRDs and the demo cluster's manifests;
# 2. runs `rampart engine` from this checkout against it, shadow-first, and checks that the
#    dashboard's /findings lists chains and only proposals;
# 3. restarts it with `--enable network --act-on-proof --actuator networkpolicy
#    --mitigation-ttl 90s`, waits for a Mitigation to be Applied with its owned, labelled
#    NetworkPolicy, then for the expiry to revert it;
# 4. restarts it with `--enable pod` and an ingest endpoint, posts a Falco alert (a shell in
#    one of shop/web's pods, as Falco's http_output would), and checks that the pod is
#    quarantined (labels moved aside), that its ReplicaSet starts a replacement, and that the
#    expiry deletes the quarantined pod;
# 5. deletes the cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
name=rampart-e2e
cluster=${CLUSTER_CMD:-kind}
cargo build --release --quiet -p rampart
bin=target/release/rampart
case "$cluster" in
  kind) kind create cluster --name "$name" --wait 120s ;;
  k3d) k3d cluster create "$name" --wait ;;
  *) echo "CLUSTER_CMD must be kind or k3d"; exit 2 ;;
esac
cleanup() {
  kill "${pid:-0}" 2>/dev/null || true
  case "$cluster" in kind) kind delete cluster --name "$name" ;; k3d) k3d cluster delete "$name" ;; esac
}
trap cleanup EXIT
$bin crds | kubectl apply -f -
kubectl create namespace rampart-system
kubectl apply -f examples/demo-cluster/
findings() { curl -fsS http://127.0.0.1:18080/findings; }
wait_for() { for _ in $(seq 1 120); do if eval "$1"; then return 0; fi; sleep 1; done; echo "timed out: $1"; exit 1; }

$bin engine --dashboard-addr 127.0.0.1:18080 & pid=$!
wait_for 'findings | python3 -c "import json,sys; sys.exit(0 if json.load(sys.stdin)[\"summary\"][\"chains\"] > 0 else 1)"'
findings | python3 -c 'import json,sys; d=json.load(sys.stdin)["report"]["decisions"]; assert all(x["decision"].startswith("propose") for x in d), d'
kill $pid; wait $pid 2>/dev/null || true

$bin engine --dashboard-addr 127.0.0.1:18080 --enable network --act-on-proof \
  --actuator networkpolicy --mitigation-ttl 90s & pid=$!
wait_for '[ "$(kubectl get mitigations -A -o jsonpath="{.items[*].status.phase}" | grep -c Applied)" -ge 1 ]'
kubectl get networkpolicies -A -l rampart.dev/mitigation -o name | grep -q networkpolicy

wait_for '[ "$(kubectl get mitigations -A -o jsonpath="{.items[*].status.phase}" | grep -c Reverted)" -ge 1 ]'
kill $pid; wait $pid 2>/dev/null || true

# Infected pod: isolate, replacement, expiry.
kubectl -n shop wait --for=condition=Ready pod -l app=web --timeout=120s
pod=$(kubectl -n shop get pods -l app=web -o jsonpath='{.items[0].metadata.name}')
head -c 24 /dev/urandom | base64 > /tmp/rampart-e2e-token
$bin engine --dashboard-addr 127.0.0.1:18080 --enable pod --actuator networkpolicy \
  --ingest-addr 127.0.0.1:18765 --ingest-token-file /tmp/rampart-e2e-token --mitigation-ttl 60s & pid=$!
wait_for 'findings >/dev/null 2>&1'
curl -fsS -H "Authorization: Bearer $(cat /tmp/rampart-e2e-token)" -H 'Content-Type: application/json' \
  --data "{\"rule\":\"Terminal shell in container\",\"priority\":\"Notice\",\"output\":\"e2e\",\"output_fields\":{\"k8s.ns.name\":\"shop\",\"k8s.pod.name\":\"$pod\"}}" \
  http://127.0.0.1:18765/falco
wait_for '[ -n "$(kubectl -n shop get pod "$pod" -o jsonpath="{.metadata.labels.rampart\.dev/quarantine}")" ]'
wait_for '[ "$(kubectl -n shop get pods -l app=web --field-selector=status.phase=Running -o name | wc -l)" -ge 3 ]'
wait_for '! kubectl -n shop get pod "$pod" >/dev/null 2>&1'
echo "e2e: ok"
