"""What analysis verdicts and webhook answers do to a rollout, through the pure interpreter."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from shiftlane.api.spec import RolloutSpec
from shiftlane.api.status import AnalysisPhase, AnalysisRunStatus, Phase
from shiftlane.engine.model import Verdict
from shiftlane.engine.plan import compile_plan
from shiftlane.engine.steps import AwaitWebhook, Finish, RunAnalysis, SetWeight
from tests.unit.world import World, manifest

ANALYSIS = {"templates": [{"name": "error-rate"}], "args": [{"name": "service", "value": "web"}]}
ROUTED = {"gatewayAPI": {"httpRoute": "web"}}
STEP_ANALYSIS = {"canary": {"steps": [{"setWeight": 25}, {"analysis": ANALYSIS}, {"setWeight": 50}], "trafficRouting": ROUTED}}


def rolling_out(strategy: dict, **extra) -> World:
    world = World(manifest(strategy, **extra), routers=frozenset({"gatewayAPI"}))
    world.run()
    world.set_image("app:2")
    return world


def requests(world: World) -> list[str]:
    return [r.key for r in world.decisions[-1].analyses]


def test_the_analysis_step_waits_for_its_run_and_asks_for_it_with_the_rollouts_args() -> None:
    world = rolling_out(STEP_ANALYSIS)
    decision = world.run()
    assert decision.status.phase is Phase.PROGRESSING and "analysis error-rate running" in decision.status.message
    (request,) = decision.analyses
    assert request.analysis.args == (("service", "web"),) and not request.background
    assert decision.traffic.weights[world.template_revision] == 25


def test_a_successful_run_advances_at_once() -> None:
    world = rolling_out(STEP_ANALYSIS)
    world.run()
    world.analysis[requests(world)[0]] = Verdict.SUCCESSFUL
    decision = world.run()
    assert decision.status.phase is Phase.HEALTHY and decision.status.stable_revision == world.template_revision


def test_a_failed_run_aborts_naming_the_metric_from_the_runs_account() -> None:
    world = rolling_out(STEP_ANALYSIS)
    world.run()
    key = requests(world)[0]
    world.status.analysis_runs = [AnalysisRunStatus(
        key=key, templates=["error-rate"], phase=AnalysisPhase.FAILED, started_at=datetime.now(timezone.utc),
        message="metric error-rate/ratio: 1 of 1 measurements failed, last value 0.2")]
    world.analysis[key] = Verdict.FAILED
    decision = world.step()
    assert decision.status.aborted and decision.traffic.weights == {decision.status.stable_revision: 100}
    failed = [e for e in decision.events if e.reason == "AnalysisFailed"]
    assert failed and "last value 0.2" in failed[0].message


def test_inconclusive_pauses_promote_continues() -> None:
    world = rolling_out(STEP_ANALYSIS)
    world.run()
    world.analysis[requests(world)[0]] = Verdict.INCONCLUSIVE
    assert world.run().status.phase is Phase.PAUSED
    world.send("promote")
    assert world.run().status.phase is Phase.HEALTHY


def test_inconclusive_then_abort_returns_traffic_to_stable() -> None:
    world = rolling_out(STEP_ANALYSIS)
    world.run()
    world.analysis[requests(world)[0]] = Verdict.INCONCLUSIVE
    world.run()
    world.send("abort")
    decision = world.run()
    assert decision.status.phase is Phase.ABORTED and decision.traffic.weights == {decision.status.stable_revision: 100}


def test_rollback_on_failure_false_freezes_where_it_is() -> None:
    world = rolling_out(STEP_ANALYSIS, rollbackOnFailure=False)
    world.run()
    world.analysis[requests(world)[0]] = Verdict.FAILED
    before = world.decisions[-1]
    decision = world.run()
    assert not decision.status.aborted
    assert decision.traffic.weights == before.traffic.weights  # traffic stays where it is
    assert decision.replicas == before.replicas
    stalled = decision.status.condition("Stalled")
    assert stalled is not None and stalled.status == "True" and "rollbackOnFailure is false" in stalled.message
    assert world.events().count("AnalysisFailed") == 1  # once, however often it is reconciled
    world.send("promote")  # a person decides to go on
    assert world.run().status.phase is Phase.HEALTHY


BACKGROUND = {
    "canary": {
        "steps": [{"setWeight": 20}, {"pause": {"duration": "60s"}}, {"setWeight": 40}, {"pause": {}}],
        "analysis": {**ANALYSIS, "startingStep": 2},
        "trafficRouting": ROUTED,
    }
}


def test_background_analysis_starts_at_its_step_and_its_failure_aborts_any_later_step() -> None:
    world = rolling_out(BACKGROUND)
    world.run()
    assert requests(world) == []  # step 1 (a pause) comes before startingStep
    world.now += 61
    decision = world.run()
    assert decision.status.phase is Phase.PAUSED  # the indefinite pause, with the analysis beside it
    (background,) = [r for r in decision.analyses if r.background]
    world.analysis[background.key] = Verdict.FAILED
    decision = world.run()
    assert decision.status.phase is Phase.ABORTED and "AnalysisFailed" in world.events()


def test_inconclusive_background_pauses_and_promote_starts_a_fresh_run() -> None:
    world = rolling_out(BACKGROUND)
    world.run()
    world.now += 61
    world.run()
    first = [r.key for r in world.decisions[-1].analyses if r.background][0]
    world.analysis[first] = Verdict.INCONCLUSIVE
    decision = world.run()
    assert decision.status.phase is Phase.PAUSED and "background analysis inconclusive" in decision.status.message
    world.send("promote")
    world.run()
    second = [r.key for r in world.decisions[-1].analyses if r.background][0]
    assert second != first


def test_background_analysis_stops_being_asked_for_once_the_rollout_completes() -> None:
    world = rolling_out(BACKGROUND)
    world.run()
    world.now += 61
    world.run()
    world.send("promoteFull")
    decision = world.run()
    assert decision.status.phase is Phase.HEALTHY and decision.analyses == ()


def test_a_missing_template_stalls_a_rollout_in_flight_but_not_a_steady_rollout() -> None:
    world = World(manifest(STEP_ANALYSIS), routers=frozenset({"gatewayAPI"}))
    world.analysis_problem = "AnalysisTemplate default/error-rate not found"
    assert world.run().status.phase is Phase.HEALTHY
    world.set_image("app:2")
    decision = world.run()
    stalled = decision.status.condition("Stalled")
    assert stalled is not None and "error-rate not found" in stalled.message
    assert world.template_revision not in decision.replicas or decision.replicas[world.template_revision] == 0
    world.analysis_problem = None
    assert world.run().status.condition("Stalled").status == "False"


HOOKS = [
    {"name": "approve", "type": "confirmRollout", "url": "http://127.0.0.1:9/approve"},
    {"name": "smoke", "type": "preRollout", "url": "http://127.0.0.1:9/smoke"},
    {"name": "release", "type": "confirmPromotion", "url": "http://127.0.0.1:9/release"},
    {"name": "chat", "type": "event", "url": "http://127.0.0.1:9/chat"},
]


@pytest.mark.parametrize(
    "strategy, kinds",
    [
        (STEP_ANALYSIS, ["confirmRollout", "scale", "preRollout", "weight", "analysis", "scale", "weight",
                         "confirmPromotion", "scale", "weight", "finish"]),
        ({"canary": {"steps": [{"setWeight": 50}]}},  # no router: traffic follows pods, so pre-rollout precedes the first new pod
         ["confirmRollout", "preRollout", "scale", "scale", "confirmPromotion", "scale", "scale", "finish"]),
        # Blue-green's first traffic is its promotion: smoke tests first, then the confirmation.
        ({"blueGreen": {}}, ["confirmRollout", "scale", "preRollout", "confirmPromotion", "weight", "finish"]),
    ],
)
def test_gating_webhooks_sit_where_their_names_say(strategy: dict, kinds: list[str]) -> None:
    plan = compile_plan(RolloutSpec.model_validate(manifest(strategy, webhooks=HOOKS)), frozenset({"gatewayAPI"}))
    names = {AwaitWebhook: lambda s: s.type, RunAnalysis: lambda s: "analysis", SetWeight: lambda s: "weight",
             Finish: lambda s: "finish"}
    assert [names.get(type(s), lambda s: "scale")(s) for s in plan.steps] == kinds
    assert isinstance(plan.steps[plan.full_promotion_index], AwaitWebhook)  # promote --full still asks


def test_confirm_rollout_holds_everything_until_it_answers_2xx() -> None:
    world = rolling_out(STEP_ANALYSIS, webhooks=HOOKS[:1])
    decision = world.run()
    assert decision.replicas.get(world.template_revision, 0) == 0
    assert "waiting for confirmRollout webhook approve" in decision.status.message
    (request,) = decision.webhooks
    world.webhooks[request.key] = Verdict.SUCCESSFUL
    assert world.run().replicas[world.template_revision] > 0


def test_a_failing_pre_rollout_hook_aborts_before_the_canary_gets_traffic() -> None:
    world = rolling_out(STEP_ANALYSIS, webhooks=[HOOKS[1]])
    decision = world.run()
    assert decision.traffic.weights == {decision.status.stable_revision: 100}
    world.webhooks[decision.webhooks[0].key] = Verdict.FAILED
    decision = world.run()
    assert decision.status.aborted and "WebhookFailed" in world.events()


def test_confirm_promotion_holds_before_the_promotion() -> None:
    world = rolling_out({"canary": {"steps": [{"setWeight": 50}], "trafficRouting": ROUTED}}, webhooks=[HOOKS[2]])
    decision = world.run()
    assert decision.status.phase is Phase.PROGRESSING and decision.traffic.weights[world.template_revision] == 50
    world.webhooks[decision.webhooks[0].key] = Verdict.SUCCESSFUL
    assert world.run().status.phase is Phase.HEALTHY
