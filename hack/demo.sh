#!/usr/bin/env bash
# `make demo`: the local control plane, the operator, and a canary Rollout changing image step by step,
# its weights set on an HTTPRoute of the local Gateway, with real requests showing the live split.
# The cluster is torn down at the end unless DEMO_KEEP=1. Every SHIFTLANE_* variable of hack/cluster.sh
# applies (another state dir and ports run a second cluster beside the default one); the operator's
# own ports: SHIFTLANE_DEMO_METRICS_PORT (18080), SHIFTLANE_DEMO_HEALTH_PORT (18081).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
NS=demo
LOG=$(mktemp -t shiftlane-operator.XXXX.log)
METRICS_PORT=${SHIFTLANE_DEMO_METRICS_PORT:-18080}
HEALTH_PORT=${SHIFTLANE_DEMO_HEALTH_PORT:-18081}
GATEWAY=127.0.0.1:${SHIFTLANE_GATEWAY_PORT:-20080}
ROLLOUT=checkout
HOST=checkout.demo.test  # the HTTPRoute's hostname in examples/canary.yaml
PROMETHEUS_PORT=19090    # examples/analysis.yaml's template asks Prometheus here
REQUESTS=200             # per printed line

bash hack/cluster.sh up
export KUBECONFIG=${SHIFTLANE_CLUSTER_DIR:-/tmp/shiftlane-cluster}/kubeconfig
OPERATOR= PROMETHEUS=
cleanup() {
  [ -n "$OPERATOR" ] && kill "$OPERATOR" 2>/dev/null && wait "$OPERATOR" 2>/dev/null || true
  [ -n "$PROMETHEUS" ] && kill "$PROMETHEUS" 2>/dev/null && wait "$PROMETHEUS" 2>/dev/null || true
  [ "${DEMO_KEEP:-0}" = 1 ] || bash hack/cluster.sh down >/dev/null 2>&1 || true
}
trap cleanup EXIT

kubectl apply --server-side --force-conflicts -f crds/ >/dev/null
kubectl wait --for=condition=Established crd/rollouts.shiftlane.io --timeout=30s >/dev/null
bash hack/demo-ecr.sh  # ECR on moto: a tag pinned to its digest, and the scan gate holding back a CRITICAL image
shiftlane run --metrics-port "$METRICS_PORT" --health-port "$HEALTH_PORT" >"$LOG" 2>&1 &
OPERATOR=$!
until curl -sf "127.0.0.1:$HEALTH_PORT/readyz" >/dev/null; do  # ready: kopf runs its handlers
  kill -0 "$OPERATOR" 2>/dev/null || { tail -20 "$LOG"; exit 1; }
  sleep 0.2
done
echo "operator running (log: $LOG, metrics: http://127.0.0.1:$METRICS_PORT/metrics)"

kubectl create namespace "$NS" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl delete rollout.shiftlane.io checkout -n "$NS" --ignore-not-found >/dev/null
echo; echo "== the plan for examples/canary.yaml"
shiftlane plan examples/canary.yaml
kubectl apply -n "$NS" -f examples/canary.yaml
kubectl wait -n "$NS" --for=condition=Ready rollout.shiftlane.io/checkout --timeout=60s

# $REQUESTS requests through the Gateway (loopback only), one keep-alive connection; prints the share
# of successful answers by the revision that answered (named stable / canary when it is $1 / $2).
live_split() {
  curl -s --max-time 30 -H "Host: $HOST" -w '\ncode=%{http_code}\n' "http://$GATEWAY/[1-$REQUESTS]" 2>/dev/null |
    awk -v stable="${1:-}" -v canary="${2:-}" -v n="$REQUESTS" '
      match($0, /"revision": *"[^"]*"/) { rev = substr($0, RSTART, RLENGTH); sub(/^"revision": *"/, "", rev); sub(/"$/, "", rev) }
      /^code=/ { answered++; if ($0 ~ /^code=2/ && rev != "") hits[rev]++; else failed++; rev = "" }
      END {
        failed += n - answered  # curl gave up (timeout): the rest never ran
        out = ""
        if (stable in hits) { out = out sprintf(" stable %3d%%", 100 * hits[stable] / n); delete hits[stable] }
        if (canary in hits) { out = out sprintf(" canary %3d%%", 100 * hits[canary] / n); delete hits[canary] }
        for (rev in hits) out = out sprintf(" %s %3d%%", rev, 100 * hits[rev] / n)
        if (failed) out = out sprintf(" failed %d", failed)
        print "live" out
      }'
}

# One line, with the live split, whenever the Rollout or its revisions change, and every 3 s meanwhile
# (the Gateway takes a moment to program a new weight).
follow() {
  local until_phase=$1 last="" printed=0 phase step weight stable canary message pods state
  for _ in $(seq 1 600); do
    IFS='|' read -r phase step weight stable canary message < <(kubectl get rollout.shiftlane.io "$ROLLOUT" -n "$NS" \
      -o jsonpath='{.status.phase}|{.status.currentStepIndex}|{.status.canaryWeight}|{.status.stableRevision}|{.status.canaryRevision}|{.status.message}{"\n"}')
    pods=$(kubectl get deploy -n "$NS" -l shiftlane.io/rollout="$ROLLOUT" -o jsonpath='{range .items[*]}{.metadata.labels.shiftlane\.io/revision}={.status.readyReplicas}/{.spec.replicas} {end}' | sed 's|=/|=0/|g')
    state="$phase $step $weight $pods"
    if [ "$state" != "$last" ] || ((SECONDS - printed >= 3)); then
      printf '%s  %-11s step %-2s weight %3s%%  %-31s  %-26s  %s\n' "$(date +%T)" "$phase" "${step:--}" "$weight" \
        "$pods" "$(live_split "$stable" "$canary")" "$message"
      last=$state printed=$SECONDS
    fi
    case "$phase step=$step" in "$until_phase"*) return 0 ;; esac
    sleep 0.3
  done
  return 1
}

echo; echo "== $REQUESTS requests through the Gateway http://$GATEWAY (Host: $HOST) per line; stable is 1.4.2"
for _ in $(seq 1 60); do
  case "$(live_split)" in *failed*) sleep 0.5 ;; *) break ;; esac  # until Traefik has programmed the route
done
follow "Healthy"
echo; echo "== changing the image to 1.4.3"
kubectl shiftlane set image checkout app=123456789012.dkr.ecr.eu-west-1.amazonaws.com/checkout:1.4.3 -n "$NS"
sleep 1
follow "Paused step=5"  # the manual pause (see the plan above)
echo; echo "== kubectl shiftlane get checkout"
kubectl shiftlane get checkout -n "$NS"
echo; echo "== kubectl shiftlane promote checkout"
kubectl shiftlane promote checkout -n "$NS"
follow "Healthy"
echo; kubectl get rollouts.shiftlane.io -n "$NS"
echo; echo "== the HTTPRoute's backendRefs"
kubectl get httproute checkout -n "$NS" -o jsonpath='{range .spec.rules[*].backendRefs[*]}{.name}: weight {.weight}{"\n"}{end}'
echo; echo "== router writes (shiftlane_router_updates_total)"
curl -s "127.0.0.1:$METRICS_PORT/metrics" | grep '^shiftlane_router_updates_total' || true
echo; echo "== events"
RID=$(kubectl get rollout.shiftlane.io checkout -n "$NS" -o jsonpath='{.metadata.uid}')  # not an earlier run's
kubectl get events -n "$NS" --field-selector "involvedObject.kind=Rollout,involvedObject.uid=$RID" --sort-by=.eventTime -o custom-columns=REASON:.reason,MESSAGE:.message  # kopf sets eventTime (microseconds)

echo; echo "== analysis decides: Prometheus on 127.0.0.1:$PROMETHEUS_PORT scrapes the pods' answers"
PROMDIR=$(mktemp -d -t shiftlane-prometheus.XXXX)
cat >"$PROMDIR/prometheus.yml" <<YAML
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: podserver
    static_configs: [{targets: ["127.0.0.1:${SHIFTLANE_PODSERVER_METRICS_PORT:-20090}"]}]
YAML
prometheus --config.file="$PROMDIR/prometheus.yml" --storage.tsdb.path="$PROMDIR/data" \
  --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" --log.level=warn >"$PROMDIR/log" 2>&1 &
PROMETHEUS=$!
until curl -sf "127.0.0.1:$PROMETHEUS_PORT/-/ready" >/dev/null; do sleep 0.3; done
ROLLOUT=payments HOST=payments.demo.test
kubectl delete rollout.shiftlane.io payments -n "$NS" --ignore-not-found >/dev/null
kubectl apply -n "$NS" -f examples/analysis.yaml
kubectl wait -n "$NS" --for=condition=Ready rollout.shiftlane.io/payments --timeout=60s >/dev/null
for _ in $(seq 1 60); do
  case "$(live_split)" in *failed*) sleep 0.5 ;; *) break ;; esac
done
# Steady requests in the background, so each revision has answers for Prometheus to count.
( while :; do curl -s -o /dev/null -H "Host: $HOST" "http://$GATEWAY/[1-20]"; sleep 0.1; done ) & LOAD=$!
# The analysis run's last measurement, as status keeps it.
measured() {
  kubectl get rollout.shiftlane.io payments -n "$NS" -o jsonpath='{range .status.analysisRuns[-1:]}{.phase}: {range .metrics[*]}{.name} values [{range .measurements[*]}{.value} {end}] {end}{end}'
}
follow_analysis() {
  local last="" line
  for _ in $(seq 1 400); do
    line="$(kubectl get rollout.shiftlane.io payments -n "$NS" -o jsonpath='{.status.phase} step {.status.currentStepIndex} weight {.status.canaryWeight}%')  $(measured)"
    [ "$line" != "$last" ] && printf '%s  %s\n' "$(date +%T)" "$line" && last=$line
    case "$line" in "$1"*) return 0 ;; esac
    sleep 0.5
  done
  return 1
}
echo; echo "== payments 2.0.1 (answers every request): promoted by analysis alone"
kubectl shiftlane set image payments app=123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments:2.0.1 -n "$NS"
sleep 1; follow_analysis "Healthy"
echo; echo "== payments errors-20 (answers 20% with 500): rolled back by analysis alone"
kubectl shiftlane set image payments app=123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments:errors-20 -n "$NS"
sleep 1; follow_analysis "Aborted"
kill "$LOAD" 2>/dev/null || true
echo; echo "== the live split after the rollback (all on the stable 2.0.1)"
live_split
echo; kubectl get events -n "$NS" --field-selector involvedObject.name=payments,reason=AnalysisFailed -o custom-columns=REASON:.reason,MESSAGE:.message
