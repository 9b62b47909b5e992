#!/usr/bin/env bash
# The request guard's benchmark, side by side with nginx + ModSecurity + OWASP CRS and a plain
# nginx proxy, all in front of the demo API on this machine (load generator included):
#
#   scripts/bench-guard.sh            # everything (~6 min on 2 cores)
#   scripts/bench-guard.sh detection  # only the detection / false-positive table
#   scripts/bench-guard.sh speed      # only in-process judging, throughput and latency
#
# 1. in-process judging per request (guard-bench: p50/p99 µs);
# 2. detection and false positives: the harness's held-out benign traffic and every CRS payload
#    in every location, judged by the guard (in-process replay and the live gate) and by
#    ModSecurity + CRS (403 = flagged);
# 3. throughput (wrk, 64 connections, 15 s, typical requests from the held-out traffic):
#    direct to the app, through the gate (block mode), plain nginx, nginx + ModSecurity + CRS;
# 4. latency at a fixed 5,000 requests/s (vegeta, 15 s): direct, through the gate and through
#    plain nginx, p50/p99.
# Output goes to bench-out/guard/. Ports 18080-18084 on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-all}"
out=bench-out/guard
tools="${RAMPART_TOOLS:-$HOME/.cache/rampart-tools}"
corpus=tests/corpora/crs-regression
mkdir -p "$out" "$tools/bin"

cargo build --release --quiet -p rampart -p rampart-guard-demo -p rampart-benchmarks
scripts/guard-peers.sh install
if [ ! -x "$tools/bin/vegeta" ]; then
  echo "bench-guard: building vegeta v12.13.0 into $tools/bin"
  GOBIN="$tools/bin" go install github.com/tsenart/vegeta/v12@v12.13.0
fi

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  scripts/guard-peers.sh stop "$out/peers" >/dev/null 2>&1 || true
}
trap cleanup EXIT

target/release/rampart-guard-demo traffic "$corpus" "$out" 2>/dev/null
target/release/rampart guard replay --learn "$out/learn.har" --write-guardian "$out/guardian.yaml" --name demo-api
target/release/rampart-guard-demo serve 127.0.0.1:18080 2>"$out/demo-api.log" & pids+=($!)
RAMPART_LOG=error target/release/rampart guard --listen 127.0.0.1:18083 --admin 127.0.0.1:18084 \
  --upstream 18080 --guardian "$out/guardian.yaml" --mode block --service demo-api \
  --peers-interval 0s --learn-interval 1h 2>"$out/gate.log" & pids+=($!)
scripts/guard-peers.sh start "$out/peers" 18080 18081 18082
for port in 18080 18083; do
  for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/api/products/1" && break; sleep 0.1; done
done

if [ "$what" = all ] || [ "$what" = speed ]; then
  echo; echo "== in-process judging"
  target/release/guard-bench "$corpus"
fi

if [ "$what" = all ] || [ "$what" = detection ]; then
  echo; echo "== detection: the guard (in-process replay) beside nginx + ModSecurity + CRS"
  target/release/rampart-guard-demo compare "$corpus" 127.0.0.1:18081 "ModSecurity+CRS 3.3.4 PL1" | tee "$out/detection-modsec.txt"
  echo; echo "== detection: the same requests through the live gate (block mode)"
  target/release/rampart-guard-demo compare "$corpus" 127.0.0.1:18083 "live gate" | sed -n '1,5p' | tee "$out/detection-gate.txt"
fi

if [ "$what" = all ] || [ "$what" = speed ]; then
  scripts/guard-load.py "$out/holdout.har" 500 "$out"
  echo; echo "== throughput: wrk -t1 -c64 -d15s, 500 typical requests in turn"
  printf '%-28s %12s %10s %10s %10s\n' target "requests/s" "p50" "p99" "non-2xx"
  for t in "direct:18080" "rampart guard:18083" "nginx plain:18082" "nginx+ModSecurity+CRS:18081"; do
    name="${t%:*}"; port="${t##*:}"
    wrk -t1 -c64 -d15s --latency -s "$out/typical.lua" "http://127.0.0.1:$port" >"$out/wrk-$port.txt" 2>&1
    if grep -q "lua" "$out/wrk-$port.txt"; then cat "$out/wrk-$port.txt" >&2; echo "bench-guard: wrk's script failed" >&2; exit 1; fi
    non2xx=$(awk '/Non-2xx/ {print $NF}' "$out/wrk-$port.txt")
    rps=$(awk '/Requests\/sec/ {print $2}' "$out/wrk-$port.txt")
    p50=$(awk '$1 == "50%" {print $2}' "$out/wrk-$port.txt")
    p99=$(awk '$1 == "99%" {print $2}' "$out/wrk-$port.txt")
    printf '%-28s %12s %10s %10s %10s\n' "$name" "$rps" "$p50" "$p99" "${non2xx:-0}"
  done
  echo; echo "== latency at 5,000 requests/s: vegeta, 15 s"
  for t in "direct:18080" "rampart guard:18083" "nginx plain:18082"; do
    name="${t%:*}"; port="${t##*:}"
    sed "s/HOSTPORT/127.0.0.1:$port/" "$out/targets.txt" >"$out/targets-$port.txt"
    "$tools/bin/vegeta" attack -rate=5000/s -duration=15s -targets="$out/targets-$port.txt" -max-workers=256 \
      | "$tools/bin/vegeta" report -type=text >"$out/vegeta-$port.txt"
    echo "-- $name"; grep -E "Requests|Latencies|Success|Status" "$out/vegeta-$port.txt"
  done
fi
