"""shiftlane_router_updates_total{router,outcome}: every write decision a router makes on an object, counted
against an in-memory API server (the golden inputs as the objects it stores); and the reads a reconcile
makes of the route objects."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from kubernetes_asyncio import client
from prometheus_client import REGISTRY

from shiftlane.api.spec import TrafficRouting
from shiftlane.engine.model import Traffic
from shiftlane.traffic import router_for
from shiftlane.traffic.router import Router, read_routes
from tests.unit.routers_golden import CANARY, GOLDEN, NAMESPACE, ROLLOUT, STABLE, load

AT_20 = Traffic(weights={STABLE: 80, CANARY: 20}, canary=CANARY)


class FakeServer:
    """Objects by name. `edits_by_others` patches fail as if someone wrote the object just before (its
    resourceVersion moves on); `refuse` makes every patch fail as a schema error would."""

    def __init__(self, objects: list[dict[str, Any]]):
        self.objects = {o["metadata"]["name"]: copy.deepcopy(o) for o in objects}
        self.edits_by_others = 0
        self.refuse = False
        self.patches = 0
        self.gets = 0

    def _bump(self, name: str) -> None:
        meta = self.objects[name]["metadata"]
        meta["resourceVersion"] = str(int(meta.get("resourceVersion", "0")) + 1)

    async def get_namespaced_custom_object(self, group, version, namespace, plural, name):
        self.gets += 1
        if name not in self.objects:
            raise client.ApiException(status=404)
        return copy.deepcopy(self.objects[name])

    async def patch_namespaced_custom_object(self, group, version, namespace, plural, name, ops, _content_type):
        self.patches += 1
        if self.edits_by_others:
            self.edits_by_others -= 1
            self._bump(name)
        obj = self.objects[name]
        if self.refuse or ops[0]["value"] != obj["metadata"]["resourceVersion"]:
            raise client.ApiException(status=422, reason="Invalid")
        for op in ops[1:]:
            *parents, last = op["path"].split("/")[1:]
            node = obj
            for token in parents:
                node = node[token]
            node[last] = op["value"]
        self._bump(name)

    async def patch_namespaced_ingress(self, name, namespace, manifest, field_manager, force, _content_type):
        self.patches += 1
        if self.refuse:
            raise client.ApiException(status=422, reason="Invalid")
        self.objects[name] = {**copy.deepcopy(manifest), "kind": "Ingress"}


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> FakeServer:
    fake = FakeServer([])
    monkeypatch.setattr(client, "CustomObjectsApi", lambda api: fake)
    monkeypatch.setattr(client, "NetworkingV1Api", lambda api: fake)
    return fake


def router(case: str) -> tuple[Router, list[dict[str, Any]]]:
    raw = load(GOLDEN / case / "input.yaml")
    return router_for(TrafficRouting.model_validate(raw["routing"]), NAMESPACE, "checkout"), raw["objects"]


async def reconcile(route: Router, traffic: Traffic) -> None:
    """What a reconcile does with a router: observe its objects, then apply the Decision's traffic."""
    current = await read_routes(None, route)
    route.read(current)
    await route.apply(None, current, ROLLOUT, STABLE, traffic.canary, traffic)


def counted(name: str) -> dict[str, float]:
    outcomes = ("written", "unchanged", "conflict_retried", "refused", "missing")
    return {o: REGISTRY.get_sample_value("shiftlane_router_updates_total", {"router": name, "outcome": o}) or 0 for o in outcomes}


def since(before: dict[str, float], name: str) -> dict[str, float]:
    return {o: n - before[o] for o, n in counted(name).items() if n != before[o]}


async def test_a_route_is_counted_missing_then_written_then_unchanged(server: FakeServer) -> None:
    gateway, objects = router("gatewayAPI/weights")
    before = counted("gatewayAPI")
    await reconcile(gateway, AT_20)
    assert since(before, "gatewayAPI") == {"missing": 1} and server.patches == 0

    server.objects = {o["metadata"]["name"]: copy.deepcopy(o) for o in objects}
    await reconcile(gateway, AT_20)
    await reconcile(gateway, AT_20)
    assert since(before, "gatewayAPI") == {"missing": 1, "written": 1, "unchanged": 1}
    assert server.patches == 1  # the second apply found the route already holding 20%


async def test_a_concurrent_edit_is_retried_and_a_refusal_counted(server: FakeServer) -> None:
    gateway, objects = router("gatewayAPI/weights")
    server.objects = {o["metadata"]["name"]: copy.deepcopy(o) for o in objects}
    before = counted("gatewayAPI")
    server.edits_by_others = 1
    await reconcile(gateway, AT_20)
    assert since(before, "gatewayAPI") == {"conflict_retried": 1, "written": 1}

    server.refuse = True
    with pytest.raises(client.ApiException):
        await reconcile(gateway, Traffic(weights={STABLE: 50, CANARY: 50}, canary=CANARY))
    assert since(before, "gatewayAPI") == {"conflict_retried": 1, "written": 1, "refused": 1}


async def test_the_nginx_canary_ingress_creation_is_counted(server: FakeServer) -> None:
    nginx, objects = router("nginx/weights")
    before = counted("nginx")
    await reconcile(nginx, AT_20)
    assert since(before, "nginx") == {"missing": 1}  # no user Ingress to copy the paths from

    server.objects = {o["metadata"]["name"]: copy.deepcopy(o) for o in objects}
    await reconcile(nginx, AT_20)
    assert "checkout-canary" in server.objects
    await reconcile(nginx, AT_20)
    assert since(before, "nginx") == {"missing": 1, "written": 1, "unchanged": 1}


@pytest.mark.parametrize("case", ["gatewayAPI/named-rules-two-routes", "traefik/weights", "nginx/weights"])
async def test_a_reconcile_reads_each_route_object_once(server: FakeServer, case: str) -> None:
    """The observation's read is the one the write is checked against: no second GET before the patch."""
    route, objects = router(case)
    server.objects = {o["metadata"]["name"]: copy.deepcopy(o) for o in objects}
    await reconcile(route, AT_20)
    assert server.patches >= 1
    assert server.gets == len(route.objects())


async def test_a_write_refused_as_stale_reads_again_and_keeps_the_other_edit(server: FakeServer) -> None:
    """Someone edits the route between the observation and the patch: the patch, tested against the
    version observed, fails; only then is the route read again, and the edit stays."""
    gateway, objects = router("gatewayAPI/weights")
    server.objects = {o["metadata"]["name"]: copy.deepcopy(o) for o in objects}
    current = await read_routes(None, gateway)
    server.objects["checkout"]["spec"]["hostnames"] = ["late.example.com"]
    server._bump("checkout")
    await gateway.apply(None, current, ROLLOUT, STABLE, CANARY, AT_20)
    held = server.objects["checkout"]
    assert held["spec"]["hostnames"] == ["late.example.com"]
    assert [b["weight"] for b in held["spec"]["rules"][0]["backendRefs"]] == [80, 20]
    assert (server.gets, server.patches) == (2, 2)
