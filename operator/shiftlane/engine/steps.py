"""Primitive steps: what every strategy compiles to, and what the interpreter walks through."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import Enum

from shiftlane.api.spec import RequestMatch


class Role(str, Enum):
    STABLE = "stable"
    CANARY = "canary"


@dataclass(frozen=True)
class Scale:
    """Set a revision's replicas; done when that many are available and no surplus pods remain."""

    role: Role
    replicas: int

    def describe(self) -> str:
        return f"scale {self.role.value} to {self.replicas}"


@dataclass(frozen=True)
class SetWeight:
    """Send this share of traffic to the canary through the traffic router (or the switch Service)."""

    percent: int

    def describe(self) -> str:
        return f"set canary weight {self.percent}%"


@dataclass(frozen=True)
class SetHeaderRoute:
    """Route requests matching these rules to the canary; an empty tuple removes the route."""

    matches: tuple[RequestMatch, ...]

    def describe(self) -> str:
        return "route matching requests to canary" if self.matches else "remove header route"


@dataclass(frozen=True)
class SetMirror:
    """Mirror this share of live requests to the canary; 0 removes the mirror."""

    percent: int

    def describe(self) -> str:
        return f"mirror {self.percent}% of requests to canary" if self.percent else "remove mirror"


@dataclass(frozen=True)
class Pause:
    """Wait this long, or until promoted when seconds is None."""

    seconds: float | None

    def describe(self) -> str:
        return "pause until promoted" if self.seconds is None else f"pause {self.seconds:g}s"


@dataclass(frozen=True)
class TemplateName:
    name: str
    cluster_scope: bool = False  # a ClusterAnalysisTemplate

    def __str__(self) -> str:
        return f"cluster/{self.name}" if self.cluster_scope else self.name


@dataclass(frozen=True)
class RunAnalysis:
    """Run the templates' metrics; done when the run succeeds. Background runs beside the steps."""

    templates: tuple[TemplateName, ...]
    args: tuple[tuple[str, str], ...] = ()  # (name, value) the Rollout gives the templates' args

    def describe(self) -> str:
        return "analysis " + ", ".join(map(str, self.templates))


@dataclass(frozen=True)
class AwaitWebhook:
    """Call the webhooks of one type (confirmRollout, preRollout, confirmPromotion); done when each answers 2xx."""

    type: str
    names: tuple[str, ...]

    def describe(self) -> str:
        return f"{self.type} webhook " + ", ".join(self.names)


@dataclass(frozen=True)
class Finish:
    """The canary becomes stable; the old stable is scaled to zero after the delay."""

    scale_down_delay_seconds: float

    def describe(self) -> str:
        delay = f" after {self.scale_down_delay_seconds:g}s" if self.scale_down_delay_seconds else ""
        return f"promote canary to stable, scale old down{delay}"


Step = Scale | SetWeight | SetHeaderRoute | SetMirror | Pause | RunAnalysis | AwaitWebhook | Finish


class TrafficMode(str, Enum):
    SHARE = "share"  # the main Service selects every revision: traffic follows ready pods
    SWITCH = "switch"  # the main Service selects one revision: all traffic moves at once
    ROUTER = "router"  # a traffic router (HTTPRoute, VirtualService, …) holds the weights


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    mode: TrafficMode
    # promote --full jumps here: the steps that complete the rollout at once.
    full_promotion_index: int
    note: str = ""
    # What each step means in the strategy (the user's canary step, the batch, the share reached),
    # non-decreasing: after a replica change the rollout resumes at the same meaning.
    origins: tuple[int, ...] = ()
    # Every strategy position the plan was built from, in order, including those whose steps all
    # changed nothing: the user's steps, as `kubectl get` counts them.
    stages: tuple[int, ...] = ()
    # canary.analysis: runs from step `background_from` until the rollout completes.
    background: RunAnalysis | None = None
    background_from: int = 0

    @property
    def hash(self) -> str:
        """Names this exact plan, so a step index is never read against a different one."""
        text = repr((self.mode.value, self.steps, self.origins, self.full_promotion_index, self.background, self.background_from))
        return hashlib.sha256(text.encode()).hexdigest()[:10]

    def resume_index(self, origin: int) -> int:
        """The first step at or past `origin`: where a rollout stands in a plan recompiled for a new count."""
        return next((i for i, o in enumerate(self.origins) if o >= origin), len(self.steps) - 1)

    def stage_of(self, index: int) -> str:
        """The user's step that compiled step `index` belongs to, as `2/5` (1-based); "" if unknown."""
        if not 0 <= index < len(self.origins) or self.origins[index] not in self.stages:
            return ""
        return f"{self.stages.index(self.origins[index]) + 1}/{len(self.stages)}"
