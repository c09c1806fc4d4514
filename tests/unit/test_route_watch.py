"""A route change reconciles every Rollout that names the route, even when Rollouts come and go meanwhile."""

from __future__ import annotations

import asyncio

import pytest

from shiftlane.controller import handlers
from tests.unit.world import manifest

GATEWAY = {"gatewayAPI": {"httpRoute": "web"}}


def rollout(name: str, route: str) -> dict:
    strategy = {"canary": {"steps": [{"setWeight": 20}], "trafficRouting": {"gatewayAPI": {"httpRoute": route}}}}
    return {"metadata": {"namespace": "shop", "name": name}, "spec": manifest(strategy)}


def test_every_rollout_naming_the_route_is_reconciled_while_the_index_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    index = {("shop", "a"): [rollout("a", "web")], ("shop", "b"): [rollout("b", "other")], ("shop", "c"): [rollout("c", "web")]}
    reconciled: list[tuple[str, str]] = []

    async def reconcile(key, kwargs) -> None:
        reconciled.append(key)
        index[("shop", f"new-{len(index)}")] = [rollout("new", "web")]  # a Rollout created meanwhile
        await asyncio.sleep(0)

    monkeypatch.setattr(handlers, "_reconcile", reconcile)
    asyncio.run(handlers._route_changed("shop", "web", "HTTPRoute", {"shiftlane_rollouts": index}))
    assert reconciled == [("shop", "a"), ("shop", "c")]
