#!/usr/bin/env bash
# rampart's MCP server (`rampart mcp`) driven by the official MCP Python SDK (`mcp` 2.3.0 from
# PyPI, installed once into ~/.cache/rampart-tools/mcp-venv): every tool over stdio and over
# streamable HTTP with a bearer token (and a 401 without it). Run by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
tools=${RAMPART_TOOLS:-$HOME/.cache/rampart-tools}
venv="$tools/mcp-venv"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import mcp' 2>/dev/null; then
  echo "mcp-test: installing the MCP Python SDK (PyPI mcp==2.3.0) into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "mcp==2.3.0"
fi
cargo build --release --quiet -p rampart
dir=$(mktemp -d)
head -c 24 /dev/urandom | base64 > "$dir/token"
log="$dir/server.log"
target/release/rampart mcp --http 127.0.0.1:18096 --token-file "$dir/token" \
  examples/demo-cluster tests/mcp/mitigation.yaml \
  --vulns examples/demo-intel --kev-file examples/demo-intel/kev.json 2>"$log" &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 1 100); do grep -q "http://" "$log" && break; sleep 0.1; done
grep -q "http://" "$log" || { echo "mcp-test: the HTTP server did not start"; cat "$log"; exit 1; }
"$venv/bin/python" scripts/mcp_client_test.py target/release/rampart 18096 "$dir/token"
if grep -q "$(cat "$dir/token")" "$log"; then echo "mcp-test: the token was logged"; exit 1; fi
echo "mcp-test: ok"
