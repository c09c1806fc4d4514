#!/usr/bin/env bash
# Shiftlane local Kubernetes control plane (real kube-apiserver/controller-manager/scheduler,
# etcd, and kwok-simulated nodes), built from the Go module proxy only.
#
# Usage:
#   hack/cluster.sh up       build binaries if missing, start everything, install CRDs, wait until ready
#   hack/cluster.sh down     stop every process started by `up` and remove the state dir
#   hack/cluster.sh status   show processes and nodes
#   hack/cluster.sh build    only build the binaries (into the cache)
#   hack/cluster.sh env      print `export KUBECONFIG=...`
#   hack/cluster.sh stop|start etcd|kube-apiserver
#                            stop one component, or start it again on its state (chaos tests)
#
# Pinned versions come from the Go modules under hack/cluster/ (go.mod + go.sum):
#   hack/cluster/kube  -> k8s.io/kubernetes (kube-apiserver, kube-controller-manager, kube-scheduler)
#   hack/cluster/etcd  -> go.etcd.io/etcd/server/v3 (wrapper main around etcdmain)
#   hack/cluster/kwok  -> sigs.k8s.io/kwok (cmd/kwok)
#   hack/cluster/traefik -> github.com/traefik/traefik/v3 (cmd/traefik; built only when missing, into
#                         $SHIFTLANE_CACHE/bin/traefik-<version>/; its CRDs come from the same module)
# CRDs: sigs.k8s.io/gateway-api (experimental channel, which includes the standard kinds) and
# istio.io/api (kubernetes/customresourcedefinitions.gen.yaml), versions pinned below.
#
# Environment (defaults):
#   SHIFTLANE_CACHE=$HOME/.cache/shiftlane        binaries in $SHIFTLANE_CACHE/bin/<k8s>-<etcd>-<kwok>/
#   SHIFTLANE_CLUSTER_DIR=/tmp/shiftlane-cluster  state: certs, etcd data, logs/, pids/, kubeconfig
#   SHIFTLANE_ETCD_PORT=23790  SHIFTLANE_ETCD_PEER_PORT=23800  SHIFTLANE_APISERVER_PORT=16443
#   SHIFTLANE_KCM_PORT=20257   SHIFTLANE_SCHEDULER_PORT=20259  SHIFTLANE_KWOK_PORT=20247
#   SHIFTLANE_NODES=3          number of fake nodes kwok-node-0..N-1
#   SHIFTLANE_NODE_PODS=500    pods each fake node takes (10,000 Rollouts of 2 pods: 7 nodes of 3000)
#   SHIFTLANE_SKIP_CRDS=1      do not install Gateway API / Istio / Traefik CRDs, nor start Traefik
#   SHIFTLANE_GATEWAY_PORT=20080           the Gateway's listener: Traefik entryPoint web on 127.0.0.1
#   SHIFTLANE_TRAEFIK_PORT=20081           Traefik's own entryPoint: /ping, /api/..., /metrics
#   SHIFTLANE_PODSERVER_METRICS_PORT=20090 the pod server's /metrics and /healthz
#   SHIFTLANE_PODSERVER_PROXY_PORT=20091   the pod server's SOCKS5 port: Traefik's way to pod IPs
#   SHIFTLANE_SERVICE_CIDR=127.<N>.0.0/16  Service ClusterIPs; N derives from the API port, so
#                                          clusters running side by side get distinct ranges
#   SHIFTLANE_PYTHON=<repo>/.venv/bin/python  runs the pod server (`make venv`)
# Admin kubeconfig: $SHIFTLANE_CLUSTER_DIR/kubeconfig (printed at the end of `up`).
# Audit log: $SHIFTLANE_CLUSTER_DIR/audit/audit.log, one JSON line (level Metadata) per request made by a
# ServiceAccount outside kube-system, so a test can list the API calls the operator makes (its RBAC test).
# The OwnerReferencesPermissionEnforcement admission plugin is on, as on clusters that enforce it: an
# owner reference with blockOwnerDeletion needs update on the owner's finalizers subresource.
#
# Never-ready test pods: kwok makes every pod on its nodes Running+Ready (stage pod-ready,
# hack/cluster/stages/pod.yaml) EXCEPT pods that
#   - carry the annotation  shiftlane.io/test-never-ready: "true"   (on the pod, i.e. in the
#     Deployment's pod template metadata), or
#   - have a container whose image name contains  never-ready  (e.g. image: example/never-ready:1)
# Those get phase Running and a pod IP but Ready=False/ContainersReady=False forever, so a
# Deployment/ReplicaSet using them never becomes available (simulates a bad revision).
#
# Pods are fake: no container runs, no logs/exec, the `kubernetes` Service has no endpoints.
#
# Real traffic: the API server refuses loopback addresses in EndpointSlices, so pods keep kwok's
# 10.244.0.0/16 IPs, to which nothing may ever send a packet; Service ClusterIPs are loopback instead.
# The pod server (tests/harness/podserver.py) listens on each ClusterIP:port as kube-proxy would and
# answers each request as one of the Service's ready endpoint pods (behaviour from the image tag:
# errors-N, slow-N). Traefik v3 (Kubernetes Gateway provider, experimental channel, and Kubernetes
# CRD provider) runs as a process with a ServiceAccount token and native load balancing (ClusterIP);
# where it dials pod IPs anyway (a TraefikService's children) it goes through the pod server's
# SOCKS5 port, so no packet leaves for a pod IP. GatewayClass `traefik` and Gateway `shiftlane` in
# namespace `shiftlane-gateway` (listener `web`) take HTTPRoutes from every namespace on
# 127.0.0.1:$SHIFTLANE_GATEWAY_PORT. Use HTTP backends: TCP/TLS routes and h2c dial without the proxy.
#
# Binaries are rebuilt only when one is missing from the cache dir (delete it to force a rebuild);
# needs go + the Go module proxy (or a warm module cache), openssl, curl, kubectl.
# Processes: each component runs in its own session/process group; $DIR/pids/<name>.pid holds the
# pgid. `down` TERMs each group (KILL after 15 s). A failed `up` stops what it started but keeps
# $DIR/logs for inspection; the next `up` cleans it. `up` on a healthy cluster returns at once.
set -euo pipefail
# Go may sit in its default place without being on a non-login PATH (as in CI).
command -v go >/dev/null || [[ ! -x /usr/local/go/bin/go ]] || PATH="$PATH:/usr/local/go/bin"

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MODS="$HERE/cluster"
ROOT="$(dirname "$HERE")"

GATEWAY_API_VERSION="v1.4.1"
ISTIO_API_VERSION="v1.30.8"

modver() { # modver <go.mod> <module path>
  awk -v m="$2" '($1 == m || ($1 == "require" && $2 == m)) { print ($1 == "require" ? $3 : $2); exit }' "$1"
}
K8S_VERSION="$(modver "$MODS/kube/go.mod" k8s.io/kubernetes)"
ETCD_VERSION="$(modver "$MODS/etcd/go.mod" go.etcd.io/etcd/server/v3)"
KWOK_VERSION="$(modver "$MODS/kwok/go.mod" sigs.k8s.io/kwok)"
TRAEFIK_VERSION="$(modver "$MODS/traefik/go.mod" github.com/traefik/traefik/v3)"

CACHE="${SHIFTLANE_CACHE:-$HOME/.cache/shiftlane}"
BIN="$CACHE/bin/${K8S_VERSION}-${ETCD_VERSION}-${KWOK_VERSION}"
TRAEFIK="$CACHE/bin/traefik-$TRAEFIK_VERSION/traefik" # its own dir: a Traefik bump rebuilds only Traefik
DIR="${SHIFTLANE_CLUSTER_DIR:-/tmp/shiftlane-cluster}"
ETCD_PORT="${SHIFTLANE_ETCD_PORT:-23790}"
ETCD_PEER_PORT="${SHIFTLANE_ETCD_PEER_PORT:-23800}"
API_PORT="${SHIFTLANE_APISERVER_PORT:-16443}"
KCM_PORT="${SHIFTLANE_KCM_PORT:-20257}"
SCHED_PORT="${SHIFTLANE_SCHEDULER_PORT:-20259}"
KWOK_PORT="${SHIFTLANE_KWOK_PORT:-20247}"
NODES="${SHIFTLANE_NODES:-3}"
NODE_PODS="${SHIFTLANE_NODE_PODS:-500}"
GATEWAY_PORT="${SHIFTLANE_GATEWAY_PORT:-20080}"
TRAEFIK_PORT="${SHIFTLANE_TRAEFIK_PORT:-20081}"
PODSERVER_PORT="${SHIFTLANE_PODSERVER_METRICS_PORT:-20090}"
PROXY_PORT="${SHIFTLANE_PODSERVER_PROXY_PORT:-20091}"
# The pod server binds every ClusterIP, so two clusters on one machine need distinct service ranges;
# 251 is prime, so the API ports in use here (16443, 17443, ...) land on distinct second octets.
SERVICE_CIDR="${SHIFTLANE_SERVICE_CIDR:-127.$((2 + API_PORT % 251)).0.0/16}"
[[ "$SERVICE_CIDR" =~ ^127\.([0-9]+)\.0\.0/16$ ]] && ((BASH_REMATCH[1] > 0 && BASH_REMATCH[1] < 255)) ||
  { echo "SHIFTLANE_SERVICE_CIDR must be 127.N.0.0/16 with 0 < N < 255 (got $SERVICE_CIDR)" >&2; exit 2; }
KUBERNETES_SERVICE_IP="${SERVICE_CIDR%0/16}1" # the first address: the `kubernetes` Service
PYTHON="${SHIFTLANE_PYTHON:-$ROOT/.venv/bin/python}"
GATEWAY_NAMESPACE=shiftlane-gateway
KUBECONFIG_FILE="$DIR/kubeconfig"
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok podserver) # start order
[[ "${SHIFTLANE_SKIP_CRDS:-}" == 1 ]] || COMPONENTS+=(traefik)
BINARIES=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

log() { printf '[cluster %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
kc() { kubectl --kubeconfig "$KUBECONFIG_FILE" "$@"; }

# ---------------------------------------------------------------- build
build() { build_control_plane; build_traefik; }

build_control_plane() {
  local missing=() b
  for b in "${BINARIES[@]}"; do [[ -x "$BIN/$b" ]] || missing+=("$b"); done
  ((${#missing[@]})) || return 0
  command -v go >/dev/null || die "go is required to build ${missing[*]} (into $BIN)"
  log "building ${missing[*]} into $BIN (k8s $K8S_VERSION, etcd $ETCD_VERSION, kwok $KWOK_VERSION)"
  mkdir -p "$BIN"
  local tmp start=$SECONDS
  tmp="$(mktemp -d "$BIN/.build.XXXXXX")"
  export CGO_ENABLED=0
  local minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
  local kld="-s -w" p
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    kld+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
    kld+=" -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  local kpkgs=()
  for b in kube-apiserver kube-controller-manager kube-scheduler; do
    [[ -x "$BIN/$b" ]] || kpkgs+=("k8s.io/kubernetes/cmd/$b")
  done
  if ((${#kpkgs[@]})); then
    (cd "$MODS/kube" && go build -trimpath -buildvcs=false -ldflags "$kld" -o "$tmp/" "${kpkgs[@]}") || die "building ${kpkgs[*]} failed"
  fi
  if [[ ! -x "$BIN/etcd" ]]; then
    (cd "$MODS/etcd" && go build -trimpath -buildvcs=false -ldflags "-s -w" -o "$tmp/etcd" .) || die "building etcd failed"
  fi
  if [[ ! -x "$BIN/kwok" ]]; then
    (cd "$MODS/kwok" && go build -trimpath -buildvcs=false -ldflags "-s -w" -o "$tmp/kwok" sigs.k8s.io/kwok/cmd/kwok) || die "building kwok failed"
  fi
  for b in "$tmp"/*; do mv -f "$b" "$BIN/"; done
  rmdir "$tmp"
  log "build done in $((SECONDS - start))s: $(du -sh "$BIN" | cut -f1) in $BIN"
}

build_traefik() {
  [[ -x "$TRAEFIK" ]] && return 0
  command -v go >/dev/null || die "go is required to build traefik (into $TRAEFIK)"
  log "building traefik $TRAEFIK_VERSION into $TRAEFIK (up to 25 minutes on 2 busy cores with a cold Go build cache)"
  mkdir -p "$(dirname "$TRAEFIK")"
  local start=$SECONDS
  # Without the version Traefik reports "dev"; CGO off as for the other binaries.
  (cd "$MODS/traefik" && CGO_ENABLED=0 go build -trimpath -buildvcs=false \
    -ldflags "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$TRAEFIK_VERSION" \
    -o "$TRAEFIK.tmp" github.com/traefik/traefik/v3/cmd/traefik) || die "building traefik failed"
  mv -f "$TRAEFIK.tmp" "$TRAEFIK"
  log "traefik built in $((SECONDS - start))s: $(du -sh "$TRAEFIK" | cut -f1)"
}

# ---------------------------------------------------------------- certs / kubeconfigs
gen_cert() { # gen_cert <name> <subject> [extensions]
  local n="$1" subj="$2" ext="${3:-}"
  openssl ecparam -name prime256v1 -genkey -noout -out "$DIR/pki/$n.key" 2>/dev/null
  openssl req -new -key "$DIR/pki/$n.key" -subj "$subj" -out "$DIR/pki/$n.csr" 2>/dev/null
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" "$ext" >"$DIR/pki/$n.ext"
  openssl x509 -req -in "$DIR/pki/$n.csr" -CA "$DIR/pki/ca.crt" -CAkey "$DIR/pki/ca.key" -CAcreateserial \
    -days 3650 -sha256 -extfile "$DIR/pki/$n.ext" -out "$DIR/pki/$n.crt" 2>/dev/null
  rm -f "$DIR/pki/$n.csr" "$DIR/pki/$n.ext"
}

write_kubeconfig() { # write_kubeconfig <file> <cert name> <user>
  local f="$1" n="$2" u="$3"
  cat >"$f" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: shiftlane
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority-data: $(base64 -w0 <"$DIR/pki/ca.crt")
users:
- name: $u
  user:
    client-certificate-data: $(base64 -w0 <"$DIR/pki/$n.crt")
    client-key-data: $(base64 -w0 <"$DIR/pki/$n.key")
contexts:
- name: shiftlane
  context:
    cluster: shiftlane
    user: $u
current-context: shiftlane
EOF
  chmod 600 "$f"
}

gen_pki() {
  command -v openssl >/dev/null || die "openssl is required (apt-get install openssl)"
  mkdir -p "$DIR/pki"
  openssl ecparam -name prime256v1 -genkey -noout -out "$DIR/pki/ca.key" 2>/dev/null
  openssl req -x509 -new -key "$DIR/pki/ca.key" -subj "/CN=shiftlane-ca" -days 3650 -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -out "$DIR/pki/ca.crt" 2>/dev/null
  gen_cert apiserver "/CN=kube-apiserver" \
    "extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:$KUBERNETES_SERVICE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  gen_cert admin "/O=system:masters/CN=shiftlane-admin" "extendedKeyUsage=clientAuth"
  gen_cert controller-manager "/CN=system:kube-controller-manager" "extendedKeyUsage=clientAuth"
  gen_cert scheduler "/CN=system:kube-scheduler" "extendedKeyUsage=clientAuth"
  gen_cert kwok "/O=system:masters/CN=kwok-controller" "extendedKeyUsage=clientAuth"
  # service-account token signing key pair
  openssl genrsa -out "$DIR/pki/sa.key" 2048 2>/dev/null
  openssl rsa -in "$DIR/pki/sa.key" -pubout -out "$DIR/pki/sa.pub" 2>/dev/null
  chmod 600 "$DIR"/pki/*.key
  write_kubeconfig "$KUBECONFIG_FILE" admin shiftlane-admin
  write_kubeconfig "$DIR/controller-manager.kubeconfig" controller-manager system:kube-controller-manager
  write_kubeconfig "$DIR/scheduler.kubeconfig" scheduler system:kube-scheduler
  write_kubeconfig "$DIR/kwok.kubeconfig" kwok kwok-controller
}

# ---------------------------------------------------------------- processes
pid_of() { [[ -f "$DIR/pids/$1.pid" ]] && cat "$DIR/pids/$1.pid"; }
running() { # running <pid>: exists and is not a zombie
  local st
  st="$(ps -o stat= -p "$1" 2>/dev/null)" && [[ -n "$st" && "$st" != Z* ]]
}
group_running() { ps -eo pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { f = 1 } END { exit !f }'; }
alive() { local p; p="$(pid_of "$1")" && [[ -n "$p" ]] && running "$p"; }

# run <name> <command...>: runs the command in its own session/process group (pidfile holds the
# pgid) under a tiny bash parent that reaps it, so no zombie is left when `up` has exited.
run() {
  local n="$1"; shift
  log "starting $n"
  # Each component is given its own kubeconfig; a KUBECONFIG of the caller's (another cluster) would
  # win over that in Traefik's providers and point it at that cluster.
  setsid env -u KUBECONFIG bash -c 'trap "kill -TERM \$c 2>/dev/null; wait \$c; exit" TERM; "$@" & c=$!; wait $c' \
    "shiftlane-$n" "$@" </dev/null >>"$DIR/logs/$n.log" 2>&1 &
  echo $! >"$DIR/pids/$n.pid"
}
start() { local n="$1"; shift; run "$n" "$BIN/$n" "$@"; } # start <binary name> <args...>

fail_component() {
  local n="$1" why="$2"
  log "ERROR: $n $why; last lines of $DIR/logs/$n.log:"
  tail -n 40 "$DIR/logs/$n.log" >&2 || true
  exit 1
}

wait_for() { # wait_for <component> <timeout s> <command...>
  local n="$1" t="$2"; shift 2
  local deadline=$((SECONDS + t))
  until "$@" >/dev/null 2>&1; do
    alive "$n" || fail_component "$n" "exited during startup"
    ((SECONDS < deadline)) || fail_component "$n" "not ready after ${t}s"
    sleep 0.2
  done
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

stop_all() {
  local n p i
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
    n="${COMPONENTS[$i]}"
    p="$(pid_of "$n" || true)"
    [[ -n "$p" ]] || continue
    kill -TERM -- "-$p" 2>/dev/null || true
  done
  for n in "${COMPONENTS[@]}"; do
    p="$(pid_of "$n" || true)"
    [[ -n "$p" ]] || continue
    for ((i = 0; i < 150; i++)); do
      group_running "$p" || break
      sleep 0.1
    done
    if group_running "$p"; then
      log "$n (pgid $p) did not stop on TERM, killing"
      kill -KILL -- "-$p" 2>/dev/null || true
    fi
    rm -f "$DIR/pids/$n.pid"
  done
}

on_up_exit() { # EXIT trap while `up` runs: on failure stop what was started, keep the logs
  local rc=$?
  ((rc == 0)) && return 0
  log "up failed (exit $rc): stopping started components; logs stay in $DIR/logs (\`$0 down\` removes them)"
  stop_all || true
  exit "$rc"
}

healthy() {
  local n
  [[ -f "$KUBECONFIG_FILE" ]] || return 1
  for n in "${COMPONENTS[@]}"; do alive "$n" || return 1; done
  [[ "$(kc --request-timeout=5s get --raw /readyz 2>/dev/null)" == ok ]] || return 1
}

# ---------------------------------------------------------------- cluster objects
nodes_manifest() {
  local i
  for ((i = 0; i < NODES; i++)); do
    cat <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    type: kwok
    kubernetes.io/arch: amd64
    kubernetes.io/hostname: kwok-node-$i
    kubernetes.io/os: linux
    kubernetes.io/role: agent
    node-role.kubernetes.io/agent: ""
status:
  addresses:
  - {type: InternalIP, address: 10.0.0.$((10 + i))}
  - {type: Hostname, address: kwok-node-$i}
  allocatable: {cpu: "64", memory: 256Gi, pods: "$NODE_PODS", ephemeral-storage: 1Ti}
  capacity: {cpu: "64", memory: 256Gi, pods: "$NODE_PODS", ephemeral-storage: 1Ti}
  nodeInfo:
    architecture: amd64
    operatingSystem: linux
    kubeletVersion: $K8S_VERSION
EOF
  done
}

moddir() { # moddir <module@version> [go.mod dir]: go mod download, prints the module dir (verified against go.sum)
  local d
  d="$(cd "$MODS/${2:-kube}" && go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')"
  [[ -n "$d" && -d "$d" ]] || die "go mod download $1 failed"
  echo "$d"
}

install_crds() {
  local gw istio traefik crds=()
  gw="$(moddir "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION")"
  istio="$(moddir "istio.io/api@$ISTIO_API_VERSION")"
  traefik="$(moddir "github.com/traefik/traefik/v3@$TRAEFIK_VERSION" traefik)"
  local files=("$gw"/config/crd/experimental/gateway.networking.*.yaml "$istio/kubernetes/customresourcedefinitions.gen.yaml"
    "$traefik/docs/content/reference/dynamic-configuration/kubernetes-crd-definition-v1.yml")
  log "applying CRDs: gateway-api $GATEWAY_API_VERSION (experimental channel), istio.io/api $ISTIO_API_VERSION, traefik $TRAEFIK_VERSION"
  local args=() f
  for f in "${files[@]}"; do args+=(-f "$f"); done
  kc apply --server-side --force-conflicts --field-manager=shiftlane-cluster "${args[@]}" >"$DIR/logs/crds.log" 2>&1 ||
    { tail -n 20 "$DIR/logs/crds.log" >&2; die "applying CRDs failed (see $DIR/logs/crds.log)"; }
  mapfile -t crds < <(sed -n 's/^\(customresourcedefinition\.apiextensions\.k8s\.io\/[^ ]*\) .*/\1/p' "$DIR/logs/crds.log")
  ((${#crds[@]})) || die "no CRDs reported by kubectl apply (see $DIR/logs/crds.log)"
  kc wait --for=condition=Established --timeout=60s "${crds[@]}" >/dev/null ||
    die "CRDs did not become Established"
  log "${#crds[@]} CRDs established"
}

# ---------------------------------------------------------------- data plane
start_podserver() {
  [[ -x "$PYTHON" ]] || die "the pod server needs $PYTHON with the project installed (make venv), or SHIFTLANE_PYTHON"
  run podserver "$PYTHON" "$ROOT/tests/harness/podserver.py" --kubeconfig "$KUBECONFIG_FILE" \
    --metrics-address "127.0.0.1:$PODSERVER_PORT" --proxy-address "127.0.0.1:$PROXY_PORT"
}

gateway_manifest() {
  cat <<EOF
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: traefik}
spec: {controllerName: traefik.io/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: shiftlane, namespace: $GATEWAY_NAMESPACE}
spec:
  gatewayClassName: traefik
  listeners:
  # Traefik binds a listener to the entryPoint with the same port.
  - {name: web, protocol: HTTP, port: $GATEWAY_PORT, allowedRoutes: {namespaces: {from: All}}}
EOF
}

start_traefik() {
  local d="$DIR/traefik"
  mkdir -p "$d"
  kc create namespace "$GATEWAY_NAMESPACE" >/dev/null
  kc -n "$GATEWAY_NAMESPACE" create serviceaccount traefik >/dev/null
  kc apply -f "$MODS/traefik/rbac.yaml" >/dev/null || die "applying Traefik's RBAC failed"
  (umask 077 && kc -n "$GATEWAY_NAMESPACE" create token traefik --duration 8760h >"$d/token") ||
    die "requesting a token for Traefik failed"
  # Native load balancing: Traefik sends to a Service's ClusterIP (loopback, served by the pod
  # server), never to the pods' non-loopback IPs it would read from EndpointSlices.
  local provider="endpoint: https://127.0.0.1:$API_PORT
    token: $d/token
    certAuthFilePath: $DIR/pki/ca.crt
    nativeLBByDefault: true"
  cat >"$d/traefik.yaml" <<EOF
global: {checkNewVersion: false, sendAnonymousUsage: false}
entryPoints:
  web: {address: "127.0.0.1:$GATEWAY_PORT"}
  traefik: {address: "127.0.0.1:$TRAEFIK_PORT"}
ping: {}
api: {insecure: true, dashboard: false} # the module has no built web UI
metrics: {prometheus: {addServicesLabels: true, addRoutersLabels: true}}
log: {level: INFO, noColor: true}
providers:
  kubernetesGateway:
    $provider
    experimentalChannel: true
    statusAddress: {ip: 127.0.0.1}
  kubernetesCRD:
    $provider
EOF
  gateway_manifest | kc apply -f - >/dev/null || die "creating the Gateway failed"
  # Where Traefik still picks pod IPs (a TraefikService's children ignore nativeLBByDefault), it
  # dials them through the pod server's SOCKS5 port, which answers as that pod (an HTTP proxy would
  # not do: Go writes the Host header, not the pod IP, into a proxied request). Go never proxies
  # loopback addresses, so ClusterIPs and the API server are reached directly.
  run traefik env HTTP_PROXY="socks5://127.0.0.1:$PROXY_PORT" HTTPS_PROXY="socks5://127.0.0.1:$PROXY_PORT" \
    "$TRAEFIK" --configFile "$d/traefik.yaml"
}

# Requests by ServiceAccounts (the operator's among them), without kube-system's controllers.
write_audit_policy() {
  mkdir -p "$DIR/audit"
  cat >"$DIR/audit/policy.yaml" <<'YAML'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: None
    userGroups: ["system:serviceaccounts:kube-system"]
  - level: Metadata
    userGroups: ["system:serviceaccounts"]
  - level: None
YAML
}

# ---------------------------------------------------------------- up / down
start_etcd() { # an existing data dir is kept: a restart resumes from it
  start etcd --name shiftlane --data-dir "$DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "shiftlane=http://127.0.0.1:$ETCD_PEER_PORT" --initial-cluster-state new \
    --unsafe-no-fsync --quota-backend-bytes 4294967296 --log-level warn
  wait_for etcd 30 curl -fsS "http://127.0.0.1:$ETCD_PORT/health"
}

start_apiserver() {
  local pki="$DIR/pki"
  write_audit_policy
  start kube-apiserver --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$API_PORT" \
    --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" --client-ca-file "$pki/ca.crt" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
    --service-cluster-ip-range "$SERVICE_CIDR" --authorization-mode Node,RBAC --allow-privileged=true \
    --endpoint-reconciler-type none --profiling=false \
    --enable-admission-plugins OwnerReferencesPermissionEnforcement \
    --audit-policy-file "$DIR/audit/policy.yaml" --audit-log-path "$DIR/audit/audit.log" \
    --audit-log-format json --audit-log-maxsize 200 --audit-log-maxbackup 1
  wait_for kube-apiserver 60 kc --request-timeout=5s get --raw /readyz
}

stop_component() { # stop_component <name>: TERM its process group (KILL after 15 s), as `down` does for all
  local n="$1" p i
  p="$(pid_of "$n" || true)"
  [[ -n "$p" ]] || die "$n is not running (no pid file in $DIR/pids)"
  kill -TERM -- "-$p" 2>/dev/null || true
  for ((i = 0; i < 150; i++)); do
    group_running "$p" || break
    sleep 0.1
  done
  group_running "$p" && kill -KILL -- "-$p" 2>/dev/null || true
  rm -f "$DIR/pids/$n.pid"
  log "$n stopped"
}

# Chaos tests stop and start the control plane's stateful parts; the other components reconnect.
RESTARTABLE=(etcd kube-apiserver)

component() { # component stop|start <etcd|kube-apiserver>
  local action="$1" n="${2:-}"
  [[ " ${RESTARTABLE[*]} " == *" $n "* ]] || die "usage: $0 $action {${RESTARTABLE[*]}}"
  case "$action" in
    stop) stop_component "$n" ;;
    start)
      alive "$n" && { log "$n already running"; return 0; }
      if [[ "$n" == etcd ]]; then start_etcd; else start_apiserver; fi ;;
  esac
}

up() {
  local t0=$SECONDS
  if healthy; then
    log "already running and healthy"
    echo "$KUBECONFIG_FILE"
    return 0
  fi
  if [[ -d "$DIR" ]]; then
    log "state dir $DIR exists but the cluster is not healthy: tearing it down first"
    down
  fi
  command -v kubectl >/dev/null || die "kubectl is required"
  build_control_plane
  [[ " ${COMPONENTS[*]} " != *" traefik "* ]] || build_traefik
  local p
  for p in "$ETCD_PORT" "$ETCD_PEER_PORT" "$API_PORT" "$KCM_PORT" "$SCHED_PORT" "$KWOK_PORT" "$GATEWAY_PORT" \
    "$TRAEFIK_PORT" "$PODSERVER_PORT" "$PROXY_PORT"; do
    port_free "$p" || die "port 127.0.0.1:$p is already in use (override with SHIFTLANE_*_PORT)"
  done
  mkdir -p "$DIR"/{logs,pids}
  trap on_up_exit EXIT
  gen_pki

  start_etcd
  start_apiserver
  local pki="$DIR/pki"

  start kube-controller-manager --kubeconfig "$DIR/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$DIR/controller-manager.kubeconfig" \
    --authorization-kubeconfig "$DIR/controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$KCM_PORT" --leader-elect=false --controllers '*' \
    --use-service-account-credentials=true \
    --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
    --cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key" \
    --service-cluster-ip-range "$SERVICE_CIDR" --profiling=false \
    --node-monitor-grace-period 3m \
    --kube-api-qps 200 --kube-api-burst 400  # the default 20 qps paces large benchmarks, not the operator
  # --node-monitor-grace-period: kwok renews node leases through the API server, so a chaos test's 30 s
  # API server outage would mark every node NotReady and its pods unready, which kwok (unlike a
  # kubelet) never reports ready again.
  start kube-scheduler --kubeconfig "$DIR/scheduler.kubeconfig" \
    --authentication-kubeconfig "$DIR/scheduler.kubeconfig" --authorization-kubeconfig "$DIR/scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$SCHED_PORT" --leader-elect=false --profiling=false \
    --kube-api-qps 200 --kube-api-burst 400
  start kwok --kubeconfig "$DIR/kwok.kubeconfig" \
    --config "$MODS/stages/node.yaml" --config "$MODS/stages/pod.yaml" \
    --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
    --node-lease-duration-seconds 40 --cidr 10.244.0.0/16 --node-ip 10.0.0.1 \
    --server-address "127.0.0.1:$KWOK_PORT"

  start_podserver
  nodes_manifest | kc apply -f - >/dev/null || die "creating nodes failed"
  if [[ "${SHIFTLANE_SKIP_CRDS:-}" != 1 ]]; then
    install_crds
    start_traefik
  fi

  wait_for kube-controller-manager 60 curl -kfsS "https://127.0.0.1:$KCM_PORT/healthz"
  wait_for kube-scheduler 60 curl -kfsS "https://127.0.0.1:$SCHED_PORT/healthz"
  wait_for kwok 60 kc wait --for=condition=Ready node -l type=kwok --timeout=1s
  wait_for kube-controller-manager 60 kc -n default get serviceaccount default
  wait_for podserver 60 curl -fsS "http://127.0.0.1:$PODSERVER_PORT/healthz"
  if [[ " ${COMPONENTS[*]} " == *" traefik "* ]]; then
    wait_for traefik 60 curl -fsS "http://127.0.0.1:$TRAEFIK_PORT/ping"
    wait_for traefik 60 kc -n "$GATEWAY_NAMESPACE" wait --for=condition=Programmed gateway/shiftlane --timeout=1s
    log "gateway: http://127.0.0.1:$GATEWAY_PORT (Gateway $GATEWAY_NAMESPACE/shiftlane); Traefik API: http://127.0.0.1:$TRAEFIK_PORT/api/rawdata"
  fi
  local n
  for n in "${COMPONENTS[@]}"; do alive "$n" || fail_component "$n" "exited"; done
  trap - EXIT
  log "cluster up in $((SECONDS - t0))s (k8s $K8S_VERSION, etcd $ETCD_VERSION, kwok $KWOK_VERSION); logs in $DIR/logs"
  log "export KUBECONFIG=$KUBECONFIG_FILE"
  echo "$KUBECONFIG_FILE"
}

down() {
  if [[ -d "$DIR/pids" ]]; then
    log "stopping components"
    stop_all
  fi
  # Safety net: processes running one of our cached binaries with our state dir on the command line.
  local p left=()
  for p in $(pgrep -f -- "^$CACHE/bin/" 2>/dev/null || true); do
    tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF -- "$DIR/" && left+=("$p")
  done
  if ((${#left[@]})); then
    log "killing leftover processes: ${left[*]}"
    kill -KILL "${left[@]}" 2>/dev/null || true
  fi
  rm -rf "$DIR"
  log "down: removed $DIR"
}

status() {
  local n p
  for n in "${COMPONENTS[@]}"; do
    p="$(pid_of "$n" 2>/dev/null || true)"
    if alive "$n"; then echo "$n: running (pid $p)"; else echo "$n: not running"; fi
  done
  if healthy; then kc get nodes; else echo "cluster not healthy"; return 1; fi
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  build) build ;;
  env) echo "export KUBECONFIG=$KUBECONFIG_FILE" ;;
  stop | start) component "$1" "${2:-}" ;;
  *) echo "usage: $0 {up|down|status|build|env|stop NAME|start NAME}" >&2; exit 2 ;;
esac
