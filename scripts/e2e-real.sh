#!/usr/bin/env bash
# rampart against a real Kubernetes control plane on loopback (scripts/control-plane.sh: etcd,
# kube-apiserver, kube-controller-manager, kube-scheduler v1.36 and kwok's fake kubelets, built
# once per machine), installed with its Helm chart. Run by .ci/run after the release build; by
# hand:
#
#   cargo build --release && scripts/e2e-real.sh
#
# The binaries run as processes on the host with the chart's ServiceAccounts (tokens from the
# TokenRequest API), so the chart's RBAC is what they get. Scenarios (each line prints
# `e2e: ok …` or `e2e: FAIL …`; the script exits 1 on any failure, every wait is bounded):
#  netpol   `rampart netpol suggest` on the demo's flows: every suggested policy accepted by the API
#           server (server-side dry run); the plan proven on a dump of the live cluster.
#  chart    helm lint; helm template with default and with every option on, every object
#           accepted by the API server (server-side dry run); the rendered RBAC of each
#           component equals `rampart permissions` for the same values; `helm install`.
#  shadow   /findings equals `rampart scan` of the manifests and of a dump of the live cluster;
#           one AttackChainProven Event per chain; nothing written.
#  least    acting flags under the chart's read-only RBAC: /findings names the missing levers,
#           nothing is written.
#  acting   after `helm upgrade` to an acting configuration (the webhook's self-signed CA kept):
#           Mitigations Applied with owned NetworkPolicies, no flapping, one writer of two
#           replicas; a pod label change reaches the change report; a Falco alert isolates a
#           Running pod, its ReplicaSet replaces it, the PodDisruptionBudget holds a second
#           isolation until the replacement is Ready; expiry reverts the policies and deletes the
#           quarantined pod; SIGTERM hands the Lease over; kill -9 during an apply and a
#           restart leave no orphan and no duplicate; deleting a Mitigation garbage-collects
#           its NetworkPolicy; break-glass with revert-all (`rampart engine break-glass`)
#           withdraws every Mitigation, leaves no NetworkPolicy of rampart's, stops acting
#           while engaged, is named on /findings and in an Event; released, acting resumes.
#  webhook  called by the API server over TLS through the chart's configurations: denials with
#           rampart's message (restricted, baseline), warnings (warn label, workloads),
#           mutations as stored, an invalid SecurityPolicy refused, a new policy and a namespace
#           label change in effect at once, CEL rules reading a per-namespace ConfigMap (params)
#           and the cluster's Services (inventory) through the webhook's own watches, a params
#           change in effect, an API server restart survived, failurePolicy Fail
#           and Ignore with the webhook down; the latency it adds to `create --dry-run=server`;
#           image signatures against a registry on loopback: a signed image admitted and stored
#           pinned to its digest, an unsigned one denied, a Deployment's pods pinned, a key
#           read from a Secret the chart grants by name.
#  rollout  the `netpol` class: the demo's flows posted to the ingest, the proven plan applied step
#           by step as Mitigations owning their NetworkPolicies (one per planned policy); a
#           policy drop from another workload reverts its policy and the later steps of its
#           namespace, the other namespaces' stand.
#  audit    the API server's audit log: no request of rampart's ServiceAccounts was refused.
set -uo pipefail
cd "$(dirname "$0")/.."
tag=e2e
. scripts/e2e-lib.sh
check_py="python3 scripts/e2e-check.py"
ns_sys=rampart-system
t0=$SECONDS

# ── chart, offline and against the API server ────────────────────────────────────────────
chart=charts/rampart
full=$chart/ci/full-values.yaml
check "chart: helm lint (default values)" helm lint --quiet "$chart"
check "chart: helm lint (every option on)" helm lint --quiet "$chart" -f "$full"
helm template rampart "$chart" -n $ns_sys >"$work/default.yaml" || fail "chart: helm template"
helm template rampart "$chart" -n $ns_sys -f "$full" >"$work/full.yaml" || fail "chart: helm template (full)"
acting_values=(--set engine.actuator=networkpolicy --set 'engine.enable={network,pod}'
  --set engine.actOnProof=true --set engine.ingest.enabled=true)
helm template rampart "$chart" -n $ns_sys "${acting_values[@]}" >"$work/acting.yaml"
helm template rampart "$chart" -n $ns_sys --set webhook.imageVerification.watchPullSecrets=true >"$work/pullsecrets.yaml"

# No nodes yet: pods stay unscheduled, so the live cluster holds what the manifests say.
NO_NODES=1 scripts/control-plane.sh up "$cp" || { echo "e2e: FAIL the control plane did not start"; exit 1; }
export KUBECONFIG=$cp/kubeconfig
echo "e2e: control plane up in $((SECONDS - t0)) s ($(kubectl version -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["serverVersion"]["gitVersion"])'))"
kubectl apply -f "$bin/../crds/" >/dev/null
kubectl wait --for condition=established --timeout 60s -f "$bin/../crds/" >/dev/null
kubectl create namespace $ns_sys >/dev/null
for v in default full acting; do
  # CRDs first: the API server must know them before it validates anything of theirs.
  check "chart: every object of the $v rendering accepted by the API server (dry run)" \
    kubectl apply --dry-run=server -f "$work/$v.yaml" -o name
done >"$work/dry-run.out" 2>&1
grep '^e2e:' "$work/dry-run.out"
grep -v '^e2e:' "$work/dry-run.out" | grep -iv '^[a-z.]*/[a-z0-9.-]* \(created\|configured\|unchanged\)' | head -5

# RBAC: rendered (Cluster)Roles against what rampart asks for with the same values.
to_json() { kubectl apply --dry-run=client -o json -f "$1" 2>/dev/null; }
for v in default full acting pullsecrets; do to_json "$work/$v.yaml" >"$work/$v.json"; done
"$rampart" permissions engine >"$work/perm-default.json"
"$rampart" permissions engine --actuator networkpolicy --enable network,pod >"$work/perm-acting.json"
"$rampart" permissions engine --actuator adminnetworkpolicy \
  --enable network,rbac,mount,identity,pod,judgement --watch-vulnerability-reports --watch-guardians --compliance >"$work/perm-full.json"
"$rampart" permissions webhook >"$work/perm-webhook.json"
"$rampart" permissions webhook --watch-pull-secrets >"$work/perm-webhook-pull.json"
"$rampart" permissions learner >"$work/perm-learner.json"
echo '[]' >"$work/perm-none.json"
check "chart: engine RBAC (read-only default) = rampart permissions" $check_py rbac "$work/default.json" "$work/perm-default.json" rampart-engine
check "chart: engine RBAC (network + pod acting) = rampart permissions" $check_py rbac "$work/acting.json" "$work/perm-acting.json" rampart-engine
check "chart: engine RBAC (every class, AdminNetworkPolicy) = rampart permissions" $check_py rbac "$work/full.json" "$work/perm-full.json" rampart-engine
check "chart: webhook RBAC (watching) = rampart permissions" $check_py rbac "$work/default.json" "$work/perm-webhook.json" rampart-webhook
check "chart: webhook RBAC (watching pull secrets) = rampart permissions" $check_py rbac "$work/pullsecrets.json" "$work/perm-webhook-pull.json" rampart-webhook
check "chart: webhook RBAC (reading files) is none" $check_py rbac "$work/full.json" "$work/perm-none.json" rampart-webhook
check "chart: learner RBAC = rampart permissions" $check_py rbac "$work/full.json" "$work/perm-learner.json" rampart-learner

# The demo cluster, before the webhook exists.
kubectl apply -f examples/demo-cluster/ >"$work/apply.log" 2>&1 || { cat "$work/apply.log"; fail "the demo cluster applies"; }
created() { # every ReplicaSet has created its pods
  kubectl get replicasets -A -o json | python3 -c '
import json, sys
sys.exit(0 if all(r.get("status", {}).get("replicas", 0) == r["spec"].get("replicas", 1) for r in json.load(sys.stdin)["items"]) else 1)'
}
until_ok 60 created || fail "the demo's ReplicaSets created their pods"

# NetworkPolicies from flows: what `rampart netpol suggest` prints is what the API server accepts
# (every manifest through its validation, server-side dry run), and proven on the live cluster's
# dump (the pods kwok runs, with their addresses) as on the manifests.
if "$rampart" netpol suggest --flows examples/demo-flows/hubble.jsonl examples/demo-cluster --default-deny \
    >"$work/netpol.yaml" 2>"$work/netpol.err" &&
  kubectl apply --dry-run=server -f "$work/netpol.yaml" >"$work/netpol.out" 2>&1; then
  ok "netpol: $(grep -c 'created (server dry run)' "$work/netpol.out") suggested NetworkPolicies accepted by the API server"
else
  cat "$work/netpol.err" "$work/netpol.out" 2>/dev/null | head -5
  fail "netpol: the suggested policies apply (server dry run)"
fi
kubectl get namespaces,pods,deployments,statefulsets,daemonsets,replicasets,services,networkpolicies -A -o json >"$work/netpol-dump.json"
if "$rampart" netpol suggest --flows examples/demo-flows/hubble.jsonl "$work/netpol-dump.json" -f json >"$work/netpol-live.json" 2>/dev/null &&
  python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))["verification"]; sys.exit(0 if v["observed"] > 0 and v["kept"] == v["observed"] else 1)' "$work/netpol-live.json"; then
  ok "netpol: proven on the live cluster's dump ($(python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))["verification"]; print(v["kept"], "of", v["observed"])' "$work/netpol-live.json") observed connections kept)"
else
  fail "netpol: a plan proven on the live cluster's dump"
fi

# rampart as `helm template | kubectl apply` installs it (helm adopts it below): the webhook runs
# on the host, so the chart's webhooks call it at a URL.
hook=https://127.0.0.1:18444
# Services go to the webhook too (a CEL policy judges them), and the webhook may read the
# ConfigMaps and Services that policy declares as params and inventory.
install_values=(--set webhook.url=$hook
  --set-json 'webhook.objectRules=[{"apiGroups":[""],"apiVersions":["v1"],"resources":["services"],"operations":["CREATE","UPDATE"],"scope":"Namespaced"}]'
  --set-json 'webhook.readResources=[{"apiGroups":[""],"resources":["configmaps","services"]}]')
helm template rampart "$chart" -n $ns_sys "${install_values[@]}" >"$work/install.yaml"
# helm's field manager: `helm install --take-ownership` then owns every field it applied.
kubectl apply --server-side --field-manager helm -f "$work/install.yaml" >/dev/null || fail "the rendered chart applies"
sa_kubeconfig() { # sa_kubeconfig SA FILE: a kubeconfig with a TokenRequest token of SA
  local token
  token=$(kubectl -n $ns_sys create token "$1" --duration 2h) || return 1
  printf '%s\n' 'apiVersion: v1' 'kind: Config' \
    "clusters: [{name: local, cluster: {server: \"https://127.0.0.1:${APISERVER_PORT:-16443}\", certificate-authority: \"$cp/pki/ca.crt\"}}]" \
    "users: [{name: $1, user: {token: \"$token\"}}]" \
    "contexts: [{name: local, context: {cluster: local, user: $1}}]" \
    'current-context: local' >"$2"
}
sa_kubeconfig rampart-webhook "$work/webhook.kubeconfig"
sa_kubeconfig rampart-engine "$work/engine.kubeconfig"
secret_key() { kubectl -n $ns_sys get secret "$1" -o jsonpath="{.data.${2//./\\.}}" | base64 -d; }
mkdir -p "$work/hook"
secret_key rampart-webhook-tls tls.crt >"$work/hook/tls.crt"
secret_key rampart-webhook-tls tls.key >"$work/hook/tls.key"
secret_key rampart-webhook-tls ca.crt >"$work/hook/ca.crt"
ca_bundle() { kubectl get validatingwebhookconfiguration rampart-webhook -o jsonpath='{.webhooks[0].clientConfig.caBundle}'; }
ca_before=$(ca_bundle)
# A registry on loopback for the image signature scenario (Debian's docker-registry).
reg=127.0.0.1:$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf 'version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: %s}}\nhttp: {addr: "%s"}\n' \
  "$work/registry" "$reg" >"$work/registry.yml"
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
pids+=($!)
webhook_pid=
start_webhook() {
  KUBECONFIG=$work/webhook.kubeconfig RAMPART_LOG=info "$rampart" webhook --addr 127.0.0.1:18444 \
    --tls-cert "$work/hook/tls.crt" --tls-key "$work/hook/tls.key" --insecure-registry "$reg" >>"$work/webhook.log" 2>&1 &
  webhook_pid=$!
  pids+=("$webhook_pid")
}
hook_ready() { curl -sf --cacert "$work/hook/ca.crt" $hook/readyz; }
start_webhook
until_ok 30 hook_ready && ok "webhook: ready with the chart's self-signed certificate, as the chart's ServiceAccount" ||
  fail "webhook: ready with the chart's certificate"

# ── engine ────────────────────────────────────────────────────────────────────────────────
engine() { # engine PORT LOG ARGS…: rampart engine as the chart's ServiceAccount
  local port=$1 log=$2; shift 2
  KUBECONFIG=$work/engine.kubeconfig RAMPART_LOG=info "$rampart" engine --namespace $ns_sys \
    --dashboard-addr 127.0.0.1:"$port" "$@" >>"$log" 2>&1 &
  engine_pid=$!
  pids+=("$engine_pid")
}
ready() { curl -sf "http://127.0.0.1:$1/readyz"; }
findings() { curl -sf "http://127.0.0.1:$1/findings" >"$2"; }
jq_py() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }
rampart_written() { # Mitigations and rampart NetworkPolicies in the cluster
  echo $(($(kubectl get mitigations -A -o name | wc -l) + $(kubectl get networkpolicies -A -l rampart.dev/mitigation -o name | wc -l)))
}

# Shadow, with the chart's default (read-only) RBAC.
engine 18091 "$work/shadow.log"
until_ok 90 ready 18091 || fail "shadow: engine ready"
findings 18091 "$work/live.json"
"$rampart" scan examples/demo-cluster "$work/install.yaml" --format json >"$work/scan.json" 2>/dev/null
check "shadow: live chain and cut ids equal rampart scan of the manifests (the demo and the chart)" $check_py same-ids "$work/live.json" "$work/scan.json"
kinds=namespaces,nodes,pods,services,serviceaccounts,replicationcontrollers,deployments,replicasets,statefulsets,daemonsets,jobs,cronjobs,ingresses,networkpolicies,roles,clusterroles,rolebindings,clusterrolebindings,secrets
kubectl get "$kinds" -A -o json >"$work/dump.json"
"$rampart" scan "$work/dump.json" --format json >"$work/scan-dump.json" 2>/dev/null
check "shadow: live chain and cut ids equal rampart scan of a dump of the live cluster" $check_py same-ids "$work/live.json" "$work/scan-dump.json"
events_ok() { kubectl get events.events.k8s.io -A -o json >"$work/events.json" && $check_py events "$work/events.json" "$work/live.json"; }
until_ok 30 events_ok
check "shadow: one AttackChainProven Event per chain, on its entry with its UID" events_ok
check "shadow: nothing written" test "$(rampart_written)" -eq 0
kill -TERM "$engine_pid"; wait "$engine_pid" 2>/dev/null

# Least privilege: acting flags, read-only RBAC.
engine 18091 "$work/least.log" --enable network --act-on-proof --actuator networkpolicy
until_ok 90 ready 18091 || fail "least privilege: engine ready"
findings 18091 "$work/least.json"
missing=$(jq_py "$work/least.json" '", ".join(d["levers"]["missing"])')
echo "e2e:      levers missing: ${missing:0:200}"
check "least privilege: /findings names the missing levers" grep -q "create networkpolicies" <<<"$missing"
sleep 3
check "least privilege: nothing written" test "$(rampart_written)" -eq 0
check "least privilege: no Lease taken" bash -c "! kubectl -n $ns_sys get lease rampart-engine >/dev/null 2>&1"
kill -TERM "$engine_pid"; wait "$engine_pid" 2>/dev/null

# Helm takes the installation over, then upgrades it to grant what network and pod actions need.
check "chart: helm install (adopting the applied objects)" helm install rampart "$chart" -n $ns_sys --take-ownership "${install_values[@]}"
check "chart: helm install keeps the webhook's self-signed CA (looked up, not regenerated)" test "$(ca_bundle)" = "$ca_before"
check "chart: helm upgrade to an acting configuration" helm upgrade rampart "$chart" -n $ns_sys --reuse-values "${acting_values[@]}"
check "chart: the upgrade keeps the webhook's self-signed CA" test "$(ca_bundle)" = "$ca_before"
# Nodes now: pods are scheduled, kwok runs them.
scripts/control-plane.sh nodes "$cp"
secret_key rampart-engine-ingest token >"$work/ingest.token"
kubectl create namespace e2e-run >/dev/null
kubectl apply -f - >/dev/null <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: e2e-run}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: registry.example/web:1.0, ports: [{containerPort: 8080}]}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: e2e-run}
spec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: e2e-run}
spec:
  rules: [{host: web.example, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web, namespace: e2e-run}
spec: {minAvailable: 2, selector: {matchLabels: {app: web}}}
EOF
web_ready() { [ "$(kubectl -n e2e-run get deploy web -o jsonpath='{.status.readyReplicas}')" = 3 ]; }
until_ok 60 web_ready || fail "runtime: e2e-run/web has 3 ready replicas"
acting_flags=(--enable network,pod --act-on-proof --actuator networkpolicy --lease-seconds 10
  --mitigation-ttl 60s --ingest-token-file "$work/ingest.token")
engine 18091 "$work/act-a.log" "${acting_flags[@]}" --identity e2e-a --ingest-addr 127.0.0.1:18093
pid_a=$engine_pid
applied() { [ "$(kubectl get mitigations -A -o jsonpath='{range .items[*]}{.status.phase}{"\n"}{end}' | grep -c Applied)" -ge 1 ]; }
until_ok 90 applied
check "acting: Mitigations Applied" applied
engine 18092 "$work/act-b.log" "${acting_flags[@]}" --identity e2e-b --ingest-addr 127.0.0.1:18094
pid_b=$engine_pid
owned() {
  kubectl get networkpolicies -A -l rampart.dev/mitigation -o json >"$work/nps.json" &&
    kubectl get mitigations -A -o json >"$work/mitigations.json" &&
    $check_py ledger "$work/mitigations.json" "$work/nps.json"
}
check "acting: every NetworkPolicy rampart applied is owned by its Mitigation, none twice" owned
check "acting: the Lease is held by e2e-a" test "$(kubectl -n $ns_sys get lease rampart-engine -o jsonpath='{.spec.holderIdentity}')" = e2e-a
until_ok 60 ready 18092 || fail "acting: the second replica ready"
findings 18092 "$work/b.json"
check "acting: the second replica is a follower and does not write" \
  test "$(jq_py "$work/b.json" 'd["levers"]["role"] + " " + str(d["levers"]["writes"])')" = "follower False"

# A pod label change reaches the change report.
findings 18091 "$work/before.json"
gen_before=$(jq_py "$work/before.json" 'd["report"]["generation"]')
pod=$(kubectl -n shop get pods -o jsonpath='{.items[0].metadata.name}')
kubectl -n shop label pod "$pod" e2e=touched >/dev/null
moved() { findings 18091 "$work/after.json" && [ "$(jq_py "$work/after.json" 'd["report"]["generation"]')" -gt "$gen_before" ]; }
check "acting: a pod label change reaches the change report" until_ok 20 moved
echo "e2e:      change report: generation $gen_before → $(jq_py "$work/after.json" 'd["report"]["generation"]'), path $(jq_py "$work/after.json" 'd["report"]["path"]')"

# Runtime response: a Falco alert on a Running, exposed pod.
falco() { # falco POD: a Warning shell alert for e2e-run/POD to the leader's ingest
  curl -sf -o /dev/null -H "Authorization: Bearer $(cat "$work/ingest.token")" \
    -H 'Content-Type: application/json' http://127.0.0.1:18093/falco --data-binary \
    "{\"rule\":\"Terminal shell in container\",\"priority\":\"Warning\",\"output\":\"shell\",\"output_fields\":{\"k8s.ns.name\":\"e2e-run\",\"k8s.pod.name\":\"$1\"}}"
}
mapfile -t web_pods < <(kubectl -n e2e-run get pods -l app=web -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}')
first=${web_pods[0]}; second=${web_pods[1]}
# The fake kubelets paused: the replacement stays Pending, so availability stays down.
scripts/control-plane.sh kwok stop "$cp"
check "runtime: the alert is accepted" falco "$first"
quarantined() { kubectl -n e2e-run get pod "$1" -o jsonpath='{.metadata.labels.rampart\.dev/quarantine}' | grep -q .; }
check "runtime: the alerted pod is isolated (quarantine label, out of its ReplicaSet)" until_ok 30 quarantined "$first"
replaced() { [ "$(kubectl -n e2e-run get pods -l app=web -o name | wc -l)" -eq 3 ]; }
check "runtime: the ReplicaSet starts a replacement" until_ok 30 replaced
falco "$second"
held() {
  findings 18091 "$work/resp.json" &&
    python3 - "$work/resp.json" "$second" <<'EOF'
import json, sys
d, pod = json.load(open(sys.argv[1])), sys.argv[2]
# Held for availability with the PodDisruptionBudget's minAvailable (2) as the requirement —
# rampart's own floor is 1 ready replica, so 2 can only come from the budget.
held = [r for r in d.get("responses", []) if r.get("pod", "").endswith("/" + pod)
        and "Availability" in r.get("decision", "") and "required: 2" in r.get("decision", "")]
print(f"e2e:      {json.dumps(held[-1])[:300] if held else 'no held decision yet'}")
sys.exit(0 if held else 1)
EOF
}
check "runtime: the PodDisruptionBudget holds a second isolation" until_ok 20 held
held | tail -1
check "runtime: the second pod is not isolated while the replacement is not Ready" bash -c "$(declare -f quarantined); ! quarantined $second"
scripts/control-plane.sh kwok start "$cp"
check "runtime: once the replacement is Ready, the held isolation goes ahead" until_ok 60 quarantined "$second"
gone_pod() { ! kubectl -n e2e-run get pod "$1" >/dev/null 2>&1; }
check "runtime: expiry deletes the quarantined pod" until_ok 120 gone_pod "$first"
reverted() { # every network Mitigation Reverted, none of their NetworkPolicies left
  kubectl get mitigations -A -o json >"$work/m.json" && kubectl get networkpolicies -A -o json >"$work/np.json" &&
    python3 - "$work/m.json" "$work/np.json" <<'EOF'
import json, sys
ms = [m for m in json.load(open(sys.argv[1]))["items"] if m["spec"]["action"] == "NetworkPolicy"]
nps = {(p["metadata"]["namespace"], p["metadata"]["name"]) for p in json.load(open(sys.argv[2]))["items"]}
left = [m for m in ms if (m["metadata"]["namespace"], m["spec"]["object"]["metadata"]["name"]) in nps]
sys.exit(0 if ms and all(m.get("status", {}).get("phase") == "Reverted" for m in ms) and not left else 1)
EOF
}
check "acting: expiry reverts the network Mitigations and removes their NetworkPolicies" until_ok 90 reverted
once_each() { # one network Mitigation per object: none re-applied in its cool-down, none flapping
  kubectl get mitigations -A -o json | python3 -c '
import json, sys
from collections import Counter
ms = [m for m in json.load(sys.stdin)["items"] if m["spec"]["action"] == "NetworkPolicy"]
n = Counter((m["metadata"]["namespace"], m["spec"]["object"]["metadata"]["name"]) for m in ms)
print(f"e2e:      {len(ms)} network Mitigations for {len(n)} objects")
sys.exit(0 if ms and max(n.values()) == 1 else 1)'
}
check "acting: no cut applied twice (none flapping, none re-applied in its cool-down)" once_each

# SIGTERM: the leader hands the Lease over.
kill -TERM "$pid_a"; wait "$pid_a" 2>/dev/null
b_leads() { [ "$(kubectl -n $ns_sys get lease rampart-engine -o jsonpath='{.spec.holderIdentity}')" = e2e-b ]; }
check "acting: SIGTERM hands the Lease to the other replica at once" until_ok 8 b_leads

# kill -9 during an apply, then a restart: no orphan, no duplicate.
kubectl delete mitigations -A --all --wait=false >/dev/null
any_mitigation() { kubectl get mitigations -A -o name | grep -q .; }
until_ok 60 any_mitigation
kill -9 "$pid_b"; wait "$pid_b" 2>/dev/null
echo "e2e:      killed e2e-b with $(kubectl get mitigations -A -o name | wc -l) Mitigation(s) written"
engine 18092 "$work/act-b2.log" "${acting_flags[@]}" --identity e2e-b
pid_b=$engine_pid
until_ok 60 ready 18092
until_ok 40 owned
sleep 5
check "acting: after kill -9 and restart, no orphan and no duplicate" owned

# Garbage collection: a Mitigation's NetworkPolicy goes with it.
kill -TERM "$pid_b"; wait "$pid_b" 2>/dev/null
m=$(kubectl get mitigations -A -o json | python3 -c '
import json, sys
ms = [m for m in json.load(sys.stdin)["items"] if m.get("status", {}).get("phase") == "Applied" and m["spec"]["action"] == "NetworkPolicy"]
print(ms[0]["metadata"]["namespace"], ms[0]["metadata"]["name"], ms[0]["spec"]["object"]["metadata"]["name"]) if ms else print("")')
if [ -n "$m" ]; then
  read -r ns name np <<<"$m"
  kubectl -n "$ns" delete mitigation "$name" >/dev/null
  gone() { ! kubectl -n "$ns" get networkpolicy "$np" >/dev/null 2>&1; }
  check "acting: deleting a Mitigation garbage-collects its NetworkPolicy" until_ok 60 gone
else
  fail "acting: an Applied Mitigation to delete"
fi

# Break-glass: revert-all leaves nothing of rampart's behind, and nothing is applied while on.
engine 18092 "$work/act-b3.log" "${acting_flags[@]}" --identity e2e-b --reapply-cooldown 0s
pid_b=$engine_pid
until_ok 60 ready 18092
check "break-glass: Mitigations Applied before the switch" until_ok 60 applied
active_left() { # Proposed or Applied Mitigations, plus rampart's NetworkPolicies
  echo $(($(kubectl get mitigations -A -o json | python3 -c '
import json, sys
print(sum(m.get("status", {}).get("phase", "Proposed") in ("Proposed", "Applied") for m in json.load(sys.stdin)["items"]))') +
    $(kubectl get networkpolicies -A -l rampart.dev/mitigation -o name | wc -l)))
}
echo "e2e:      before break-glass: $(active_left) active Mitigation(s) and NetworkPolicies"
check "break-glass: on --revert-all waits until no Mitigation is active" \
  "$rampart" engine break-glass on --revert-all --reason "e2e drill" --wait 60s
check "break-glass: no active Mitigation and no NetworkPolicy of rampart's left" test "$(active_left)" = 0
sleep 5
check "break-glass: still nothing applied 5 s later (no cool-down holds the cuts back)" test "$(active_left)" = 0
findings 18092 "$work/bg.json"
check "break-glass: /findings says engaged, by whom" \
  test "$(jq_py "$work/bg.json" 'd["break_glass"]["state"] + " " + str(bool(d["break_glass"]["hands"][0]["set_by"]))')" = "engaged True"
bg_event() { kubectl -n default get events.events.k8s.io -o jsonpath='{range .items[*]}{.reason}{"\n"}{end}' | grep -q BreakGlassEngaged; }
check "break-glass: an Event records who set it" until_ok 10 bg_event
check "break-glass: off" "$rampart" engine break-glass off
check "break-glass: released, acting resumes" until_ok 60 applied
kill -TERM "$pid_b"; wait "$pid_b" 2>/dev/null
rss() { ps -o rss= -p "$1" 2>/dev/null | awk '{printf "%.0f", $1/1024}'; }

# ── webhook through the API server ────────────────────────────────────────────────────────
pod() { # pod NAME NAMESPACE PRIVILEGED [EXTRA-SPEC]
  cat <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $1, namespace: $2}
spec:
  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
  ${4:-}
  containers:
  - name: c
    image: registry.example/app:1.0
    securityContext: {privileged: $3, allowPrivilegeEscalation: $3, capabilities: {drop: [ALL]}, runAsUser: 1000}
EOF
}
for n in e2e-restricted e2e-baseline e2e-warn e2e-mut e2e-pol e2e-lbl; do kubectl create namespace $n >/dev/null; done
kubectl label namespace e2e-restricted pod-security.kubernetes.io/enforce=restricted >/dev/null
kubectl label namespace e2e-baseline pod-security.kubernetes.io/enforce=baseline >/dev/null
kubectl label namespace e2e-warn pod-security.kubernetes.io/warn=restricted >/dev/null
denied() { # denied NAME NS PRIV PATTERN [EXTRA]: refused by rampart, the output matching PATTERN
  pod "$1" "$2" "$3" "${5:-}" | kubectl create -f - >"$work/out" 2>&1 && return 1
  grep -q 'admission webhook "pods.validate.rampart.dev" denied the request' "$work/out" && grep -qi "$4" "$work/out"
}
check "webhook: a privileged pod in a restricted namespace is denied with rampart's message" denied p1 e2e-restricted true privileged
sed 's/^/e2e:      /' "$work/out" | head -2
check "webhook: a host-network pod in a baseline namespace is denied" denied p2 e2e-baseline false host "hostNetwork: true"
check "webhook: a compliant pod is admitted" bash -c "$(declare -f pod); pod p3 e2e-restricted false | kubectl create -f - >/dev/null"
warned() { pod p4 e2e-warn true | kubectl create -f - >"$work/out" 2>&1 && grep -q '^Warning: .*privileged' "$work/out"; }
check "webhook: warn=restricted admits a privileged pod with a warning" warned
deployment_warned() {
  kubectl -n e2e-restricted create deployment bad --image registry.example/app:1.0 --dry-run=client -o yaml |
    kubectl create -f - >"$work/out" 2>&1 && grep -q '^Warning: ' "$work/out"
}
check "webhook: a non-compliant Deployment in a restricted namespace is admitted with warnings (as upstream)" deployment_warned
kubectl apply -f - >/dev/null <<'EOF'
apiVersion: rampart.dev/v1alpha1
kind: SecurityPolicy
metadata: {name: defaults, namespace: e2e-mut}
spec:
  enforcementMode: enforce
  rules:
  - {name: mesh, action: warn, conditions: [{requireMeshSidecar: istio}]}
  mutations:
    defaultRequests: {cpu: 100m, memory: 128Mi}
EOF
mutated() { # a pod created before the webhook saw the policy is deleted, and the next try creates it again
  pod p5 e2e-mut false | kubectl create -f - >/dev/null 2>&1
  [ "$(kubectl -n e2e-mut get pod p5 -o jsonpath='{.spec.containers[0].resources.requests.cpu}')" = 100m ] && return 0
  kubectl -n e2e-mut delete pod p5 --grace-period=0 --force >/dev/null 2>&1
  return 1
}
check "webhook: a SecurityPolicy's mutation is applied as the stored pod shows" until_ok 10 mutated
invalid_refused() {
  kubectl apply -f - >"$work/out" 2>&1 <<'EOF'
apiVersion: rampart.dev/v1alpha1
kind: SecurityPolicy
metadata: {name: broken, namespace: e2e-pol}
spec:
  rules:
  - name: two-in-one
    conditions:
    - {disallowSecretEnv: true, requireMeshSidecar: istio}
EOF
  [ $? -ne 0 ] && grep -q 'policies.validate.rampart.dev' "$work/out"
}
check "webhook: an invalid SecurityPolicy is refused through the webhook" invalid_refused
sed 's/^/e2e:      /' "$work/out" | head -2
guardian_refused() {
  kubectl apply -f - >"$work/out" 2>&1 <<'EOF'
apiVersion: rampart.dev/v1alpha1
kind: Guardian
metadata: {name: broken, namespace: e2e-pol}
spec:
  control: {mode: block}
  configured:
    routes:
    - {method: GET, template: "/items/{id}", values: {query.q: {formats: [phone]}}}
EOF
  [ $? -ne 0 ] && grep -q 'unknown format "phone"' "$work/out" && grep -q 'policies.validate.rampart.dev' "$work/out"
}
check "webhook: an invalid Guardian is refused through the webhook, every problem named" guardian_refused
guardian_status() { # the learner's part is a subresource: an apply of the spec leaves it alone
  kubectl apply -f - >/dev/null 2>&1 <<'EOF'
apiVersion: rampart.dev/v1alpha1
kind: Guardian
metadata: {name: api, namespace: e2e-pol}
spec:
  control: {mode: alert}
EOF
  kubectl -n e2e-pol patch guardian api --subresource=status --type=merge \
    -p '{"status":{"samples":42,"learned":{"routes":[{"method":"GET","template":"/items/{int}"}]}}}' >/dev/null || return 1
  kubectl apply -f - >/dev/null 2>&1 <<'EOF'
apiVersion: rampart.dev/v1alpha1
kind: Guardian
metadata: {name: api, namespace: e2e-pol}
spec:
  control: {mode: block}
EOF
  [ "$(kubectl -n e2e-pol get guardian api -o jsonpath='{.status.samples}/{.spec.control.mode}')" = 42/block ]
}
check "Guardian: learned criteria live in the status subresource; an apply of the spec keeps them" guardian_status
sed 's/^/e2e:      /' "$work/out" | head -2
kubectl apply -f - >/dev/null <<'EOF'
apiVersion: rampart.dev/v1alpha1
kind: SecurityPolicy
metadata: {name: resources, namespace: e2e-pol}
spec:
  enforcementMode: enforce
  rules:
  - name: resources
    conditions: [{requireResources: {requests: [cpu]}}]
EOF
first_try() { # the very next request, no retry
  pod p6 e2e-pol false | kubectl create -f - >"$work/out" 2>&1 && return 1
  grep -q 'denied the request' "$work/out"
}
check "webhook: a new SecurityPolicy takes effect on the next request" first_try
kubectl label namespace e2e-lbl pod-security.kubernetes.io/enforce=restricted >/dev/null
check "webhook: a namespace label change takes effect on the next request" denied p7 e2e-lbl true privileged

# CEL rules reading the cluster through the webhook's own watches: each namespace's ConfigMap
# of allowed Service types (params, watched by name) and the cluster's Services (inventory).
kubectl create namespace e2e-cel >/dev/null
kubectl -n e2e-cel create configmap service-types --from-literal=allowed=ClusterIP >/dev/null
kubectl apply -f - >/dev/null <<'EOF'
apiVersion: rampart.dev/v1alpha1
kind: ClusterSecurityPolicy
metadata: {name: service-rules}
spec:
  targets: {kinds: [v1/Service], namespaces: [e2e-cel]}
  params: {kind: ConfigMap, name: service-types}
  inventory: [{apiVersion: v1, kind: Service}]
  rules:
  - name: types
    conditions:
    - cel:
        expression: "(has(object.spec.type) ? object.spec.type : 'ClusterIP') in params.data.allowed.split(',')"
        messageExpression: "'type ' + object.spec.type + ' is not in ' + params.data.allowed"
  - name: unique-selector
    conditions:
    - cel:
        expression: >-
          !has(object.spec.selector) || !inventory.exists(s, s.metadata.namespace == object.metadata.namespace
            && s.metadata.name != object.metadata.name && has(s.spec.selector) && s.spec.selector == object.spec.selector)
        message: another Service has this selector
EOF
svc() { # svc NAME TYPE APP: create a Service, its output in $work/out
  kubectl apply -f - >"$work/out" 2>&1 <<EOF
apiVersion: v1
kind: Service
metadata: {name: $1, namespace: e2e-cel}
spec: {type: $2, selector: {app: $3}, ports: [{port: 80}]}
EOF
}
svc_denied() { # svc_denied NAME TYPE APP PATTERN: refused, the output matching PATTERN
  svc "$1" "$2" "$3" && { kubectl -n e2e-cel delete service "$1" >/dev/null 2>&1; return 1; }
  grep -q "$4" "$work/out"
}
check "webhook CEL: a Service type its namespace's ConfigMap (params) does not allow is denied" \
  until_ok 20 svc_denied edge NodePort edge 'type NodePort is not in ClusterIP'
sed 's/^/e2e:      /' "$work/out" | head -1 | cut -c1-220
check "webhook CEL: an allowed Service is admitted" svc api ClusterIP api
check "webhook CEL: a second Service with the same selector (inventory) is denied" \
  until_ok 20 svc_denied api2 ClusterIP api 'another Service has this selector'
kubectl -n e2e-cel patch configmap service-types --type merge -p '{"data":{"allowed":"ClusterIP,NodePort"}}' >/dev/null
check "webhook CEL: the ConfigMap's change is in effect (the NodePort Service admitted)" until_ok 20 svc edge NodePort edge

# Image signatures: a signed and an unsigned image in the loopback registry, a
# ClusterSecurityPolicy requiring the key's signature; the API server stores what /mutate pins.
cargo build --release --quiet -p rampart-testkit --bin sign-image || fail "sign-image builds"
sign=target/release/sign-image
"$sign" keygen "$work/keys" >/dev/null
signed=$("$sign" push "$reg" acme/app:v1 "the signed app")
"$sign" sign "$reg" acme/app "$signed" "$work/keys" >/dev/null
"$sign" push "$reg" acme/app:unsigned "an unsigned app" >/dev/null
kubectl create namespace e2e-img >/dev/null
python3 - "$work/keys/cosign.pub" "$reg" >"$work/signed-policy.json" <<'PY'
import json, sys
key, reg = open(sys.argv[1]).read(), sys.argv[2]
print(json.dumps({"apiVersion": "rampart.dev/v1alpha1", "kind": "ClusterSecurityPolicy",
  "metadata": {"name": "signed-images"},
  "spec": {"targets": {"namespaces": ["e2e-img"]}, "rules": [{"name": "release-key", "conditions": [
    {"verifyImages": {"imageReferences": [f"{reg}/acme/*"], "attestors": [{"key": {"publicKey": key}}]}}]}]}}))
PY
kubectl apply -f "$work/signed-policy.json" >/dev/null
img_pod() { kubectl -n e2e-img run "$1" --image="$2" --restart=Never >"$work/out" 2>&1; }
signed_pinned() { # admitted, and stored with the digest the webhook verified
  img_pod s1 "$reg/acme/app:v1" || return 1
  [ "$(kubectl -n e2e-img get pod s1 -o jsonpath='{.spec.containers[0].image}')" = "$reg/acme/app@$signed" ] && return 0
  kubectl -n e2e-img delete pod s1 --grace-period=0 --force >/dev/null 2>&1
  return 1
}
check "webhook images: a signed image is admitted, stored pinned to the verified digest" until_ok 20 signed_pinned
unsigned_denied() {
  img_pod u1 "$reg/acme/app:unsigned" && { kubectl -n e2e-img delete pod u1 --grace-period=0 --force >/dev/null 2>&1; return 1; }
  grep -q 'no signature found' "$work/out"
}
check "webhook images: an unsigned image is denied, saying why" until_ok 20 unsigned_denied
sed 's/^/e2e:      /' "$work/out" | head -1 | cut -c1-240
kubectl -n e2e-img create deployment web --image="$reg/acme/app:v1" --replicas=3 >/dev/null
pinned_pods() {
  [ "$(kubectl -n e2e-img get pods -l app=web -o jsonpath='{range .items[*]}{.spec.containers[0].image}{"\n"}{end}' | grep -c "@$signed")" = 3 ]
}
check "webhook images: a Deployment's 3 pods are created pinned (the template pinned, its pods verified from the cache)" until_ok 30 pinned_pods
# The key in a Secret (secretRef): the chart grants the webhook that one Secret by name, the
# webhook watches it, and a SecurityPolicy of the namespace reads it.
helm upgrade rampart "$chart" -n $ns_sys --reuse-values \
  --set 'webhook.imageVerification.keySecrets[0].namespace=e2e-img' \
  --set 'webhook.imageVerification.keySecrets[0].name=signing' >/dev/null || fail "helm upgrade (key Secret)"
kubectl -n e2e-img create secret generic signing --from-file=cosign.pub="$work/keys/cosign.pub" >/dev/null
team=$("$sign" push "$reg" team/app:v1 "the team's app")
"$sign" sign "$reg" team/app "$team" "$work/keys" >/dev/null
kubectl apply -f - >/dev/null <<POLICY
apiVersion: rampart.dev/v1alpha1
kind: SecurityPolicy
metadata: {name: team-images, namespace: e2e-img}
spec:
  rules:
  - name: team-key
    conditions:
    - verifyImages:
        imageReferences: ["$reg/team/*"]
        attestors: [{key: {secretRef: {name: signing}}}]
POLICY
key_from_secret() {
  img_pod t1 "$reg/team/app:v1" || return 1
  [ "$(kubectl -n e2e-img get pod t1 -o jsonpath='{.spec.containers[0].image}')" = "$reg/team/app@$team" ] && return 0
  kubectl -n e2e-img delete pod t1 --grace-period=0 --force >/dev/null 2>&1
  return 1
}
check "webhook images: a key read from a Secret (granted by name) verifies a SecurityPolicy's image" until_ok 30 key_from_secret
cached_hits() { curl -sf --cacert "$work/hook/ca.crt" $hook/metrics | grep -q 'rampart_image_verifications_total{result="verified",cached="true"} [1-9]'; }
check "webhook images: verdicts come from the cache (rampart_image_verifications_total)" cached_hits

# An API server restart: the webhook's watches end and relist.
scripts/control-plane.sh restart-apiserver "$cp" || fail "the API server restarts"
until_ok 30 hook_ready || fail "webhook: ready again after the API server restart"
kubectl apply -f - >/dev/null <<'EOF'
apiVersion: rampart.dev/v1alpha1
kind: SecurityPolicy
metadata: {name: after-restart, namespace: e2e-lbl}
spec:
  enforcementMode: enforce
  rules:
  - name: resources
    conditions: [{requireResources: {requests: [memory]}}]
EOF
after_restart() { # a pod admitted before the webhook relisted is deleted, so that the next try is a create again
  pod p8 e2e-lbl false | kubectl create -f - >"$work/out" 2>&1 && { kubectl -n e2e-lbl delete pod p8 --grace-period=0 --force >/dev/null 2>&1; return 1; }
  grep -q 'after-restart' "$work/out"
}
check "webhook: survives an API server restart (a policy created after it is enforced)" until_ok 20 after_restart

# Latency: the same dry-run pod creation, straight to the API server (no kubectl start-up in the
# figure), in a namespace the webhooks skip and in one they judge.
latency() { # latency NS: median and p90 ms of 40 dry-run creates of a compliant pod
  local i
  for i in $(seq 1 40); do
    pod "lat-$i" "$1" false | kubectl create --dry-run=client -o json -f - |
      curl -s -o /dev/null -w '%{time_total}\n' --cacert "$cp/pki/ca.crt" --cert "$cp/pki/admin.crt" \
        --key "$cp/pki/admin.key" -H 'Content-Type: application/json' --data-binary @- \
        "https://127.0.0.1:${APISERVER_PORT:-16443}/api/v1/namespaces/$1/pods?dryRun=All"
  done | sort -n | awk '{ms[NR] = $1 * 1000} END {printf "%.1f ms median, %.1f ms p90", ms[int(NR/2)], ms[int(NR*0.9)]}'
}
kubectl create namespace e2e-lat >/dev/null
without=$(latency kube-system)
with=$(latency e2e-lat)
echo "e2e: webhook latency through the API server (dry-run pod create, 40 each): $without without (kube-system, exempt); $with with rampart's validating and mutating webhooks"
echo "e2e: resident memory: webhook $(rss "$webhook_pid") MiB"

# The webhook down: failurePolicy as the chart's values say.
kill -TERM "$webhook_pid"; wait "$webhook_pid" 2>/dev/null
fail_closed() { pod p9 e2e-lat false | kubectl create -f - >"$work/out" 2>&1 && return 1; grep -q 'failed calling webhook' "$work/out"; }
check "webhook down, failurePolicy Fail: the pod is refused" fail_closed
sed 's/^/e2e:      /' "$work/out" | head -1 | cut -c1-200
helm upgrade rampart "$chart" -n $ns_sys --reuse-values --set webhook.failurePolicy=Ignore >/dev/null
fail_open() { pod p10 e2e-lat false | kubectl create -f - >/dev/null 2>&1; }
check "webhook down, failurePolicy Ignore: the pod is admitted" until_ok 10 fail_open

# ── compliance ────────────────────────────────────────────────────────────────────────────
# The PolicyReport API as Kyverno installs it (tests/corpora/policyreport-crds): rampart's
# reports must pass the real API server's schema, offline and from the live engine.
kubectl apply --server-side -f tests/corpora/policyreport-crds/ >/dev/null
kubectl wait --for condition=established --timeout 60s -f tests/corpora/policyreport-crds/ >/dev/null
kubectl get "$kinds,configmaps,persistentvolumeclaims,poddisruptionbudgets,horizontalpodautoscalers,validatingwebhookconfigurations,mutatingwebhookconfigurations" \
  -A -o json >"$work/dump-audit.json"
"$rampart" audit "$work/dump-audit.json" --format policy-report -o "$work/reports.json" || true
check "compliance: rampart audit's PolicyReports pass the API server's schema (server-side, strict)" \
  kubectl apply --server-side --field-manager e2e --dry-run=server -f "$work/reports.json"
helm upgrade rampart "$chart" -n $ns_sys --reuse-values --set engine.compliance.enabled=true >/dev/null
engine 18091 "$work/compliance.log" --compliance --compliance-debounce 1s
until_ok 90 ready 18091 || fail "compliance: engine ready"
ci_report() { kubectl -n ci get policyreport rampart-audit -o json >"$work/ci-report.json" 2>/dev/null; }
check "compliance: the live engine keeps a PolicyReport for namespace ci" until_ok 90 ci_report
check "compliance: it lists the privileged docker-in-docker container" \
  grep -q '"policy": "privileged-container"' "$work/ci-report.json"
check "compliance: a ClusterPolicyReport holds the RBAC subjects' findings" \
  kubectl get clusterpolicyreport rampart-audit -o name
policy_status() { kubectl get securitypolicies -A -o json | python3 -c '
import json, sys
sys.exit(0 if any(p.get("status", {}).get("lastEvaluated") for p in json.load(sys.stdin)["items"]) else 1)'; }
check "compliance: the SecurityPolicies carry their violations in status" until_ok 60 policy_status
check "compliance: one report per namespace, no more" test "$(kubectl get policyreports -A -o name | wc -l)" -le "$(kubectl get namespaces -o name | wc -l)"
echo "e2e: compliance: ci's report: $(jq_py "$work/ci-report.json" 'd["summary"]["fail"]') failing, $(jq_py "$work/ci-report.json" 'd["summary"]["pass"]') passing (check, object) pairs"
kill -TERM "$engine_pid"; wait "$engine_pid" 2>/dev/null

# ── netpol rollout ────────────────────────────────────────────────────────────────────────
# The `netpol` class through the real API server and the chart's RBAC: the demo's flows
# posted to the ingest, the proven plan rolled out step by step as Mitigations owning their
# NetworkPolicies; a policy drop under a step-1 policy reverts it and every later step.
engine 18091 "$work/rollout.log" --enable netpol --actuator networkpolicy --netpol-interval 1s \
  --netpol-soak 2s --netpol-default-deny --ingest-token-file "$work/ingest.token" --ingest-addr 127.0.0.1:18095
until_ok 90 ready 18091 || fail "rollout: engine ready"
post_flows() { curl -sf -o /dev/null -H "Authorization: Bearer $(cat "$work/ingest.token")" --data-binary @"$1" http://127.0.0.1:18095/flows; }
check "rollout: the demo's flows accepted by POST /flows" post_flows examples/demo-flows/hubble.jsonl
rolled() {
  curl -sf http://127.0.0.1:18091/netpol >"$work/rollout.json" && python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if d["steps"] and d.get("rollout", {}).get("applied") == [s["number"] for s in d["steps"]] else 1)' "$work/rollout.json"
}
check "rollout: every step of the demo's plan applied, in order, through the real API server" until_ok 120 rolled
n_plan=$(jq_py "$work/rollout.json" 'len(d["policies"])')
n_live=$(kubectl get networkpolicies -A -l rampart.dev/netpol-step -o name | wc -l)
check "rollout: $n_live NetworkPolicies in the cluster, one per planned policy ($n_plan)" test "$n_live" = "$n_plan"
owned() { kubectl get networkpolicies -A -l rampart.dev/netpol-step -o json | python3 -c '
import json, sys
sys.exit(0 if all(any(r["kind"] == "Mitigation" for r in o["metadata"].get("ownerReferences", [])) for o in json.load(sys.stdin)["items"]) else 1)'; }
check "rollout: each owned by its Mitigation" owned
# A drop under the first step-1 policy, as Hubble reports it (the pods' labels, now), sent by
# another workload of the cluster (a drop from the internet is never blamed: anyone can send one).
read -r src_ns src_sel < <(python3 - "$work/rollout.json" "$work/drop.tmpl" <<'PY'
import json, sys, datetime
d = json.load(open(sys.argv[1]))
first = d["steps"][0]["policies"][0]
by = {(x["metadata"]["namespace"], x["metadata"]["name"]): x for x in d["policies"]}
p = by[(first["namespace"], first["name"])]
def labels(x):
    return [f"k8s:{k}={v}" for k, v in x["spec"]["podSelector"].get("matchLabels", {}).items()]
src = next(x for x in d["policies"] if labels(x) and labels(x) != labels(p))
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
print(json.dumps({"flow": {"time": now, "verdict": "DROPPED", "drop_reason_desc": "POLICY_DENIED",
    "traffic_direction": "INGRESS", "IP": {"source": "10.99.0.2", "destination": "10.99.0.1"},
    "l4": {"TCP": {"source_port": 40000, "destination_port": 443}},
    "source": {"namespace": src["metadata"]["namespace"], "pod_name": "SRC_POD", "labels": labels(src)},
    "destination": {"namespace": p["metadata"]["namespace"], "pod_name": "e2e-drop", "labels": labels(p)}}}),
    file=open(sys.argv[2], "w"))
sel = ",".join(f"{k}={v}" for k, v in src["spec"]["podSelector"]["matchLabels"].items())
print(src["metadata"]["namespace"], sel)
PY
)
src_pod=$(kubectl -n "$src_ns" get pods -l "$src_sel" -o jsonpath='{.items[0].metadata.name}')
sed "s/SRC_POD/$src_pod/" "$work/drop.tmpl" >"$work/drop.jsonl"
read -r drop_ns drop_name < <(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); p=d["steps"][0]["policies"][0]; print(p["namespace"], p["name"])' "$work/rollout.json")
check "rollout: a policy drop posted" post_flows "$work/drop.jsonl"
reverted() { kubectl get mitigations -A -o json | python3 -c '
import json, sys
ns, name = sys.argv[1:3]
sys.exit(0 if any(m["spec"]["target"]["namespace"] == ns and m["spec"]["target"]["name"] == name
    and m.get("status", {}).get("phase") == "Reverted" and "traffic dropped" in m["status"].get("message", "")
    for m in json.load(sys.stdin)["items"]) else 1)' "$drop_ns" "$drop_name"; }
check "rollout: the drop reverts $drop_ns/$drop_name at once" until_ok 30 reverted
later() { [ "$(kubectl -n "$drop_ns" get networkpolicies -l 'rampart.dev/netpol-step in (2,3)' -o name | wc -l)" = 0 ]; }
check "rollout: every later step of $drop_ns withdrawn with it" until_ok 30 later
others=$(kubectl get networkpolicies -A -l 'rampart.dev/netpol-step in (2,3)' -o jsonpath='{range .items[*]}{.metadata.namespace}{"\n"}{end}' | grep -vcx "$drop_ns")
check "rollout: the other namespaces' later steps stand ($others policies)" test "$others" -gt 0
check "rollout: its NetworkPolicy is gone" bash -c "! kubectl -n $drop_ns get networkpolicy $drop_name >/dev/null 2>&1"
kill -TERM "$engine_pid"; wait "$engine_pid" 2>/dev/null

# ── audit ─────────────────────────────────────────────────────────────────────────────────
check "audit: no request of rampart's ServiceAccounts was refused" $check_py audit "$cp/audit.log" \
  system:serviceaccount:$ns_sys:rampart-engine system:serviceaccount:$ns_sys:rampart-webhook

if [ "$failures" -ne 0 ]; then
  echo "e2e: $failures failed; logs:"
  for f in "$work"/*.log "$cp"/kube-apiserver.log; do echo "--- $f"; tail -15 "$f"; done
  # Last, so that a CI log cut to its tail still names them.
  printf 'e2e: FAILED: %s\n' "${failed[@]}"
  exit 1
fi
echo "e2e: all scenarios passed in $((SECONDS - t0)) s"
