#!/usr/bin/env bash
# The request guard in a cluster, against the real control plane (scripts/control-plane.sh:
# kube-apiserver, controller-manager, scheduler, kwok's fake kubelets). Run by .ci/run after
# the release build; by hand:
#
#   cargo build --release && scripts/e2e-guard.sh
#
# `rampart learner` runs on the host as the chart's learner ServiceAccount (the chart's RBAC),
# with the chart's self-signed certificate; two `rampart guard` gates (the two replicas of
# shop/api, each with its pod's bound, projected token for the audience rampart-learner) sync
# with it; `rampart engine` takes the learner's events. Each line prints `e2e-guard: ok …` or
# `e2e-guard: FAIL …`; the script exits 1 on any failure, every wait is bounded.
#  inject    the chart's mutating webhook (rampart webhook on the host, called by the API
#            server) adds the gate to pods of a namespace labelled rampart.dev/guard=enabled:
#            non-root, read-only, no capabilities (Pod Security restricted admits the pod), the
#            projected token; a pod whose labels name no service gets a warning instead.
#  learn     the learner verifies each gate with a real TokenReview and the pod's labels; one
#            Guardian learned from both replicas, persisted in its status (spec left empty).
#  alert     the namespace's default Guardian switched from learn to alert (the service's own
#            follows it): an injection through one replica is alerted, reported, and
#            corroborates the chain that enters through shop/api in /findings (request_anomaly).
#  block     an operator's `kubectl patch` of the Guardian's spec reaches both gates: the
#            injection is refused with 403, ordinary requests pass; the learner's next status
#            write leaves the spec alone.
#  refuse    no token, a token for another audience, a claim for another service: refused;
#            a compromise claimed for another service isolates nothing.
#  restart   the learner restarted: the gates' next syncs rebuild its state, the criteria and
#            sample count are kept.
#  respond   a verified gate's compromise report isolates its pod through the engine (a
#            Mitigation, quarantine label), the ReplicaSet replaces it; the PodDisruptionBudget
#            holds the second replica's isolation until the replacement is Ready; a quarantined
#            pod's gate is refused from then on (its labels no longer name a service).
set -uo pipefail
cd "$(dirname "$0")/.."
tag=e2e-guard
. scripts/e2e-lib.sh
py() { python3 -c "$@"; }
t0=$SECONDS
ns_sys=rampart-system

scripts/control-plane.sh up "$cp" || { echo "e2e-guard: FAIL the control plane did not start"; exit 1; }
export KUBECONFIG=$cp/kubeconfig
echo "e2e-guard: control plane up in $((SECONDS - t0)) s"
"$rampart" crds | kubectl apply -f - >/dev/null
kubectl wait --for condition=established --timeout 60s crd/guardians.rampart.dev >/dev/null
kubectl create namespace $ns_sys >/dev/null
# The chart's learner: its ServiceAccount, RBAC and self-signed certificate.
helm template rampart charts/rampart -n $ns_sys --set learner.enabled=true \
  --show-only templates/learner.yaml | kubectl apply -f - >/dev/null || fail "the chart's learner applies"
secret_key() { kubectl -n $ns_sys get secret "$1" -o jsonpath="{.data.${2//./\\.}}" | base64 -d; }
mkdir -p "$work/tls"
for k in tls.crt tls.key ca.crt; do secret_key rampart-learner-tls $k >"$work/tls/$k"; done
token=$(kubectl -n $ns_sys create token rampart-learner --duration 2h)
printf '%s\n' 'apiVersion: v1' 'kind: Config' \
  "clusters: [{name: local, cluster: {server: \"https://127.0.0.1:${APISERVER_PORT:-16443}\", certificate-authority: \"$cp/pki/ca.crt\"}}]" \
  "users: [{name: learner, user: {token: \"$token\"}}]" \
  "contexts: [{name: local, context: {cluster: local, user: learner}}]" \
  'current-context: local' >"$work/learner.kubeconfig"

# ── inject ─────────────────────────────────────────────────────────────────────────────────
# The webhook on the host, called by the API server through the chart's webhook
# configurations; pods asking for the guard get the gate from its mutating webhook.
helm template rampart charts/rampart -n $ns_sys --set learner.enabled=true \
  --set webhook.url=https://127.0.0.1:18544 --show-only templates/webhook-admission.yaml |
  kubectl apply -f - >/dev/null || fail "the chart's webhook configurations apply"
mkdir -p "$work/hook"
for k in tls.crt tls.key ca.crt; do secret_key rampart-webhook-tls $k >"$work/hook/$k"; done
RAMPART_LOG=info "$rampart" webhook --addr 127.0.0.1:18544 --tls-cert "$work/hook/tls.crt" \
  --tls-key "$work/hook/tls.key" --guard-learner-url https://rampart-learner.$ns_sys.svc:8443/sync \
  --guard-learner-ca "$work/tls/ca.crt" --guard-image registry.example/rampart:e2e \
  >"$work/webhook.log" 2>&1 &
pids+=($!)
until_ok 30 curl -sf --cacert "$work/hook/ca.crt" https://127.0.0.1:18544/readyz || fail "webhook ready"
kubectl create namespace guarded >/dev/null
kubectl label namespace guarded rampart.dev/guard=enabled pod-security.kubernetes.io/enforce=restricted >/dev/null
until_ok 30 kubectl -n guarded get serviceaccount default || fail "guarded's default ServiceAccount"
kubectl apply -f - >/dev/null <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: front, namespace: guarded}
spec:
  replicas: 1
  selector: {matchLabels: {app: front}}
  template:
    metadata: {labels: {app: front}}
    spec:
      securityContext: {runAsNonRoot: true, runAsUser: 1000, seccompProfile: {type: RuntimeDefault}}
      containers:
      - name: front
        image: registry.example/front:1.0
        ports: [{containerPort: 8080}]
        securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
EOF
injected() {
  kubectl -n guarded get pods -l app=front -o json | py "
import json, sys
pods = json.load(sys.stdin)['items']
ok = pods and all(
    any(c['name'] == 'rampart-guard' and '--upstream=8080' in c['args'] and '--service=front' in c['args']
        and c['securityContext']['readOnlyRootFilesystem'] and c['ports'][0]['name'] == 'rampart-guard'
        for c in p['spec']['containers'])
    and any(v.get('projected', {}).get('sources', [{}])[0].get('serviceAccountToken', {}).get('audience') == 'rampart-learner'
            for v in p['spec'].get('volumes', []))
    for p in pods)
sys.exit(0 if ok else 1)"
}
check "inject: a pod of a namespace labelled rampart.dev/guard=enabled gets the gate (Pod Security restricted admits it)" until_ok 60 injected
warned=$(kubectl -n guarded run loose --image registry.example/x:1 --labels tier=x \
  --overrides '{"spec":{"securityContext":{"runAsNonRoot":true,"runAsUser":1000,"seccompProfile":{"type":"RuntimeDefault"}},"containers":[{"name":"loose","image":"registry.example/x:1","ports":[{"containerPort":80}],"securityContext":{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}}}]}}' 2>&1)
check "inject: a pod whose labels name no service is admitted with a warning, no gate" \
  bash -c "grep -q 'names the pod' <<<\"\$1\" && ! kubectl -n guarded get pod loose -o jsonpath='{.spec.containers[*].name}' | grep -q rampart-guard" _ "$warned"

# The app: shop/api, two replicas behind an internet-facing Service, a Secret mounted, a
# PodDisruptionBudget; shop/web, another service.
kubectl create namespace shop >/dev/null
# Pods need the namespace's default ServiceAccount, which the controller-manager makes.
until_ok 30 kubectl -n shop get serviceaccount default || fail "shop's default ServiceAccount"
kubectl apply -f - >/dev/null <<'EOF'
apiVersion: v1
kind: Secret
metadata: {name: db, namespace: shop}
stringData: {password: not-a-real-one}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
      - name: api
        image: registry.example/shop-api:1.0
        ports: [{name: http, containerPort: 8080}, {name: rampart-guard, containerPort: 8000}]
        volumeMounts: [{name: db, mountPath: /etc/db}]
      volumes: [{name: db, secret: {secretName: db}}]
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec:
  type: LoadBalancer
  selector: {app: api}
  ports: [{port: 80, targetPort: rampart-guard}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: api, namespace: shop}
spec: {minAvailable: 1, selector: {matchLabels: {app: api}}}
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: shop, labels: {app: web}}
spec:
  containers: [{name: web, image: registry.example/shop-web:1.0}]
EOF
api_ready() { [ "$(kubectl -n shop get deploy api -o jsonpath='{.status.readyReplicas}')" = 2 ]; }
until_ok 90 api_ready || fail "shop/api has 2 ready replicas"
mapfile -t api_pods < <(kubectl -n shop get pods -l app=api -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}')
bound_token() { # bound_token POD [AUDIENCE]: the pod's projected token, as the kubelet mounts it
  local uid
  uid=$(kubectl -n shop get pod "$1" -o jsonpath='{.metadata.uid}')
  kubectl -n shop create token default --audience "${2:-rampart-learner}" --duration 1h \
    --bound-object-kind Pod --bound-object-name "$1" --bound-object-uid "$uid"
}
for i in 0 1; do bound_token "${api_pods[$i]}" >"$work/token-$i"; done
bound_token web-1 >"$work/token-web"
bound_token "${api_pods[0]}" https://kubernetes.default.svc >"$work/token-other-audience"

# The engine (admin credentials: its own RBAC is e2e-real.sh's), its ingest for the learner.
head -c 24 /dev/urandom | base64 >"$work/ingest.token"
RAMPART_LOG=info "$rampart" engine --namespace $ns_sys --dashboard-addr 127.0.0.1:18191 \
  --enable pod --actuator networkpolicy --ingest-addr 127.0.0.1:18193 --watch-guardians \
  --ingest-token-file "$work/ingest.token" --mitigation-ttl 10m >"$work/engine.log" 2>&1 &
pids+=($!)
until_ok 60 curl -sf http://127.0.0.1:18191/readyz || fail "engine ready"

learner_pid=
start_learner() {
  KUBECONFIG=$work/learner.kubeconfig RAMPART_LOG=info "$rampart" learner \
    --listen 127.0.0.1:18443 --admin 127.0.0.1:18902 \
    --tls-cert "$work/tls/tls.crt" --tls-key "$work/tls/tls.key" \
    --engine-url http://127.0.0.1:18193/guard --engine-token-file "$work/ingest.token" \
    --learn-every 2s --persist-every 3s >>"$work/learner.log" 2>&1 &
  learner_pid=$!
  pids+=("$learner_pid")
}
start_learner
until_ok 60 curl -sf http://127.0.0.1:18902/readyz && ok "learner: ready as the chart's ServiceAccount, Guardians cached" ||
  fail "learner: ready"

# The upstream app (stands for the api container) and two gates, one per replica.
cat >"$work/app.py" <<'EOF'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
python3 "$work/app.py" 18080 &
pids+=($!)
until_ok 10 curl -sf http://127.0.0.1:18080/ || fail "the app answers"
gate() { # gate N: the gate of replica N on 1810N (admin 1811N)
  RAMPART_LOG=info "$rampart" guard --service api --listen 127.0.0.1:1810"$1" --admin 127.0.0.1:1811"$1" \
    --metrics 127.0.0.1:1812"$1" \
    --upstream 18080 --learner https://localhost:18443/sync --learner-ca "$work/tls/ca.crt" \
    --token-file "$work/token-$1" --sync-check 2s --sync-max-gap 5s --peers-interval 0s \
    >>"$work/gate-$1.log" 2>&1 &
  pids+=($!)
}
# The namespace's default Guardian: learn (the service's own, which the learner makes, follows it).
kubectl apply -f - >/dev/null <<'EOF'
apiVersion: rampart.dev/v1alpha1
kind: Guardian
metadata: {name: default, namespace: shop}
spec: {control: {mode: learn}}
EOF
gate 0
gate 1
until_ok 30 curl -sf http://127.0.0.1:18110/readyz || fail "gate 0 ready"
until_ok 30 curl -sf http://127.0.0.1:18111/readyz || fail "gate 1 ready"
check "gate: the read-only metrics port serves /metrics and /readyz" \
  bash -c 'curl -sf http://127.0.0.1:18120/metrics | grep -q rampart_guard_requests && curl -sf http://127.0.0.1:18120/readyz'
check "gate: … and not POST /reset-pod-alert (404; only the loopback admin port has it)" \
  test "$(curl -s -o /dev/null -w '%{http_code}' -X POST http://127.0.0.1:18120/reset-pod-alert)" = 404
send() { # send GATE PATH CLIENT: the status
  curl -s -o /dev/null -w '%{http_code}' -H "X-Forwarded-For: $3" "http://127.0.0.1:1810$1$2"
}
shop() { # shop GATE FROM N: ordinary traffic from 6 clients
  local i
  for ((i = $2; i < $2 + $3; i++)); do send "$1" "/items/$((i % 50 + 1))?q=red+shoes+$i" "10.1.$((i % 6)).7" >/dev/null; done
}
shop 0 0 60
shop 1 60 60

# ── learn ──────────────────────────────────────────────────────────────────────────────────
guardian() { kubectl -n shop get guardian api -o json 2>/dev/null; }
learned() { # learned MIN: the stored status holds MIN samples or more and a route
  guardian | py "import json,sys; g=json.load(sys.stdin); s=g.get('status',{}); sys.exit(0 if s.get('samples',0)>=$1 and s.get('learned',{}).get('routes') else 1)"
}
check "learn: one Guardian learned from both replicas (120 requests), persisted in its status" until_ok 60 learned 120
guardian >"$work/g1.json"
check "learn: the learner made it with an empty spec (it follows the defaults)" \
  py "import json; g=json.load(open('$work/g1.json')); assert g['spec']=={}, g['spec']; assert g['metadata']['labels']['app.kubernetes.io/managed-by']=='rampart-learner'"
echo "e2e-guard:      status: $(py "import json; s=json.load(open('$work/g1.json'))['status']; print(s['samples'], 'samples,', len(s['learned']['routes']), 'route(s), learned', s['lastLearned'])")"
reviews() { curl -s http://127.0.0.1:18902/metrics | grep -c 'rampart_learner_syncs_total{outcome="ok"}'; }
gate_has_criteria() { curl -s http://127.0.0.1:18111/metrics | grep -q '^rampart_guard_routes [1-9]'; }
check "learn: the criteria reach both gates" until_ok 20 gate_has_criteria
first=$(py "import json; print(json.load(open('$work/g1.json'))['status']['samples'])")

# ── alert ──────────────────────────────────────────────────────────────────────────────────
attack="/items/3?q=1%27+or+%271%27%3D%271"
kubectl -n shop patch guardian default --type merge -p '{"spec":{"control":{"mode":"alert"}}}' >/dev/null
alerted() { [ "$(send 0 "$attack" 10.1.0.7)" = 200 ] && curl -s http://127.0.0.1:18110/metrics | grep -q '^rampart_guard_alerts_total{.*} [1-9]'; }
check "alert: the namespace default switched to alert: an injection passes (200) and is counted" until_ok 30 alerted
corroborated() {
  curl -sf http://127.0.0.1:18191/findings | py "
import json, sys
d = json.load(sys.stdin)
hits = [c for c in d.get('chains', []) if c.get('confidence') == 'corroborated'
        and any(e.get('behaviour') == 'request_anomaly' for e in c.get('evidence', []))]
sys.exit(0 if hits else 1)"
}
check "alert: reported by the learner, the chain through shop/api is corroborated in /findings" until_ok 30 corroborated
on_page() { curl -sf http://127.0.0.1:18191/guard/shop/api | grep -q 'class="alert".*query.q'; }
check "alert: the dashboard's page of shop/api shows the alert with its route, location and reason" until_ok 10 on_page

# ── block ──────────────────────────────────────────────────────────────────────────────────
kubectl -n shop patch guardian api --type merge -p '{"spec":{"control":{"mode":"block"}}}' >/dev/null
blocks() { [ "$(send "$1" "$attack" 10.1.1.7)" = 403 ]; }
check "block: an operator's spec edit reaches replica 0: the injection is refused (403)" until_ok 30 blocks 0
check "block: … and replica 1" until_ok 30 blocks 1
check "block: ordinary requests pass" test "$(send 1 "/items/7?q=blue+shoes" 10.1.2.7)" = 200
shop 1 200 30
check "block: learning goes on (the status counts the new requests)" until_ok 30 learned $((first + 20))
check "block: the learner's status writes leave the operator's spec alone" \
  test "$(kubectl -n shop get guardian api -o jsonpath='{.spec.control.mode}')" = block

# ── refuse ─────────────────────────────────────────────────────────────────────────────────
empty_pile='{"routes":[],"clients":{},"peers":{},"requests":{"hashes":[]}}'
sync_as() { # sync_as TOKENFILE SERVICE PODALERT: the learner's status code
  local auth=()
  [ -n "$1" ] && auth=(-H "Authorization: Bearer $(cat "$1")")
  curl -s -o "$work/sync.out" -w '%{http_code}' --cacert "$work/tls/ca.crt" "${auth[@]}" \
    -H 'Content-Type: application/json' https://localhost:18443/sync --data-binary \
    "{\"schema\":\"rampart.dev/guard-sync/v1\",\"service\":\"$2\",\"pile\":$empty_pile,\"samples\":0,\"podAlert\":$3}"
}
answers() { # answers CODE TOKENFILE SERVICE PODALERT: the learner answers CODE (retried while a
  # running gate of the same pod synced less than a second ago: 429)
  local got
  for _ in 1 2 3 4 5 6; do
    got=$(sync_as "$2" "$3" "$4")
    [ "$got" = 429 ] || break
    sleep 1
  done
  [ "$got" = "$1" ] || { echo "e2e-guard:      expected $1, got $got: $(head -c 300 "$work/sync.out")"; return 1; }
}
check "refuse: no token (401)" answers 401 "" api false
check "refuse: a token for another audience (401)" answers 401 "$work/token-other-audience" api false
check "refuse: a gate of shop/web claiming shop/api, with a compromise (403)" answers 403 "$work/token-web" api true
check "refuse: a sync of api's replica claiming web (403)" answers 403 "$work/token-0" web true
quarantined() { kubectl -n shop get pod "$1" -o jsonpath='{.metadata.labels.rampart\.dev/quarantine}' 2>/dev/null | grep -q .; }
sleep 2
check "refuse: nothing isolated on a mismatched claim" bash -c "$(declare -f quarantined); ! quarantined ${api_pods[0]} && ! quarantined web-1"

# ── restart ────────────────────────────────────────────────────────────────────────────────
settled() { # the stored sample count equals what the learner's piles hold
  local piles
  piles=$(curl -s http://127.0.0.1:18902/metrics | awk '/^rampart_learner_samples /{print $2}')
  [ -n "$piles" ] && learned "$piles" && [ "$(guardian | py "import json,sys; print(json.load(sys.stdin)['status']['samples'])")" = "$piles" ]
}
until_ok 30 settled || fail "restart: everything learned before the restart"
before=$(guardian | py "import json,sys; s=json.load(sys.stdin)['status']; print(s['samples'], json.dumps(s['learned'], sort_keys=True))")
# The figures the first learner measured (merges of every sync, learns of both phases).
curl -s http://127.0.0.1:18902/metrics >"$work/learner.metrics"
py "
import re
t = open('$work/learner.metrics').read()
def v(name):
    m = re.search('^' + re.escape(name) + r' ([0-9.e+-]+)', t, re.M)
    return float(m.group(1)) if m else 0.0
for what in ('merge', 'learn'):
    n, s = v(f'rampart_learner_{what}_seconds_count'), v(f'rampart_learner_{what}_seconds_sum')
    print(f'e2e-guard:      {what}: {int(n)}, mean {1e3 * s / n:.2f} ms' if n else f'e2e-guard:      {what}: none')
"
echo "e2e-guard:      learner resident memory: $(ps -o rss= -p "$learner_pid" | awk '{printf "%.0f", $1/1024}') MiB"
kill -TERM "$learner_pid"; wait "$learner_pid" 2>/dev/null
start_learner
until_ok 60 curl -sf http://127.0.0.1:18902/readyz || fail "restart: the learner is ready again"
synced_again() { curl -s http://127.0.0.1:18902/metrics | grep -q 'rampart_learner_syncs_total{outcome="ok"} [2-9]'; }
check "restart: both gates sync with the new learner" until_ok 30 synced_again
sleep 4
after=$(guardian | py "import json,sys; s=json.load(sys.stdin)['status']; print(s['samples'], json.dumps(s['learned'], sort_keys=True))")
check "restart: the criteria and sample count are kept" test "$before" = "$after"

# ── respond ────────────────────────────────────────────────────────────────────────────────
scripts/control-plane.sh kwok stop "$cp"
check "respond: a verified gate reports its pod compromised" answers 200 "$work/token-0" api true
check "respond: the engine isolates the pod (quarantine label)" until_ok 30 quarantined "${api_pods[0]}"
mitigated() { kubectl -n shop get mitigations -o json | py "import json,sys; sys.exit(0 if any(m['spec'].get('action')=='Isolate' or 'isolate' in json.dumps(m).lower() for m in json.load(sys.stdin)['items']) else 1)"; }
check "respond: … recorded as a Mitigation in the ledger" until_ok 10 mitigated
replaced() { [ "$(kubectl -n shop get pods -l app=api -o name | wc -l)" -eq 2 ]; }
check "respond: the ReplicaSet starts a replacement" until_ok 30 replaced
check "respond: the second replica's report is accepted" answers 200 "$work/token-1" api true
sleep 3
check "respond: the PodDisruptionBudget holds its isolation while the replacement is not Ready" \
  bash -c "$(declare -f quarantined); ! quarantined ${api_pods[1]}"
scripts/control-plane.sh kwok start "$cp"
check "respond: once the replacement is Ready, the held isolation goes ahead" until_ok 60 quarantined "${api_pods[1]}"
check "respond: a quarantined pod's gate is refused (nothing it sees is learned)" answers 403 "$work/token-0" api false

if [ $failures -gt 0 ]; then
  echo "e2e-guard: $failures failure(s) in $((SECONDS - t0)) s (logs: $work; E2E_KEEP=1 keeps them)"
  for f in learner engine gate-0 gate-1; do echo "--- $f.log (tail)"; tail -5 "$work/$f.log"; done
  exit 1
fi
echo "e2e-guard: all scenarios passed in $((SECONDS - t0)) s"
