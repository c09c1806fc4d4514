"""Where a rollout stands in the user's own steps, not in the compiled plan's primitive steps.

The interpreter counts compiled steps (status.currentStepIndex); each compiled step carries the
position in the strategy it comes from (Plan.origins: the canary step, the batch, the share reached).
Grouping compiled steps by origin gives the steps a user wrote (or, for strategies without steps,
the stages the strategy goes through), and the current one; nothing here changes the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from shiftlane.api.spec import CanaryStep, RolloutSpec
from shiftlane.api.status import RolloutStatus
from shiftlane.cli.clock import span
from shiftlane.engine.steps import AwaitWebhook, Pause, Plan, RunAnalysis


# The steps a promote can cut short: waiting for time, a verdict or a webhook.
SKIPPABLE = (Pause, RunAnalysis, AwaitWebhook)


class StageState(str, Enum):
    PENDING = " "
    DONE = "✔"
    CURRENT = "▶"
    SKIPPED = "↷"
    ABORTED = "✖"


@dataclass(frozen=True)
class Stage:
    number: int  # from 1, as a user counts (and as the `kubectl get` STEP column shows it)
    text: str
    state: StageState = StageState.PENDING
    detail: str = ""  # the primitive step in progress, a pause's time left


@dataclass(frozen=True)
class Progress:
    stages: tuple[Stage, ...]
    in_progress: bool

    @property
    def current(self) -> Stage | None:
        return next((s for s in self.stages if s.state in (StageState.CURRENT, StageState.ABORTED)), None)

    @property
    def position(self) -> str:
        """`2/5`: the current user step of all, or `-` when no rollout is under way."""
        current = self.current
        return f"{current.number}/{len(self.stages)}" if current else "-"


def canary_step_text(step: CanaryStep) -> str:
    if step.set_weight is not None:
        return f"setWeight {step.set_weight}%"
    if step.set_canary_scale is not None:
        scale = step.set_canary_scale
        if scale.replicas is not None:
            return f"setCanaryScale {scale.replicas} pods"
        if scale.weight is not None:
            return f"setCanaryScale {scale.weight}% of pods"
        return "setCanaryScale matching the traffic weight"
    if step.pause is not None:
        return f"pause {step.pause.duration}" if step.pause.duration else "pause until promoted"
    assert step.analysis is not None
    return "analysis " + ", ".join(t.name for t in step.analysis.templates)


def _labels(spec: RolloutSpec, plan: Plan) -> dict[int, str]:
    """origin -> what the user reads for it."""
    groups: dict[int, list[str]] = {}
    for origin, step in zip(plan.origins, plan.steps):
        groups.setdefault(origin, []).append(step.describe())
    if spec.strategy.name == "canary":
        steps = spec.strategy.canary.steps  # type: ignore[union-attr]
        labels = {i: canary_step_text(step) for i, step in enumerate(steps)}
        labels[len(steps)] = "promote: " + ", ".join(groups.get(len(steps), ["new revision becomes stable"]))
        return labels
    return {origin: ", ".join(texts) for origin, texts in groups.items()}


def skipped_steps(plan: Plan, status: RolloutStatus) -> set[int]:
    """Compiled steps that never took effect: jumped over by promote --full, or cut short by promote."""
    if status.rollout is None:
        return set()
    skipped = {i for i in status.rollout.promoted_steps if i < len(plan.steps) and isinstance(plan.steps[i], SKIPPABLE)}
    start = status.rollout.promoted_full_from
    if start is not None and start < len(plan.steps):
        if isinstance(plan.steps[start], SKIPPABLE):
            skipped.add(start)
        skipped.update(range(start + 1, min(plan.full_promotion_index, len(plan.steps))))
    return skipped


def _time_left(plan: Plan, index: int, status: RolloutStatus, now: datetime | None) -> str:
    step = plan.steps[index]
    if not isinstance(step, Pause) or step.seconds is None or status.rollout is None:
        return ""
    left = step.seconds - (now - status.rollout.step_started_at).total_seconds() if now else None
    if left is None:
        return f"pause {step.seconds:g}s"
    return f"{span(left)} left" if left > 0 else "pause over"


def progress(spec: RolloutSpec, plan: Plan, status: RolloutStatus, now: datetime | None = None) -> Progress:
    labels = _labels(spec, plan)
    index = status.current_step_index
    in_progress = index is not None and status.canary_revision is not None and 0 <= index < len(plan.steps)
    if not in_progress:
        return Progress(tuple(Stage(n, text) for n, text in enumerate(labels.values(), 1)), False)
    assert index is not None
    current_origin = plan.origins[index]
    skipped = skipped_steps(plan, status)
    by_origin: dict[int, list[int]] = {}
    for i, origin in enumerate(plan.origins):
        by_origin.setdefault(origin, []).append(i)
    stages = []
    for number, (origin, text) in enumerate(labels.items(), 1):
        compiled = by_origin.get(origin, [])
        detail = ""
        if origin < current_origin:
            state = StageState.SKIPPED if compiled and all(i in skipped for i in compiled) else StageState.DONE
        elif origin == current_origin:
            state = StageState.ABORTED if status.aborted else StageState.CURRENT
            detail = _time_left(plan, index, status, now)
            if not detail and len(compiled) > 1:
                detail = f"at: {plan.steps[index].describe()}"
        else:
            state = StageState.PENDING
        stages.append(Stage(number, text, state, detail))
    return Progress(tuple(stages), True)
