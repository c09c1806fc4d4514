"""The operator's /metrics endpoint reflects a Rollout's life."""

from __future__ import annotations

import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import Operator
from tests.e2e.helpers import IMAGE_V2, Namespace, rollout_manifest, wait_for

pytestmark = pytest.mark.e2e


def samples(operator: Operator) -> dict[tuple[str, frozenset], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{operator.metrics_port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_follow_a_rollout(ns: Namespace, operator: Operator) -> None:
    ns.apply(rollout_manifest("metered", {"recreate": {}}, replicas=2))
    ns.wait_phase("metered", "Healthy", 30)
    labels = {"namespace": ns.name, "rollout": "metered"}
    healthy = ("shiftlane_rollout_phase", frozenset({**labels, "phase": "Healthy"}.items()))
    wait_for(lambda: samples(operator).get(healthy) == 1, 10, "phase Healthy exported")

    completed = ("shiftlane_rollouts_total", frozenset({"strategy": "recreate", "result": "completed"}.items()))
    before = samples(operator).get(completed, 0)
    old = ns.status("metered")["stableRevision"]
    ns.set_image("metered", IMAGE_V2)
    ns.wait_status("metered", lambda s: s["phase"] == "Healthy" and s["stableRevision"] != old, 30, "new revision healthy")
    now = wait_for(lambda: (m := samples(operator)).get(completed, 0) == before + 1 and m, 10, "completion counted")
    assert now[("shiftlane_rollout_step", frozenset(labels.items()))] == -1
    assert now[("shiftlane_rollout_traffic_weight", frozenset({**labels, "role": "stable"}.items()))] == 100
    assert now[("shiftlane_reconcile_duration_seconds_count", frozenset())] > 0


def test_router_writes_are_counted(ns: Namespace, operator: Operator) -> None:
    strategy = {"canary": {"steps": [{"setWeight": 25}, {"pause": {}}], "trafficRouting": {"gatewayAPI": {"httpRoute": "web"}}}}
    ns.apply({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "web"},
        "spec": {"parentRefs": [{"name": "gateway"}], "rules": [{"backendRefs": [
            {"name": "routed-stable", "port": 8080}, {"name": "routed-canary", "port": 8080, "weight": 0}]}]},
    })
    ns.apply(rollout_manifest("routed", strategy, replicas=2))
    ns.wait_phase("routed", "Healthy", 30)
    written = ("shiftlane_router_updates_total", frozenset({"router": "gatewayAPI", "outcome": "written"}.items()))
    before = samples(operator).get(written, 0)
    ns.set_image("routed", IMAGE_V2)
    ns.wait_phase("routed", "Paused", 30)
    assert samples(operator).get(written, 0) > before  # the 25% step, patched into the route
