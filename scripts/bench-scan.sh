#!/usr/bin/env bash
# End-to-end benchmark of `rampart scan --format json` on synthetic kubectl-style dumps.
#
#   scripts/bench-scan.sh [--shape sparse|dense|both] [PODS...]   # default: both, 1000 10000 50000
#
# Builds release binaries, writes bench-out/cluster-<pods>.json (sparse) and
# bench-out/cluster-dense-<pods>.json with scan-bench (which also prints the in-process phase
# medians and, for scale, the time to merely parse the same text into a serde_json::Value), then
# runs the CLI on each dump and prints wall time, peak RSS (as the scan's `--timings` reports
# it), graph size and chains. Exit code 1 from the scan is expected (the dumps have chains).
set -euo pipefail
cd "$(dirname "$0")/.."
shapes=(sparse dense)
if [ "${1:-}" = "--shape" ]; then
  case "${2:-}" in
    sparse|dense) shapes=("$2") ;;
    both) ;;
    *) echo "--shape takes sparse, dense or both" >&2; exit 2 ;;
  esac
  shift 2
fi
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000 10000 50000)
cargo build --release --workspace --quiet
mkdir -p bench-out
for shape in "${shapes[@]}"; do
  target/release/scan-bench --shape "$shape" --write bench-out "${sizes[@]}"
  echo
  printf '%7s %-7s %10s %13s %10s %10s %10s\n' pods shape "wall s" "peak RSS MiB" vertices edges chains
  for n in "${sizes[@]}"; do
    file="bench-out/cluster-$n.json"
    [ "$shape" = sparse ] || file="bench-out/cluster-dense-$n.json"
    out=$(mktemp)
    start=$(date +%s.%N)
    target/release/rampart scan "$file" --format json --timings >"$out" 2>"$out.err" || true
    end=$(date +%s.%N)
    # `--timings` reports the process's peak RSS (Linux VmHWM) on its last line.
    rss_kb=$(sed -n 's/.*total .*(peak RSS \([0-9]*\) kB).*/\1/p' "$out.err")
    read -r vertices edges chains < <(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["summary"]; print(s["graph"]["vertices"], s["graph"]["edges"], s["chains"])' "$out")
    printf '%7s %-7s %10.2f %13s %10s %10s %10s\n' "$n" "$shape" "$(python3 -c "print($end - $start)")" "$((rss_kb / 1024))" "$vertices" "$edges" "$chains"
    rm -f "$out" "$out.err"
  done
  echo
done
