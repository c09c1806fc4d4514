"""Invariants from DESIGN.md over random specs and random sequences of what happens between reconciles.

Between two reconciles any number of things may happen at once: the image, the replica count (an
HPA), the strategy or its steps change, a command arrives, pods become ready in part, Services are
or are not written yet, old pods take time to terminate, analyses return verdicts, time passes.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shiftlane.engine.interpret import interpret
from shiftlane.engine.model import Decision, RevisionObservation, Verdict
from shiftlane.engine.plan import CompileError, compile_plan
from shiftlane.engine.replicas import resolve, share
from shiftlane.engine.steps import TrafficMode
from tests.unit.world import World, manifest, routed

GATEWAY = {"gatewayAPI": {"httpRoute": "web"}}
ANALYSIS = {"templates": [{"name": "rate"}]}

canary_steps = st.lists(
    st.one_of(
        st.builds(lambda w: ("w", w), st.integers(0, 100)),
        st.just(("p", None)),
        st.builds(lambda s: ("p", f"{s}s"), st.integers(1, 120)),
        st.just(("a", None)),
        st.builds(lambda n: ("s", n), st.integers(0, 6)),
    ),
    min_size=1,
    max_size=6,
)


def _canary(steps, routed: bool, background: int | None = None):
    out, weights = [], sorted(w for kind, w in steps if kind == "w")
    for kind, value in steps:
        if kind == "w":
            out.append({"setWeight": weights.pop(0)})
        elif kind == "p":
            out.append({"pause": {"duration": value} if value else {}})
        elif kind == "a":
            out.append({"analysis": ANALYSIS})
        else:
            out.append({"setCanaryScale": {"replicas": value}})
    extra = {"analysis": {**ANALYSIS, "startingStep": min(background, len(out) - 1)}} if background is not None else {}
    return {"canary": {"steps": out, **({"trafficRouting": GATEWAY} if routed else {}), **extra}}


strategies = st.one_of(
    st.just({"recreate": {}}),
    st.builds(lambda s, u: {"rolling": {"maxSurge": s, "maxUnavailable": u}}, st.integers(0, 3), st.integers(1, 3)),
    st.builds(lambda s: {"rolling": {"maxSurge": s, "maxUnavailable": "25%"}}, st.sampled_from(["25%", "50%", 1])),
    st.builds(
        lambda b, p, a: {"rollingBatches": {"batchSize": b, **({"pauseBetween": "30s"} if p else {}), **({"analysis": ANALYSIS} if a else {})}},
        st.one_of(st.integers(1, 5), st.sampled_from(["30%", "50%"])), st.booleans(), st.booleans(),
    ),
    st.builds(
        lambda a, d, pre: {"blueGreen": {"autoPromotionEnabled": a, "scaleDownDelaySeconds": d, **({"prePromotionAnalysis": ANALYSIS} if pre else {})}},
        st.booleans(), st.integers(0, 60), st.booleans(),
    ),
    st.builds(lambda d, a: {"immutable": {"scaleDownDelaySeconds": d, **({"analysis": ANALYSIS} if a else {})}}, st.integers(0, 60), st.booleans()),
    st.builds(_canary, canary_steps, st.booleans(), st.one_of(st.none(), st.integers(0, 5))),
    st.builds(lambda p, b: {"elastic": {"stepPercent": p, **({"pauseBetween": "20s"} if b else {})}}, st.integers(10, 100), st.booleans()),
    st.just({"abTesting": {"match": [{"headers": [{"name": "x", "exact": "1"}]}], "duration": "30s", "trafficRouting": GATEWAY}}),
    st.builds(lambda m: {"shadow": {"mirrorPercent": m, "duration": "30s", "trafficRouting": GATEWAY}}, st.integers(1, 100)),
)

COMMANDS = ["promote", "promoteFull", "abort", "retry", "pause", "resume", "undo"]

# One change between two reconciles; a batch of them arrives at once.
change = st.one_of(
    st.tuples(st.just("tick"), st.integers(1, 200)),
    st.tuples(st.just("command"), st.sampled_from(COMMANDS)),
    st.tuples(st.just("image"), st.integers(1, 4)),
    st.tuples(st.just("scale"), st.integers(0, 8)),
    st.tuples(st.just("strategy"), strategies),
    st.tuples(st.just("verdict"), st.sampled_from(list(Verdict))),
    st.tuples(st.just("webhook"), st.sampled_from(list(Verdict))),
    st.tuples(st.just("template"), st.booleans()),
)
# Gating webhooks a spec may carry (their answers arrive as "webhook" changes).
hooks = st.lists(st.sampled_from(["confirmRollout", "preRollout", "confirmPromotion"]), unique=True, max_size=3).map(
    lambda types: [{"name": t.lower(), "type": t, "url": "http://127.0.0.1:9/hook"} for t in types]
)
# After the reconcile: the share of wanted pods that are ready, whether the Services were written,
# whether removed pods linger as terminating.
aftermath = st.tuples(st.floats(0, 1), st.booleans(), st.booleans())
moves = st.lists(st.tuples(st.lists(change, min_size=1, max_size=3), aftermath), min_size=5, max_size=30)


def _apply(world: World, decision: Decision, fraction: float, services_written: bool, grace: bool) -> None:
    """The cluster after a Decision: some pods ready, maybe Services, maybe pods still terminating."""
    for name, wanted in decision.replicas.items():
        current = world.revisions.get(name)
        if current is None:
            world._counter += 1
            current = RevisionObservation(name, world._counter, 0, 0, 0, 0)
        kept = current.ready if current.spec_replicas == wanted else min(current.ready, wanted)
        ready = min(wanted, max(kept, round(wanted * fraction)))
        leaving = max(0, current.replicas - wanted) if grace else 0
        world.revisions[name] = replace(
            current, spec_replicas=wanted, replicas=wanted, ready=ready, available=ready, terminating=leaving
        )
    for name in decision.delete:
        world.revisions.pop(name, None)
    if services_written:  # Services and routes are written together, and seen at the next reconcile
        world.services.update(decision.services)
        world.router = routed(decision) if world.spec.strategy.traffic_routing is not None else None


def _minimum_available(world: World) -> int:
    strategy = world.spec.strategy
    if strategy.name == "recreate":
        return 0
    if strategy.name == "rolling":
        return world.spec.replicas - resolve(strategy.config.max_unavailable, world.spec.replicas, round_up=False)
    return world.spec.replicas


def _mode(world: World) -> TrafficMode:
    try:
        return compile_plan(world.spec, world.routers).mode
    except CompileError:
        return TrafficMode.SWITCH


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(strategy=strategies, replicas=st.integers(0, 6), moves=moves, webhooks=hooks, rollback=st.booleans())
def test_invariants_hold_for_any_sequence(strategy, replicas, moves, webhooks, rollback) -> None:
    extra = {"webhooks": webhooks, "rollbackOnFailure": rollback}
    world = World(manifest(strategy, replicas=replicas, **extra), routers=frozenset({"gatewayAPI"}))
    world.run()
    for changes, (fraction, services_written, grace) in moves:
        for kind, value in changes:
            if kind == "tick":
                world.now += value
            elif kind == "command":
                world.send(value)
            elif kind == "image":
                world.set_image(f"app:{value}")
            elif kind == "scale":
                world.set_replicas(value)
            elif kind == "strategy":
                world.raw = {**world.raw, "strategy": value}
                world.generation += 1
            elif kind == "verdict":
                for request in world.decisions[-1].analyses:
                    world.analysis[request.key] = value
            elif kind == "webhook":
                for request in world.decisions[-1].webhooks:
                    world.webhooks[request.key] = value
            elif kind == "template":
                world.analysis_problem = "AnalysisTemplate default/rate not found" if value else None
        before = dict(world.revisions)
        status, obs, now = world.status, world.observe(), world.now
        decision = world.decide()

        # Never an exception, whatever arrived.
        assert "InternalError" not in [e.reason for e in decision.events], decision.status.message

        # Same inputs, same decision.
        assert interpret(world.spec, status, obs, now) == decision

        s = decision.status
        weights = decision.traffic.weights
        assert sum(weights.values()) == 100
        ready_anywhere = any(r.ready > 0 for r in before.values())
        for name, weight in weights.items():
            if weight > 0 and ready_anywhere:
                assert before.get(name) is not None and before[name].ready > 0, ("weight without ready pods", name, weights)

        # The step index belongs to the plan it indexes.
        if s.canary_revision and s.current_step_index is not None:
            plan = compile_plan(world.spec, world.routers)
            assert s.current_step_hash == plan.hash
            assert 0 <= s.current_step_index < len(plan.steps)

        # Only the revisions of this rollout grow; any other only drains.
        allowed = {s.stable_revision, s.canary_revision, s.scale_down_revision}
        for name, wanted in decision.replicas.items():
            if name not in allowed:
                assert before.get(name) is not None and wanted <= before[name].spec_replicas, ("a third revision grows", name)
                if wanted > 0 and s.canary_revision in decision.replicas:
                    canary_before = before.get(s.canary_revision)
                    grown = decision.replicas[s.canary_revision] > (canary_before.spec_replicas if canary_before else 0)
                    assert not grown, "the newest grows while a superseded revision still runs"

        reduced = {n for n, o in before.items() if decision.replicas.get(n, 0) < o.spec_replicas}
        if _mode(world) is TrafficMode.SHARE:
            # Traffic follows pods: a reduction never takes available pods below what the strategy allows.
            minimum = _minimum_available(world)
            available_before = sum(o.available for o in before.values())
            available_after = sum(
                min(o.available, decision.replicas.get(n, 0)) if n in reduced else o.available for n, o in before.items()
            )
            if reduced:
                assert available_after >= min(minimum, available_before), ("capacity dropped", minimum, available_after)
        else:
            # Traffic moves before pods go: never in the same Decision, never while a Service selects them.
            previous = {r.name: r.weight for r in status.revisions}
            for name, weight in weights.items():
                # Serving capacity never drops below what the revision's share of traffic needs.
                needed = min(before[name].available, share(world.spec.replicas, weight)) if name in before else 0
                assert decision.replicas.get(name, 0) >= needed, ("capacity below the traffic share", name, weight)
            for name in reduced:
                assert weights.get(name, 0) >= previous.get(name, 0), ("pods removed as traffic leaves", name)
                assert obs.service_revisions.get("") != name or decision.services.get("") == name
                reached = obs.router is not None and obs.service_revisions.get("canary") == name != obs.service_revisions.get("stable")
                if reached and not weights.get(name, 0):
                    router = obs.router
                    assert not (router.canary_weight or router.header_route or router.mirror_percent), (
                        "canary pods removed while the route still sends it requests", name)
            if s.aborted and s.canary_revision in reduced and s.rollout and s.rollout.aborted_at:
                released = s.rollout.aborted_at.timestamp() + world.spec.abort_scale_down_delay_seconds
                assert now >= released, "aborted canary scaled down before abortScaleDownDelaySeconds"

        # Reconciling again with nothing changed asks for the same world, except that pods kept only
        # because their traffic was leaving in this Decision may go in the next.
        repeat = interpret(world.spec, decision.status, obs, now)
        assert repeat.traffic == decision.traffic
        previous = {r.name: r.weight for r in status.revisions}
        draining = any(n not in allowed and count > 0 for n, count in decision.replicas.items())
        for name, wanted in repeat.replicas.items():
            left = weights.get(name, 0) < previous.get(name, 0)
            released = left and wanted < decision.replicas.get(name, 0)
            follows = draining and name == s.canary_revision  # the newest grows once the drained one went
            assert wanted == decision.replicas.get(name) or released or follows, name

        world.command = None
        _apply(world, decision, fraction, services_written, grace)
