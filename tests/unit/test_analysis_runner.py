"""The analysis runner's pure parts: which analyses a strategy names, template checks, arguments."""

from __future__ import annotations

import pytest

from shiftlane.api.analysis import AnalysisTemplateSpec
from shiftlane.api.spec import RolloutSpec
from shiftlane.api.status import RolloutStatus
from shiftlane.controller.analysis import _arguments, analyses_of, check_template, templates_named
from shiftlane.engine.steps import TemplateName
from tests.unit.world import manifest

A = {"templates": [{"name": "a"}]}
B = {"templates": [{"name": "b", "clusterScope": True}], "args": [{"name": "x", "value": "1"}]}


@pytest.mark.parametrize(
    "strategy, names",
    [
        ({"rolling": {}}, []),
        ({"canary": {"steps": [{"setWeight": 10}]}}, []),
        ({"canary": {"steps": [{"setWeight": 10}, {"analysis": A}, {"setWeight": 50}, {"analysis": B}]}}, ["a", "cluster/b"]),
        ({"canary": {"steps": [{"setWeight": 10}], "analysis": {**B, "startingStep": 0}}}, ["cluster/b"]),
        ({"blueGreen": {"prePromotionAnalysis": A, "postPromotionAnalysis": B}}, ["a", "cluster/b"]),
        ({"rollingBatches": {"batchSize": 2, "analysis": A}}, ["a"]),  # between batches: once per gap
        ({"immutable": {"analysis": A}}, ["a"]),
    ],
)
def test_analyses_a_strategy_names(strategy: dict, names: list[str]) -> None:
    found = [str(t) for analysis in analyses_of(RolloutSpec.model_validate(manifest(strategy))) for t in analysis.templates]
    assert sorted(set(found)) == names


def test_templates_named_tells_the_scope_apart() -> None:
    spec = RolloutSpec.model_validate(manifest({"canary": {"steps": [{"analysis": B}]}}))
    assert templates_named(spec) == {TemplateName("b", True)}


def template(**metric) -> dict:
    return {"kind": "AnalysisTemplate", "metadata": {"name": "t"},
            "spec": {"metrics": [{"name": "m", "provider": {"web": {"url": "http://127.0.0.1:1/"}}, **metric}]}}


@pytest.mark.parametrize(
    "metric, error",
    [
        ({"successCondition": "result < 0.05"}, None),
        ({"successCondition": "result <"}, "AnalysisTemplate t: metric m: successCondition does not compile"),
        ({"failureCondition": "result > > 1"}, "AnalysisTemplate t: metric m: failureCondition does not compile"),
        ({"count": 0}, "AnalysisTemplate t is invalid"),
    ],
)
def test_check_template(metric: dict, error: str | None) -> None:
    checked = check_template(template(**metric))
    if error is None:
        assert checked.error is None and checked.spec is not None
    else:
        assert checked.error is not None and checked.error.startswith(error), checked.error


def test_arguments_rollout_values_override_defaults_and_come_from_the_rollout() -> None:
    spec = AnalysisTemplateSpec.model_validate({
        "args": [{"name": "ns", "valueFrom": "namespace"}, {"name": "canary", "valueFrom": "canaryRevision"},
                 {"name": "svc", "valueFrom": "stableService"}, {"name": "limit", "value": "0.05"}, {"name": "given"}],
        "metrics": [{"name": "m", "provider": {"web": {"url": "http://127.0.0.1:1/"}}}],
    })
    rollout = {"metadata": {"name": "web", "namespace": "shop"}}
    status = RolloutStatus(stable_revision="aaa", canary_revision="bbb")
    assert _arguments(rollout, status, spec, {"given": "x", "limit": "0.01"}) == {
        "ns": "shop", "canary": "bbb", "svc": "web-stable", "limit": "0.01", "given": "x"}
