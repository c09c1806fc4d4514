#!/usr/bin/env bash
# `make demo`: the local control plane, the operator, and a canary Rollout changing image step by step.
# The cluster is torn down at the end unless DEMO_KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
NS=demo
LOG=$(mktemp -t shiftlane-operator.XXXX.log)

bash hack/cluster.sh up
export KUBECONFIG=${SHIFTLANE_CLUSTER_DIR:-/tmp/shiftlane-cluster}/kubeconfig
OPERATOR=
cleanup() {
  [ -n "$OPERATOR" ] && kill "$OPERATOR" 2>/dev/null && wait "$OPERATOR" 2>/dev/null || true
  [ "${DEMO_KEEP:-0}" = 1 ] || bash hack/cluster.sh down >/dev/null 2>&1 || true
}
trap cleanup EXIT

kubectl apply --server-side --force-conflicts -f crds/rollouts.shiftlane.io.yaml >/dev/null
kubectl wait --for=condition=Established crd/rollouts.shiftlane.io --timeout=30s >/dev/null
shiftlane run --metrics-port 18080 --health-port 18081 >"$LOG" 2>&1 &
OPERATOR=$!
until curl -sf localhost:18081/healthz >/dev/null; do sleep 0.2; done
echo "operator running (log: $LOG, metrics: http://localhost:18080/metrics)"

kubectl create namespace "$NS" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl delete rollout.shiftlane.io checkout -n "$NS" --ignore-not-found >/dev/null
echo; echo "== the plan for examples/canary.yaml"
shiftlane plan examples/canary.yaml
kubectl apply -n "$NS" -f examples/canary.yaml
kubectl wait -n "$NS" --for=condition=Ready rollout.shiftlane.io/checkout --timeout=60s

# Print one line whenever the Rollout or its revisions change.
follow() {
  local until_phase=$1 last="" line
  for _ in $(seq 1 600); do
    line=$(kubectl get rollout.shiftlane.io checkout -n "$NS" -o jsonpath='{.status.phase} step={.status.currentStepIndex} weight={.status.canaryWeight}% stable={.status.stableRevision} canary={.status.canaryRevision} | {.status.message}')
    pods=$(kubectl get deploy -n "$NS" -l shiftlane.io/rollout=checkout -o jsonpath='{range .items[*]}{.metadata.labels.shiftlane\.io/revision}={.status.readyReplicas}/{.spec.replicas} {end}')
    if [ "$line $pods" != "$last" ]; then
      printf '%s  %-70s  pods: %s\n' "$(date +%T)" "$line" "$pods"
      last="$line $pods"
    fi
    case "$line" in "$until_phase"*) return 0 ;; esac
    sleep 0.3
  done
  return 1
}

echo; echo "== changing the image to 1.4.3"
kubectl shiftlane set image checkout app=123456789012.dkr.ecr.eu-west-1.amazonaws.com/checkout:1.4.3 -n "$NS"
sleep 1
follow "Paused step=5"
echo; echo "== kubectl shiftlane get checkout"
kubectl shiftlane get checkout -n "$NS"
echo; echo "== kubectl shiftlane promote checkout"
kubectl shiftlane promote checkout -n "$NS"
follow "Healthy"
echo; kubectl get rollouts.shiftlane.io -n "$NS"
echo; echo "== events"
kubectl get events -n "$NS" --field-selector involvedObject.kind=Rollout --sort-by=.lastTimestamp -o custom-columns=REASON:.reason,MESSAGE:.message
