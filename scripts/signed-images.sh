#!/usr/bin/env bash
# Signed images end to end on this machine: a registry on loopback (Debian's docker-registry),
# an image pushed and signed with a fresh key (sign-image, rampart's stand-in for `cosign sign
# --key`), another pushed unsigned, a ClusterSecurityPolicy requiring the key's signature,
# `rampart webhook` over TLS, and the AdmissionReviews the API server would send for a pod of
# each. Prints what the webhook answered; exits non-zero if it answered anything else.
#
#   scripts/signed-images.sh          # ~1 s after the build
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in docker-registry openssl curl python3; do
  command -v "$tool" >/dev/null || { echo "signed-images: $tool is missing (apt-get install $tool)" >&2; exit 2; }
done
# Two builds: built together, the test kit's features would rebuild rampart's dependencies.
cargo build --release --quiet -p rampart
cargo build --release --quiet -p rampart-testkit --bin sign-image
rampart=target/release/rampart
sign=target/release/sign-image
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
reg=127.0.0.1:$port
printf 'version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: %s}}\nhttp: {addr: "%s"}\n' \
  "$work/registry" "$reg" >"$work/registry.yml"
docker-registry serve "$work/registry.yml" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://$reg/v2/" >/dev/null && break; sleep 0.1; done

echo "\$ sign-image keygen keys && sign-image push $reg acme/app:v1 … && sign-image sign …"
"$sign" keygen "$work/keys" >/dev/null
signed=$("$sign" push "$reg" acme/app:v1 "the signed app")
"$sign" sign "$reg" acme/app "$signed" "$work/keys"
unsigned=$("$sign" push "$reg" acme/app:unsigned "an unsigned app")
echo "pushed $reg/acme/app:unsigned ($unsigned), not signed"

python3 - "$work" "$reg" <<'PY'
import json, sys
work, reg = sys.argv[1], sys.argv[2]
key = open(f"{work}/keys/cosign.pub").read()
policy = {"apiVersion": "rampart.dev/v1alpha1", "kind": "ClusterSecurityPolicy",
          "metadata": {"name": "signed-images"},
          "spec": {"rules": [{"name": "signed-by-release-key", "conditions": [{"verifyImages": {
              "imageReferences": [f"{reg}/acme/*"],
              "attestors": [{"key": {"publicKey": key}}]}}]}]}}
json.dump(policy, open(f"{work}/policy.json", "w"))
json.dump({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}, open(f"{work}/ns.json", "w"))
for name, image in [("signed", f"{reg}/acme/app:v1"), ("unsigned", f"{reg}/acme/app:unsigned")]:
    review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": name, "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "namespace": "shop", "name": "app", "operation": "CREATE", "userInfo": {"username": "dev"},
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "app", "namespace": "shop"},
                   "spec": {"containers": [{"name": "app", "image": image}]}}}}
    json.dump(review, open(f"{work}/{name}.json", "w"))
PY

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=localhost \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$work/tls.key" -out "$work/tls.crt" 2>/dev/null
"$rampart" webhook --addr 127.0.0.1:0 --tls-cert "$work/tls.crt" --tls-key "$work/tls.key" \
  --policies "$work/policy.json" --namespaces "$work/ns.json" --insecure-registry "$reg" \
  2>"$work/webhook.log" &
pids+=($!)
for _ in $(seq 100); do grep -q 'listening on' "$work/webhook.log" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/.*listening on \(https:[^ ]*\).*/\1/p' "$work/webhook.log" | head -1)
[ -n "$url" ] || { echo "signed-images: the webhook did not start:" >&2; cat "$work/webhook.log" >&2; exit 1; }

ask() { curl -s --cacert "$work/tls.crt" "$url/$1" -H 'Content-Type: application/json' -d @"$work/$2.json"; }
status=0
for name in signed unsigned; do
  v=$(ask validate "$name"); m=$(ask mutate "$name")
  python3 - "$name" "$v" "$m" <<'PY' || status=1
import base64, json, sys
name, v, m = sys.argv[1], json.loads(sys.argv[2])["response"], json.loads(sys.argv[3])["response"]
if v["allowed"]:
    patch = json.loads(base64.b64decode(m["patch"])) if "patch" in m else []
    pinned = next((p["value"] for p in patch if p["path"].endswith("/image")), "(not pinned)")
    print(f"{name:9} allowed; /mutate pins the image to {pinned}")
else:
    print(f"{name:9} denied: {v['status']['message']}")
sys.exit(0 if v["allowed"] == (name == "signed") else 1)
PY
done
exit $status
