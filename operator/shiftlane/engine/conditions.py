"""kstatus conditions (Ready, Reconciling, Stalled) derived from the phase, so generic tools read health."""

from __future__ import annotations

from typing import Any

from shiftlane.api.status import Phase

_RECONCILING = {Phase.PENDING, Phase.PROGRESSING, Phase.PAUSED}
_STALLED = {Phase.ABORTED, Phase.DEGRADED}


def conditions_for(
    phase: Phase, message: str, previous: list[dict[str, Any]], generation: int, now: str, stalled: bool = False
) -> list[dict[str, Any]]:
    wanted = {
        "Ready": (phase is Phase.HEALTHY, "RolloutHealthy" if phase is Phase.HEALTHY else phase.value),
        "Reconciling": (phase in _RECONCILING, phase.value),
        "Stalled": (stalled or phase in _STALLED, "InvalidSpec" if stalled else phase.value),
    }
    before = {c["type"]: c for c in previous}
    out = []
    for type_, (true, reason) in wanted.items():
        status = "True" if true else "False"
        old = before.get(type_)
        since = old["last_transition_time"] if old and old["status"] == status else now
        out.append(
            {
                "type": type_,
                "status": status,
                "reason": reason,
                "message": message if true else "",
                "last_transition_time": since,
                "observed_generation": generation,
            }
        )
    return out
