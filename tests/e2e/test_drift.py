"""Drift: someone edits an object Shiftlane owns with kubectl; the operator notices on the watch, says
what changed in a `Drifted` Event, and puts back what it manages, leaving everything else alone."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.helpers import IMAGE_V1, IMAGE_V2, Namespace, rollout_manifest, wait_for
from tests.harness.invariants import InvariantWatcher
from tests.harness.traffic import GATEWAY

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

REPLICAS = 4


def healthy(ns: Namespace, name: str, strategy: dict[str, Any]) -> str:
    ns.apply(rollout_manifest(name, strategy, replicas=REPLICAS))
    stable = ns.wait_phase(name, "Healthy", 30)["stableRevision"]
    ns.wait_replicas(name, {stable: REPLICAS})
    return stable


def drifted(ns: Namespace, name: str, *words: str) -> str:
    """The message of a Drifted Event of the Rollout that names every word."""
    def found() -> str | None:
        messages = [e["message"] for e in ns.events(name, "Drifted") if e["type"] == "Warning"]
        return next((m for m in messages if all(w in m for w in words)), None)

    return wait_for(found, 15, lambda: f"a Drifted Event naming {words}; have {[e['message'] for e in ns.events(name, 'Drifted')]}")


def test_an_edited_pod_template_is_restored_and_the_deployment_s_other_fields_are_left_alone(
        ns: Namespace, invariants: InvariantWatcher) -> None:
    name = "template"
    stable = healthy(ns, name, {"canary": {"steps": [{"setWeight": 50}, {"pause": {}}]}})
    deployment = f"{name}-{stable}"
    with invariants.by_hand(ns.name):
        ns.kubectl("set", "image", f"deployment/{deployment}", f"app={IMAGE_V2}")
        ns.kubectl("label", "deployment", deployment, "team=payments")  # not Shiftlane's: stays
        message = drifted(ns, name, deployment, "image", IMAGE_V2)
        image = lambda: ns.json("get", "deployment", deployment)["spec"]["template"]["spec"]["containers"][0]["image"]  # noqa: E731
        wait_for(lambda: image() == IMAGE_V1, 15, "the revision's image back as created")
        ns.wait_replicas(name, {stable: REPLICAS}, timeout=30)
    assert "kubectl-set" in message and f"{IMAGE_V1} -> {IMAGE_V2}" in message, message
    assert ns.json("get", "deployment", deployment)["metadata"]["labels"]["team"] == "payments"
    status = ns.wait_phase(name, "Healthy", 30)
    assert status["stableRevision"] == stable and set(ns.deployments(name)) == {stable}


def test_a_revision_scaled_by_hand_is_scaled_back(ns: Namespace, invariants: InvariantWatcher) -> None:
    name = "scaled"
    stable = healthy(ns, name, {"rolling": {"maxSurge": 1, "maxUnavailable": 0}})
    with invariants.by_hand(ns.name):
        ns.kubectl("scale", f"deployment/{name}-{stable}", "--replicas=7")
        message = drifted(ns, name, "spec.replicas", "7")
        ns.wait_replicas(name, {stable: REPLICAS}, timeout=30)
    assert f"restored to {REPLICAS}" in message, message


def test_a_deleted_service_is_recreated_and_one_with_an_edited_selector_is_put_back(
        ns: Namespace, invariants: InvariantWatcher) -> None:
    name = "svc"
    healthy(ns, name, {"blueGreen": {"autoPromotionEnabled": False}})
    wanted = ns.selector(f"{name}-stable")
    with invariants.by_hand(ns.name):
        ns.kubectl("delete", "service", f"{name}-stable")
        drifted(ns, name, f"Service {ns.name}/{name}-stable was missing")
        wait_for(lambda: ns.selector(f"{name}-stable") == wanted, 10, "the Service recreated")
        ns.kubectl("patch", "service", name, "--type=merge", "-p", json.dumps({"spec": {"selector": {"app": "elsewhere"}}}))
        ns.kubectl("annotate", "service", name, "owner=platform")  # not Shiftlane's: stays
        message = drifted(ns, name, f"Service {ns.name}/{name}:", "selector")
        wait_for(lambda: ns.selector(name).get("app") == name, 10, "the selector put back")
    assert "kubectl-patch" in message, message
    assert ns.json("get", "service", name)["metadata"]["annotations"]["owner"] == "platform"


def test_a_route_weight_changed_by_hand_is_put_back_and_the_rest_of_the_route_is_left_alone(
        ns: Namespace, invariants: InvariantWatcher) -> None:
    name = "routed"
    route = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": name},
             "spec": {"parentRefs": [GATEWAY], "hostnames": [f"{name}.{ns.name}.test"],
                      "rules": [{"backendRefs": [{"name": f"{name}-stable", "port": 8080}]}]}}
    ns.apply(route)
    stable = healthy(ns, name, {"canary": {"steps": [{"setWeight": 20}, {"pause": {}}],
                                           "trafficRouting": {"gatewayAPI": {"httpRoute": name}}}})
    ns.set_image(name, IMAGE_V2)
    ns.wait_phase(name, "Paused", 40, canaryWeight=20)

    def weights() -> dict[str, int]:
        refs = ns.json("get", "httproute", name)["spec"]["rules"][0]["backendRefs"]
        return {r["name"]: r.get("weight", 1) for r in refs}

    assert weights() == {f"{name}-stable": 80, f"{name}-canary": 20}
    with invariants.by_hand(ns.name):
        ns.kubectl("patch", "httproute", name, "--type=json", "-p", json.dumps([
            {"op": "replace", "path": "/spec/rules/0/backendRefs/0/weight", "value": 50},
            {"op": "replace", "path": "/spec/rules/0/backendRefs/1/weight", "value": 50},
            {"op": "add", "path": "/spec/hostnames/-", "value": f"www.{name}.{ns.name}.test"},  # not Shiftlane's
        ]))
        message = drifted(ns, name, f"HTTPRoute {ns.name}/{name}", "canary weight 50 (decided 20)")
        wait_for(lambda: weights() == {f"{name}-stable": 80, f"{name}-canary": 20}, 10, "the weights put back")
    assert f"www.{name}.{ns.name}.test" in ns.json("get", "httproute", name)["spec"]["hostnames"]
    status = ns.wait_phase(name, "Paused", 10, canaryWeight=20)
    assert status["stableRevision"] == stable, message
