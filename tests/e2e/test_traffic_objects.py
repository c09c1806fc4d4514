"""Routers with no data plane on the local control plane (Istio, ingress-nginx, the AWS Load Balancer
Controller) and the Gateway API / Traefik objects: what a rollout writes into the real objects (real
CRDs, real Ingresses), that a user's edit elsewhere in them survives it, and that a deleted route
stalls the rollout naming it and re-creating it resumes, with the operator never restarted.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.e2e.helpers import IMAGE_V2, Namespace, condition, rollout_manifest, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

NAME = "web"
STABLE, CANARY = f"{NAME}-stable", f"{NAME}-canary"
PORT = 8080
REPLICAS = 4
BETA = [{"headers": [{"name": "x-canary", "exact": "yes"}]}]
NGINX, ALB = "nginx.ingress.kubernetes.io", "alb.ingress.kubernetes.io"


def ingress(annotations: dict[str, str], port: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": NAME, "annotations": annotations},
        "spec": {"rules": [{"host": "shop.example.com", "http": {"paths": [
            {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": STABLE, "port": port}}},
        ]}}]},
    }


@dataclass(frozen=True)
class Router:
    """One router: its trafficRouting, the user's route, how to read the stable/canary weights Shiftlane
    wrote, and an edit a user (or Argo CD) makes elsewhere in the route, with where to see it."""

    routing: dict[str, Any]
    kind: str  # as kubectl names it
    route: dict[str, Any]
    weights: Callable[[Namespace], dict[str, int]]
    edit: list[dict[str, Any]]
    edited: Callable[[dict[str, Any]], Any]
    edit_value: Any

    def get(self, ns: Namespace, name: str = NAME) -> dict[str, Any]:
        return ns.json("get", self.kind, name)


def _httproute_weights(ns: Namespace) -> dict[str, int]:
    refs = ns.json("get", "httproute", NAME)["spec"]["rules"][-1]["backendRefs"]
    return {r["name"]: r.get("weight", 1) for r in refs}


def _vs_weights(ns: Namespace) -> dict[str, int]:
    routes = ns.json("get", "virtualservice", NAME)["spec"]["http"]
    primary = next(r for r in routes if r.get("name") == "primary")
    return {d["destination"]["host"]: d.get("weight", 100) for d in primary["route"]}


def _traefik_weights(ns: Namespace) -> dict[str, int]:
    return {s["name"]: s.get("weight", 1) for s in ns.json("get", "traefikservice", NAME)["spec"]["weighted"]["services"]}


def _nginx_weights(ns: Namespace) -> dict[str, int]:
    canary = int(ns.json("get", "ingress", f"{NAME}-canary")["metadata"]["annotations"][f"{NGINX}/canary-weight"])
    return {STABLE: 100 - canary, CANARY: canary}


def _alb_weights(ns: Namespace) -> dict[str, int]:
    action = json.loads(ns.json("get", "ingress", NAME)["metadata"]["annotations"][f"{ALB}/actions.{STABLE}"])
    return {g["serviceName"]: g["weight"] for g in action["forwardConfig"]["targetGroups"]}


ROUTERS = {
    "gatewayAPI": Router(
        {"gatewayAPI": {"httpRoute": NAME}}, "httproute",
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": NAME},
         "spec": {"parentRefs": [{"name": "public"}], "rules": [{"backendRefs": [{"name": STABLE, "port": PORT}]}]}},
        _httproute_weights,
        [{"op": "add", "path": "/spec/hostnames", "value": ["shop.example.com"]}],
        lambda route: route["spec"].get("hostnames"), ["shop.example.com"],
    ),
    "istio": Router(
        {"istio": {"virtualService": {"name": NAME, "routes": ["primary"]}}}, "virtualservice",
        {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": {"name": NAME},
         "spec": {"hosts": ["shop.example.com"], "http": [
             {"name": "primary", "route": [{"destination": {"host": STABLE, "port": {"number": PORT}}}]},
         ]}},
        _vs_weights,
        [{"op": "add", "path": "/spec/http/0/timeout", "value": "7s"}],
        lambda vs: next(r for r in vs["spec"]["http"] if r.get("name") == "primary").get("timeout"), "7s",
    ),
    "traefik": Router(
        {"traefik": {"traefikService": NAME}}, "traefikservice",
        {"apiVersion": "traefik.io/v1alpha1", "kind": "TraefikService", "metadata": {"name": NAME},
         "spec": {"weighted": {"services": [{"name": STABLE, "port": PORT}]}}},
        _traefik_weights,
        [{"op": "add", "path": "/spec/weighted/sticky", "value": {"cookie": {"name": "lane"}}}],
        lambda ts: ts["spec"]["weighted"].get("sticky"), {"cookie": {"name": "lane"}},
    ),
    "nginx": Router(
        {"nginx": {"ingress": NAME}}, "ingress",
        ingress({}, {"number": PORT}),
        _nginx_weights,
        [{"op": "add", "path": "/metadata/annotations", "value": {f"{NGINX}/proxy-body-size": "8m"}}],
        lambda ing: ing["metadata"].get("annotations", {}).get(f"{NGINX}/proxy-body-size"), "8m",
    ),
    "alb": Router(
        {"alb": {"ingress": NAME, "servicePort": PORT}}, "ingress",
        ingress({f"{ALB}/scheme": "internal"}, {"name": "use-annotation"}),
        _alb_weights,
        [{"op": "add", "path": f"/metadata/annotations/{ALB.replace('/', '~1')}~1healthcheck-path", "value": "/healthz"}],
        lambda ing: ing["metadata"]["annotations"].get(f"{ALB}/healthcheck-path"), "/healthz",
    ),
}


def healthy(ns: Namespace, router: Router, strategy: dict[str, Any]) -> str:
    ns.apply(router.route)
    ns.apply(rollout_manifest(NAME, strategy, replicas=REPLICAS))
    return ns.wait_phase(NAME, "Healthy", 30)["stableRevision"]


def canary(router: Router) -> dict[str, Any]:
    return {"canary": {"steps": [{"setWeight": 30}, {"pause": {}}], "trafficRouting": router.routing}}


@pytest.mark.parametrize("kind", list(ROUTERS))
def test_canary_weights_in_the_route_and_a_users_edit_survives(ns: Namespace, kind: str) -> None:
    router = ROUTERS[kind]
    old = healthy(ns, router, canary(router))
    ns.set_image(NAME, IMAGE_V2)
    status = ns.wait_phase(NAME, "Paused", 40, canaryWeight=30)
    wait_for(lambda: router.weights(ns) == {STABLE: 70, CANARY: 30}, 10, f"the {kind} route at 70/30")
    assert status["router"]["objects"][0].endswith(f"{ns.name}/{NAME}"), status["router"]

    # A user's edit mid-rollout, elsewhere in the route: Shiftlane's next write keeps it.
    ns.kubectl("patch", router.kind, NAME, "--type=json", "-p", json.dumps(router.edit))
    ns.plugin("promote", NAME)
    status = ns.wait_phase(NAME, "Healthy", 40, stableRevision=status["canaryRevision"])
    assert status["stableRevision"] != old
    wait_for(lambda: router.weights(ns) == {STABLE: 100, CANARY: 0}, 10, f"the {kind} route all on stable")
    assert router.edited(router.get(ns)) == router.edit_value


def test_nginx_canary_ingress_is_generated_owned_and_annotated(ns: Namespace) -> None:
    router = ROUTERS["nginx"]
    healthy(ns, router, {"abTesting": {"match": BETA, "trafficRouting": router.routing}})
    rollout_uid = ns.rollout(NAME)["metadata"]["uid"]
    ns.set_image(NAME, IMAGE_V2)
    ns.wait_phase(NAME, "Paused", 40)

    generated = router.get(ns, f"{NAME}-canary")
    assert [(o["kind"], o["uid"], o.get("controller")) for o in generated["metadata"]["ownerReferences"]] == [("Rollout", rollout_uid, True)]
    annotations = generated["metadata"]["annotations"]
    assert {k: v for k, v in annotations.items() if k.startswith(NGINX)} == {
        f"{NGINX}/canary": "true", f"{NGINX}/canary-weight": "0",
        f"{NGINX}/canary-by-header": "x-canary", f"{NGINX}/canary-by-header-value": "yes",
    }
    # The user's paths to stable, repeated to the canary; the user's Ingress is only read.
    paths = generated["spec"]["rules"][0]["http"]["paths"]
    assert generated["spec"]["rules"][0]["host"] == "shop.example.com"
    assert [p["backend"]["service"]["name"] for p in paths] == [CANARY]
    user = router.get(ns)
    assert user["spec"]["rules"] == router.route["spec"]["rules"]
    assert not [k for k in user["metadata"].get("annotations", {}) if k.startswith(NGINX)]

    ns.plugin("promote", NAME)
    ns.wait_phase(NAME, "Healthy", 40)
    annotations = wait_for(lambda: (a := router.get(ns, f"{NAME}-canary")["metadata"]["annotations"]).get(f"{NGINX}/canary-by-header") is None and a,
                           10, "the header match removed")
    assert annotations[f"{NGINX}/canary-weight"] == "0"
    # Deleting the Rollout takes the generated Ingress with it (garbage collection), not the user's.
    ns.kubectl("delete", "rollouts.shiftlane.io", NAME, "--wait=true")
    wait_for(lambda: ns.kubectl("get", "ingress", f"{NAME}-canary", check=False).returncode != 0, 30, "the canary Ingress collected")
    assert router.get(ns)["metadata"]["name"] == NAME


def test_istio_ab_route_goes_first_and_the_users_routes_stay(ns: Namespace) -> None:
    router = ROUTERS["istio"]
    healthy(ns, router, {"abTesting": {"match": BETA, "trafficRouting": router.routing}})
    ns.set_image(NAME, IMAGE_V2)
    ns.wait_phase(NAME, "Paused", 40)

    routes = wait_for(lambda: len(h := router.get(ns)["spec"]["http"]) == 2 and h, 10, "the A/B route")
    assert routes[0] == {"name": f"shiftlane-{NAME}-match-0", "match": [{"headers": {"x-canary": {"exact": "yes"}}}],
                         "route": [{"destination": {"host": CANARY, "port": {"number": PORT}}}]}
    assert routes[1]["name"] == "primary" and [d["destination"]["host"] for d in routes[1]["route"]] == [STABLE]

    ns.plugin("promote", NAME)
    ns.wait_phase(NAME, "Healthy", 40)
    wait_for(lambda: [r["name"] for r in router.get(ns)["spec"]["http"]] == ["primary"], 10, "the A/B route removed")


@pytest.mark.parametrize("end", ["promote", "abort"])
def test_istio_mirror_is_set_and_removed(ns: Namespace, end: str) -> None:
    router = ROUTERS["istio"]
    old = healthy(ns, router, {"shadow": {"mirrorPercent": 25, "trafficRouting": router.routing}})
    ns.set_image(NAME, IMAGE_V2)
    ns.wait_phase(NAME, "Paused", 40)

    primary = wait_for(lambda: (r := router.get(ns)["spec"]["http"][0]).get("mirror") and r, 10, "the mirror")
    assert primary["mirror"] == {"host": CANARY, "port": {"number": PORT}} and primary["mirrorPercentage"] == {"value": 25}
    assert [d["destination"]["host"] for d in primary["route"]] == [STABLE], "a mirror answers no client"

    ns.plugin(end, NAME)
    ns.wait_phase(NAME, "Healthy" if end == "promote" else "Aborted", 40)
    primary = wait_for(lambda: "mirror" not in (r := router.get(ns)["spec"]["http"][0]) and r, 10, "the mirror removed")
    assert "mirrorPercentage" not in primary
    if end == "abort":
        ns.wait_replicas(NAME, {old: REPLICAS}, timeout=20)


def test_alb_ab_adds_a_conditioned_action_before_the_stable_path(ns: Namespace) -> None:
    router = ROUTERS["alb"]
    healthy(ns, router, {"abTesting": {"match": BETA, "trafficRouting": router.routing}})
    ns.set_image(NAME, IMAGE_V2)
    ns.wait_phase(NAME, "Paused", 40)

    action = f"{NAME}-match-0"
    held = wait_for(lambda: (i := router.get(ns))["metadata"]["annotations"].get(f"{ALB}/conditions.{action}") and i, 10, "the match")
    annotations = held["metadata"]["annotations"]
    assert json.loads(annotations[f"{ALB}/conditions.{action}"]) == [
        {"field": "http-header", "httpHeaderConfig": {"httpHeaderName": "x-canary", "values": ["yes"]}}]
    assert json.loads(annotations[f"{ALB}/actions.{action}"])["forwardConfig"]["targetGroups"] == [
        {"serviceName": CANARY, "servicePort": PORT, "weight": 100}]
    assert annotations[f"{ALB}/scheme"] == "internal"
    paths = held["spec"]["rules"][0]["http"]["paths"]
    assert [p["backend"]["service"] for p in paths] == [
        {"name": action, "port": {"name": "use-annotation"}}, {"name": STABLE, "port": {"name": "use-annotation"}}]

    ns.plugin("promote", NAME)
    ns.wait_phase(NAME, "Healthy", 40)
    held = wait_for(lambda: len((i := router.get(ns))["spec"]["rules"][0]["http"]["paths"]) == 1 and i, 10, "the match path removed")
    assert not [k for k in held["metadata"]["annotations"] if action in k]
    assert router.weights(ns) == {STABLE: 100, CANARY: 0}


@pytest.mark.parametrize("kind", list(ROUTERS))
def test_a_deleted_route_stalls_naming_it_and_recreating_it_resumes(ns: Namespace, kind: str) -> None:
    router = ROUTERS[kind]
    healthy(ns, router, canary(router))
    ns.set_image(NAME, IMAGE_V2)
    status = ns.wait_phase(NAME, "Paused", 40, canaryWeight=30)
    new = status["canaryRevision"]
    replicas = ns.replicas(NAME)

    ns.kubectl("delete", router.kind, NAME)
    status = ns.wait_status(NAME, lambda s: condition(s, "Stalled").get("status") == "True", 20, "Stalled=True")
    stalled = condition(status, "Stalled")
    assert stalled["reason"] == "RouterNotReady"
    assert f"{router.route['kind']} {ns.name}/{NAME} not found" in stalled["message"], stalled
    assert ns.replicas(NAME) == replicas, "a stalled rollout scales nothing"

    ns.apply(router.route)
    status = ns.wait_status(NAME, lambda s: condition(s, "Stalled").get("status") == "False", 20, "Stalled=False")
    assert status["phase"] == "Paused" and status["canaryRevision"] == new
    wait_for(lambda: router.weights(ns) == {STABLE: 70, CANARY: 30}, 10, f"the re-created {kind} route at 70/30")
