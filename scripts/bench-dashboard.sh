#!/usr/bin/env bash
# The dashboard's speed on the synthetic 10k-pod clusters (sparse and dense shapes of
# scan-bench), measured in headless Chromium with the performance API (tests/browser/perf.cjs):
# first render after the HTML arrives, and the interactions (filter, open an entry, pick a
# chain, what-if). Needs what scripts/browser-test.sh installs (Chromium, Node,
# playwright-core).
#
#   scripts/bench-dashboard.sh [PODS] [RUNS]     # default: 10000 5
set -euo pipefail
cd "$(dirname "$0")/.."
pods=${1:-10000}
runs=${2:-5}
modules=${RAMPART_TOOLS:-$HOME/.cache/rampart-tools}/browser-test/node_modules
[ -d "$modules/playwright-core" ] || { echo "bench-dashboard: run scripts/browser-test.sh once (it installs playwright-core)"; exit 1; }
cargo build --release --quiet -p rampart
cargo build --release --quiet -p rampart-benchmarks --bin scan-bench
out=$(mktemp -d)
trap 'kill ${pid:-} 2>/dev/null || true; rm -rf "$out"' EXIT
for shape in sparse dense; do
  target/release/scan-bench --shape "$shape" --write "$out" "$pods" > /dev/null
  file="$out/cluster-$pods.json"
  [ "$shape" = sparse ] || file="$out/cluster-dense-$pods.json"
  target/release/rampart dashboard "$file" --addr 127.0.0.1:0 2>"$out/log" &
  pid=$!
  for _ in $(seq 1 600); do grep -q "http://" "$out/log" && break; sleep 0.1; done
  url=$(grep -o 'http://[0-9.:]*' "$out/log" | head -1)
  echo "== $pods pods, $shape"
  CHROMIUM=$(command -v chromium) NODE_PATH="$modules" node tests/browser/perf.cjs "$url/" "$runs"
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
