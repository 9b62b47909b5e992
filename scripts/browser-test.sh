#!/usr/bin/env bash
# Browser test of the dashboard: headless Chromium loads the page served by
# `rampart dashboard examples/demo-cluster examples/guard`, the DOM must show the demo's chains
# and mitigations and the graph script must have drawn the attack graph; a screenshot is saved
# to ci-artifacts/dashboard.png. Then the request guard's page of shop/web: its criteria in
# words and the editor's script writing the Guardian change (ci-artifacts/guard.png). Then the
# audit's self-contained HTML report with a hostile object name (ci-artifacts/audit.png). Needs
# Debian's `chromium` (installed by .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || { echo "browser-test: chromium is not installed (apt-get install chromium)"; exit 1; }
cargo build --release --quiet -p rampart
mkdir -p ci-artifacts
log=$(mktemp)
target/release/rampart dashboard examples/demo-cluster examples/guard --addr 127.0.0.1:18092 2>"$log" &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 100); do grep -q "http://" "$log" && break; sleep 0.1; done
flags=(--headless --no-sandbox --disable-gpu --disable-dev-shm-usage --virtual-time-budget=5000)
"$browser" "${flags[@]}" --dump-dom http://127.0.0.1:18092/ 2>/dev/null > ci-artifacts/dashboard.html
"$browser" "${flags[@]}" --window-size=1280,1400 --screenshot=ci-artifacts/dashboard.png http://127.0.0.1:18092/ 2>/dev/null
python3 - ci-artifacts/dashboard.html <<'PY'
import re, sys
dom = open(sys.argv[1]).read()
chains = dom.count('class="chain"')
mitigations = dom.count('class="mitigation"')
nodes = re.search(r'data-graph-nodes="(\d+)"', dom)
errors = re.search(r'data-graph-error="([^"]*)"', dom)
print(f"browser-test: {chains} chains, {mitigations} mitigations, graph nodes {nodes.group(1) if nodes else None}")
assert chains >= 40, "the demo's chains are listed"
assert mitigations >= 1, "the proposed mitigations are listed"
assert nodes and int(nodes.group(1)) > 10, "the graph script ran and drew the attack graph"
assert not errors, errors.group(1)
assert "ci/deployer" in dom and "ClusterAdmin" in dom
PY
[ -s ci-artifacts/dashboard.png ] || { echo "browser-test: no screenshot"; exit 1; }

# The request guard's page of shop/web (examples/guard): criteria in words, and the editor's
# script, preset from the fragment, writing the Guardian change.
page='http://127.0.0.1:18092/guard/shop/web#mode=learn&minSessions=5'
"$browser" "${flags[@]}" --dump-dom "$page" 2>/dev/null > ci-artifacts/guard.html
"$browser" "${flags[@]}" --window-size=1280,1400 --screenshot=ci-artifacts/guard.png "$page" 2>/dev/null
python3 - ci-artifacts/guard.html <<'PY'
import html, json, re, sys
dom = open(sys.argv[1]).read()
routes = dom.count('class="route"')
values = dom.count('class="value"')
pre = re.search(r'<pre id="guardian-yaml">(.*?)</pre>', dom, re.S)
assert pre, "the editor's YAML is on the page"
y = html.unescape(pre.group(1))
print(f"browser-test: guard page: {routes} routes, {values} value lines; the editor wrote:")
print("\n".join("  " + l[:110] for l in y.splitlines()[:7]))
assert routes >= 6 and values > 20, "the learned criteria, in words"
assert "kind: Guardian" in y and 'namespace: "shop"' in y
control = json.loads(re.search(r"^  control: (\{.*\})$", y, re.M).group(1))
assert control == {"mode": "learn", "learn": True, "learnAlerted": False, "minSessions": 5, "minClients": 2}, control
assert 'data-edited-mode="learn"' in dom, "the script ran"
assert "configured" not in y, "no configured criteria to carry"
PY
[ -s ci-artifacts/guard.png ] || { echo "browser-test: no screenshot of the guard page"; exit 1; }
# The audit's HTML report: the demo plus an object whose name is markup. Headless Chromium renders
# the file; the DOM must hold the scores and checks, and the hostile name only as text.
evil=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -f "$log"; rm -rf "$evil"' EXIT
cat > "$evil/evil.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: "x\"><img src=x onerror=\"document.title='pwned'\"><script>document.title='pwned'</script>"
  namespace: "<b>ns</b>"
spec:
  containers:
    - name: "<svg onload=alert(1)>"
      image: busybox
      securityContext: {privileged: true}
YAML
code=0
target/release/rampart audit examples/demo-cluster "$evil" --format html -o ci-artifacts/audit.html || code=$?
[ "$code" -eq 1 ] || { echo "browser-test: rampart audit exited $code, expected 1"; exit 1; }
"$browser" "${flags[@]}" --dump-dom "file://$PWD/ci-artifacts/audit.html" 2>/dev/null > ci-artifacts/audit-dom.html
"$browser" "${flags[@]}" --window-size=1280,1400 --screenshot=ci-artifacts/audit.png "file://$PWD/ci-artifacts/audit.html" 2>/dev/null
python3 - ci-artifacts/audit-dom.html <<'PY'
import re, sys
dom = open(sys.argv[1]).read()
frameworks = dom.count('class="framework"')
checks = dom.count('class="check"')
failing = dom.count('class="finding fail"')
print(f"browser-test: audit report: {frameworks} frameworks, {checks} checks, {failing} failing rows")
assert frameworks == 5, "every framework has its score"
assert checks > 100, "every check is listed"
assert failing > 50
assert "<img" not in dom and "<svg" not in dom, "a name became markup"
assert "<script" not in dom, "a name became a script"
assert "pwned" not in re.search(r"<title>(.*?)</title>", dom).group(1)
assert "&lt;img src=x" in dom, "the hostile name is shown as text"
assert "Deployment/ci/webhook-relay" in dom
PY
[ -s ci-artifacts/audit.png ] || { echo "browser-test: no screenshot of the audit report"; exit 1; }
echo "browser-test: ok (screenshot: ci-artifacts/dashboard.png)"
