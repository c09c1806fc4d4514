"""The Rollout status: everything the operator knows, so that it can be killed and resume from here.

Field names follow Kubernetes conventions: times are RFC 3339 strings, conditions are a list-map
keyed by `type`. What only the operator's own bookkeeping needs is grouped under `rollout` and `progress`.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from shiftlane.api.spec import Model

MEASUREMENTS_KEPT = 5  # per metric: status stays small however long an analysis runs
ANALYSIS_RUNS_KEPT = 8


class Phase(str, Enum):
    PENDING = "Pending"
    PROGRESSING = "Progressing"
    PAUSED = "Paused"
    HEALTHY = "Healthy"
    DEGRADED = "Degraded"
    ABORTED = "Aborted"


class Mutable(Model):
    """Status parts the interpreter edits in place on its own copy (the spec models stay frozen)."""

    model_config = ConfigDict(frozen=False)


class Condition(Mutable):
    """A metav1.Condition."""

    type: str
    status: Literal["True", "False", "Unknown"]
    reason: str
    message: str = ""
    last_transition_time: datetime
    observed_generation: int | None = None


class RevisionStatus(Mutable):
    name: str
    replicas: int = 0
    ready_replicas: int = 0
    weight: int = 0


class Command(Model):
    """A manual action, written to status by the kubectl plugin so that no Git-owned spec field drifts."""

    name: str = Field(json_schema_extra={"enum": ["promote", "promoteFull", "abort", "retry", "pause", "resume", "undo"]})
    id: Annotated[str, Field(min_length=1, max_length=64)]
    revision: str | None = None  # for undo


class HandledCommand(Mutable):
    """The last command the operator acted on; each command id is acted on once."""

    id: str
    name: str


class Undo(Mutable):
    """Pins the rollout to an older revision until the spec's pod template changes."""

    revision: str
    template_revision: str  # the template revision the pin overrides; any other template ends it


class ScaleDown(Mutable):
    """A revision that no longer serves and keeps its pods until `after` (instant rollback)."""

    revision: str
    after: datetime


class RolloutProgress(Mutable):
    """The operator's bookkeeping for the rollout in flight."""

    attempt: int  # counts every start, restart and retry; analysis verdicts belong to one attempt
    started_at: datetime
    step_started_at: datetime
    # The replica count the plan in currentStepHash was compiled for: a new count is told apart
    # from an edit of the strategy by compiling the plan again at this count.
    plan_replicas: int
    # promote --full jumped from this step; the steps it skipped never took effect.
    promoted_full_from: int | None = None
    # Traffic left the new revision at this time (abort); its pods go abortScaleDownDelaySeconds later.
    aborted_at: datetime | None = None
    # canary.analysis runs counted: a person's promote past an inconclusive one starts the next.
    background_run: int = 0


class ProgressDeadline(Mutable):
    """progressDeadlineSeconds counts from the last change in what is awaited (a Deployment's rule)."""

    last_progress_time: datetime
    mark: str  # step, available and existing pods of the awaited revision when last changed


class ImageStatus(Mutable):
    """A container's image as the new revision runs it: the spec's tag, pinned to its digest."""

    container: str
    tag: str | None = None
    digest: str


class RouterStatus(Mutable):
    """The traffic router's objects as last read back (not as last written)."""

    name: str  # gatewayAPI, istio, traefik, nginx, alb
    objects: list[str] = Field(default_factory=list)
    canary_weight: int = 0
    header_route: bool = False
    mirror_percent: int = 0


class AnalysisPhase(str, Enum):
    """Of one measurement, one metric or one whole analysis run."""

    RUNNING = "Running"
    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    INCONCLUSIVE = "Inconclusive"
    ERROR = "Error"


class MeasurementStatus(Mutable):
    phase: AnalysisPhase
    value: str | None = None  # the provider's result as JSON text
    message: str | None = None  # the provider's error, if any
    started_at: datetime
    finished_at: datetime


class MetricStatus(Mutable):
    """One metric of an analysis run: its counts, and its last measurements (older ones are dropped)."""

    name: str
    template: str
    phase: AnalysisPhase = AnalysisPhase.RUNNING
    query: str | None = None  # the last query asked, after argument substitution
    count: int = 0
    successful: int = 0
    failed: int = 0
    inconclusive: int = 0
    errors: int = 0
    consecutive_errors: int = 0
    next_measurement_at: datetime | None = None
    measurements: list[MeasurementStatus] = Field(default_factory=list, max_length=MEASUREMENTS_KEPT)


class AnalysisRunStatus(Mutable):
    """An analysis the engine asked for; its measurements live here, so a restarted operator resumes it."""

    key: str  # <revision>-<attempt>-<step> or <revision>-<attempt>-background
    templates: list[str]
    phase: AnalysisPhase = AnalysisPhase.RUNNING
    message: str = ""
    started_at: datetime
    metrics: list[MetricStatus] = Field(default_factory=list)


class HookPhase(str, Enum):
    WAITING = "Waiting"
    PASSED = "Passed"
    FAILED = "Failed"


class HookStatus(Mutable):
    """A gating webhook (confirmRollout, preRollout, confirmPromotion) for one rollout attempt."""

    key: str  # <revision>-<attempt>-<webhook name>
    phase: HookPhase = HookPhase.WAITING
    calls: int = 0
    last_answer: str = ""  # "HTTP 403", "timeout", …
    next_call_at: datetime | None = None


class WorkloadStatus(Mutable):
    """The Deployment named by spec.workloadRef, as last observed."""

    name: str
    replicas: int = 0  # what it is told to run
    ready_replicas: int = 0
    # It has run no pod since the Rollout took over: from then on it gets no traffic from the
    # Services Shiftlane manages, and its pods are not counted as the Rollout's capacity.
    adopted: bool = False


class RolloutStatus(Mutable):
    observed_generation: int | None = None
    phase: Phase = Phase.PENDING
    message: str = ""
    strategy: str | None = None
    current_step_index: int | None = None
    step_count: int | None = None
    # The hash of the compiled plan current_step_index points into (as Argo's currentStepHash).
    current_step_hash: str | None = None
    stable_revision: str | None = None
    canary_revision: str | None = None
    aborted: bool = False
    paused_by_user: bool = False
    degraded: bool = False
    rollout_attempts: int = 0  # rollouts started, restarted or retried so far; never decreases
    rollout: RolloutProgress | None = None
    progress: ProgressDeadline | None = None
    scale_down: ScaleDown | None = None
    undo: Undo | None = None
    replicas: int = 0
    ready_replicas: int = 0
    updated_replicas: int = 0
    selector: str = ""
    canary_weight: int = 0
    stable_weight: int = 100
    mirror_percent: int = 0
    header_route: bool = False
    router: RouterStatus | None = None
    workload: WorkloadStatus | None = None
    images: list[ImageStatus] = Field(default_factory=list)
    revisions: list[RevisionStatus] = Field(default_factory=list)
    conditions: list[Condition] = Field(
        default_factory=list,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    analysis_runs: list[AnalysisRunStatus] = Field(default_factory=list, max_length=ANALYSIS_RUNS_KEPT)
    hooks: list[HookStatus] = Field(default_factory=list, max_length=16)
    command: Command | None = None
    handled_command: HandledCommand | None = None

    def condition(self, type_: str) -> Condition | None:
        return next((c for c in self.conditions if c.type == type_), None)

    @property
    def scale_down_revision(self) -> str | None:
        return self.scale_down.revision if self.scale_down else None

    @property
    def handled_command_id(self) -> str | None:
        return self.handled_command.id if self.handled_command else None
