"""A route change reconciles every Rollout that names the route, found through the references index,
even when Rollouts come and go meanwhile."""

from __future__ import annotations

import asyncio

import pytest

from shiftlane.controller import handlers
from tests.unit.test_adoption_watch import references
from tests.unit.world import manifest


def rollout(name: str, route: str) -> dict:
    strategy = {"canary": {"steps": [{"setWeight": 20}], "trafficRouting": {"gatewayAPI": {"httpRoute": route}}}}
    return {"metadata": {"namespace": "shop", "name": name}, "spec": manifest(strategy)}


def test_every_rollout_naming_the_route_is_reconciled_while_the_index_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    index = references(rollout("a", "web"), rollout("b", "other"), rollout("c", "web"))
    reconciled: list[tuple[str, str]] = []

    async def reconcile(key, kwargs) -> None:
        reconciled.append(key)
        index[("shop", "HTTPRoute", "web")].append(("shop", "new"))  # a Rollout created meanwhile
        await asyncio.sleep(0)

    monkeypatch.setattr(handlers, "_reconcile", reconcile)
    asyncio.run(handlers._route_changed("shop", "web", "HTTPRoute", {"shiftlane_references": index}))
    assert reconciled == [("shop", "a"), ("shop", "c")]
