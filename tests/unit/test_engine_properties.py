"""Invariants from DESIGN.md over random specs and random sequences of what the cluster shows."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shiftlane.engine.interpret import interpret
from shiftlane.engine.model import Verdict
from shiftlane.engine.plan import compile_plan
from shiftlane.engine.steps import TrafficMode
from tests.unit.world import World, manifest

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


def _canary(steps):
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
    return {"canary": {"steps": out}}


strategies = st.one_of(
    st.just({"recreate": {}}),
    st.builds(lambda s, u: {"rolling": {"maxSurge": s, "maxUnavailable": u}}, st.integers(0, 3), st.integers(1, 3)),
    st.builds(lambda b, p: {"rollingBatches": {"batchSize": b, **({"pauseBetween": "30s"} if p else {})}}, st.integers(1, 5), st.booleans()),
    st.builds(lambda a, d: {"blueGreen": {"autoPromotionEnabled": a, "scaleDownDelaySeconds": d}}, st.booleans(), st.integers(0, 60)),
    st.builds(lambda d, a: {"immutable": {"scaleDownDelaySeconds": d, **({"analysis": ANALYSIS} if a else {})}}, st.integers(0, 60), st.booleans()),
    canary_steps.map(_canary),
    st.builds(lambda p: {"elastic": {"stepPercent": p}}, st.integers(10, 100)),
    st.just({"abTesting": {"match": [{"headers": [{"name": "x", "exact": "1"}]}], "duration": "30s", "trafficRouting": GATEWAY}}),
    st.builds(lambda m: {"shadow": {"mirrorPercent": m, "duration": "30s", "trafficRouting": GATEWAY}}, st.integers(1, 100)),
)

# What happens between two reconciles.
moves = st.lists(
    st.one_of(
        st.tuples(st.just("settle"), st.floats(0, 1)),  # a share of pods become ready
        st.tuples(st.just("tick"), st.integers(1, 200)),
        st.tuples(st.just("command"), st.sampled_from(["promote", "promoteFull", "abort", "retry", "pause", "resume", "undo"])),
        st.tuples(st.just("image"), st.integers(2, 4)),
        st.tuples(st.just("scale"), st.integers(0, 8)),
        st.tuples(st.just("verdict"), st.sampled_from(list(Verdict))),
    ),
    min_size=5,
    max_size=40,
)

SAFE_SHIFT = ("canary", "blueGreen", "immutable", "rollingBatches", "elastic", "abTesting", "shadow")


def _observe_partially(world: World, decision, fraction: float) -> None:
    for name, wanted in decision.replicas.items():
        current = world.revisions.get(name)
        if current is None:
            world._counter += 1
            from shiftlane.engine.model import RevisionObservation

            current = RevisionObservation(name, world._counter, 0, 0, 0, 0)
        ready = min(wanted, max(current.ready if current.spec_replicas == wanted else 0, round(wanted * fraction)))
        world.revisions[name] = replace(current, spec_replicas=wanted, replicas=wanted, ready=ready, available=ready)
    for name in decision.delete:
        world.revisions.pop(name, None)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(strategy=strategies, replicas=st.integers(1, 6), moves=moves)
def test_invariants_hold_for_any_sequence(strategy, replicas, moves) -> None:
    world = World(manifest(strategy, replicas=replicas), routers=frozenset({"gatewayAPI"}))
    world.run()
    last = None
    for kind, value in moves:
        if kind == "tick":
            world.now += value
        elif kind == "command":
            world.send(value)
        elif kind == "image":
            world.set_image(f"app:{value}")
        elif kind == "scale":
            world.set_replicas(value)
        elif kind == "verdict" and world.status.canary_revision:
            for key in (a.key for d in world.decisions[-1:] for a in d.analyses):
                world.analysis[key] = value
        before = dict(world.revisions)
        obs, status, now = world.observe(), world.status, world.now
        decision = world.decide()

        # Same inputs, same decision.
        again = interpret(world.spec, status, obs, now)
        assert again == decision

        weights = decision.traffic.weights
        assert sum(weights.values()) == 100
        ready_anywhere = world.spec.replicas > 0 and any(r.ready > 0 for r in before.values())
        for name, weight in weights.items():
            if weight > 0 and ready_anywhere:
                assert before.get(name) is not None and before[name].ready > 0, (name, weights)

        s = decision.status
        allowed = {s.stable_revision, s.canary_revision, s.scale_down_revision}
        running = {name for name, n in decision.replicas.items() if n > 0}
        assert running <= allowed  # never a mix of stable, an old canary and a new one

        if s.aborted and s.canary_revision:
            if compile_plan(world.spec, world.routers).mode is TrafficMode.SHARE:
                # Traffic follows pods: the canary keeps serving only until stable is whole again.
                stable_obs = before.get(s.stable_revision)
                stable_whole = stable_obs is not None and stable_obs.available >= world.spec.replicas
                assert not (stable_whole and decision.replicas[s.canary_revision] > 0)
            else:
                assert weights.get(s.canary_revision, 0) == 0

        name = world.spec.strategy.name
        stable = s.stable_revision
        if name in SAFE_SHIFT and s.canary_revision and last is not None and stable in last.replicas:
            lowered = decision.replicas[stable] < last.replicas[stable]
            if lowered:
                canary_up = before.get(s.canary_revision)
                assert decision.replicas[stable] + (canary_up.available if canary_up else 0) >= world.spec.replicas

        # Reconciling again with nothing changed asks for the same world.
        repeat = interpret(world.spec, decision.status, obs, now)
        assert repeat.replicas == decision.replicas
        assert repeat.traffic == decision.traffic

        world.command = None
        fraction = next((v for k, v in moves if k == "settle"), 1.0)
        _observe_partially(world, decision, fraction if kind == "settle" else 1.0)
        last = decision
