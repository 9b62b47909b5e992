#!/usr/bin/env bash
# A real Kubernetes control plane on loopback, for end-to-end tests: kube-apiserver,
# kube-controller-manager, kube-scheduler and kubectl built from k8s.io/kubernetes, etcd from
# go.etcd.io/etcd, kwok (fake nodes whose pods become Running and Ready) and helm —
# each built once per machine with the Go toolchain into a cache outside the repository, then
# started on 127.0.0.1 with certificates generated for the run. Nothing listens beyond loopback.
#
#   scripts/control-plane.sh build        # build (or reuse) the binaries (kubectl, helm too);
#                                         # prints their directory; ../crds holds the
#                                         # ServiceMonitor and cert-manager CRDs
#   scripts/control-plane.sh up DIR       # start etcd, kube-apiserver, kube-controller-manager,
#                                         # kube-scheduler and kwok with two fake nodes
#                                         # (none with NO_NODES=1); DIR/kubeconfig is an admin
#                                         # kubeconfig; DIR/audit.log the API server's audit log
#   scripts/control-plane.sh nodes DIR    # add the two fake nodes
#   scripts/control-plane.sh down DIR     # stop what `up` started
#   scripts/control-plane.sh restart-apiserver DIR   # stop and start kube-apiserver
#   scripts/control-plane.sh kwok stop|start DIR     # pause or resume the fake kubelets
#
# Versions: K8S_VERSION (v1.36.3), ETCD_VERSION (v3.6.17), KWOK_VERSION (v0.8.0),
# HELM_VERSION (v4.3.2). The cache:
# RAMPART_TOOLS (default ~/.cache/rampart-tools/<versions>); Go's own module and build caches
# make a rebuild after a version bump cheap.
set -euo pipefail
cd "$(dirname "$0")/.."

K8S_VERSION=${K8S_VERSION:-v1.36.3}
ETCD_VERSION=${ETCD_VERSION:-v3.6.17}
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
HELM_VERSION=${HELM_VERSION:-v4.3.2}
PROMETHEUS_OPERATOR_VERSION=${PROMETHEUS_OPERATOR_VERSION:-v0.85.0}
CERT_MANAGER_VERSION=${CERT_MANAGER_VERSION:-v1.19.1}
TOOLS=${RAMPART_TOOLS:-$HOME/.cache/rampart-tools}/k8s-$K8S_VERSION-etcd-$ETCD_VERSION
BIN=$TOOLS/bin

log() { echo "control-plane: $*" >&2; }

# A module that requires k8s.io/kubernetes must pin its staging modules (k8s.io/api, …, which
# kubernetes' own go.mod replaces with ./staging paths) to the matching v0.N.M.
build_kubernetes() {
  local mod=$TOOLS/src/kubernetes staging
  mkdir -p "$mod"
  staging=v0.${K8S_VERSION#v1.}
  (
    cd "$mod"
    [ -f go.mod ] || go mod init rampart.dev/tools/kubernetes >/dev/null 2>&1
    local gomod
    gomod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
    [ -n "$gomod" ] || { log "cannot download k8s.io/kubernetes@$K8S_VERSION"; exit 1; }
    go mod edit -require="k8s.io/kubernetes@$K8S_VERSION"
    # Every `k8s.io/x => ./staging/src/k8s.io/x` of kubernetes' go.mod, pinned to the release.
    grep -oE '^\s*k8s\.io/[a-z0-9-]+ => \./staging/src/k8s\.io/[a-z0-9-]+' "$gomod" |
      awk '{print $1}' | sort -u | while read -r m; do
        go mod edit -replace="$m=$m@$staging"
      done
    cat >tools.go <<'EOF'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
EOF
    GOFLAGS=-mod=mod go mod tidy >/dev/null 2>&1 || true
    # The version the API server reports (`/version`; clients pick behaviour by it).
    local minor=${K8S_VERSION#v1.}
    minor=${minor%%.*}
    local v=k8s.io/component-base/version
    GOFLAGS=-mod=mod go build -trimpath -o "$BIN/" \
      -ldflags "-X $v.gitVersion=$K8S_VERSION -X $v.gitMajor=1 -X $v.gitMinor=$minor -X $v.gitTreeState=clean" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
  )
}


# A Go program built from its own module at a version: build_module NAME MODULE@VERSION PKG OUT
build_module() {
  local name=$1 modver=$2 pkg=$3 out=$4 mod=$TOOLS/src/$1
  mkdir -p "$mod"
  (
    cd "$mod"
    [ -f go.mod ] || go mod init "rampart.dev/tools/$name" >/dev/null 2>&1
    go mod edit -require="$modver"
    printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$pkg" >tools.go
    GOFLAGS=-mod=mod go mod tidy >/dev/null 2>&1 || true
    GOFLAGS=-mod=mod go build -trimpath -o "$out" "$pkg"
  )
}

# The Go toolchain: the one on PATH or in /usr/local/go; else Go's own release from the Go module
# proxy (golang.org/toolchain, what `GOTOOLCHAIN` downloads), unpacked into the cache once.
GO_VERSION=${GO_VERSION:-1.26.8}
ensure_go() {
  export PATH="$PATH:/usr/local/go/bin"
  export GOTOOLCHAIN=local
  command -v go >/dev/null && return 0
  local root=${RAMPART_TOOLS:-$HOME/.cache/rampart-tools}/go$GO_VERSION arch
  case "$(uname -m)" in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; *) arch=$(uname -m) ;; esac
  if [ ! -x "$root/bin/go" ]; then
    log "no Go toolchain: fetching go$GO_VERSION from the Go module proxy"
    local zip=$root.zip.part
    mkdir -p "$(dirname "$root")"
    curl -fsSL -o "$zip" \
      "https://proxy.golang.org/golang.org/toolchain/@v/v0.0.1-go$GO_VERSION.linux-$arch.zip" ||
      { log "cannot download the Go toolchain"; exit 1; }
    python3 - "$zip" "$root" "golang.org/toolchain@v0.0.1-go$GO_VERSION.linux-$arch/" <<'EOF'
import os, sys, zipfile
zip_path, root, prefix = sys.argv[1:4]
with zipfile.ZipFile(zip_path) as z:
    for info in z.infolist():
        if not info.filename.startswith(prefix) or info.is_dir():
            continue
        out = os.path.join(root, info.filename[len(prefix):])
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with z.open(info) as src, open(out, "wb") as dst:
            dst.write(src.read())
        # Module zips keep no file modes: the tools are executables.
        rel = info.filename[len(prefix):]
        if rel.startswith("bin/") or rel.startswith("pkg/tool/"):
            os.chmod(out, 0o755)
EOF
    rm -f "$zip"
  fi
  export PATH="$root/bin:$PATH"
}

cmd_build() {
  ensure_go
  mkdir -p "$BIN"
  local t
  if [ ! -x "$BIN/etcd" ]; then t=$SECONDS; log "building etcd $ETCD_VERSION"
    build_module etcd "go.etcd.io/etcd/server/v3@$ETCD_VERSION" go.etcd.io/etcd/server/v3 "$BIN/etcd"
    log "etcd built in $((SECONDS - t)) s"; fi
  local k
  for k in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    [ -x "$BIN/$k" ] || rm -f "$BIN/kube-apiserver"
  done
  if [ ! -x "$BIN/kube-apiserver" ]; then
    t=$SECONDS; log "building kube-apiserver, kube-controller-manager, kube-scheduler and kubectl $K8S_VERSION"
    build_kubernetes; log "kubernetes built in $((SECONDS - t)) s"
  fi
  if [ ! -x "$BIN/kwok" ]; then
    t=$SECONDS; log "building kwok $KWOK_VERSION"
    build_module kwok "sigs.k8s.io/kwok@$KWOK_VERSION" sigs.k8s.io/kwok/cmd/kwok "$BIN/kwok"
    log "kwok built in $((SECONDS - t)) s"
  fi
  # kwok's own "fast" stages (its kustomize/stage/fast without the node lease): nodes Ready with a
  # heartbeat, pods Running and Ready once scheduled, deleted pods gone.
  if [ ! -f "$TOOLS/kwok-stages.yaml" ]; then
    local kd
    kd=$(go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')/kustomize/stage
    for f in node/fast/node-initialize.yaml node/heartbeat/node-heartbeat.yaml \
      pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
      echo "---"; cat "$kd/$f"
    done >"$TOOLS/kwok-stages.yaml.part" && mv "$TOOLS/kwok-stages.yaml.part" "$TOOLS/kwok-stages.yaml"
  fi
  if [ ! -x "$BIN/helm" ]; then
    t=$SECONDS; log "building helm $HELM_VERSION"
    build_module helm "helm.sh/helm/v4@$HELM_VERSION" helm.sh/helm/v4/cmd/helm "$BIN/helm"
    log "helm built in $((SECONDS - t)) s"
  fi
  # The CRDs the chart's optional objects need (ServiceMonitor; cert-manager's Certificate and
  # Issuer), from the projects' own Go modules, so `helm template` with every option on is
  # validated by the API server too.
  if [ ! -f "$TOOLS/crds/servicemonitors.yaml" ]; then
    mkdir -p "$TOOLS/crds"
    local po cm
    po=$(go mod download -json "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
    cm=$(go mod download -json "github.com/cert-manager/cert-manager@$CERT_MANAGER_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
    [ -n "$po" ] && [ -n "$cm" ] || { log "cannot download the ServiceMonitor / cert-manager CRDs"; exit 1; }
    cp "$cm/deploy/crds/cert-manager.io_certificates.yaml" "$TOOLS/crds/certificates.yaml"
    cp "$cm/deploy/crds/cert-manager.io_issuers.yaml" "$TOOLS/crds/issuers.yaml"
    cp "$po/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml" "$TOOLS/crds/servicemonitors.yaml"
  fi
  echo "$BIN"
}

# Certificates for one run: a CA, the API server's serving certificate for 127.0.0.1, an admin
# client certificate (system:masters), the service-account signing key.
certs() {
  local d=$1/pki
  mkdir -p "$d"
  (
    cd "$d"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=rampart-test-ca \
      -keyout ca.key -out ca.crt 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj /CN=kube-apiserver -keyout apiserver.key \
      -out apiserver.csr 2>/dev/null
    # X.509 v3 with key usages throughout: rustls (webpki) refuses v1 certificates.
    printf '%s\n' 'basicConstraints=CA:FALSE' 'keyUsage=digitalSignature,keyEncipherment' \
      'extendedKeyUsage=serverAuth' \
      'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc' >server.ext
    printf '%s\n' 'basicConstraints=CA:FALSE' 'keyUsage=digitalSignature,keyEncipherment' \
      'extendedKeyUsage=clientAuth' >client.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
      -extfile server.ext -out apiserver.crt 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/O=system:masters/CN=admin" -keyout admin.key \
      -out admin.csr 2>/dev/null
    openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
      -extfile client.ext -out admin.crt 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  )
}

wait_ready() {
  local dir=$1 i
  for i in $(seq 1 120); do
    if "$BIN/kubectl" --kubeconfig "$dir/kubeconfig" get --raw /readyz >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  log "kube-apiserver not ready; see $dir/*.log"
  return 1
}

APISERVER_PORT=${APISERVER_PORT:-16443}
ETCD_PORT=${ETCD_PORT:-12379}

# The API server alone (started by `up`, and again by `restart-apiserver`). Every request is
# audited at Metadata level to DIR/audit.log: the e2e suite reads which requests rampart's
# ServiceAccounts made and whether any was refused.
start_apiserver() {
  local dir=$1 bin=$2
  printf '%s\n' 'apiVersion: audit.k8s.io/v1' 'kind: Policy' 'omitStages: [RequestReceived]' \
    'rules:' '- level: Metadata' >"$dir/audit-policy.yaml"
  "$bin/kube-apiserver" --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$APISERVER_PORT" \
    --tls-cert-file "$dir/pki/apiserver.crt" --tls-private-key-file "$dir/pki/apiserver.key" \
    --client-ca-file "$dir/pki/ca.crt" --authorization-mode Node,RBAC \
    --service-account-issuer https://kubernetes.default.svc \
    --service-account-key-file "$dir/pki/sa.pub" \
    --service-account-signing-key-file "$dir/pki/sa.key" \
    --service-cluster-ip-range 10.96.0.0/16 --allow-privileged=true \
    --enable-admission-plugins ValidatingAdmissionWebhook,MutatingAdmissionWebhook \
    --disable-admission-plugins PodSecurity \
    --audit-policy-file "$dir/audit-policy.yaml" --audit-log-path "$dir/audit.log" \
    --audit-log-format json --audit-log-maxsize 500 \
    >>"$dir/kube-apiserver.log" 2>&1 &
  echo $! >"$dir/apiserver.pid"
}

# kwok answers for the fake nodes' kubelets: scheduled pods become Running and Ready.
start_kwok() {
  local dir=$1 bin=$2
  "$bin/kwok" --kubeconfig "$dir/kubeconfig" --config "$bin/../kwok-stages.yaml" --manage-all-nodes=false \
    --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
    --node-ip 10.244.0.1 --cidr 10.244.0.0/16 \
    >>"$dir/kwok.log" 2>&1 &
  echo $! >"$dir/kwok.pid"
}

# Two fake nodes.
fake_nodes() {
  local dir=$1 bin=$2 n
  for n in kwok-node-0 kwok-node-1; do
    printf '%s\n' 'apiVersion: v1' 'kind: Node' 'metadata:' "  name: $n" \
      '  annotations: {kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: "0"}' \
      "  labels: {type: kwok, kubernetes.io/hostname: $n, kubernetes.io/os: linux, kubernetes.io/arch: amd64}" \
      'status:' '  allocatable: {cpu: "32", memory: 256Gi, pods: "110"}' \
      '  capacity: {cpu: "32", memory: 256Gi, pods: "110"}' |
      "$bin/kubectl" --kubeconfig "$dir/kubeconfig" apply -f - >/dev/null
  done
}

cmd_up() {
  local dir=${1:?usage: up DIR} bin
  bin=$(cmd_build)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  certs "$dir"
  "$bin/etcd" --data-dir "$dir/etcd" --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" --listen-peer-urls http://127.0.0.1:0 \
    >"$dir/etcd.log" 2>&1 &
  echo $! >"$dir/pids"
  start_apiserver "$dir" "$bin"
  printf '%s\n' 'apiVersion: v1' 'kind: Config' \
    "clusters: [{name: local, cluster: {server: \"https://127.0.0.1:$APISERVER_PORT\", certificate-authority: \"$dir/pki/ca.crt\"}}]" \
    "users: [{name: admin, user: {client-certificate: \"$dir/pki/admin.crt\", client-key: \"$dir/pki/admin.key\"}}]" \
    'contexts: [{name: local, context: {cluster: local, user: admin}}]' \
    'current-context: local' >"$dir/kubeconfig"
  wait_ready "$dir"
  "$bin/kube-controller-manager" --kubeconfig "$dir/kubeconfig" \
    --authentication-kubeconfig "$dir/kubeconfig" --authorization-kubeconfig "$dir/kubeconfig" \
    --bind-address 127.0.0.1 --secure-port 0 --leader-elect=false \
    --service-account-private-key-file "$dir/pki/sa.key" --root-ca-file "$dir/pki/ca.crt" \
    --use-service-account-credentials \
    >"$dir/kube-controller-manager.log" 2>&1 &
  echo $! >>"$dir/pids"
  "$bin/kube-scheduler" --kubeconfig "$dir/kubeconfig" \
    --authentication-kubeconfig "$dir/kubeconfig" --authorization-kubeconfig "$dir/kubeconfig" \
    --bind-address 127.0.0.1 --secure-port 0 --leader-elect=false \
    >"$dir/kube-scheduler.log" 2>&1 &
  echo $! >>"$dir/pids"
  start_kwok "$dir" "$bin"
  [ -n "${NO_NODES:-}" ] || fake_nodes "$dir" "$bin"
  log "up: KUBECONFIG=$dir/kubeconfig"
}

# Stops the API server and starts it again on the same etcd (clients see their watches end).
cmd_restart_apiserver() {
  local dir=${1:?usage: restart-apiserver DIR} bin pid
  bin=$(cmd_build)
  dir=$(cd "$dir" && pwd)
  pid=$(cat "$dir/apiserver.pid")
  # When the API server was down or not ready, to DIR/not-ready (one "FROM TO" line, UTC
  # RFC 3339, a restart): until /readyz its authorizer may answer from caches still filling,
  # so a refusal then says nothing about a missing permission.
  local down
  down=$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)
  kill "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  start_apiserver "$dir" "$bin"
  wait_ready "$dir"
  echo "$down $(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)" >>"$dir/not-ready"
}

# Adds the two fake nodes (after `NO_NODES=1 … up`: pods stay unscheduled until then).
cmd_nodes() {
  local dir=${1:?usage: nodes DIR} bin
  bin=$(cmd_build)
  fake_nodes "$(cd "$dir" && pwd)" "$bin"
}

# Pauses the fake kubelets (a new pod stays Pending) or resumes them.
cmd_kwok() {
  local what=${1:?usage: kwok stop|start DIR} dir=${2:?usage: kwok stop|start DIR} bin
  bin=$(cmd_build)
  dir=$(cd "$dir" && pwd)
  case "$what" in
    stop) kill "$(cat "$dir/kwok.pid")" 2>/dev/null || true ;;
    start) start_kwok "$dir" "$bin" ;;
    *) log "kwok stop|start DIR"; exit 2 ;;
  esac
}

cmd_down() {
  local dir=${1:?usage: down DIR} pids=() f pid
  [ -f "$dir/pids" ] && mapfile -t pids < <(tac "$dir/pids")
  for f in kwok.pid apiserver.pid; do
    if [ -f "$dir/$f" ]; then pids=("$(cat "$dir/$f")" "${pids[@]}"); fi
  done
  [ ${#pids[@]} -gt 0 ] || return 0
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  sleep 1
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  rm -f "$dir/pids" "$dir/kwok.pid" "$dir/apiserver.pid"
}

case "${1:-}" in
  build) cmd_build ;;
  up) shift; cmd_up "$@" ;;
  down) shift; cmd_down "$@" ;;
  restart-apiserver) shift; cmd_restart_apiserver "$@" ;;
  kwok) shift; cmd_kwok "$@" ;;
  nodes) shift; cmd_nodes "$@" ;;
  *) echo "usage: $0 build | up DIR | down DIR | nodes DIR | restart-apiserver DIR | kwok stop|start DIR" >&2; exit 2 ;;
esac
