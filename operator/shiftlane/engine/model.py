"""The interpreter's inputs besides spec and status (Observation) and its output (Decision)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

from shiftlane.api.spec import RequestMatch
from shiftlane.api.status import Command, RolloutStatus


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


@dataclass(frozen=True)
class Observation:
    generation: int
    template_revision: str  # the revision the spec's pod template names
    revisions: Mapping[str, RevisionObservation] = field(default_factory=dict)
    analysis: Mapping[str, Verdict] = field(default_factory=dict)
    routers: frozenset[str] = frozenset()
    command: Command | None = None
    # The verdict of an analysis with no result in `analysis` yet.
    unknown_analysis: Verdict = Verdict.RUNNING


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
    key: str  # unique per revision and step, so a verdict is never reused for another rollout
    templates: tuple[str, ...]


@dataclass(frozen=True)
class Decision:
    replicas: Mapping[str, int]  # desired replicas per revision; a missing revision is created
    delete: tuple[str, ...]  # revisions past revisionHistoryLimit
    traffic: Traffic
    services: Mapping[str, str | None]  # Service suffix ("", "stable", "canary") -> revision, None = all
    status: RolloutStatus
    events: tuple[Event, ...] = ()
    analyses: tuple[AnalysisRequest, ...] = ()
    requeue_after: float | None = None
