#!/usr/bin/env bash
# The hostile-input tour: every entry point of a release build attacked as an attacker would
# (connection floods, slow bodies, HTTP/2 resets and CONTINUATION floods, header floods, token
# probing, huge reviews, hostile files, names and encodings). Prints one row per case —
# case, expected, observed, verdict — and exits non-zero when any case fails. Loopback only,
# every loop bounded in count and time; the whole tour takes about 2 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p rampart
exec python3 scripts/adversarial.py target/release/rampart "$@"
