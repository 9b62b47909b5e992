#!/usr/bin/env bash
# `rampart audit` beside checkov on the same synthetic dumps (scan-bench's dense shape):
#
#   scripts/bench-audit.sh [PODS...]     # default: 1000 10000 50000; checkov runs on the first
#                                        # size (on 10,000 pods it had not finished after 19 min
#                                        # at 12 GiB resident)
#
# 1. in-process: audit-bench (parse, audit, and the live path's one-object re-audit p50/p99);
# 2. the CLI, every framework, JSON out: wall time and peak RSS (median of 3 runs), per size;
# 3. `checkov -d` (PyPI, installed once into ~/.cache/rampart-tools/checkov-venv) on the first
#    size: wall time, peak RSS, and agreement on the checks both tools share (failed resources
#    per check), and the ratio.
# Output goes to bench-out/audit/.
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000 10000 50000)
out=bench-out/audit
tools="${RAMPART_TOOLS:-$HOME/.cache/rampart-tools}"
mkdir -p "$out"
cargo build --release --quiet -p rampart -p rampart-benchmarks
if [ ! -x "$tools/checkov-venv/bin/checkov" ]; then
  echo "bench-audit: installing checkov (PyPI) into $tools/checkov-venv"
  python3 -m venv "$tools/checkov-venv"
  "$tools/checkov-venv/bin/pip" install -q checkov
fi
checkov="$tools/checkov-venv/bin/checkov"

echo "== in-process (audit-bench)"
target/release/audit-bench "${sizes[@]}"

measure() { # FILE -> "wall_s rss_kb"
  /usr/bin/time -f "%e %M" -o "$out/time.txt" target/release/rampart audit "$1" --format json -o "$out/audit.json" || true
  tail -1 "$out/time.txt"
}
echo; echo "== rampart audit, every framework, JSON (median of 3)"
printf '%7s %10s %14s %10s\n' pods "wall s" "peak RSS MiB" findings
for n in "${sizes[@]}"; do
  dir="$out/dump-$n"; mkdir -p "$dir"
  [ -s "$dir/cluster.json" ] || target/release/scan-bench --shape dense --write "$out" "$n" >/dev/null
  [ -s "$dir/cluster.json" ] || mv "$out/cluster-dense-$n.json" "$dir/cluster.json"
  runs=()
  for _ in 1 2 3; do runs+=("$(measure "$dir/cluster.json")"); done
  read -r wall rss < <(printf '%s\n' "${runs[@]}" | sort -n | sed -n 2p)
  findings=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["findings"]))' "$out/audit.json")
  printf '%7s %10s %14s %10s\n' "$n" "$wall" "$((rss / 1024))" "$findings"
  cp "$out/audit.json" "$dir/rampart.json"
done

n=${sizes[0]}
dir="$out/dump-$n"
echo; echo "== checkov -d on the $n-pod dump ($("$checkov" --version))"
/usr/bin/time -f "%e %M" -o "$out/checkov-time.txt" timeout 1800 "$checkov" -d "$dir" --framework kubernetes \
  --skip-download --quiet --compact -o json >"$dir/checkov.json" 2>"$out/checkov.err" || true
read -r ck_wall ck_rss < <(tail -1 "$out/checkov-time.txt")
runs=()
for _ in 1 2 3; do runs+=("$(measure "$dir/cluster.json")"); done
read -r wall rss < <(printf '%s\n' "${runs[@]}" | sort -n | sed -n 2p)
python3 - "$dir/rampart.json" "$dir/checkov.json" "$wall" "$rss" "$ck_wall" "$ck_rss" <<'PY'
import json, sys
from collections import Counter
rampart, checkov = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
wall, rss, ck_wall, ck_rss = float(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
if isinstance(checkov, list):
    checkov = next(c for c in checkov if c.get("check_type") == "kubernetes")
# The checks both tools share (crates/audit/tests/checkov.rs says why the others differ).
shared = {"CKV_K8S_16": "privileged-container", "CKV_K8S_17": "host-pid", "CKV_K8S_18": "host-ipc",
          "CKV_K8S_19": "host-network", "CKV_K8S_20": "privilege-escalation",
          "CKV_K8S_21": "default-namespace", "CKV_K8S_38": "automount-token"}
def key(kind, ns, name): return f"{kind}.{ns or 'default'}.{name}"
ck_failed = {c: set() for c in shared}
for r in checkov["results"]["failed_checks"]:
    if r["check_id"] in shared:
        ck_failed[r["check_id"]].add(r["resource"])
ours = {c: set() for c in shared}
for f in rampart["findings"]:
    for c, id in shared.items():
        if f["check"] == id and f["status"] == "fail":
            o = f["object"]
            ours[c].add(key(o["kind"], o["namespace"], o["name"]))
print(f"{'checkov check':<12} {'rampart check':<22} {'checkov failed':>14} {'rampart failed':>14} {'both':>8}")
for c, id in shared.items():
    # checkov also judges Pods owned by a controller; rampart judges their owner once.
    theirs = {r for r in ck_failed[c] if not r.startswith(("Pod.", "ReplicaSet."))} if c != "CKV_K8S_21" else ck_failed[c]
    print(f"{c:<12} {id:<22} {len(theirs):>14} {len(ours[c]):>14} {len(theirs & ours[c]):>8}")
print(f"\nchecked resources: checkov {checkov['summary']['resource_count']}, rampart {rampart['inputs']['objects']} objects")
print(f"wall: rampart {wall:.2f} s, checkov {ck_wall:.1f} s — {ck_wall / wall:.0f}x")
print(f"peak RSS: rampart {rss // 1024} MiB, checkov {ck_rss // 1024} MiB — {ck_rss / rss:.1f}x")
PY
