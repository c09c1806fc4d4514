"""Adoption (spec.workloadRef): how far the engine scales the user's Deployment down, and the rule that
ready pods never drop below what the Rollout wants while its revisions take over."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shiftlane.api.status import Phase
from shiftlane.engine.adoption import workload_replicas
from shiftlane.engine.model import Decision, Observation, WorkloadObservation
from tests.unit.world import World, manifest


@pytest.mark.parametrize(
    ("mode", "spec_replicas", "wanted", "available", "expected"),
    [
        ("never", 4, 4, 0, None),
        ("never", 4, 4, 4, None),
        ("onSuccess", 4, 4, 0, 4),
        ("onSuccess", 4, 4, 3, 4),  # not whole yet: all of the Deployment stays
        ("onSuccess", 4, 4, 4, 0),
        ("onSuccess", 4, 4, 6, 0),
        ("onSuccess", 2, 4, 1, 2),
        ("progressively", 4, 4, 0, 4),
        ("progressively", 4, 4, 1, 3),
        ("progressively", 4, 4, 3, 1),
        ("progressively", 4, 4, 4, 0),
        ("progressively", 4, 4, 7, 0),
        ("progressively", 10, 4, 1, 3),  # it ran more than the Rollout wants: only what is missing stays
        ("progressively", 2, 4, 1, 2),  # it ran fewer: never scaled up
        ("progressively", 0, 4, 0, 0),
        ("progressively", 3, 0, 0, 0),  # the Rollout wants no pod
        ("onSuccess", 3, 0, 0, 0),
    ],
)
def test_workload_replicas(mode: str, spec_replicas: int, wanted: int, available: int, expected: int | None) -> None:
    assert workload_replicas(mode, spec_replicas, wanted, available) == expected


@dataclass
class Adopting(World):
    """The World with the user's Deployment beside the revisions, and revisions whose pods become
    ready `grow` at a time (all at once when None). A Deployment scaled down loses unready pods first."""

    workload: WorkloadObservation = field(default_factory=lambda: WorkloadObservation("web", 4, 4, 4))
    grow: int | None = None
    missing: tuple[str, ...] = ()

    def observe(self) -> Observation:
        return replace(super().observe(), workload=self.workload, missing=self.missing)

    def apply(self, decision: Decision) -> None:
        before = dict(self.revisions)
        super().apply(decision)
        for name, wanted in decision.replicas.items():
            if name not in self.revisions:
                continue  # pruned by the same Decision (a revision at 0 past revisionHistoryLimit)
            old = before[name].ready if name in before else 0
            ready = wanted if self.grow is None else min(wanted, old + self.grow)
            if name in self.never_ready:
                ready = 0
            self.revisions[name] = replace(self.revisions[name], ready=ready, available=ready)
        adoption = decision.adoption
        if adoption is not None and adoption.replicas is not None:
            w = self.workload
            self.workload = replace(w, spec_replicas=adoption.replicas, replicas=adoption.replicas,
                                    ready=min(w.ready, adoption.replicas))

    def ready_pods(self) -> int:
        return self.workload.ready + sum(o.ready for o in self.revisions.values())


def adopting(strategy: dict | None = None, scale_down: str = "progressively", replicas: int = 4, **world) -> Adopting:
    raw = manifest(strategy or {"canary": {"steps": [{"setWeight": 50}, {"pause": {}}]}}, replicas=replicas,
                   workloadRef={"name": "web", "scaleDown": scale_down})
    return Adopting(raw, workload=WorkloadObservation("web", replicas, replicas, replicas), **world)


def test_progressively_the_deployment_shrinks_as_the_first_revision_becomes_available() -> None:
    world = adopting(grow=1)
    counts = []
    for _ in range(8):
        decision = world.step()
        counts.append(world.workload.spec_replicas)
        assert decision.adoption is not None
    assert counts[:5] == [4, 3, 2, 1, 0]
    assert world.status.workload.adopted and world.status.phase is Phase.HEALTHY
    assert "WorkloadAdopted" in world.events() and world.events().count("WorkloadScaledDown") == 4
    assert world.decisions[-1].adoption.serving is False


def test_on_success_the_deployment_keeps_every_pod_until_the_revision_is_whole() -> None:
    world = adopting(scale_down="onSuccess", grow=1)
    counts = [(world.step(), world.workload.spec_replicas)[1] for _ in range(6)]
    assert counts[:4] == [4, 4, 4, 4] and counts[4] == 0


def test_never_leaves_the_deployment_alone_and_it_serves_until_scaled_down_by_hand() -> None:
    world = adopting(scale_down="never")
    decision = world.run()
    assert decision.adoption.replicas is None and decision.adoption.serving
    assert world.workload.spec_replicas == 4 and not world.status.workload.adopted
    world.workload = replace(world.workload, spec_replicas=0, replicas=0, ready=0)
    decision = world.run()
    assert not decision.adoption.serving and world.status.workload.adopted


def test_a_missing_deployment_stalls_naming_it_and_nothing_moves() -> None:
    world = adopting()
    world.run()
    before = dict(world.revisions)
    world.missing = ("Deployment shop/web",)
    decision = world.step()
    stalled = decision.status.condition("Stalled")
    assert stalled.status == "True" and stalled.reason == "ObjectNotFound" and "Deployment shop/web" in stalled.message
    assert decision.replicas == {n: o.spec_replicas for n, o in before.items()} and decision.adoption is None


def test_a_template_change_while_the_deployment_serves_replaces_the_first_revision_keeping_its_ready_pods() -> None:
    world = adopting(strategy={"blueGreen": {"autoPromotionEnabled": False}}, grow=1)
    world.step()
    world.step()  # the first revision has one ready pod, the Deployment three
    first = world.status.stable_revision
    world.set_image("app:2")
    decision = world.step()
    assert world.status.stable_revision != first and world.status.canary_revision is None
    assert "RevisionReplaced" in world.events()
    assert decision.replicas[first] >= 1  # its ready pod stays until the new revision's can take over
    world.run()
    assert world.status.phase is Phase.HEALTHY and world.revisions[first].spec_replicas == 0


def test_after_adoption_a_template_change_rolls_out_by_the_strategy() -> None:
    world = adopting()
    world.run()
    world.set_image("app:2")
    world.run()
    assert world.status.canary_revision is not None and world.status.phase is Phase.PAUSED
    assert world.status.canary_weight == 50 and "RevisionReplaced" not in world.events()


def test_a_deployment_scaled_up_again_after_adoption_goes_back_to_zero_without_holding_services() -> None:
    world = adopting()
    world.run()
    world.workload = replace(world.workload, spec_replicas=4, replicas=4, ready=4)  # a GitOps sync put replicas back
    decision = world.step()
    assert decision.adoption.replicas == 0 and not decision.adoption.serving


STRATEGIES = [
    {"canary": {"steps": [{"setWeight": 25}, {"pause": {}}]}},
    {"rolling": {"maxSurge": 1, "maxUnavailable": 1}},
    {"recreate": {}},
    {"blueGreen": {"autoPromotionEnabled": False}},
    {"immutable": {}},
    {"rollingBatches": {"batchSize": 1}},
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    strategy=st.sampled_from(STRATEGIES),
    scale_down=st.sampled_from(["progressively", "onSuccess", "never"]),
    replicas=st.integers(1, 6),
    extra=st.integers(0, 3),
    moves=st.lists(st.tuples(st.integers(0, 3), st.booleans()), min_size=1, max_size=20),
)
def test_ready_pods_never_drop_below_the_wanted_count_while_a_deployment_is_adopted(
    strategy: dict, scale_down: str, replicas: int, extra: int, moves: list[tuple[int, bool]]
) -> None:
    """The Deployment runs at least what the Rollout wants, all ready; between reconciles the revisions'
    pods become ready a few at a time and the Deployment's template may change. Until the Deployment
    runs no pod (adopted), ready pods of both stay at or above the wanted count; after that the
    strategy's own rules govern (recreate, say, may go to zero)."""
    world = adopting(strategy, scale_down, replicas)
    world.workload = WorkloadObservation("web", replicas + extra, replicas + extra, replicas + extra)
    for image, (grow, change_template) in enumerate(moves):
        if world.workload.spec_replicas == world.workload.replicas == 0:
            break  # adopted: the Deployment runs no pod
        if change_template:
            world.set_image(f"app:{image + 2}")
        world.grow = grow
        world.step()
        assert world.ready_pods() >= replicas, (world.workload, world.revisions, world.events()[-5:])
