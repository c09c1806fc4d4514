"""Changes to the objects a Rollout names (its workloadRef Deployment, its spec.services) reconcile the
Rollouts naming them, found through an index rather than a scan."""

from __future__ import annotations

import asyncio

import pytest

from shiftlane.controller import handlers
from tests.unit.world import manifest


def rollout(name: str, **spec) -> dict:
    return {"metadata": {"namespace": "shop", "name": name}, "spec": {**manifest({"recreate": {}}), **spec}}


def references(*rollouts: dict) -> dict:
    """The index as kopf builds it from each Rollout's entries."""
    index: dict = {}
    for body in rollouts:
        meta = body["metadata"]
        for key, value in asyncio.run(handlers.shiftlane_references(body=body, namespace=meta["namespace"], name=meta["name"])).items():
            index.setdefault(key, []).append(value)
    return index


def test_the_index_holds_the_deployment_and_services_each_rollout_names() -> None:
    index = references(
        rollout("a", workloadRef={"name": "web"}, services={"active": "front", "canary": "front-preview"}),
        rollout("b", workloadRef={"name": "web"}),
        rollout("c"),
    )
    assert index == {
        ("shop", "Deployment", "web"): [("shop", "a"), ("shop", "b")],
        ("shop", "Service", "front"): [("shop", "a")],
        ("shop", "Service", "front-preview"): [("shop", "a")],
    }


@pytest.mark.parametrize(
    ("changed", "expected"),
    [
        (lambda kw: handlers.workload_changed("shop", "web", **kw), [("shop", "a")]),
        (lambda kw: handlers.service_changed("shop", "front", **kw), [("shop", "a")]),
        # `<rollout>-stable` is found by its name as before.
        (lambda kw: handlers.service_changed("shop", "c-stable", **kw), [("shop", "c")]),
    ],
    ids=["deployment", "named-service", "own-service"],
)
def test_a_change_reconciles_the_rollouts_naming_the_object(monkeypatch: pytest.MonkeyPatch, changed, expected) -> None:
    bodies = [rollout("a", workloadRef={"name": "web"}, services={"active": "front"}), rollout("c")]
    kwargs = {"shiftlane_references": references(*bodies),
              "shiftlane_rollouts": {("shop", b["metadata"]["name"]): [b] for b in bodies}}
    reconciled: list = []

    async def reconcile(key, _kwargs) -> None:
        reconciled.append(key)

    monkeypatch.setattr(handlers, "_reconcile", reconcile)
    asyncio.run(changed(kwargs))
    assert reconciled == expected
