#!/usr/bin/env bash
# Admission benchmarks.
#
#   scripts/bench-webhook.sh [CONNECTIONS] [SECONDS] [RATE]   # default: 64 connections, 10 s, 10000/s
#
# 1. In-process: one review (JSON parsing included) of a 3-container Pod against Pod Security
#    "restricted" plus a ten-rule ClusterSecurityPolicy, median and p99, next to the same checks
#    in Rego evaluated by regorus.
# 2. End to end: `rampart webhook` over TLS on 127.0.0.1, driven by keep-alive HTTP/1.1
#    connections from `webhook-load` on the same machine: first at a fixed rate (latency from
#    the scheduled send time), then as fast as possible (maximum throughput).
set -euo pipefail
cd "$(dirname "$0")/.."
conns=${1:-64}
secs=${2:-10}
rate=${3:-10000}
cargo build --release --quiet -p rampart -p rampart-benchmarks
echo "== in-process"
target/release/admission-bench 20000
echo
echo "== end to end"
dir=$(mktemp -d)
trap 'kill ${pid:-0} 2>/dev/null || true; rm -rf "$dir"' EXIT
target/release/webhook-load fixtures "$dir"
target/release/rampart webhook --addr 127.0.0.1:18443 --tls-cert "$dir/tls.crt" --tls-key "$dir/tls.key" \
  --policies "$dir/policy.json" --namespaces "$dir/namespaces.json" 2>"$dir/webhook.log" &
pid=$!
for _ in $(seq 1 100); do grep -q listening "$dir/webhook.log" 2>/dev/null && break; sleep 0.1; done
target/release/webhook-load run 127.0.0.1:18443 "$dir/tls.crt" "$conns" "$secs" "$rate"
target/release/webhook-load run 127.0.0.1:18443 "$dir/tls.crt" "$conns" "$secs"
