"""What every router shares: the engine's Traffic in router terms, reading several objects as one, and
the match a router cannot express raised as a RouterError (the user must change the Rollout)."""

from __future__ import annotations

import pytest

from shiftlane.api.spec import RequestMatch, TrafficRouting
from shiftlane.engine.model import RouterState, Traffic
from shiftlane.traffic import ROUTERS, router_for
from shiftlane.traffic.router import ObjectRef, RouterError, combine, patch_ops, wanted
from tests.unit.routers_golden import NAMESPACE, ROLLOUT, STABLE, CANARY, Case, GOLDEN, by_ref, load


def test_every_spec_router_is_driven() -> None:
    from shiftlane.api.spec import TRAFFIC_ROUTERS

    assert ROUTERS == frozenset(TRAFFIC_ROUTERS)


def test_wanted_sends_nothing_to_a_canary_that_is_the_stable_revision() -> None:
    traffic = Traffic(weights={STABLE: 100}, header_route=(RequestMatch(headers=[{"name": "x", "exact": "1"}]),), mirror_percent=10)
    assert wanted(STABLE, STABLE, traffic).canary_weight == 0
    assert wanted(STABLE, None, traffic).matches == () and wanted(STABLE, None, traffic).mirror_percent == 0
    assert wanted(STABLE, CANARY, Traffic(weights={STABLE: 70, CANARY: 30})).canary_weight == 30


def test_objects_that_disagree_report_where_the_canary_may_still_get_traffic() -> None:
    a = ObjectRef("g", "v1", "rs", "Route", "shop", "a")
    b = ObjectRef("g", "v1", "rs", "Route", "shop", "b")
    state = combine([(a, RouterState(0, False, 0)), (b, RouterState(30, True, 10))])
    assert (state.canary_weight, state.header_route, state.mirror_percent) == (30, True, 10)
    assert state.problems and "Route shop/a holds canary weight 0" in state.problems[0]
    # A missing object is named, and does not count as holding no traffic.
    missing = RouterState(0, False, 0, ("Route shop/b not found",))
    assert combine([(a, RouterState(20, False, 0)), (b, missing)]) == RouterState(20, False, 0, ("Route shop/b not found",))


def test_patch_touches_only_managed_paths_and_tests_the_version() -> None:
    before = {"metadata": {"resourceVersion": "7", "labels": {"a": "b"}}, "spec": {"rules": [1], "hostnames": ["x"]}}
    after = {"metadata": {"resourceVersion": "7", "labels": {}}, "spec": {"rules": [2], "hostnames": []}}
    assert patch_ops(before, after, ("/spec/rules",)) == [
        {"op": "test", "path": "/metadata/resourceVersion", "value": "7"},
        {"op": "replace", "path": "/spec/rules", "value": [2]},
    ]
    assert patch_ops(before, before, ("/spec/rules",)) == []


def _translate(router_name: str, case: str, traffic: Traffic) -> None:
    folder = GOLDEN / router_name / case
    raw = load(folder / "input.yaml")
    router = router_for(TrafficRouting.model_validate(raw["routing"]), NAMESPACE, "checkout")
    router.translate(by_ref(router.objects(), raw["objects"]), wanted(STABLE, CANARY, traffic), ROLLOUT)


def matching(*matches: dict) -> Traffic:
    return Traffic(weights={STABLE: 100, CANARY: 0}, header_route=tuple(RequestMatch.model_validate(m) for m in matches), canary=CANARY)


TWO_COOKIES = {"cookies": [{"name": "a", "exact": "1"}, {"name": "b", "exact": "2"}]}


@pytest.mark.parametrize(
    ("router_name", "case", "traffic", "message"),
    [
        ("gatewayAPI", "weights", matching(TWO_COOKIES), "one cookie"),
        ("istio", "mirror", matching(TWO_COOKIES), "one cookie"),
        ("gatewayAPI", "grpc-header-route", matching({"queryParams": [{"name": "q", "exact": "1"}]}), "GRPCRoute cannot match query"),
        ("alb", "weights", matching({"headers": [{"name": "x-beta", "regex": "1|2"}]}), "regular expression"),
        ("nginx", "weights", matching({"headers": [{"name": "a", "exact": "1"}]}, {"headers": [{"name": "b", "exact": "1"}]}), "one header"),
        ("nginx", "weights", matching({"cookies": [{"name": "beta", "exact": "yes"}]}), "always"),
    ],
)
def test_a_match_the_router_cannot_express_is_an_error_naming_why(router_name, case, traffic, message) -> None:
    with pytest.raises(RouterError, match=message):
        _translate(router_name, case, traffic)


def test_golden_inputs_are_unchanged_by_translation() -> None:
    """Routers edit copies: the user's object as read is never mutated (it may be a watch cache's)."""
    case = Case(GOLDEN / "gatewayAPI" / "header-route")
    snapshot = load(case.folder / "input.yaml")["objects"]
    case.apply(case.before)
    assert [o for o in case.before.values() if o] == snapshot
