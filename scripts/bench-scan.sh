#!/usr/bin/env bash
# End-to-end benchmark of `rampart scan --format json` on synthetic kubectl-style dumps.
#
#   scripts/bench-scan.sh [PODS...]      # default: 1000 10000 50000
#
# Builds release binaries, writes bench-out/cluster-<pods>.json with scan-bench (which also
# prints the in-process phase medians), then runs the CLI on each dump and
# prints wall time and peak RSS (as the scan's `--timings` reports it). Exit code 1 from the scan is expected (the dumps have chains).
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000 10000 50000)
cargo build --release --workspace --quiet
mkdir -p bench-out
target/release/scan-bench --write bench-out "${sizes[@]}"
echo
printf '%7s %10s %13s %10s\n' pods "wall s" "peak RSS MiB" chains
for n in "${sizes[@]}"; do
  out=$(mktemp)
  start=$(date +%s.%N)
  target/release/rampart scan "bench-out/cluster-$n.json" --format json --timings >"$out" 2>"$out.err" || true
  end=$(date +%s.%N)
  # `--timings` reports the process's peak RSS (Linux VmHWM) on its last line.
  rss_kb=$(sed -n 's/.*total .*(peak RSS \([0-9]*\) kB).*/\1/p' "$out.err")
  chains=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["summary"]["chains"])' "$out")
  printf '%7s %10.2f %13s %10s\n' "$n" "$(python3 -c "print($end - $start)")" "$((rss_kb / 1024))" "$chains"
  rm -f "$out" "$out.err"
done
