"""The interpreter's inputs besides spec and status (Observation) and its output (Decision)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

from shiftlane.api.spec import RequestMatch
from shiftlane.api.status import Command, RolloutStatus
from shiftlane.engine.steps import RunAnalysis


class Verdict(str, Enum):
    RUNNING = "Running"
    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    INCONCLUSIVE = "Inconclusive"


@dataclass(frozen=True)
class RevisionObservation:
    """What the cluster shows of one revision Deployment."""

    name: str
    number: int  # creation order, for history pruning and `undo` to the previous revision
    spec_replicas: int  # what the Deployment was last told
    replicas: int  # pods that exist, ready or not
    ready: int
    available: int
    # Pods of this revision being deleted: a Deployment's counts leave them out, but they still run
    # (a grace period), so `recreate` waits for them before it starts the new revision.
    terminating: int = 0


@dataclass(frozen=True)
class ImageDigest:
    """A container's image as the registry resolved it."""

    container: str
    tag: str | None
    digest: str


class ImageGate(str, Enum):
    ALLOWED = "Allowed"
    BLOCKED = "Blocked"  # the policy refuses the images (a finding, a denied tag, a missing image)
    WAITING = "Waiting"  # a scan still runs, or the registry cannot be asked right now


@dataclass(frozen=True)
class ImageCheck:
    """The registry's verdict on the template revision's images, before it gets any pod."""

    gate: ImageGate
    reason: str = ""  # why it is blocked, in CamelCase (ImageVulnerable, ImageNotFound, …)
    message: str = ""
    retry_after: float | None = None
    images: tuple[ImageDigest, ...] = ()


@dataclass(frozen=True)
class RouterState:
    """What a traffic router's objects hold now, read back from the cluster (not what we last wrote)."""

    canary_weight: int  # percent of requests to the `<rollout>-canary` backend; the rest to stable
    header_route: bool  # Shiftlane's match rule to the canary is in place
    mirror_percent: int  # share of requests mirrored to the canary
    # Why the router cannot hold a traffic state (e.g. "HTTPRoute shop/checkout not found"): the
    # Rollout stalls naming it while the stable revision keeps serving.
    problems: tuple[str, ...] = ()
    objects: tuple[str, ...] = ()  # what the router manages, as "Kind namespace/name", for status


@dataclass(frozen=True)
class WorkloadObservation:
    """The Deployment a Rollout adopts (spec.workloadRef), as the cluster shows it."""

    name: str
    spec_replicas: int  # what the Deployment is told to run
    replicas: int  # its pods that exist, ready or not
    ready: int


@dataclass(frozen=True)
class Observation:
    generation: int
    template_revision: str  # the revision the spec's pod template names
    revisions: Mapping[str, RevisionObservation] = field(default_factory=dict)
    analysis: Mapping[str, Verdict] = field(default_factory=dict)  # by AnalysisRequest key
    routers: frozenset[str] = frozenset()
    command: Command | None = None
    # Service suffix ("", "stable", "canary") -> the revision its selector names now (None: every
    # revision). A suffix that is missing has no Service yet. Pods leave only after traffic has.
    service_revisions: Mapping[str, str | None] = field(default_factory=dict)
    # Objects Shiftlane would write but did not create (e.g. "Service shop/checkout"): never touched;
    # the Rollout stalls naming them.
    conflicts: tuple[str, ...] = ()
    # The API server's refusal of the template's revision Deployment (a server-side dry-run), if any.
    template_error: str | None = None
    # The API server's message for the last write it refused for this Rollout (403, 422, an admission
    # webhook), until a write succeeds again: the Rollout shows it as Stalled=True with an Event.
    write_error: str | None = None
    # The registry's verdict on the template revision's images, while that revision has no Deployment.
    image_check: ImageCheck | None = None
    # Why a rollback to the stable revision would fail (its image digest is gone from the registry).
    rollback_image_missing: str | None = None
    # The router's objects as read back, when the strategy names a router this build drives.
    router: RouterState | None = None
    # Gating webhooks' answers by WebhookRequest key: SUCCESSFUL (2xx), FAILED (preRollout out of
    # retries), RUNNING otherwise.
    webhooks: Mapping[str, Verdict] = field(default_factory=dict)
    # Why the analysis templates the strategy names cannot run (missing, or a condition that does not
    # compile): a rollout in flight stalls naming the template.
    analysis_problem: str | None = None
    # The Deployment named by spec.workloadRef, when it exists.
    workload: WorkloadObservation | None = None
    # Objects the Rollout names that do not exist (e.g. "Deployment shop/web"): it stalls naming them.
    missing: tuple[str, ...] = ()


@dataclass(frozen=True)
class Event:
    reason: str
    message: str
    type: str = "Normal"


@dataclass(frozen=True)
class Traffic:
    weights: Mapping[str, int]  # revision -> percent; sums to 100
    header_route: tuple[RequestMatch, ...] = ()  # to the canary
    mirror_percent: int = 0  # to the canary
    canary: str | None = None


@dataclass(frozen=True)
class AnalysisRequest:
    key: str  # unique per revision, attempt and step, so a verdict is never reused for another rollout
    analysis: RunAnalysis
    background: bool = False


@dataclass(frozen=True)
class WebhookRequest:
    key: str  # unique per revision, attempt and webhook name
    webhook: str  # its name in spec.webhooks


@dataclass(frozen=True)
class Adoption:
    """What becomes of the Deployment named by spec.workloadRef."""

    replicas: int | None  # what it should run; None leaves it as it is
    # Its pods may still get requests: Services the user named keep their own selector (no revision
    # key), so they reach its pods and the revisions' alike.
    serving: bool


@dataclass(frozen=True)
class Decision:
    replicas: Mapping[str, int]  # desired replicas per revision; a missing revision is created
    delete: tuple[str, ...]  # revisions past revisionHistoryLimit
    traffic: Traffic
    services: Mapping[str, str | None]  # Service suffix ("", "stable", "canary") -> revision, None = all
    status: RolloutStatus
    events: tuple[Event, ...] = ()
    analyses: tuple[AnalysisRequest, ...] = ()
    webhooks: tuple[WebhookRequest, ...] = ()
    requeue_after: float | None = None
    adoption: Adoption | None = None
