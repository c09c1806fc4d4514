#!/usr/bin/env bash
# The test command: starts a private local control plane, runs every tier, always tears it down.
set -euo pipefail
cd "$(dirname "$0")/.."

# A cluster of its own (dir and ports), so a developer's `make cluster` is left alone.
export SHIFTLANE_CLUSTER_DIR=${SHIFTLANE_TEST_CLUSTER_DIR:-/tmp/shiftlane-test}
export SHIFTLANE_ETCD_PORT=24790 SHIFTLANE_ETCD_PEER_PORT=24800 SHIFTLANE_APISERVER_PORT=17443
export SHIFTLANE_KCM_PORT=21257 SHIFTLANE_SCHEDULER_PORT=21259 SHIFTLANE_KWOK_PORT=21247
export SHIFTLANE_GATEWAY_PORT=21080 SHIFTLANE_TRAEFIK_PORT=21081 SHIFTLANE_PODSERVER_METRICS_PORT=21090
export SHIFTLANE_PODSERVER_PROXY_PORT=21091
trap 'bash hack/cluster.sh down >/dev/null 2>&1 || true' EXIT

bash hack/cluster.sh up
export KUBECONFIG="$SHIFTLANE_CLUSTER_DIR/kubeconfig"

.venv/bin/lint-imports
# Tiers in order: the e2e session starts an operator, which must not act on the integration tests' objects.
# tests/chaos last: it stops and starts the control plane, and kills operators (a few minutes).
.venv/bin/pytest -q -p no:cacheprovider tests/unit tests/chart tests/integration tests/e2e tests/chaos "$@"
