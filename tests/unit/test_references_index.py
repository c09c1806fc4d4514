"""The references index: a change of an analysis template or a route object reaches every Rollout that
uses it, and only those, without parsing every Rollout's spec on each event."""

from __future__ import annotations

import asyncio

import pytest

from shiftlane.controller import handlers
from shiftlane.controller.specs import ParsedSpecs
from tests.unit.test_adoption_watch import references
from tests.unit.world import manifest


def rollout(name: str, strategy: dict, namespace: str = "shop", generation: int = 1) -> dict:
    meta = {"namespace": namespace, "name": name, "uid": f"uid-{namespace}-{name}", "generation": generation}
    return {"metadata": meta, "spec": manifest(strategy)}


def analysed(*templates: dict) -> dict:
    return {"canary": {"steps": [{"setWeight": 20}, {"analysis": {"templates": list(templates)}}]}}


def routed(kind: str, route: str) -> dict:
    routing = {"gatewayAPI": {kind: route}} if kind in ("httpRoute", "grpcRoute") else {"istio": {"virtualService": {"name": route}}}
    return {"canary": {"steps": [{"setWeight": 20}], "trafficRouting": routing}}


def reconciled_by(monkeypatch: pytest.MonkeyPatch, change, *bodies: dict) -> list[tuple[str, str]]:
    kwargs = {"shiftlane_references": references(*bodies),
              "shiftlane_rollouts": {(b["metadata"]["namespace"], b["metadata"]["name"]): [b] for b in bodies}}
    reconciled: list = []

    async def reconcile(key, _kwargs) -> None:
        reconciled.append(key)

    monkeypatch.setattr(handlers, "_reconcile", reconcile)
    monkeypatch.setattr(handlers.state, "templates", None)  # no status write for the template itself
    asyncio.run(change(kwargs))
    return reconciled


FLEET = (
    rollout("a", analysed({"name": "error-rate"})),
    rollout("b", analysed({"name": "error-rate"}, {"name": "latency", "clusterScope": True})),
    rollout("c", analysed({"name": "latency"})),  # the namespaced one, not the cluster's
    rollout("d", analysed({"name": "error-rate"}), namespace="other"),
    rollout("e", routed("httpRoute", "web")),
    rollout("f", {"canary": {"steps": [{"setWeight": 20}]}}),
    rollout("g", analysed({"name": "latency", "clusterScope": True}), namespace="other"),
)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda kw: handlers.template_changed(body={}, namespace="shop", name="error-rate", **kw), [("shop", "a"), ("shop", "b")]),
        (lambda kw: handlers.template_changed(body={}, namespace="shop", name="latency", **kw), [("shop", "c")]),
        (lambda kw: handlers.cluster_template_changed(body={}, name="latency", **kw), [("other", "g"), ("shop", "b")]),
        (lambda kw: handlers.template_changed(body={}, namespace="shop", name="unused", **kw), []),
        (lambda kw: handlers._route_changed("shop", "web", "HTTPRoute", kw), [("shop", "e")]),
        (lambda kw: handlers._route_changed("other", "web", "HTTPRoute", kw), []),
    ],
    ids=["template-in-two", "namespaced-not-cluster", "cluster-template-across-namespaces", "unused-template",
         "route", "route-elsewhere"],
)
def test_a_change_reaches_exactly_the_rollouts_that_use_the_object(monkeypatch: pytest.MonkeyPatch, change, expected) -> None:
    monkeypatch.setattr(handlers.state, "specs", ParsedSpecs())
    assert reconciled_by(monkeypatch, change, *FLEET) == expected


@pytest.mark.parametrize(
    ("before", "after", "old", "new"),
    [
        (analysed({"name": "error-rate"}), analysed({"name": "latency"}),
         ("shop", "AnalysisTemplate", "error-rate"), ("shop", "AnalysisTemplate", "latency")),
        (routed("httpRoute", "web"), routed("httpRoute", "web-v2"), ("shop", "HTTPRoute", "web"), ("shop", "HTTPRoute", "web-v2")),
        (routed("httpRoute", "web"), routed("virtualService", "web"), ("shop", "HTTPRoute", "web"), ("shop", "VirtualService", "web")),
    ],
    ids=["template", "route-name", "router"],
)
def test_an_edit_right_after_a_cached_read_moves_the_references(monkeypatch: pytest.MonkeyPatch, before, after, old, new) -> None:
    monkeypatch.setattr(handlers.state, "specs", ParsedSpecs())
    assert old in references(rollout("a", before))
    edited = references(rollout("a", after, generation=2))
    assert new in edited and old not in edited


def test_an_invalid_spec_names_only_what_needs_no_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handlers.state, "specs", ParsedSpecs())
    body = rollout("a", {"canary": {"steps": [{"setWeight": 400}]}, "bogus": {}})
    body["spec"]["workloadRef"] = {"name": "web"}
    assert references(body) == {("shop", "Deployment", "web"): [("shop", "a")]}
