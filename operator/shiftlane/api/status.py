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
    """A condition of the Rollout, as metav1.Condition: kstatus `Ready`, `Reconciling`, `Stalled`, and
    `RollbackImageAvailable` while a rollback image is missing."""

    type: str
    """Ready, Reconciling, Stalled or RollbackImageAvailable."""
    status: Literal["True", "False", "Unknown"]
    """True, False or Unknown."""
    reason: str
    """Why the condition has its status, in one CamelCase word (the phase, or a stall reason such as InvalidSpec)."""
    message: str = ""
    """What a person needs to know, when the status needs explaining."""
    last_transition_time: datetime
    """When the status last changed."""
    observed_generation: int | None = None
    """The metadata.generation the condition was computed for."""


class RevisionStatus(Mutable):
    """A revision the Rollout runs: stable, canary, or one scaling down."""

    name: str
    """The revision: the hash of its pod template (its Deployment is <rollout>-<revision>)."""
    replicas: int = 0
    """Pods of the revision."""
    ready_replicas: int = 0
    """Ready pods of the revision."""
    weight: int = 0
    """Percent of traffic the revision gets."""


class Command(Model):
    """A manual action, written to status by the kubectl plugin so that no Git-owned spec field drifts."""

    name: str = Field(json_schema_extra={"enum": ["promote", "promoteFull", "abort", "retry", "pause", "resume", "undo"]})
    """The action: promote, promoteFull, abort, retry, pause, resume or undo."""
    id: Annotated[str, Field(min_length=1, max_length=64)]
    """A fresh id per request: the operator acts on each id once."""
    revision: str | None = None
    """For undo: the revision to go back to (default: the previous one)."""


class HandledCommand(Mutable):
    """The last command the operator acted on; each command id is acted on once."""

    id: str
    """The id of the command."""
    name: str
    """The action of the command."""


class Undo(Mutable):
    """Pins the rollout to an older revision until the spec's pod template changes."""

    revision: str
    """The revision the Rollout runs instead of its template's."""
    template_revision: str
    """The template revision the pin overrides; any other template ends the pin."""


class ScaleDown(Mutable):
    """A revision that no longer serves and keeps its pods until `after` (instant rollback)."""

    revision: str
    """The revision that keeps its pods."""
    after: datetime
    """When its pods go."""


class RolloutProgress(Mutable):
    """The operator's bookkeeping for the rollout in flight."""

    attempt: int
    """Counts every start, restart and retry; analysis verdicts belong to one attempt."""
    started_at: datetime
    """When the attempt started."""
    step_started_at: datetime
    """When the current step started (timed pauses count from here)."""
    plan_replicas: int
    """The replica count the plan in currentStepHash was compiled for: a new count is told apart from an
    edit of the strategy by compiling the plan again at this count."""
    promoted_full_from: int | None = None
    """promote --full jumped from this step; the steps it skipped never took effect."""
    promoted_steps: list[int] = []
    """Steps a promote cut short (a pause, an analysis or a webhook); they never took effect."""
    aborted_at: datetime | None = None
    """When traffic left the new revision (abort); its pods go abortScaleDownDelaySeconds later."""
    background_run: int = 0
    """canary.analysis runs counted: a person's promote past an inconclusive one starts the next."""


class ProgressDeadline(Mutable):
    """progressDeadlineSeconds counts from the last change in what is awaited (a Deployment's rule)."""

    last_progress_time: datetime
    """When what is awaited last changed."""
    mark: str
    """Step, available and existing pods of the awaited revision when last changed."""


class ImageStatus(Mutable):
    """A container's image as the new revision runs it: the spec's tag, pinned to its digest."""

    container: str
    """The container's name."""
    tag: str | None = None
    """The image as the spec names it."""
    digest: str
    """The digest the revision runs (sha256:...)."""


class RouterStatus(Mutable):
    """The traffic router's objects as last read back (not as last written)."""

    name: str
    """The router: gatewayAPI, istio, traefik, nginx or alb."""
    objects: list[str] = Field(default_factory=list)
    """The objects it reads and writes, as Kind/name."""
    canary_weight: int = 0
    """Percent of traffic the objects send to the canary."""
    header_route: bool = False
    """Whether the objects route matching requests to the canary."""
    mirror_percent: int = 0
    """Percent of requests the objects mirror to the canary."""


class AnalysisPhase(str, Enum):
    """Of one measurement, one metric or one whole analysis run."""

    RUNNING = "Running"
    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    INCONCLUSIVE = "Inconclusive"
    ERROR = "Error"


class MeasurementStatus(Mutable):
    phase: AnalysisPhase
    """Successful, Failed, Inconclusive or Error, as the metric's conditions judged the value."""
    value: str | None = None
    """The provider's result as JSON text."""
    message: str | None = None
    """Why it is an error or inconclusive, if it is."""
    started_at: datetime
    """When the measurement was asked for."""
    finished_at: datetime
    """When its answer came."""


class MetricStatus(Mutable):
    """One metric of an analysis run: its counts, and its last measurements (older ones are dropped)."""

    name: str
    """The metric's name in its template."""
    template: str
    """The template it comes from."""
    phase: AnalysisPhase = AnalysisPhase.RUNNING
    query: str | None = None
    """The last query asked, after argument substitution."""
    count: int = 0
    successful: int = 0
    failed: int = 0
    inconclusive: int = 0
    errors: int = 0
    consecutive_errors: int = 0
    next_measurement_at: datetime | None = None
    """When it is measured next; unset once it is over or no longer asked for."""
    measurements: list[MeasurementStatus] = Field(default_factory=list, max_length=MEASUREMENTS_KEPT)
    """The last 5 measurements, oldest first."""


class AnalysisRunStatus(Mutable):
    """An analysis the engine asked for; its measurements live here, so a restarted operator resumes it."""

    key: str
    """<revision>-<attempt>-<step>, or <revision>-<attempt>-background-<n>: one run per rollout attempt and step."""
    templates: list[str]
    """The templates it measures (cluster/NAME for a ClusterAnalysisTemplate)."""
    phase: AnalysisPhase = AnalysisPhase.RUNNING
    message: str = ""
    """Which metric decided the phase, with its counts and last value."""
    started_at: datetime
    """When the engine first asked for it."""
    metrics: list[MetricStatus] = Field(default_factory=list)
    """Each metric of its templates."""


class HookPhase(str, Enum):
    WAITING = "Waiting"
    PASSED = "Passed"
    FAILED = "Failed"


class HookStatus(Mutable):
    """A gating webhook (confirmRollout, preRollout, confirmPromotion) for one rollout attempt."""

    key: str
    """<revision>-<attempt>-<webhook name>."""
    phase: HookPhase = HookPhase.WAITING
    calls: int = 0
    last_answer: str = ""
    """How it last answered: "HTTP 403", "no answer within 10s", …"""
    next_call_at: datetime | None = None
    """When it is called again while it waits."""


class WorkloadStatus(Mutable):
    """The Deployment named by spec.workloadRef, as last observed."""

    name: str
    """The Deployment's name."""
    replicas: int = 0  # what it is told to run
    ready_replicas: int = 0
    # It has run no pod since the Rollout took over: from then on it gets no traffic from the
    # Services Shiftlane manages, and its pods are not counted as the Rollout's capacity.
    adopted: bool = False


class RolloutStatus(Mutable):
    """What the operator knows about the Rollout; it can be restarted and resume from here."""

    observed_generation: int | None = None
    """The metadata.generation this status describes."""
    phase: Phase = Phase.PENDING
    """Pending, Progressing, Paused, Healthy, Degraded or Aborted."""
    message: str = ""
    """What the Rollout does or waits for now."""
    strategy: str | None = None
    """The strategy key of the spec."""
    current_step_index: int | None = None
    """Index of the current step in the compiled plan (`kubectl shiftlane plan` lists it); unset outside a rollout."""
    step_count: int | None = None
    """Number of steps in the compiled plan."""
    step: str | None = None
    """The strategy's step the rollout is at, as 2/5 (for canary, the user's step; the last is the promotion)."""
    current_step_hash: str | None = None
    """The hash of the compiled plan currentStepIndex points into (as Argo Rollouts' currentStepHash)."""
    stable_revision: str | None = None
    """The revision that serves when no rollout runs."""
    canary_revision: str | None = None
    """The revision being rolled out."""
    aborted: bool = False
    """The rollout was aborted: the stable revision serves until retry or a new template."""
    paused_by_user: bool = False
    """Paused by `kubectl shiftlane pause` (spec.paused is separate)."""
    degraded: bool = False
    """The progress deadline passed without progress."""
    rollout_attempts: int = 0
    """Rollouts started, restarted or retried so far; never decreases."""
    rollout: RolloutProgress | None = None
    """Bookkeeping of the rollout in flight."""
    progress: ProgressDeadline | None = None
    """The progress deadline's last progress."""
    scale_down: ScaleDown | None = None
    """An old revision that keeps its pods for a while."""
    undo: Undo | None = None
    """Set by undo: the older revision that runs until the template changes."""
    replicas: int = 0
    """Pods of every revision (the scale subresource reads it)."""
    ready_replicas: int = 0
    """Ready pods of every revision."""
    updated_replicas: int = 0
    """Pods of the template's revision."""
    selector: str = ""
    """The label selector of the pods, as a string (for the scale subresource and HPAs)."""
    canary_weight: int = 0
    """Percent of traffic the canary gets."""
    stable_weight: int = 100
    """Percent of traffic the stable revision gets."""
    mirror_percent: int = 0
    """Percent of requests mirrored to the canary."""
    header_route: bool = False
    """Whether requests matching the strategy's match go to the canary."""
    router: RouterStatus | None = None
    """The traffic router's objects as last read back."""
    workload: WorkloadStatus | None = None
    """The Deployment named by spec.workloadRef, as last observed."""
    images: list[ImageStatus] = Field(default_factory=list)
    """The new revision's images, tag and pinned digest."""
    revisions: list[RevisionStatus] = Field(default_factory=list)
    """The revisions that run pods: stable, canary, and one scaling down."""
    conditions: list[Condition] = Field(
        default_factory=list,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    """kstatus conditions: Ready, Reconciling, Stalled (and RollbackImageAvailable while a rollback image is missing)."""
    analysis_runs: list[AnalysisRunStatus] = Field(default_factory=list, max_length=ANALYSIS_RUNS_KEPT)
    """The analysis runs of this rollout and the last ones before it, with their measurements (at most 8)."""
    hooks: list[HookStatus] = Field(default_factory=list, max_length=16)
    """The gating webhooks of this rollout attempt and their answers."""
    command: Command | None = None
    """A manual action for the operator, written by `kubectl shiftlane` through the status subresource."""
    handled_command: HandledCommand | None = None
    """The last command acted on."""

    def condition(self, type_: str) -> Condition | None:
        return next((c for c in self.conditions if c.type == type_), None)

    @property
    def scale_down_revision(self) -> str | None:
        return self.scale_down.revision if self.scale_down else None

    @property
    def handled_command_id(self) -> str | None:
        return self.handled_command.id if self.handled_command else None
