"""The Rollout status: everything the operator knows, so that it can be killed and resume from here."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

from pydantic import Field

from shiftlane.api.spec import Model


class Phase(str, Enum):
    PENDING = "Pending"
    PROGRESSING = "Progressing"
    PAUSED = "Paused"
    HEALTHY = "Healthy"
    DEGRADED = "Degraded"
    ABORTED = "Aborted"


class Condition(Model):
    type: str
    status: str
    reason: str = ""
    message: str = ""
    last_transition_time: str | None = None
    observed_generation: int | None = None


class RevisionStatus(Model):
    name: str
    replicas: int = 0
    ready_replicas: int = 0
    weight: int = 0


class Command(Model):
    """A manual action, written to status by the kubectl plugin so that no Git-owned spec field drifts."""

    name: str = Field(json_schema_extra={"enum": ["promote", "promoteFull", "abort", "retry", "pause", "resume", "undo"]})
    id: Annotated[str, Field(min_length=1, max_length=64)]
    revision: str | None = None  # for undo


class Undo(Model):
    """Pins the target to an older revision until the spec's generation moves on."""

    revision: str
    generation: int


class RolloutStatus(Model):
    observed_generation: int | None = None
    phase: Phase = Phase.PENDING
    message: str = ""
    strategy: str | None = None
    current_step_index: int | None = None
    step_count: int | None = None
    step_started_at: float | None = None
    promoted_full_from: int | None = None
    progress_at: float | None = None  # when the waited-for revision last gained or lost pods
    progress_mark: str | None = None
    rollout_started_at: float | None = None
    stable_revision: str | None = None
    canary_revision: str | None = None
    aborted: bool = False
    paused_by_user: bool = False
    degraded: bool = False
    scale_down_revision: str | None = None
    scale_down_at: float | None = None
    undo: Undo | None = None
    replicas: int = 0
    ready_replicas: int = 0
    updated_replicas: int = 0
    selector: str = ""
    canary_weight: int = 0
    stable_weight: int = 100
    mirror_percent: int = 0
    header_route: bool = False
    revisions: list[RevisionStatus] = Field(default_factory=list)
    conditions: list[Condition] = Field(default_factory=list)
    command: Command | None = None
    handled_command_id: str | None = None

    def condition(self, type_: str) -> Condition | None:
        return next((c for c in self.conditions if c.type == type_), None)
