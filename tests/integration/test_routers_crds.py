"""The routers against a real API server: every golden "after" object is valid against the real CRDs
(Gateway API and Istio from hack/cluster.sh; Traefik's when installed; Ingress), and observe/apply
round-trip through the server, keeping what the user set outside Shiftlane's fields."""

from __future__ import annotations

import copy
import os
import uuid
from typing import Any

import pytest
from kubernetes_asyncio import client

from shiftlane.api.spec import RequestMatch, TrafficRouting
from shiftlane.engine.model import RouterState, Traffic
from shiftlane.traffic import router_for
from shiftlane.traffic.router import Router, read_routes
from tests.unit.routers_golden import cases, load

STABLE, CANARY = "aaaaaaaaaa", "bbbbbbbbbb"
pytestmark = pytest.mark.skipif(not os.environ.get("KUBECONFIG"), reason="needs a cluster in KUBECONFIG")
# The CRD each router's objects need; Ingress is built in.
CRDS = {
    "gatewayAPI": "httproutes.gateway.networking.k8s.io",
    "istio": "virtualservices.networking.istio.io",
    "traefik": "traefikservices.traefik.io",
}


@pytest.fixture
async def namespace(api):
    name = f"routers-{uuid.uuid4().hex[:6]}"
    core = client.CoreV1Api(api)
    await core.create_namespace({"metadata": {"name": name}})
    yield name
    await core.delete_namespace(name)


async def has_crd(api: client.ApiClient, name: str) -> bool:
    try:
        await client.ApiextensionsV1Api(api).read_custom_resource_definition(name)
        return True
    except client.ApiException as error:
        if error.status == 404:
            return False
        raise


def plural_of(obj: dict[str, Any]) -> tuple[str, str, str]:
    group, _, version = obj["apiVersion"].rpartition("/")
    return group, version, {"HTTPRoute": "httproutes", "GRPCRoute": "grpcroutes", "VirtualService": "virtualservices",
                            "DestinationRule": "destinationrules", "TraefikService": "traefikservices", "Ingress": "ingresses"}[obj["kind"]]


GOLDEN_AFTER = [(router, folder) for router in ("gatewayAPI", "istio", "traefik", "nginx", "alb") for folder in cases(router)]


@pytest.mark.parametrize(("router", "folder"), GOLDEN_AFTER, ids=[f"{r}-{f.name}" for r, f in GOLDEN_AFTER])
async def test_golden_after_objects_are_valid(api, namespace, router, folder) -> None:
    if router in CRDS and not await has_crd(api, CRDS[router]):
        pytest.skip(f"CRD {CRDS[router]} is not installed on this cluster")
    objects = client.CustomObjectsApi(api)
    for obj in load(folder / "after.yaml")["objects"]:
        body = copy.deepcopy(obj)
        body["metadata"].pop("resourceVersion", None)
        body["metadata"]["namespace"] = namespace
        group, version, plural = plural_of(body)
        # Server-side dry run: the real schema, CEL rules and defaulting, nothing stored.
        await objects.create_namespaced_custom_object(group, version, namespace, plural, body, dry_run="All")


# --- round trips -----------------------------------------------------------------------------------


async def observed(api: client.ApiClient, router: Router) -> RouterState:
    return router.read(await read_routes(api, router))


async def apply(api: client.ApiClient, router: Router, rollout: dict[str, Any], stable: str, canary: str | None, traffic: Traffic) -> None:
    """What a reconcile does: write against the objects as just read."""
    await router.apply(api, await read_routes(api, router), rollout, stable, canary, traffic)


async def create(api: client.ApiClient, namespace: str, obj: dict[str, Any]) -> dict[str, Any]:
    group, version, plural = plural_of(obj)
    obj = {**obj, "metadata": {**obj["metadata"], "namespace": namespace}}
    return await client.CustomObjectsApi(api).create_namespaced_custom_object(group, version, namespace, plural, obj)


async def read(api: client.ApiClient, namespace: str, obj: dict[str, Any]) -> dict[str, Any]:
    group, version, plural = plural_of(obj)
    return await client.CustomObjectsApi(api).get_namespaced_custom_object(group, version, namespace, plural, obj["metadata"]["name"])


async def edit(api: client.ApiClient, namespace: str, obj: dict[str, Any], ops: list[dict[str, Any]]) -> None:
    group, version, plural = plural_of(obj)
    await client.CustomObjectsApi(api).patch_namespaced_custom_object(
        group, version, namespace, plural, obj["metadata"]["name"], ops, _content_type="application/json-patch+json"
    )


def canary_at(weight: int, matches: list[dict[str, Any]] = (), mirror: int = 0) -> Traffic:
    return Traffic(
        weights={STABLE: 100 - weight, CANARY: weight},
        header_route=tuple(RequestMatch.model_validate(m) for m in matches),
        mirror_percent=mirror,
        canary=CANARY,
    )


ROUTE = {
    "apiVersion": "gateway.networking.k8s.io/v1",
    "kind": "HTTPRoute",
    "metadata": {"name": "web", "labels": {"team": "payments"}},
    "spec": {
        "parentRefs": [{"name": "public"}],
        "rules": [
            {
                "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                "filters": [{"type": "RequestHeaderModifier", "requestHeaderModifier": {"set": [{"name": "x-route", "value": "web"}]}}],
                "backendRefs": [{"name": "web-stable", "port": 8080}],
            },
            {"matches": [{"path": {"type": "PathPrefix", "value": "/assets"}}], "backendRefs": [{"name": "assets", "port": 80}]},
        ],
    },
}


async def test_gateway_api_round_trip_keeps_the_users_edits(api, namespace) -> None:
    router = router_for(TrafficRouting.model_validate({"gatewayAPI": {"httpRoute": "web"}}), namespace, "web")
    rollout: dict[str, Any] = {}
    assert await observed(api, router) == RouterState(0, False, 0, (f"HTTPRoute {namespace}/web not found",))
    await apply(api, router, rollout, STABLE, CANARY, canary_at(30))  # a missing route: no error, nothing made

    await create(api, namespace, ROUTE)
    assert await observed(api, router) == RouterState(0, False, 0)
    await apply(api, router, rollout, STABLE, CANARY, canary_at(30))
    assert await observed(api, router) == RouterState(30, False, 0)

    # Read back with the server's defaults, the object needs no second write.
    version = (await read(api, namespace, ROUTE))["metadata"]["resourceVersion"]
    await apply(api, router, rollout, STABLE, CANARY, canary_at(30))
    assert (await read(api, namespace, ROUTE))["metadata"]["resourceVersion"] == version

    # A user (or Argo CD) edits the route between two writes: their edit stays.
    await edit(api, namespace, ROUTE, [{"op": "add", "path": "/spec/hostnames", "value": ["shop.example.com"]}])
    await apply(api, router, rollout, STABLE, CANARY, canary_at(0, [{"headers": [{"name": "x-beta", "exact": "1"}]}], mirror=20))
    assert await observed(api, router) == RouterState(0, True, 20)
    held = await read(api, namespace, ROUTE)
    assert held["spec"]["hostnames"] == ["shop.example.com"]
    assert held["metadata"]["labels"] == {"team": "payments"}
    assert held["spec"]["rules"][0]["name"] == "shiftlane-web-match-0"
    assert held["spec"]["rules"][1]["filters"][0]["requestHeaderModifier"]["set"] == [{"name": "x-route", "value": "web"}]

    # Abort: all back on stable, Shiftlane's rule and mirror gone, the user's rules as they were.
    await apply(api, router, rollout, STABLE, None, Traffic(weights={STABLE: 100}))
    assert await observed(api, router) == RouterState(0, False, 0)
    rules = (await read(api, namespace, ROUTE))["spec"]["rules"]
    assert [r.get("name") for r in rules] == [None, None]
    assert [f["type"] for f in rules[0]["filters"]] == ["RequestHeaderModifier"]
    assert rules[1]["backendRefs"] == [{"group": "", "kind": "Service", "name": "assets", "port": 80, "weight": 1}]


async def test_a_stale_read_is_retried_not_written_over(api, namespace) -> None:
    """The resourceVersion test makes the server refuse a write computed from an old read (the route was
    edited after the reconcile observed it); the router reads again, so the concurrent user edit survives."""
    await create(api, namespace, ROUTE)
    router = router_for(TrafficRouting.model_validate({"gatewayAPI": {"httpRoute": "web"}}), namespace, "web")
    stale = await read_routes(api, router)
    await edit(api, namespace, ROUTE, [{"op": "add", "path": "/spec/hostnames", "value": ["late.example.com"]}])
    await router.apply(api, stale, {}, STABLE, CANARY, canary_at(40))
    held = await read(api, namespace, ROUTE)
    assert held["spec"]["hostnames"] == ["late.example.com"]
    assert [b["weight"] for b in held["spec"]["rules"][0]["backendRefs"]] == [60, 40]


VIRTUAL_SERVICE = {
    "apiVersion": "networking.istio.io/v1",
    "kind": "VirtualService",
    "metadata": {"name": "web"},
    "spec": {
        "hosts": ["web"],
        "http": [{"name": "main", "timeout": "5s", "route": [{"destination": {"host": "web", "subset": "stable", "port": {"number": 8080}}}]}],
    },
}
DESTINATION_RULE = {
    "apiVersion": "networking.istio.io/v1",
    "kind": "DestinationRule",
    "metadata": {"name": "web"},
    "spec": {"host": "web", "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}}, "subsets": [{"name": "stable"}, {"name": "canary"}]},
}


async def test_istio_subsets_round_trip(api, namespace) -> None:
    routing = TrafficRouting.model_validate({"istio": {"virtualService": {"name": "web"}, "destinationRule": {"name": "web"}}})
    router = router_for(routing, namespace, "web")
    await create(api, namespace, VIRTUAL_SERVICE)
    problems = (await observed(api, router)).problems
    assert problems == (f"DestinationRule {namespace}/web not found",)
    await create(api, namespace, DESTINATION_RULE)

    await apply(api, router, {}, STABLE, CANARY, canary_at(25, [{"headers": [{"name": "x-beta", "exact": "1"}]}], mirror=10))
    assert await observed(api, router) == RouterState(25, True, 10)
    rule = await read(api, namespace, DESTINATION_RULE)
    assert [s["labels"] for s in rule["spec"]["subsets"]] == [{"shiftlane.io/revision": STABLE}, {"shiftlane.io/revision": CANARY}]
    assert rule["spec"]["trafficPolicy"] == {"tls": {"mode": "ISTIO_MUTUAL"}}
    version = (await read(api, namespace, VIRTUAL_SERVICE))["metadata"]["resourceVersion"]
    await apply(api, router, {}, STABLE, CANARY, canary_at(25, [{"headers": [{"name": "x-beta", "exact": "1"}]}], mirror=10))
    assert (await read(api, namespace, VIRTUAL_SERVICE))["metadata"]["resourceVersion"] == version

    await apply(api, router, {}, CANARY, None, Traffic(weights={CANARY: 100}))  # promoted: the canary is the new stable
    assert await observed(api, router) == RouterState(0, False, 0)
    held = await read(api, namespace, VIRTUAL_SERVICE)
    assert [r["name"] for r in held["spec"]["http"]] == ["main"] and held["spec"]["http"][0]["timeout"] == "5s"
    rule = await read(api, namespace, DESTINATION_RULE)
    assert [s["labels"] for s in rule["spec"]["subsets"]] == [{"shiftlane.io/revision": CANARY}, {"shiftlane.io/revision": CANARY}]


INGRESS = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "Ingress",
    "metadata": {"name": "web", "annotations": {"nginx.ingress.kubernetes.io/proxy-body-size": "8m"}},
    "spec": {
        "ingressClassName": "nginx",
        "rules": [{"host": "shop.example.com", "http": {"paths": [
            {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web-stable", "port": {"number": 8080}}}}
        ]}}],
    },
}


async def test_nginx_canary_ingress_is_owned_and_follows_the_state(api, namespace) -> None:
    rollout = await client.CustomObjectsApi(api).create_namespaced_custom_object("shiftlane.io", "v1alpha1", namespace, "rollouts", {
        "apiVersion": "shiftlane.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "web:1"}]}},
            "strategy": {"canary": {"steps": [{"setWeight": 20}], "trafficRouting": {"nginx": {"ingress": "web"}}}},
        },
    })
    router = router_for(TrafficRouting.model_validate({"nginx": {"ingress": "web"}}), namespace, "web")
    await create(api, namespace, INGRESS)
    await apply(api, router, rollout, STABLE, CANARY, canary_at(20))
    assert await observed(api, router) == RouterState(20, False, 0)
    canary = await read(api, namespace, {**INGRESS, "metadata": {"name": "web-canary"}})
    assert canary["metadata"]["ownerReferences"][0]["uid"] == rollout["metadata"]["uid"]
    version = canary["metadata"]["resourceVersion"]
    await apply(api, router, rollout, STABLE, CANARY, canary_at(20))
    assert (await read(api, namespace, canary))["metadata"]["resourceVersion"] == version

    await apply(api, router, rollout, STABLE, CANARY, canary_at(0, [{"headers": [{"name": "x-beta", "exact": "1"}]}]))
    assert await observed(api, router) == RouterState(0, True, 0)
    await apply(api, router, rollout, STABLE, None, Traffic(weights={STABLE: 100}))
    assert await observed(api, router) == RouterState(0, False, 0)  # the header annotations are gone
    assert (await read(api, namespace, INGRESS))["metadata"]["annotations"] == INGRESS["metadata"]["annotations"]
