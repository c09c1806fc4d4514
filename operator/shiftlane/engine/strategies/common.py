"""Pieces several strategies share: replica arithmetic, durations and the promotion tail."""

from __future__ import annotations

import math
import re

from shiftlane.api.spec import Analysis
from shiftlane.engine.steps import Finish, Role, RunAnalysis, Scale, SetWeight, Step, TrafficMode

_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}


class CompileError(ValueError):
    """The spec asks for something this operator cannot do; it ends as a Stalled condition."""


def seconds_of(duration: str | None) -> float | None:
    if duration is None:
        return None
    return sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION_PART.findall(duration))


def share(replicas: int, percent: float) -> int:
    """Replicas for a percentage, rounded up so a non-zero share never gets zero pods."""
    return min(replicas, math.ceil(replicas * percent / 100))


def resolve(value: int | str, replicas: int, round_up: bool) -> int:
    if isinstance(value, int):
        return value
    exact = replicas * int(value.rstrip("%")) / 100
    return math.ceil(exact) if round_up else math.floor(exact)


def analysis_steps(analysis: Analysis | None) -> list[Step]:
    return [RunAnalysis(tuple(t.name for t in analysis.templates))] if analysis else []


def shift_replicas(canary: int, replicas: int) -> list[Step]:
    """Move to `canary` new pods out of `replicas`: new capacity first, then the old shrinks."""
    return [Scale(Role.CANARY, canary), Scale(Role.STABLE, replicas - canary)]


def promotion_tail(replicas: int, mode: TrafficMode, scale_down_delay: float = 0) -> list[Step]:
    """The steps that finish any rollout: full canary capacity, all traffic, then hand over."""
    if mode is TrafficMode.SHARE:
        return [*shift_replicas(replicas, replicas), Finish(scale_down_delay)]
    return [Scale(Role.CANARY, replicas), SetWeight(100), Finish(scale_down_delay)]
