"""Pieces several strategies share: durations, the promotion tail, and the plan builder."""

from __future__ import annotations

from dataclasses import dataclass, field

from shiftlane.api.spec import Analysis
from shiftlane.engine.replicas import split
from shiftlane.engine.steps import (
    Finish,
    Plan,
    Role,
    RunAnalysis,
    Scale,
    SetHeaderRoute,
    SetMirror,
    SetWeight,
    Step,
    TemplateName,
    TrafficMode,
)

class CompileError(ValueError):
    """The spec asks for something this operator cannot do; it ends as a Stalled condition."""


def run_analysis(analysis: Analysis) -> RunAnalysis:
    return RunAnalysis(
        tuple(TemplateName(t.name, t.cluster_scope) for t in analysis.templates),
        tuple((a.name, a.value) for a in analysis.args),
    )


def analysis_steps(analysis: Analysis | None) -> list[Step]:
    return [run_analysis(analysis)] if analysis else []


def shift_replicas(new: int, old: int) -> list[Step]:
    """Move to `new` new pods and `old` old ones: new capacity first, then the old shrinks."""
    return [Scale(Role.CANARY, new), Scale(Role.STABLE, old)]


def shift_share(replicas: int, percent: float) -> list[Step]:
    """Traffic follows pods: `percent` of the pods run the new revision."""
    return shift_replicas(*split(replicas, percent))


def promotion_tail(replicas: int, mode: TrafficMode, scale_down_delay: float = 0) -> list[Step]:
    """The steps that finish any rollout: full canary capacity, all traffic, then hand over."""
    if mode is TrafficMode.SHARE:
        return [*shift_replicas(replicas, 0), Finish(scale_down_delay)]
    return [Scale(Role.CANARY, replicas), SetWeight(100), Finish(scale_down_delay)]


@dataclass
class PlanBuilder:
    """Collects steps with the strategy position each comes from, and drops steps that change nothing."""

    replicas: int
    mode: TrafficMode
    _steps: list[tuple[int, Step]] = field(default_factory=list)
    _full_from: int | None = None

    def add(self, origin: int, *steps: Step) -> None:
        self._steps += [(origin, step) for step in steps]

    def mark_full_promotion(self) -> None:
        """promote --full jumps to the next step added."""
        self._full_from = len(self._steps)

    def build(self, note: str = "", background: RunAnalysis | None = None, background_origin: int = 0) -> Plan:
        """`background` runs from the first step whose origin is `background_origin` or later."""
        shape: dict[object, object] = {Role.CANARY: 0, Role.STABLE: self.replicas, SetWeight: 0, SetHeaderRoute: (), SetMirror: 0}
        kept: list[tuple[int, Step]] = []
        full = None
        for raw_index, (origin, step) in enumerate(self._steps):
            if raw_index == self._full_from:
                full = len(kept)
            key, value = _effect(step)
            if key is not None:
                if shape[key] == value:
                    continue  # a step that changes nothing is not a step
                shape[key] = value
            kept.append((origin, step))
        full = len(kept) - 1 if full is None else min(full, len(kept) - 1)
        origins = tuple(o for o, _ in kept)
        return Plan(
            steps=tuple(s for _, s in kept),
            mode=self.mode,
            full_promotion_index=full,
            note=note,
            origins=origins,
            stages=tuple(dict.fromkeys(o for o, _ in self._steps)),
            background=background,
            background_from=next((i for i, o in enumerate(origins) if o >= background_origin), len(kept) - 1),
        )


def _effect(step: Step) -> tuple[object, object]:
    """What a step sets, as a (what, value) pair; (None, None) for steps that wait or finish."""
    if isinstance(step, Scale):
        return step.role, step.replicas
    if isinstance(step, SetWeight):
        return SetWeight, step.percent
    if isinstance(step, SetHeaderRoute):
        return SetHeaderRoute, step.matches
    if isinstance(step, SetMirror):
        return SetMirror, step.percent
    return None, None
