"""One test per safety class of issue 6: each failed on the engine before the fix."""

from __future__ import annotations

from dataclasses import replace

from shiftlane.api.status import Phase
from shiftlane.engine.interpret import analysis_key, interpret
from shiftlane.engine.model import Verdict
from tests.unit.world import World, manifest

GATEWAY = {"gatewayAPI": {"httpRoute": "web"}}
CANARY = {"canary": {"steps": [{"setWeight": 25}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}]}}


def healthy(strategy: dict, replicas: int = 4, **extra) -> World:
    world = World(manifest(strategy, replicas, **extra), routers=frozenset({"gatewayAPI"}))
    assert world.run().status.phase is Phase.HEALTHY
    return world


def started(strategy: dict, replicas: int = 4, **extra) -> World:
    world = healthy(strategy, replicas, **extra)
    world.set_image("app:2")
    return world


def reasons(world: World) -> list[str]:
    return world.events()


# 1 ------------------------------------------------------------------------------------------------


def test_undo_holds_through_a_scale_write_until_the_template_changes() -> None:
    world = healthy({"rolling": {"maxSurge": 1, "maxUnavailable": 0}})
    first = world.template_revision
    world.set_image("app:2")
    second = world.template_revision
    assert world.run().status.stable_revision == second
    world.send("undo")
    assert world.run().status.stable_revision == first
    world.command = None
    world.set_replicas(6)  # an HPA through the scale subresource: a new generation, the same template
    decision = world.run()
    assert decision.status.stable_revision == first
    assert decision.replicas[first] == 6 and decision.replicas.get(second, 0) == 0
    assert decision.status.undo is not None and decision.status.undo.revision == first
    world.set_image("app:3")  # a new template ends the pin
    decision = world.run()
    assert decision.status.stable_revision == world.template_revision and decision.status.undo is None


# 2 ------------------------------------------------------------------------------------------------


def test_a_replica_change_resumes_at_the_same_step_with_the_new_counts() -> None:
    world = started(CANARY)
    decision = world.run()
    assert decision.status.phase is Phase.PAUSED and decision.replicas[world.template_revision] == 1
    pause = decision.status.current_step_index
    world.set_replicas(8)
    decision = world.run()
    assert decision.status.phase is Phase.PAUSED  # still at the first pause, not past it
    assert decision.replicas[world.template_revision] == 2 and decision.replicas[world.status.stable_revision] == 6
    assert decision.status.current_step_index == pause
    assert "StepResumed" in reasons(world)


def test_a_smaller_plan_never_skips_the_analysis_or_completes_early() -> None:
    strategy = {"canary": {"steps": [{"setWeight": 25}, {"setWeight": 50}, {"setWeight": 75}, {"analysis": {"templates": [{"name": "rate"}]}}]}}
    world = started(strategy, replicas=8)
    decision = world.run()
    assert "analysis" in decision.status.message
    world.set_replicas(4)  # at 4 replicas some weights share a pod count: the plan is shorter
    decision = world.run()
    assert decision.status.phase is not Phase.HEALTHY
    assert "analysis" in decision.status.message  # the same analysis, not a later step
    assert decision.status.canary_revision == world.template_revision


def test_promote_in_the_same_reconcile_as_a_replica_change_does_not_raise() -> None:
    world = started({"canary": {"steps": [{"setWeight": 50}, {"pause": {}}]}}, replicas=1)
    world.run()
    world.set_replicas(8)
    world.send("promote")
    decision = world.run()
    assert "InternalError" not in reasons(world)
    assert decision.status.phase is Phase.HEALTHY
    assert decision.status.handled_command_id == world.command.id


def test_a_strategy_edit_restarts_from_the_first_step_with_an_event() -> None:
    world = started(CANARY)
    world.run()
    world.send("promote")
    assert world.run().status.current_step_index > 2
    world.command = None
    world.raw = {**world.raw, "strategy": {"canary": {"steps": [{"setWeight": 10}, {"pause": {}}]}}}
    world.generation += 1
    decision = world.run()
    assert "PlanChanged" in reasons(world)
    assert decision.status.phase is Phase.PAUSED and decision.status.current_step_index == 2  # the new first pause
    assert decision.replicas[world.template_revision] == 1  # 10% of 4, rounded up


def test_rolling_never_drops_below_max_unavailable_when_scaled_mid_rollout() -> None:
    world = started({"rolling": {"maxSurge": 2, "maxUnavailable": 0}}, replicas=8)
    world.step()
    world.step()  # partway: some new pods, old ones shrinking
    world.set_replicas(4)
    for _ in range(20):
        before = sum(r.available for r in world.revisions.values())
        decision = world.decide()
        after = sum(
            min(r.available, decision.replicas.get(n, 0)) if decision.replicas.get(n, 0) < r.spec_replicas else r.available
            for n, r in world.revisions.items()
        )
        assert after >= min(4, before)
        world.apply(decision)
    assert world.status.phase is Phase.HEALTHY


# 3 ------------------------------------------------------------------------------------------------


def test_blue_green_stays_switched_when_a_new_pod_restarts_or_the_hpa_scales_up() -> None:
    strategy = {"blueGreen": {"postPromotionAnalysis": {"templates": [{"name": "rate"}]}, "scaleDownDelaySeconds": 60}}
    world = started(strategy)
    decision = world.run()
    new = world.template_revision
    assert decision.services[""] == new and "analysis" in decision.status.message
    world.revisions[new] = replace(world.revisions[new], ready=3, available=3)  # one pod restarts
    assert world.decide().services[""] == new
    world.set_replicas(6)  # the HPA scales up: 4 of 6 ready
    decision = world.step()
    assert decision.services[""] == new and decision.traffic.weights == {new: 100}


# 4 ------------------------------------------------------------------------------------------------


def test_a_new_template_after_a_deadline_abort_gets_a_fresh_deadline() -> None:
    world = started(CANARY, progressDeadlineSeconds=60, progressDeadlineAbort=True)
    world.never_ready.add(world.template_revision)
    world.run()
    world.now += 61
    assert world.run().status.phase is Phase.ABORTED
    world.set_image("app:3")  # the fix
    decision = world.run()
    assert decision.status.phase is Phase.PAUSED, decision.status.message
    assert decision.status.canary_revision == world.template_revision


def test_retry_gets_a_fresh_deadline() -> None:
    world = started(CANARY, progressDeadlineSeconds=60, progressDeadlineAbort=True)
    bad = world.template_revision
    world.never_ready.add(bad)
    world.run()
    world.now += 61
    assert world.run().status.phase is Phase.ABORTED
    world.never_ready.clear()  # say, a missing secret was created
    world.now += 600
    world.send("retry")
    decision = world.run()
    assert decision.status.phase is Phase.PAUSED and not decision.status.aborted


# 5 ------------------------------------------------------------------------------------------------


def test_blue_green_abort_moves_traffic_first_and_keeps_pods_for_the_abort_delay() -> None:
    world = started({"blueGreen": {"autoPromotionEnabled": False}}, abortScaleDownDelaySeconds=30)
    world.run()
    new = world.template_revision
    stable = world.status.stable_revision
    world.send("abort")
    decision = world.decide()
    assert decision.services[""] == stable
    assert decision.replicas[new] == 4  # traffic moves in this Decision; pods stay
    world.apply(decision)
    world.command = None
    world.now += 29
    assert world.step().replicas[new] == 4
    world.now += 1
    assert world.step().replicas[new] == 0


def test_pods_stay_while_the_service_is_still_observed_on_them() -> None:
    world = started({"immutable": {"scaleDownDelaySeconds": 0}})
    world.run()
    new = world.template_revision
    world.set_image("app:1")  # back to stable before the switch is observed everywhere
    world.services[""] = new  # the Service still selects the new revision
    decision = world.decide()
    assert decision.services[""] == world.status.stable_revision
    assert decision.replicas[new] == 4


# 6 ------------------------------------------------------------------------------------------------


def test_a_retry_does_not_reuse_the_failed_verdict() -> None:
    world = started({"canary": {"steps": [{"setWeight": 25}, {"analysis": {"templates": [{"name": "rate"}]}}]}})
    decision = world.run()
    first = decision.analyses[0].key
    world.analysis[first] = Verdict.FAILED
    assert world.run().status.phase is Phase.ABORTED
    world.send("retry")
    decision = world.run()
    assert decision.status.phase is Phase.PROGRESSING and "running" in decision.status.message
    assert decision.analyses[0].key != first
    assert decision.analyses[0].key == analysis_key(world.template_revision, decision.status.rollout.attempt, 2)


def test_the_same_template_deployed_again_later_gets_a_new_analysis() -> None:
    world = started({"canary": {"steps": [{"setWeight": 25}, {"analysis": {"templates": [{"name": "rate"}]}}]}})
    first = world.run().analyses[0].key
    world.analysis[first] = Verdict.FAILED
    world.run()
    world.set_image("app:1")
    world.run()
    world.set_image("app:2")  # the same template as the failed one
    decision = world.run()
    assert not decision.status.aborted and decision.analyses[0].key != first


# 8 ------------------------------------------------------------------------------------------------


def test_zero_replicas_completes_for_blue_green_and_immutable() -> None:
    for strategy in ({"blueGreen": {"scaleDownDelaySeconds": 0}}, {"immutable": {"scaleDownDelaySeconds": 0}}):
        world = started(strategy, replicas=0)
        decision = world.run()
        assert decision.status.phase is Phase.HEALTHY, (strategy, decision.status.message)
        assert decision.status.stable_revision == world.template_revision


# 9 ------------------------------------------------------------------------------------------------


def test_a_router_never_weights_a_revision_without_ready_pods() -> None:
    world = started({"canary": {"steps": [{"setWeight": 10}, {"pause": {}}], "trafficRouting": GATEWAY}})
    world.run()
    stable, canary = world.status.stable_revision, world.template_revision
    world.revisions[stable] = replace(world.revisions[stable], ready=0, available=0)
    decision = world.decide()
    assert decision.traffic.weights == {canary: 100}


# 10 -----------------------------------------------------------------------------------------------


def test_a_first_deploy_that_never_becomes_ready_stalls_at_the_deadline() -> None:
    world = World(manifest(CANARY, progressDeadlineSeconds=60))
    world.never_ready.add(world.template_revision)
    decision = world.run()
    assert decision.status.phase is Phase.PROGRESSING and decision.requeue_after == 60
    world.now += 61
    decision = world.run()
    assert decision.status.phase is Phase.DEGRADED
    assert decision.status.condition("Stalled").status == "True"
    assert "ProgressDeadlineExceeded" in reasons(world)
    world.never_ready.clear()
    decision = world.run()
    assert decision.status.phase is Phase.HEALTHY and decision.status.condition("Stalled").status == "False"


# 11 -----------------------------------------------------------------------------------------------


def test_recreate_starts_the_new_revision_only_when_no_old_pod_exists() -> None:
    world = started({"recreate": {}})
    old = world.status.stable_revision
    new = world.template_revision
    world.apply(world.decide())  # old told 0
    world.revisions[old] = replace(world.revisions[old], terminating=4)  # pods in their grace period
    assert world.decide().replicas.get(new, 0) == 0
    world.revisions[old] = replace(world.revisions[old], terminating=0)
    assert world.decide().replicas[new] == 4


# the controller's inputs ---------------------------------------------------------------------------


def test_a_foreign_object_stalls_the_rollout_and_nothing_moves() -> None:
    world = started(CANARY)
    world.run()
    before = {n: r.spec_replicas for n, r in world.revisions.items()}
    decision = interpret(world.spec, world.status, replace(world.observe(), conflicts=("Service default/web",)), world.now)
    assert decision.replicas == before
    stalled = decision.status.condition("Stalled")
    assert stalled.status == "True" and stalled.reason == "ObjectConflict" and "Service default/web" in stalled.message
    assert [e.reason for e in decision.events] == ["ObjectConflict"]


def test_a_refused_template_creates_nothing_on_first_deploy() -> None:
    world = World(manifest(CANARY))
    observation = replace(world.observe(), template_error='spec.template.spec.containers[0].ports[0].containerPort: Invalid value: "http"')
    decision = interpret(world.spec, world.status, observation, world.now)
    assert decision.replicas == {} and decision.services == {}
    assert "containerPort" in decision.status.condition("Stalled").message


def test_a_refused_write_is_a_stalled_condition_and_one_event() -> None:
    world = healthy(CANARY)
    observation = replace(world.observe(), write_error="admission webhook denied: replicas over quota")
    first = interpret(world.spec, world.status, observation, world.now)
    assert first.status.condition("Stalled").reason == "WriteRefused"
    assert [e.reason for e in first.events] == ["WriteRefused"]
    again = interpret(world.spec, first.status, observation, world.now + 5)
    assert again.events == ()  # the same refusal is not announced twice
