#!/usr/bin/env bash
# The ten CEL rules of the admission benchmark side by side: rampart (its CEL engine, in the
# whole review), regorus (the same rules in Rego), and the Kubernetes API server's own evaluator
# (cel-go with k8s.io/apiserver's CEL environment, built from Go modules once per machine).
#
#   scripts/bench-cel.sh [ITERATIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-20000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo build --release -q -p rampart-benchmarks --bin admission-bench
bench=target/release/admission-bench
"$bench" --export "$work"
# Go: found on PATH, or the one scripts/control-plane.sh fetched.
export PATH="$PATH:/usr/local/go/bin:${RAMPART_TOOLS:-$HOME/.cache/rampart-tools}/go${GO_VERSION:-1.26.8}/bin" GOTOOLCHAIN=local
command -v go >/dev/null 2>&1 || { echo "bench-cel: Go is needed for the cel-go run (scripts/control-plane.sh fetches one)"; exit 2; }
celgo=${RAMPART_TOOLS:-$HOME/.cache/rampart-tools}/celgo
(cd crates/benchmarks/celgo && go build -o "$celgo" .)
"$bench" "$n" | tee "$work/rampart.txt"
read -r _ go_med go_p99 < <("$celgo" "$work" "$n")
read -r _ cel_med cel_p99 < <(grep '^cel-rules-ns' "$work/rampart.txt")
awk -v gm="$go_med" -v g99="$go_p99" -v cm="$cel_med" -v c99="$cel_p99" 'BEGIN {
  printf "the 10 CEL rules alone (their share of the review in rampart; the whole run in cel-go):\n"
  printf "%-28s %10.1fµs %10.1fµs\n", "rampart", cm / 1000, c99 / 1000
  printf "%-28s %10.1fµs %10.1fµs\n", "cel-go (k8s.io/apiserver)", gm / 1000, g99 / 1000
  printf "cel-go / rampart: %.1fx (median), %.1fx (p99)\n", gm / cm, g99 / c99
}'
