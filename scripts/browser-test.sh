#!/usr/bin/env bash
# Browser tests. First the dashboard's suite (tests/browser/dashboard.cjs): playwright-core,
# from the npm registry, drives Debian's Chromium (no browser download) through the demo and a
# cluster named with XSS payloads, and axe-core checks accessibility; screenshots of each view
# land in ci-artifacts/dashboard-*.png. Then, in the same Chromium headless: the request guard's
# page of shop/web, its criteria in words and the editor's script writing the Guardian change
# (ci-artifacts/guard.png); the audit's self-contained HTML report with a hostile object name
# (ci-artifacts/audit.png); the judged demo, every entry captioned by a scripted model
# (ci-artifacts/dashboard-judged.png).
# Needs Debian's `chromium` and Node (installed by .ci/run); playwright-core and axe-core are
# installed once per machine into ~/.cache/rampart-tools/browser-test from
# tests/browser/package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/.."
browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || { echo "browser-test: chromium is not installed (apt-get install chromium)"; exit 1; }
command -v npm >/dev/null || { echo "browser-test: npm is not installed (apt-get install npm)"; exit 1; }
tools=${RAMPART_TOOLS:-$HOME/.cache/rampart-tools}
modules="$tools/browser-test"
if ! cmp -s tests/browser/package-lock.json "$modules/package-lock.json" \
  || [ ! -d "$modules/node_modules/playwright-core" ] || [ ! -d "$modules/node_modules/axe-core" ]; then
  echo "browser-test: installing playwright-core and axe-core (npm) into $modules"
  rm -rf "$modules"
  mkdir -p "$modules"
  cp tests/browser/package.json tests/browser/package-lock.json "$modules/"
  (cd "$modules" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
fi
cargo build --release --quiet -p rampart
mkdir -p ci-artifacts
RAMPART=target/release/rampart CHROMIUM="$browser" ARTIFACTS=ci-artifacts \
  NODE_PATH="$modules/node_modules" node tests/browser/dashboard.cjs

log=$(mktemp)
target/release/rampart dashboard examples/demo-cluster examples/guard --addr 127.0.0.1:18092 2>"$log" &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 100); do grep -q "http://" "$log" && break; sleep 0.1; done
flags=(--headless --no-sandbox --disable-gpu --disable-dev-shm-usage --virtual-time-budget=5000)

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
# The judged demo: a scripted OpenAI-compatible model (test code, below) judges every chain of
# `rampart dashboard --model-url`; each entry is captioned in the model's words, and a reason
# that is markup stays text.
model_log=$(mktemp)
python3 - 18093 >"$model_log" 2>&1 <<'PY' &
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    def do_POST(self):
        req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        user = req["messages"][1]["content"]
        data = json.loads(user[user.index("<chain-data>") + 12:user.rindex("</chain-data>")])
        entry = data["entry"]["object"]
        if not ("monitoring" in entry or "ingress-nginx" in entry):
            v = {"verdict": "exploitable", "confidence": 0.85, "steps": ["s0", "s1"],
                 "reason": "the exposed entry hands an attacker the next step directly"}
        else:
            v = {"verdict": "not_exploitable", "confidence": 0.8, "steps": ["s0"],
                 "reason": "the service never parses user input <img src=x onerror=alert(1)>"}
        body = json.dumps({"choices": [{"index": 0, "finish_reason": "stop",
            "message": {"role": "assistant", "content": json.dumps(v)}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
model_pid=$!
judged_log=$(mktemp)
trap 'kill $pid $model_pid ${judged_pid:-} 2>/dev/null || true; rm -f "$log" "$model_log" "$judged_log"; rm -rf "$evil"' EXIT
sleep 0.5
target/release/rampart dashboard examples/demo-cluster --addr 127.0.0.1:18094 \
  --model-url http://127.0.0.1:18093/v1 --model-name scripted 2>"$judged_log" &
judged_pid=$!
for _ in $(seq 1 200); do grep -q "http://" "$judged_log" && break; sleep 0.1; done
grep -q "http://" "$judged_log" || { echo "browser-test: the judged dashboard did not start"; cat "$judged_log" "$model_log"; exit 1; }
"$browser" "${flags[@]}" --dump-dom http://127.0.0.1:18094/ 2>/dev/null > ci-artifacts/dashboard-judged.html
"$browser" "${flags[@]}" --window-size=1280,1400 --screenshot=ci-artifacts/dashboard-judged.png http://127.0.0.1:18094/ 2>/dev/null
python3 - ci-artifacts/dashboard-judged.html <<'PY'
import re, sys
dom = open(sys.argv[1]).read()
entries = dom.count('class="entry"')
captions = re.findall(r'<span class="caption" data-verdict="([a-z_]+)">(.*?)</span>', dom)
judged = sum(int(n) for n in re.findall(r'<td data-confidence="judged"><a [^>]*>(\d+)</a>', dom))
print(f"browser-test: judged dashboard: {entries} entries, {len(captions)} captions, {judged} judged chains")
assert entries >= 3 and len(captions) == entries, "every entry is captioned"
verdicts = {v for v, _ in captions}
assert verdicts == {"exploitable", "not_exploitable"}, verdicts
assert any(t.startswith("not exploitable (0.80) — the service never parses user input") for _, t in captions)
assert judged > 0, "exploitable verdicts at the threshold make chains judged"
assert "<img" not in dom, "the model's reason became markup"
assert "&lt;img src=x onerror=alert(1)&gt;" in dom, "the reason is shown as text"
PY
[ -s ci-artifacts/dashboard-judged.png ] || { echo "browser-test: no screenshot of the judged dashboard"; exit 1; }
echo "browser-test: ok (screenshots: ci-artifacts/dashboard-{overview,explorer,graph,mitigations,hostile}.png, dashboard.png, dashboard-judged.png, guard.png, audit.png)"
