"""Replica arithmetic: tables of inputs and the counts they give, and every strategy's plan for 0-10
replicas and a few large counts."""

from __future__ import annotations

import pytest

from shiftlane.api.spec import RolloutSpec
from shiftlane.engine.interpret import fold
from shiftlane.engine.plan import compile_plan
from shiftlane.engine.replicas import batch_counts, elastic_counts, resolve, rolling_counts, split
from shiftlane.engine.steps import Finish, Pause, Role, RunAnalysis, Scale, TrafficMode
from tests.unit.world import manifest

GATEWAY = {"gatewayAPI": {"httpRoute": "web"}}


@pytest.mark.parametrize(
    ("replicas", "percent", "expected"),
    [
        (0, 50, (0, 0)),
        (1, 0, (0, 1)),
        (1, 10, (1, 1)),  # one pod of each while both serve, never stable at zero
        (1, 100, (1, 0)),
        (2, 50, (1, 1)),
        (3, 25, (1, 2)),
        (4, 25, (1, 3)),
        (4, 90, (4, 1)),
        (5, 99, (5, 1)),
        (10, 33, (4, 6)),
        (1000, 1, (10, 990)),
        (1000, 50, (500, 500)),
    ],
)
def test_split_table(replicas: int, percent: int, expected: tuple[int, int]) -> None:
    assert split(replicas, percent) == expected


@pytest.mark.parametrize(
    ("value", "replicas", "round_up", "expected"),
    [(2, 10, True, 2), ("25%", 4, True, 1), ("25%", 3, True, 1), ("25%", 3, False, 0), ("50%", 5, False, 2), ("0%", 9, True, 0)],
)
def test_resolve_table(value, replicas: int, round_up: bool, expected: int) -> None:
    assert resolve(value, replicas, round_up) == expected


@pytest.mark.parametrize(
    ("replicas", "step_percent", "expected"),
    [
        (0, 25, []),
        (1, 25, []),
        (2, 50, [1]),
        (3, 25, [1, 2]),  # 75% of 3 rounds up to 3, which is everything: not a partial step
        (4, 25, [1, 2, 3]),
        (6, 30, [2, 4]),  # 90% of 6 rounds up to 6: dropped
        (10, 25, [3, 5, 8]),
        (4, 100, []),
        (100, 25, [25, 50, 75]),
    ],
)
def test_elastic_counts_table(replicas: int, step_percent: int, expected: list[int]) -> None:
    assert elastic_counts(replicas, step_percent) == expected


@pytest.mark.parametrize(
    ("replicas", "batch", "expected"),
    [(0, 1, []), (1, 1, []), (4, 2, [2]), (5, 2, [2, 4]), (10, 3, [3, 6, 9]), (3, 5, [])],
)
def test_batch_counts_table(replicas: int, batch: int, expected: list[int]) -> None:
    assert batch_counts(replicas, batch) == expected


@pytest.mark.parametrize(
    ("replicas", "surge", "unavailable", "expected"),
    [
        (0, 1, 1, []),
        (1, 0, 0, [(1, 1), (1, 0)]),  # both zero: surge by one, as a Deployment does
        (4, 1, 0, [(1, 4), (1, 3), (2, 3), (2, 2), (3, 2), (3, 1), (4, 1), (4, 0)]),
        (4, 1, 1, [(1, 4), (1, 2), (3, 2), (3, 0), (4, 0)]),
        (3, 0, 1, [(0, 2), (1, 2), (1, 1), (2, 1), (2, 0), (3, 0)]),
    ],
)
def test_rolling_counts_table(replicas: int, surge: int, unavailable: int, expected: list[tuple[int, int]]) -> None:
    assert rolling_counts(replicas, surge, unavailable) == expected


def _scales(strategy: dict, replicas: int) -> list[tuple[int, int]]:
    """(new, old) targets after each step of the compiled plan that scales something."""
    plan = compile_plan(RolloutSpec.model_validate(manifest(strategy, replicas=replicas)), frozenset({"gatewayAPI"}))
    out = []
    for index, step in enumerate(plan.steps):
        if isinstance(step, Scale):
            shape = fold(plan.steps[: index + 1], replicas)
            out.append((shape.canary, shape.stable))
    return out


@pytest.mark.parametrize(
    ("strategy", "replicas", "expected"),
    [
        ({"canary": {"steps": [{"setWeight": 10}, {"pause": {}}]}}, 1, [(1, 1), (1, 0)]),
        ({"canary": {"steps": [{"setWeight": 10}, {"pause": {}}]}}, 4, [(1, 4), (1, 3), (4, 3), (4, 0)]),
        ({"canary": {"steps": [{"setWeight": 25}, {"setWeight": 50}]}}, 2, [(1, 2), (1, 1), (2, 1), (2, 0)]),
        ({"elastic": {"stepPercent": 25}}, 3, [(1, 3), (1, 2), (2, 2), (2, 1), (3, 1), (3, 0)]),
        ({"elastic": {"stepPercent": 30}}, 6, [(2, 6), (2, 4), (4, 4), (4, 2), (6, 2), (6, 0)]),
        ({"rollingBatches": {"batchSize": 2}}, 5, [(2, 5), (2, 3), (4, 3), (4, 1), (5, 1), (5, 0)]),
        ({"recreate": {}}, 3, [(0, 0), (3, 0)]),
        ({"blueGreen": {}}, 3, [(3, 3)]),
        ({"immutable": {}}, 0, []),
        ({"canary": {"steps": [{"setWeight": 20}, {"pause": {}}], "trafficRouting": GATEWAY}}, 10, [(2, 10), (10, 10)]),
        ({"abTesting": {"match": [{"headers": [{"name": "x", "exact": "1"}]}], "trafficRouting": GATEWAY}}, 4, [(1, 4), (4, 4)]),
        ({"shadow": {"mirrorPercent": 50, "canaryReplicas": 2, "trafficRouting": GATEWAY}}, 1, [(1, 1)]),
    ],
)
def test_plan_scale_table(strategy: dict, replicas: int, expected: list[tuple[int, int]]) -> None:
    assert _scales(strategy, replicas) == expected


STRATEGIES = [
    {"recreate": {}},
    {"rolling": {}},
    {"rolling": {"maxSurge": 0, "maxUnavailable": 1}},
    {"rollingBatches": {"batchSize": "30%", "pauseBetween": "1m"}},
    {"blueGreen": {"autoPromotionEnabled": False}},
    {"immutable": {}},
    {"canary": {"steps": [{"setWeight": 5}, {"pause": {}}, {"setCanaryScale": {"replicas": 3}}, {"setWeight": 60}, {"setWeight": 95}]}},
    {"canary": {"steps": [{"setWeight": 5}, {"pause": {}}, {"setWeight": 100}], "trafficRouting": GATEWAY}},
    {"abTesting": {"match": [{"headers": [{"name": "x", "exact": "1"}]}], "duration": "1m", "trafficRouting": GATEWAY}},
    {"shadow": {"mirrorPercent": 20, "duration": "1m", "trafficRouting": GATEWAY}},
    {"elastic": {"stepPercent": 25, "pauseBetween": "30s"}},
]


@pytest.mark.parametrize("strategy", STRATEGIES, ids=lambda s: next(iter(s)))
@pytest.mark.parametrize("replicas", [*range(11), 50, 333, 1000])
def test_every_plan_changes_something_at_each_step_and_ends_whole(strategy: dict, replicas: int) -> None:
    spec = RolloutSpec.model_validate(manifest(strategy, replicas=replicas))
    plan = compile_plan(spec, frozenset({"gatewayAPI"}))
    assert isinstance(plan.steps[-1], Finish) and len(plan.origins) == len(plan.steps)
    assert list(plan.origins) == sorted(plan.origins)
    shape = fold((), replicas)
    for index, step in enumerate(plan.steps):
        after = fold(plan.steps[: index + 1], replicas)
        if not isinstance(step, (Pause, RunAnalysis, Finish)):
            assert after != shape, f"step {index} ({step.describe()}) changes nothing"
        if plan.mode is TrafficMode.SHARE and spec.strategy.name not in ("recreate", "rolling") and index < plan.full_promotion_index:
            # Both revisions serve until the promotion tail: each keeps at least one pod.
            assert after.stable >= min(1, replicas), (index, after)
        if isinstance(step, Scale) and step.role is Role.CANARY:
            assert 0 <= step.replicas <= replicas
        shape = after
    assert shape.canary == replicas
    if plan.mode is TrafficMode.SHARE:
        assert shape.stable == 0
    else:
        assert shape.weight == 100
