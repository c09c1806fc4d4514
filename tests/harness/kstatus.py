"""kstatus's rules for a custom resource, as Flux's health checks apply them (sigs.k8s.io/cli-utils).

From the documented semantics: a resource being deleted is Terminating; a status whose
observedGeneration differs from metadata.generation has not seen the latest spec (InProgress); the
abnormal-true conditions Reconciling=True (InProgress) and Stalled=True (Failed) come next; then a Ready
condition, False meaning InProgress; a resource with none of these is taken as Current.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any


class KStatus(str, Enum):
    IN_PROGRESS = "InProgress"
    FAILED = "Failed"
    CURRENT = "Current"
    TERMINATING = "Terminating"


@dataclass(frozen=True)
class Result:
    status: KStatus
    message: str


def compute(obj: dict[str, Any]) -> Result:
    meta, status = obj.get("metadata") or {}, obj.get("status") or {}
    if meta.get("deletionTimestamp"):
        return Result(KStatus.TERMINATING, "resource is being deleted")
    observed, generation = status.get("observedGeneration"), meta.get("generation")
    if observed is not None and generation is not None and observed != generation:
        return Result(KStatus.IN_PROGRESS, f"generation {generation}, observed {observed}")
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    reconciling, stalled = conditions.get("Reconciling"), conditions.get("Stalled")
    if reconciling and reconciling.get("status") == "True":
        return Result(KStatus.IN_PROGRESS, reconciling.get("message", ""))
    if stalled and stalled.get("status") == "True":
        return Result(KStatus.FAILED, stalled.get("message", ""))
    ready = conditions.get("Ready")
    if ready and ready.get("status") == "False":
        return Result(KStatus.IN_PROGRESS, ready.get("message", ""))
    return Result(KStatus.CURRENT, "")
