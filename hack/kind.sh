#!/usr/bin/env bash
# Local Shiftlane cluster on kind (needs Docker).
#
#   hack/kind.sh up     create the cluster, install the Gateway API CRDs,
#                       build + load the operator image, install the chart
#   hack/kind.sh down   delete the cluster
#
# Needs: docker, kind (>= v0.23, whose default node image is Kubernetes
# >= 1.30; the chart requires >= 1.29), kubectl, go (only to fetch the pinned
# Gateway API module) and helm (installed by hack/install-helm.sh if missing).
#
# Environment overrides:
#   KIND_CLUSTER_NAME  (default shiftlane)
#   KIND_NODE_IMAGE    (default: kind's own default node image)
#   IMAGE_REPOSITORY / IMAGE_TAG  (default shiftlane / dev)
#   SHIFTLANE_NAMESPACE (default shiftlane-system)
#   HELM_EXTRA_ARGS    (extra args for helm upgrade --install, word-split)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${REPO_ROOT}"

CLUSTER_NAME="${KIND_CLUSTER_NAME:-shiftlane}"
KIND_NODE_IMAGE="${KIND_NODE_IMAGE:-}"
KUBE_CONTEXT="kind-${CLUSTER_NAME}"
GATEWAY_API_MODULE="sigs.k8s.io/gateway-api"
GATEWAY_API_VERSION="v1.4.1"   # pinned
IMAGE_REPOSITORY="${IMAGE_REPOSITORY:-shiftlane}"
IMAGE_TAG="${IMAGE_TAG:-dev}"
IMAGE="${IMAGE_REPOSITORY}:${IMAGE_TAG}"
NAMESPACE="${SHIFTLANE_NAMESPACE:-shiftlane-system}"
RELEASE="shiftlane"

log() { printf '\n==> %s\n' "$*"; }
die() { printf 'kind.sh: %s\n' "$*" >&2; exit 1; }

need() {
  local cmd
  for cmd in "$@"; do
    command -v "${cmd}" >/dev/null 2>&1 || die "'${cmd}' is required but not on PATH"
  done
}

find_helm() {
  if command -v helm >/dev/null 2>&1; then
    command -v helm
  elif [[ -x "${REPO_ROOT}/.venv/bin/helm" ]]; then
    echo "${REPO_ROOT}/.venv/bin/helm"
  else
    "${REPO_ROOT}/hack/install-helm.sh" "${REPO_ROOT}/.venv/bin" >&2
    echo "${REPO_ROOT}/.venv/bin/helm"
  fi
}

cluster_exists() {
  kind get clusters 2>/dev/null | grep -qx "${CLUSTER_NAME}"
}

install_gateway_api_crds() {
  local dir
  dir="$(go mod download -json "${GATEWAY_API_MODULE}@${GATEWAY_API_VERSION}" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
  [[ -d "${dir}/config/crd/standard" ]] || die "no config/crd/standard in ${dir}"
  # config/crd/kustomization.yaml is the standard channel (config/crd/standard/*).
  kubectl --context "${KUBE_CONTEXT}" apply --server-side -k "${dir}/config/crd"
  kubectl --context "${KUBE_CONTEXT}" wait --for=condition=Established --timeout=120s \
    crd/gatewayclasses.gateway.networking.k8s.io \
    crd/gateways.gateway.networking.k8s.io \
    crd/httproutes.gateway.networking.k8s.io \
    crd/grpcroutes.gateway.networking.k8s.io
}

up() {
  need kind kubectl docker go python3
  local helm
  helm="$(find_helm)"

  if cluster_exists; then
    log "kind cluster '${CLUSTER_NAME}' already exists"
  else
    log "creating kind cluster '${CLUSTER_NAME}'"
    local args=(create cluster --name "${CLUSTER_NAME}" --config kind-config.yaml)
    [[ -n "${KIND_NODE_IMAGE}" ]] && args+=(--image "${KIND_NODE_IMAGE}")
    kind "${args[@]}"
  fi

  log "installing Gateway API ${GATEWAY_API_VERSION} CRDs (standard channel)"
  install_gateway_api_crds

  log "building ${IMAGE}"
  docker build -t "${IMAGE}" .

  log "loading ${IMAGE} into kind"
  kind load docker-image "${IMAGE}" --name "${CLUSTER_NAME}"

  log "installing the chart (release ${RELEASE}, namespace ${NAMESPACE})"
  # shellcheck disable=SC2086
  "${helm}" upgrade --install "${RELEASE}" charts/shiftlane \
    --kube-context "${KUBE_CONTEXT}" \
    --namespace "${NAMESPACE}" --create-namespace \
    --set image.repository="${IMAGE_REPOSITORY}" \
    --set image.tag="${IMAGE_TAG}" \
    --set image.pullPolicy=Never \
    --wait --timeout 5m \
    ${HELM_EXTRA_ARGS:-}

  log "ready: kubectl --context ${KUBE_CONTEXT} -n ${NAMESPACE} get pods"
  kubectl --context "${KUBE_CONTEXT}" -n "${NAMESPACE}" get pods
}

down() {
  need kind
  log "deleting kind cluster '${CLUSTER_NAME}'"
  kind delete cluster --name "${CLUSTER_NAME}"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *)
    echo "usage: $0 up|down" >&2
    exit 2
    ;;
esac
