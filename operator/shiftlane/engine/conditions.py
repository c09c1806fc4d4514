"""kstatus conditions (Ready, Reconciling, Stalled) derived from the phase, so generic tools read health."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shiftlane.api.status import Condition, Phase

_RECONCILING = {Phase.PENDING, Phase.PROGRESSING, Phase.PAUSED}
_STALLED = {Phase.ABORTED, Phase.DEGRADED}


@dataclass(frozen=True)
class Stall:
    """Why the Rollout cannot go on by itself (an invalid spec, a foreign object, a refused write)."""

    reason: str
    message: str


def conditions_for(
    phase: Phase,
    message: str,
    previous: list[Condition],
    generation: int,
    now: datetime,
    stall: Stall | None = None,
    rollback_image_missing: str | None = None,
) -> list[Condition]:
    wanted = {
        "Ready": (phase is Phase.HEALTHY, "RolloutHealthy" if phase is Phase.HEALTHY else phase.value, message),
        "Reconciling": (phase in _RECONCILING and stall is None, phase.value, message),
        "Stalled": (True, stall.reason, stall.message) if stall else (phase in _STALLED, phase.value, message),
    }
    if rollback_image_missing:  # shown only while it holds: a rollback to stable would fail to pull
        wanted["RollbackImageAvailable"] = (False, "RollbackImageMissing", rollback_image_missing)
    before = {c.type: c for c in previous}
    out = []
    for type_, (true, reason, text) in wanted.items():
        status = "True" if true else "False"
        old = before.get(type_)
        since = old.last_transition_time if old and old.status == status else now
        out.append(
            Condition(
                type=type_,
                status=status,
                reason=reason,
                message=text if true or type_ == "RollbackImageAvailable" else "",
                last_transition_time=since,
                observed_generation=generation,
            )
        )
    return out
