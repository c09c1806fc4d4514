"""Pauses, manual actions, deadlines and changes mid-rollout, through the pure interpreter."""

from __future__ import annotations

from dataclasses import replace

from shiftlane.api.status import Phase
from shiftlane.engine.interpret import analysis_key, interpret
from shiftlane.engine.model import Verdict
from tests.unit.world import World, manifest

CANARY = {"canary": {"steps": [{"setWeight": 25}, {"pause": {}}, {"setWeight": 50}, {"pause": {"duration": "2m"}}]}}


def rolling_out(strategy: dict = CANARY, **extra) -> World:
    world = World(manifest(strategy, **extra))
    world.run()
    world.set_image("app:2")
    return world


def test_indefinite_pause_waits_for_promote() -> None:
    world = rolling_out()
    decision = world.run()
    assert decision.status.phase is Phase.PAUSED
    assert decision.status.current_step_index == 2
    world.now += 3600
    assert world.run().status.current_step_index == 2  # time alone does not pass it
    world.send("promote")
    decision = world.run()
    assert decision.status.current_step_index == 5  # the timed pause after setWeight 50
    assert decision.status.canary_weight == 50


def test_timed_pause_resumes_by_itself_and_asks_to_be_woken() -> None:
    world = rolling_out()
    world.run()
    world.send("promote")
    decision = world.run()
    assert decision.requeue_after == 120
    world.now += 119
    assert world.run().status.current_step_index == 5
    world.now += 1
    decision = world.run()
    assert decision.status.phase is Phase.HEALTHY


def test_promote_full_skips_remaining_steps() -> None:
    world = rolling_out()
    world.run()
    world.send("promoteFull")
    decision = world.run()
    assert decision.status.phase is Phase.HEALTHY
    assert decision.status.stable_revision == world.template_revision


def test_abort_returns_traffic_to_stable_and_retry_restarts() -> None:
    world = rolling_out()
    world.run()
    stable, canary = world.status.stable_revision, world.status.canary_revision
    world.send("abort")
    decision = world.run()
    assert decision.status.phase is Phase.ABORTED
    assert decision.replicas == {stable: 4, canary: 0}
    assert decision.status.canary_weight == 0
    assert decision.status.condition("Stalled").status == "True"
    world.send("retry")
    decision = world.run()
    assert decision.status.phase is Phase.PAUSED
    assert decision.status.current_step_index == 2
    assert "RolloutRetried" in world.events()


def test_abort_keeps_canary_until_stable_is_back_to_full_capacity() -> None:
    world = rolling_out()
    world.run()
    stable, canary = world.status.stable_revision, world.status.canary_revision
    world.never_ready.add(stable)  # stable pods come back slowly
    world.send("abort")
    first = world.step()
    assert first.replicas[stable] == 4
    assert first.replicas[canary] == 1  # still serving until stable can take over
    world.never_ready.clear()
    world.run()
    assert world.decisions[-1].replicas[canary] == 0


def test_failed_analysis_aborts_and_inconclusive_pauses() -> None:
    strategy = {"canary": {"steps": [{"setWeight": 25}, {"analysis": {"templates": [{"name": "success-rate"}]}}]}}
    world = rolling_out(strategy)
    decision = world.run()
    assert decision.status.phase is Phase.PROGRESSING
    key = analysis_key(world.status.canary_revision, world.status.rollout.attempt, 2)
    assert [a.key for a in decision.analyses] == [key]
    world.analysis[key] = Verdict.INCONCLUSIVE
    assert world.run().status.phase is Phase.PAUSED
    world.analysis[key] = Verdict.FAILED
    decision = world.run()
    assert decision.status.phase is Phase.ABORTED
    assert "AnalysisFailed" in world.events()


def test_successful_analysis_advances() -> None:
    strategy = {"canary": {"steps": [{"setWeight": 25}, {"analysis": {"templates": [{"name": "ok"}]}}]}}
    world = rolling_out(strategy)
    world.run()
    world.analysis[analysis_key(world.status.canary_revision, world.status.rollout.attempt, 2)] = Verdict.SUCCESSFUL
    assert world.run().status.phase is Phase.HEALTHY


def test_new_template_mid_rollout_supersedes_keeping_capacity_until_stable_is_back() -> None:
    world = rolling_out()
    world.run()
    first_canary = world.status.canary_revision
    stable = world.status.stable_revision
    world.set_image("app:3")
    decision = world.decide()
    newest = world.template_revision
    assert decision.status.canary_revision == newest
    assert decision.replicas[stable] == 4  # stable back to full while the newest starts over
    # Stable runs 3 available pods: the superseded revision keeps its one until stable has 4.
    assert decision.replicas[first_canary] == 1
    assert "RolloutSuperseded" in world.events()
    world.apply(decision)
    assert world.decide().replicas[first_canary] == 0
    decision = world.run()
    serving = [name for name, r in world.revisions.items() if r.replicas > 0]
    assert sorted(serving) == sorted([stable, newest])


def test_reverting_the_template_cancels_the_rollout() -> None:
    world = rolling_out()
    world.run()
    world.set_image("app:1")
    decision = world.run()
    assert decision.status.phase is Phase.HEALTHY
    assert decision.status.canary_revision is None
    assert "RolloutCancelled" in world.events()


def test_progress_deadline_degrades_then_aborts_when_asked() -> None:
    world = rolling_out(progressDeadlineSeconds=60)
    world.never_ready.add(world.template_revision)
    decision = world.run()
    assert decision.status.phase is Phase.PROGRESSING
    assert decision.requeue_after == 60
    world.now += 61
    decision = world.run()
    assert decision.status.phase is Phase.DEGRADED
    assert decision.status.condition("Stalled").status == "True"
    assert world.events().count("ProgressDeadlineExceeded") == 1

    aborting = rolling_out(progressDeadlineSeconds=60, progressDeadlineAbort=True)
    aborting.never_ready.add(aborting.template_revision)
    aborting.run()
    aborting.now += 61
    decision = aborting.run()
    assert decision.status.phase is Phase.ABORTED
    assert decision.replicas[aborting.template_revision] == 0


def test_scaling_the_rollout_mid_rollout_keeps_the_share() -> None:
    world = rolling_out()
    world.run()
    world.set_replicas(8)
    decision = world.run()
    canary, stable = world.status.canary_revision, world.status.stable_revision
    assert decision.replicas == {canary: 2, stable: 6}
    assert decision.status.canary_weight == 25


def test_spec_paused_holds_a_new_template_and_user_pause_holds_steps() -> None:
    world = World(manifest(CANARY, paused=True))
    world.run()
    world.set_image("app:2")
    decision = world.run()
    assert decision.status.phase is Phase.PAUSED
    assert decision.status.canary_revision is None
    assert world.template_revision not in decision.replicas

    world = rolling_out()
    world.step()  # the rollout has started: step 0 scales the canary
    world.send("pause")
    decision = world.run()
    assert decision.status.phase is Phase.PAUSED and decision.status.paused_by_user
    assert decision.status.current_step_index == 0
    world.send("resume")
    assert world.run().status.current_step_index == 2


def test_undo_rolls_back_to_the_previous_revision_without_touching_spec() -> None:
    world = rolling_out()
    world.send("promoteFull")
    world.run()
    previous = [n for n in world.revisions if n != world.status.stable_revision][0]
    world.send("undo")
    decision = world.run()
    assert decision.status.phase is Phase.PAUSED  # the undo is itself a canary rollout
    assert decision.status.canary_revision == previous
    world.send("promoteFull")
    decision = world.run()
    assert decision.status.stable_revision == previous
    world.set_image("app:9")  # a new spec generation ends the pin
    assert world.run().status.canary_revision == world.template_revision


def test_undo_to_unknown_revision_is_refused() -> None:
    world = World(manifest(CANARY))
    world.run()
    world.send("undo", revision="nope")
    world.run()
    assert "UndoFailed" in world.events()
    assert world.status.phase is Phase.HEALTHY


def test_history_is_pruned_to_the_limit() -> None:
    world = World(manifest({"recreate": {}}, revisionHistoryLimit=1))
    world.run()
    for tag in range(2, 6):
        world.set_image(f"app:{tag}")
        world.run()
    assert len(world.revisions) == 2  # stable and one kept for undo


def test_invalid_combination_stalls_with_event() -> None:
    shadow = {"shadow": {"mirrorPercent": 10, "trafficRouting": {"gatewayAPI": {"httpRoute": "web"}}}}
    world = World(manifest(shadow))  # no router driven in this build
    world.run()
    world.set_image("app:2")
    decision = world.run()
    assert decision.status.phase is Phase.DEGRADED
    assert decision.status.condition("Stalled").reason == "InvalidSpec"
    assert world.template_revision not in decision.replicas or decision.replicas[world.template_revision] == 0
    assert world.events().count("InvalidSpec") == 1


def test_router_strategy_without_routing_stalls_instead_of_crashing() -> None:
    world = World(manifest({"abTesting": {"match": [{"headers": [{"name": "x", "exact": "1"}]}]}}))
    world.run()
    world.set_image("app:2")
    decision = world.run()
    assert decision.status.phase is Phase.DEGRADED
    assert "trafficRouting" in decision.status.message


def test_progress_deadline_counts_from_the_last_progress_not_the_step_start() -> None:
    world = rolling_out({"canary": {"steps": [{"setWeight": 100}]}}, progressDeadlineSeconds=60)
    canary = world.template_revision
    world.never_ready.add(canary)
    world.run()
    assert world.revisions[canary].spec_replicas == 4 and world.revisions[canary].available == 0
    for ready in (1, 2, 3):  # one more pod every 50 s: slow, but progressing
        world.now += 50
        world.revisions[canary] = replace(world.revisions[canary], ready=ready, available=ready)
        assert world.decide().status.phase is Phase.PROGRESSING
    world.now += 59
    assert world.decide().status.phase is Phase.PROGRESSING
    world.now += 2  # nothing for longer than the deadline
    decision = world.decide()
    assert decision.status.phase is Phase.DEGRADED
    world.revisions[canary] = replace(world.revisions[canary], ready=4, available=4)
    assert world.decide().status.phase is not Phase.DEGRADED  # progress resumed
    assert "ProgressResumed" in world.events()
