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
    # type -> (status, reason, message); a message only where it explains the state shown.
    ready, reconciling = phase is Phase.HEALTHY, phase in _RECONCILING and stall is None
    stalled = stall is not None or phase in _STALLED
    wanted = {
        "Ready": (ready, "RolloutHealthy" if ready else phase.value, message if ready else ""),
        "Reconciling": (reconciling, phase.value, message if reconciling else ""),
        "Stalled": (True, stall.reason, stall.message) if stall else (stalled, phase.value, message if stalled else ""),
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
                message=text,
                last_transition_time=since,
                observed_generation=generation,
            )
        )
    return out
