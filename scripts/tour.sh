#!/usr/bin/env bash
# The README's "A tour on the demo", run as written: every command below must appear in README.md
# verbatim (as a `$ command` line of the tour), its exit code must be the one the README says and
# a key line of its output, also quoted in the README, must be printed. Servers run in the
# background on the tour's fixed loopback ports and are killed on exit. Run by `.ci/run`.
# TOUR_SKIP_BUILD=1 uses the release binary already in target/release.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -n "${TOUR_SKIP_BUILD:-}" ] || cargo build --release --quiet -p rampart -p rampart-guard-demo
# sign-image (the signed-images step's stand-in for cosign) apart: built together, the test kit's
# features would rebuild rampart's dependencies.
[ -n "${TOUR_SKIP_BUILD:-}" ] || cargo build --release --quiet -p rampart-testkit --bin sign-image
export PATH="$PWD/target/release:$PATH"
for tool in curl openssl timeout; do
  command -v "$tool" >/dev/null 2>&1 || { echo "tour: $tool is not installed (the README's tour uses it)"; exit 1; }
done

out=$(mktemp -d)
tls=""
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$out"
  [ -z "$tls" ] || rm -rf "$tls"
}
trap cleanup EXIT

fail() { echo "tour: FAIL: $*" >&2; [ ! -s "$out/stderr" ] || sed 's/^/  stderr: /' "$out/stderr" >&2; exit 1; }
in_readme() { grep -qF -- "$1" README.md || fail "not in README.md as written: $1"; }

# step COMMAND EXPECTED_EXIT KEY_LINE: run the README's command, check exit code and output.
step() {
  local cmd=$1 want=$2 key=$3 code=0
  in_readme "\$ $cmd"
  in_readme "$key"
  timeout 60 bash -c "$cmd" >"$out/stdout" 2>"$out/stderr" || code=$?
  [ "$code" -eq "$want" ] || fail "'$cmd' exited $code, expected $want"
  [ -z "$key" ] || grep -qF -- "$key" "$out/stdout" || fail "'$cmd' did not print: $key"
  echo "tour: ok (exit $code) $cmd"
}

# serve COMMAND URL [CURL ARGS...]: start the README's server command in the background and wait
# (at most 10 s) until URL answers.
serve() {
  local cmd=$1 url=$2; shift 2
  in_readme "\$ $cmd &"
  bash -c "exec $cmd" >"$out/server.out" 2>"$out/server.err" &
  pids+=($!)
  for _ in $(seq 1 100); do
    curl -sf "$@" "$url" >/dev/null 2>&1 && { echo "tour: ok (serving) $cmd"; return; }
    kill -0 "${pids[-1]}" 2>/dev/null || { cat "$out/server.err" >&2; fail "'$cmd' exited"; }
    sleep 0.1
  done
  cat "$out/server.err" >&2
  fail "'$cmd' did not answer $url within 10 s"
}
stop_servers() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; pids=(); }

in_readme 'export PATH="$PWD/target/release:$PATH"'

# scan: chains found (exit 1), then the what-if with every cut applied (exit 0).
step 'rampart scan examples/demo-cluster' 1 \
  'rampart scan: 60 chain(s) from 5 internet-facing entries'
step 'rampart scan examples/demo-cluster' 1 'MINIMAL CUT: cost 48, 6 cut(s), 3 live'
step 'rampart scan examples/demo-cluster --apply-cuts' 0 'WHAT-IF: 6 fix(es) applied, 0 chain(s) remain'
step 'rampart netpol suggest --flows examples/demo-flows/hubble.jsonl examples/demo-cluster -f text' 0 \
  'verified: 49/49 observed connections still allowed; 12 allowed connections not observed (dns 12)'

# offline admission: two objects denied (exit 1); the policy unit tests pass (exit 0).
# audit: failures found (exit 1); the HTML report is written.
step 'rampart audit examples/demo-cluster --policies examples/policies' 1 \
  '  cis               77.6 %   9 of 25 checks failing (42 found nothing to judge), 44 failures, 0 excepted'
step 'rampart audit examples/demo-cluster --policies examples/policies' 1 \
  '60 objects from 12 files; 105 checks; 189 failing, 0 excepted, 0 errors'
in_readme '$ rampart audit examples/demo-cluster --format html -o audit.html'
code=0; rampart audit examples/demo-cluster --format html -o "$out/audit.html" >/dev/null 2>&1 || code=$?
[ "$code" -eq 1 ] || fail "'rampart audit --format html' exited $code, expected 1"
grep -q '<table id="scores">' "$out/audit.html" || fail "the HTML report has no scores"
echo "tour: ok (exit 1) rampart audit examples/demo-cluster --format html -o audit.html"

step 'rampart policy check --policies examples/policies examples/policies/tests/resources.yaml' 1 \
  'DENY   Pod/shop/debug  (examples/policies/tests/resources.yaml:12)'
step 'rampart policy check --policies examples/policies examples/policies/tests/resources.yaml' 1 \
  '4 object(s) checked, 2 denied'
step 'rampart policy test examples/policies/tests' 0 '10 passed, 0 failed'
step 'rampart policy check --policies examples/policies-cel/policies.yaml --inventory examples/policies-cel/inventory examples/policies-cel/manifests.yaml' 1 \
  '    ClusterSecurityPolicy ingress-hygiene unique-host: another Ingress already serves this host (conditions[0].cel)'
step 'rampart policy check --policies examples/policies-cel/policies.yaml --inventory examples/policies-cel/inventory examples/policies-cel/manifests.yaml' 1 \
  '    ClusterSecurityPolicy replica-bounds within-bounds: replicas must be 2 to 20, not 40 (conditions[0].cel)'
step 'rampart policy check --vap examples/vap/policies.yaml examples/vap/manifests' 1 \
  "    ValidatingAdmissionPolicy replica-limit validations[0]: ValidatingAdmissionPolicy 'replica-limit' with binding 'replica-limit-prod' denied request: replicas must be at most 5, not 12"
step 'rampart policy check --vap examples/vap/policies.yaml examples/vap/manifests' 1 '4 object(s) checked, 2 denied'
step 'rampart policy test examples/vap/tests' 0 '5 passed, 0 failed'
# Gatekeeper CEL templates converted, then checked (the converted file lives in the tour's dir).
in_readme '$ rampart policy convert examples/gatekeeper/template.yaml > converted.yaml'
rampart policy convert examples/gatekeeper/template.yaml > "$out/converted.yaml" || fail "policy convert failed"
echo "tour: ok rampart policy convert examples/gatekeeper/template.yaml"
in_readme '$ rampart policy check --policies converted.yaml examples/gatekeeper/services.yaml'
code=0; text=$(rampart policy check --policies "$out/converted.yaml" examples/gatekeeper/services.yaml) || code=$?
[ "$code" -eq 1 ] || fail "'rampart policy check --policies converted.yaml' exited $code, expected 1"
want='    ClusterSecurityPolicy k8sallowedservicetypes-internal-only K8sAllowedServiceTypes: Service type NodePort is not one of ClusterIP (conditions[0].cel)'
grep -qF -- "$want" <<<"$text" || fail "converted policies: no line '$want'"
in_readme "$want"
echo "tour: ok (exit 1) rampart policy check --policies converted.yaml examples/gatekeeper/services.yaml"

# the dashboard of an offline scan answers /status.
serve 'rampart dashboard examples/demo-cluster --addr 127.0.0.1:18080' http://127.0.0.1:18080/healthz
step 'curl -s http://127.0.0.1:18080/status' 0 '{"chains":60,"generation":1,"ready":true}'
stop_servers

# the webhook over TLS with a self-signed certificate: /healthz, then a privileged pod denied.
in_readme '$ tls=$(mktemp -d)'
tls=$(mktemp -d)
export tls
cmd='openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 -keyout "$tls/tls.key" -out "$tls/tls.crt" 2>/dev/null'
in_readme "\$ $cmd"
bash -c "$cmd" || fail "openssl could not make a self-signed certificate"
[ -s "$tls/tls.crt" ] && [ -s "$tls/tls.key" ] || fail "no certificate in $tls"
echo "tour: ok openssl req … (self-signed certificate)"
serve 'rampart webhook --tls-cert "$tls/tls.crt" --tls-key "$tls/tls.key" --addr 127.0.0.1:18443 --policies examples/policies --namespaces examples/policies/namespaces.yaml' \
  https://127.0.0.1:18443/healthz --cacert "$tls/tls.crt"
step 'curl -s --cacert "$tls/tls.crt" https://127.0.0.1:18443/healthz' 0 'ok'
step "curl -s --cacert \"\$tls/tls.crt\" https://127.0.0.1:18443/validate -H 'Content-Type: application/json' -d @docs/privileged-pod-review.json" 0 \
  'violates PodSecurity \"baseline:latest\": privileged (container \"c\" must not set securityContext.privileged=true)'
grep -qF '"allowed":false' "$out/stdout" || fail "the privileged pod was not denied"
stop_servers

# signed images: a registry on loopback, a signed and an unsigned image, the webhook's answers.
step 'scripts/signed-images.sh' 0 'no signature found'
grep -qF 'signed    allowed; /mutate pins the image to ' "$out/stdout" || fail "the signed image was not admitted and pinned"

# a model's prompt for one chain (no model needed with --dry-run).
step 'rampart judge chain-fae9f9cd2279 examples/judge/exposed-logs-headers --vulns examples/judge/exposed-logs-headers --kev-file examples/demo-intel/kev.json --dry-run' 0 '"note": "known exploited (CISA KEV: Apache Log4j2 Remote Code Execution Vulnerability)"'

# the engine needs a cluster: its help is the tour.
step 'rampart engine --help' 0 'Usage: rampart engine [OPTIONS]'

# the request guard: learn in front of the demo API, then block; replay offline.
in_readme 'release -p rampart-guard-demo'
serve 'rampart-guard-demo serve 127.0.0.1:18180' http://127.0.0.1:18180/api/products/1
serve 'rampart guard --listen 127.0.0.1:18100 --admin 127.0.0.1:18101 --upstream 18180 --mode learn --service demo-api --write-guardian /tmp/demo-guardian.yaml' http://127.0.0.1:18101/healthz
step 'rampart-guard-demo send tests/corpora/crs-regression 127.0.0.1:18100 learn 20000' 0 '20000 learn requests: {"Passed": 20000}'
# `kill %2`: the gate writes what it learned as it stops.
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true; unset 'pids[-1]'
grep -qF 'rampart guard: wrote /tmp/demo-guardian.yaml (6 routes)' "$out/server.err" || { cat "$out/server.err" >&2; fail "the learning gate did not write its Guardian"; }
in_readme 'rampart guard: wrote /tmp/demo-guardian.yaml (6 routes)'
echo "tour: ok (learned) kill %2"
step "rampart guard explain /tmp/demo-guardian.yaml | grep -F 'query.sort'" 0 '`query.sort`: a word (letters, digits, `_`, `-`); one of the 4 values seen;'
serve 'rampart guard --listen 127.0.0.1:18100 --admin 127.0.0.1:18101 --upstream 18180 --mode block --service demo-api --guardian /tmp/demo-guardian.yaml' http://127.0.0.1:18101/healthz
browser="-H 'Host: shop.example' -H 'Accept: application/json, text/plain, */*' -H 'X-Forwarded-For: 198.51.100.7' -A 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'"
step "curl -s $browser 'http://127.0.0.1:18100/api/products?q=red+shoes&page=2&sort=price'" 0 '{"items":[{"id":1,"name":"Red shoes","price":59.9}],"page":1}'
step "curl -s $browser 'http://127.0.0.1:18100/api/products?q=shoes%27%20UNION%20SELECT%20password%20FROM%20users--&page=2&sort=price'" 0 '{"error":"request refused by rampart guard","requestId":"'
stop_servers
step 'rampart-guard-demo traffic tests/corpora/crs-regression /tmp/rampart-guard' 0 '/tmp/rampart-guard/attacks.har: 66644 requests'
step 'rampart guard replay --learn /tmp/rampart-guard/learn.har --judge /tmp/rampart-guard/holdout.har' 0 '20000 judged, 0 alert, 20000 pass'
step 'rampart guard replay --learn /tmp/rampart-guard/learn.har --judge /tmp/rampart-guard/attacks.har --format json > /tmp/rampart-guard/verdicts.json' 1 ''
grep -qF '"schema": "rampart.dev/guard-replay/v1"' /tmp/rampart-guard/verdicts.json || fail "replay --format json: no schema line"

echo "tour: ok"
