# Shared by scripts/e2e-real.sh and scripts/e2e-guard.sh (sourced, with `tag` set to the
# prefix of their lines): the release binary, the control plane's binaries on PATH, a work
# directory removed on exit (kept with E2E_KEEP=1) with every process started in `pids`
# killed and the control plane in "$cp" stopped, and the check helpers.
rampart=${RAMPART:-target/release/rampart}
[ -x "$rampart" ] || { echo "$tag: build first: cargo build --release" >&2; exit 2; }
rampart=$(cd "$(dirname "$rampart")" && pwd)/$(basename "$rampart")
bin=$(scripts/control-plane.sh build) || exit 2
export PATH="$bin:$PATH"
work=$(mktemp -d)
cp=$work/cp
failures=0
failed=()
pids=()
cleanup() {
  # Waited for, so the shell does not report each one as "Killed".
  for p in "${pids[@]}"; do { kill -9 "$p" && wait "$p"; } 2>/dev/null || true; done
  scripts/control-plane.sh down "$cp" >/dev/null 2>&1 || true
  [ -n "${E2E_KEEP:-}" ] && { echo "$tag: kept $work"; return; }
  rm -rf "$work"
}
trap cleanup EXIT
ok() { echo "$tag: ok   $*"; }
fail() { echo "$tag: FAIL $*"; failures=$((failures + 1)); failed+=("$*"); }
check() { # check NAME CMD…: ok when CMD succeeds
  local name=$1; shift
  if "$@"; then ok "$name"; else fail "$name"; fi
}
until_ok() { # until_ok SECONDS CMD…: retries CMD every 0.5 s for at most SECONDS
  local limit=$1; shift
  local end=$((SECONDS + limit))
  while [ $SECONDS -lt $end ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
  return 1
}
