#!/usr/bin/env bash
# The ECR part of `make demo` (called by hack/demo.sh once the cluster is up, before its own operator
# starts): ECR is moto's server on loopback. An image's tag is resolved to its digest and the revision
# runs the digest; the scan gate passes it; a second image with a CRITICAL finding is held back while
# stable keeps serving. moto's scanner reports one fixed HIGH finding by itself, so the findings are
# set through moto's own API (/moto-api/static/ecr/scan-finding-results), as a scanner would report
# them. This script runs its own operator with AWS pointed at moto and removes its namespace at the
# end, so no operator without that endpoint ever sees a Rollout that asks ECR.
# Ports: SHIFTLANE_DEMO_ECR_METRICS_PORT (18082), SHIFTLANE_DEMO_ECR_HEALTH_PORT (18083),
# SHIFTLANE_DEMO_MOTO_PORT (18084).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
export KUBECONFIG=${KUBECONFIG:-${SHIFTLANE_CLUSTER_DIR:-/tmp/shiftlane-cluster}/kubeconfig}
NS=demo-ecr
METRICS_PORT=${SHIFTLANE_DEMO_ECR_METRICS_PORT:-18082}
HEALTH_PORT=${SHIFTLANE_DEMO_ECR_HEALTH_PORT:-18083}
MOTO_PORT=${SHIFTLANE_DEMO_MOTO_PORT:-18084}
REGISTRY=123456789012.dkr.ecr.eu-west-1.amazonaws.com  # moto's account
LOG=$(mktemp -t shiftlane-ecr-operator.XXXX.log)
# boto3 in this script and in its operator asks moto only: no instance metadata, no real endpoint.
export AWS_ENDPOINT_URL=http://127.0.0.1:$MOTO_PORT AWS_DEFAULT_REGION=eu-west-1 AWS_EC2_METADATA_DISABLED=true \
  AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo
unset AWS_PROFILE AWS_SESSION_TOKEN

MOTO= OPERATOR=
cleanup() {
  kubectl delete namespace "$NS" --ignore-not-found --wait=true --timeout=60s >/dev/null 2>&1 || true
  for pid in $OPERATOR $MOTO; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

moto_server -H 127.0.0.1 -p "$MOTO_PORT" >/dev/null 2>&1 &
MOTO=$!
until curl -sf "$AWS_ENDPOINT_URL/moto-api/" >/dev/null; do kill -0 "$MOTO" 2>/dev/null || exit 1; sleep 0.2; done

echo; echo "== ECR (moto on $AWS_ENDPOINT_URL): checkout:1.4.2 with one LOW finding, checkout:1.4.3 with a CRITICAL one"
python - <<'EOF'
import os

import boto3
import requests

from tests.harness.ecr import push

ecr = boto3.client("ecr")


def scanned(tag: str, layer: str, findings: list[tuple[str, str]]) -> None:
    digest = push(ecr, "checkout", tag, layer=layer)
    counts: dict[str, int] = {}
    for _, severity in findings:
        counts[severity] = counts.get(severity, 0) + 1
    result = {
        "registryId": "123456789012", "repositoryName": "checkout", "imageId": {"imageTag": tag},
        "imageScanStatus": {"status": "COMPLETE", "description": "The scan was completed successfully."},
        "imageScanFindings": {"findings": [{"name": cve, "severity": severity} for cve, severity in findings],
                              "findingSeverityCounts": counts},
    }
    requests.post(f"{os.environ['AWS_ENDPOINT_URL']}/moto-api/static/ecr/scan-finding-results",
                  json={"results": [result], "region": "eu-west-1"}, timeout=5).raise_for_status()
    ecr.start_image_scan(repositoryName="checkout", imageId={"imageDigest": digest})
    print(f"  checkout:{tag} = {digest}; scan: " + ", ".join(f"{cve} {severity}" for cve, severity in findings))


scanned("1.4.2", "a", [("CVE-2023-4911", "LOW")])
scanned("1.4.3", "b", [("CVE-2024-3094", "CRITICAL"), ("CVE-2023-4911", "LOW")])
EOF

shiftlane run --metrics-port "$METRICS_PORT" --health-port "$HEALTH_PORT" >"$LOG" 2>&1 &
OPERATOR=$!
until curl -sf "127.0.0.1:$HEALTH_PORT/healthz" >/dev/null; do
  kill -0 "$OPERATOR" 2>/dev/null || { tail -20 "$LOG"; exit 1; }
  sleep 0.2
done
echo "operator with ECR at moto running (log: $LOG, metrics: http://127.0.0.1:$METRICS_PORT/metrics)"

kubectl create namespace "$NS" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl apply -n "$NS" -f - <<EOF
apiVersion: shiftlane.io/v1alpha1
kind: Rollout
metadata: {name: checkout}
spec:
  replicas: 3
  selector: {matchLabels: {app: checkout}}
  template:
    metadata: {labels: {app: checkout}}
    spec:
      containers: [{name: app, image: $REGISTRY/checkout:1.4.2}]
  imagePolicy: {scan: {maxSeverity: HIGH}}   # a HIGH or CRITICAL finding blocks
  strategy: {canary: {steps: [{setWeight: 50}, {pause: {duration: 2s}}]}}
EOF
kubectl wait -n "$NS" --for=condition=Ready rollout.shiftlane.io/checkout --timeout=60s >/dev/null

findings() {
  curl -s "127.0.0.1:$METRICS_PORT/metrics" | awk -v ns="$NS" '
    /^shiftlane_registry_image_findings\{/ && index($0, "namespace=\"" ns "\"") && $2 > 0 {
      match($0, /severity="[A-Z]+"/); out = out " " substr($0, RSTART + 10, RLENGTH - 11) " " int($2) }
    END { print (out == "" ? " none" : out) }'
}
revision() { kubectl get rollout.shiftlane.io checkout -n "$NS" -o jsonpath='{.status.stableRevision}'; }

echo; echo "== checkout:1.4.2 is Healthy"
echo "  Rollout spec image:    $(kubectl get rollout.shiftlane.io checkout -n "$NS" -o jsonpath='{.spec.template.spec.containers[0].image}')"
echo "  status.images:         $(kubectl get rollout.shiftlane.io checkout -n "$NS" -o jsonpath='{range .status.images[*]}{.container}: tag {.tag} -> {.digest}{end}')"
echo "  revision $(revision) runs: $(kubectl get deploy "checkout-$(revision)" -n "$NS" -o jsonpath='{.spec.template.spec.containers[0].image}')"
echo "  scan gate: allowed; findings by severity (shiftlane_registry_image_findings):$(findings)"

echo; echo "== kubectl shiftlane set image checkout app=$REGISTRY/checkout:1.4.3"
kubectl shiftlane set image checkout "app=$REGISTRY/checkout:1.4.3" -n "$NS"
for _ in $(seq 1 100); do
  reason=$(kubectl get rollout.shiftlane.io checkout -n "$NS" -o jsonpath='{.status.conditions[?(@.type=="Stalled")].reason}')
  [ "$reason" = ImageVulnerable ] && break
  sleep 0.3
done
echo "  Stalled: $reason: $(kubectl get rollout.shiftlane.io checkout -n "$NS" -o jsonpath='{.status.conditions[?(@.type=="Stalled")].message}')"
echo "  scan gate: blocked; findings by severity:$(findings)"
echo "  revision Deployments (only the stable one; nothing of 1.4.3 was created):"
kubectl get deploy -n "$NS" -l shiftlane.io/rollout=checkout \
  -o custom-columns='  NAME:.metadata.name,READY:.status.readyReplicas,IMAGE:.spec.template.spec.containers[0].image'
echo; kubectl get rollouts.shiftlane.io -n "$NS"
echo; echo "== registry calls (shiftlane_registry_requests_total)"
curl -s "127.0.0.1:$METRICS_PORT/metrics" | grep '^shiftlane_registry_requests_total' || true
RID=$(kubectl get rollout.shiftlane.io checkout -n "$NS" -o jsonpath='{.metadata.uid}')
echo; echo "== events"
kubectl get events -n "$NS" --field-selector "involvedObject.kind=Rollout,involvedObject.uid=$RID" --sort-by=.lastTimestamp \
  -o custom-columns=REASON:.reason,MESSAGE:.message
