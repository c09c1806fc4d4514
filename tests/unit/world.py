"""A tiny stand-in for the cluster's Deployment controller, to drive the pure interpreter in tests.

It does only what the interpreter's contract needs: a revision told N replicas gets N pods, ready
when the test says pods become ready (instantly by default).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from typing import Any

from shiftlane.api.revision import revision_of
from shiftlane.api.spec import RolloutSpec
from shiftlane.api.status import Command, RolloutStatus
from shiftlane.engine.interpret import interpret
from shiftlane.engine.model import Decision, Observation, RevisionObservation, RouterState, Verdict


def manifest(strategy: dict[str, Any], replicas: int = 4, image: str = "app:1", **extra: Any) -> dict[str, Any]:
    return {
        "replicas": replicas,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": image}]},
        },
        "strategy": strategy,
        **extra,
    }


def routed(decision: Decision) -> RouterState:
    """A router that holds exactly what the Decision asked for."""
    traffic = decision.traffic
    canary = traffic.weights.get(traffic.canary, 0) if traffic.canary else 0
    return RouterState(canary_weight=canary, header_route=bool(traffic.header_route), mirror_percent=traffic.mirror_percent)


@dataclass
class World:
    raw: dict[str, Any]
    now: float = 1000.0
    generation: int = 1
    status: RolloutStatus = field(default_factory=RolloutStatus)
    revisions: dict[str, RevisionObservation] = field(default_factory=dict)
    analysis: dict[str, Verdict] = field(default_factory=dict)
    webhooks: dict[str, Verdict] = field(default_factory=dict)
    analysis_problem: str | None = None
    routers: frozenset[str] = frozenset()
    command: Command | None = None
    never_ready: set[str] = field(default_factory=set)
    services: dict[str, str | None] = field(default_factory=dict)  # what each Service selects now
    router: RouterState | None = None  # what the route holds now, when a router is driven
    decisions: list[Decision] = field(default_factory=list)
    _counter: int = 0

    @property
    def spec(self) -> RolloutSpec:
        return RolloutSpec.model_validate(self.raw)

    @property
    def template_revision(self) -> str:
        return revision_of(self.raw["template"])

    def set_image(self, image: str) -> None:
        self.raw = copy.deepcopy(self.raw)
        self.raw["template"]["spec"]["containers"][0]["image"] = image
        self.generation += 1

    def set_replicas(self, replicas: int) -> None:
        self.raw = {**self.raw, "replicas": replicas}
        self.generation += 1

    def observe(self) -> Observation:
        return Observation(
            generation=self.generation,
            template_revision=self.template_revision,
            revisions=dict(self.revisions),
            analysis=dict(self.analysis),
            webhooks=dict(self.webhooks),
            analysis_problem=self.analysis_problem,
            routers=self.routers,
            command=self.command,
            service_revisions=dict(self.services),
            router=self.router,
        )

    def decide(self) -> Decision:
        decision = interpret(self.spec, self.status, self.observe(), self.now)
        self.decisions.append(decision)
        self.status = decision.status
        return decision

    def apply(self, decision: Decision) -> None:
        """The Deployment controller: pods follow spec replicas; ready unless marked never-ready."""
        for name, wanted in decision.replicas.items():
            current = self.revisions.get(name)
            if current is None:
                self._counter += 1
                current = RevisionObservation(name, self._counter, 0, 0, 0, 0)
            ready = 0 if name in self.never_ready else wanted
            self.revisions[name] = replace(current, spec_replicas=wanted, replicas=wanted, ready=ready, available=ready)
        for name in decision.delete:
            self.revisions.pop(name, None)
        self.services.update(decision.services)
        self.router = routed(decision) if self.spec.strategy.traffic_routing is not None else None

    def step(self) -> Decision:
        decision = self.decide()
        self.apply(decision)
        return decision

    def run(self, max_steps: int = 50) -> Decision:
        """Reconcile until nothing changes; returns the last decision."""
        previous = None
        for _ in range(max_steps):
            decision = self.step()
            key = (decision.status.model_dump_json(exclude={"conditions"}), tuple(sorted(decision.replicas.items())))
            if key == previous:
                return decision
            previous = key
        raise AssertionError("the interpreter did not settle")

    def send(self, name: str, revision: str | None = None) -> None:
        self._counter += 1
        self.command = Command(name=name, id=f"cmd-{self._counter}", revision=revision)

    def events(self) -> list[str]:
        return [e.reason for d in self.decisions for e in d.events]
