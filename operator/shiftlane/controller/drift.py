"""Drift: objects Shiftlane owns, changed by someone else, noticed on the watch and put back.

A revision Deployment's replicas and pod template, the Rollout's Services, and the managed fields of
its route objects are Shiftlane's. The reconcile that a change by hand triggers writes the replicas,
Services and routes back anyway (the Decision did not change); these functions name what changed, and
who changed it, in a `Drifted` Event. The pod template, which no Decision holds, is put back from the
copy its Deployment was created with. Fields Shiftlane does not manage are never written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shiftlane.api.status import RolloutStatus
from shiftlane.engine.model import Event, RouterState
from shiftlane.kube.revisions import TemplateRestore, edits
from shiftlane.kube.services import ServiceView
from shiftlane.traffic.router import Wanted

REASON = "Drifted"
SHOWN = 3  # changed fields named in one Event


def _drifted(message: str) -> Event:
    return Event(REASON, message, "Warning")


def _by(managers: Any) -> str:
    names = list(dict.fromkeys(managers))
    return f" by {', '.join(names)}" if names else ""


def replicas(name: str, deployment: Mapping[str, Any], observed: int, desired: int) -> Event | None:
    """A revision scaled by someone else, about to be scaled back."""
    by = edits(deployment, "replicas")
    if not by:
        return None
    return _drifted(f"Deployment {name}: spec.replicas was set to {observed}{_by(by)}; restored to {desired}")


def service(name: str, current: ServiceView | None, expected: bool) -> Event | None:
    """A Service deleted, or its selector or ports changed by someone else, about to be written back.

    `expected`: the Rollout had its Services already (its stable revision runs), so a missing one was
    deleted rather than never made.
    """
    if current is None:
        return _drifted(f"Service {name} was missing; recreated") if expected else None
    if not current.edited_by:
        return None
    return _drifted(f"Service {name}: selector or ports changed{_by(current.edited_by)}; restored")


def route(objects: tuple[str, ...], observed: RouterState, previous: RolloutStatus, want: Wanted) -> Event | None:
    """A route object that no longer holds what was decided, while the Decision stays the same: someone
    changed a managed field (a weight, the match rule, the mirror), about to be written back."""
    if previous.router is None or observed.problems:
        return None  # first reconcile with a router, or one it cannot read: nothing decided to compare with
    decided = (previous.canary_weight, previous.header_route, previous.mirror_percent)
    wanted = (want.canary_weight, bool(want.matches), want.mirror_percent)
    held = (observed.canary_weight, observed.header_route, observed.mirror_percent)
    if wanted != decided or held == wanted:
        return None
    parts = [f"{what} {h} (decided {w})" for what, h, w in zip(("canary weight", "header route", "mirror"), held, wanted) if h != w]
    return _drifted(f"{', '.join(objects)} held {', '.join(parts)}; restored")


def template(name: str, restore: TemplateRestore, by: list[str]) -> Event:
    """A revision's pod template, put back as it was created."""
    changes = changed_fields(restore.restored, restore.drifted)
    more = f" and {len(changes) - SHOWN} more" if len(changes) > SHOWN else ""
    return _drifted(f"Deployment {name}: pod template changed{_by(by)} ({'; '.join(changes[:SHOWN])}{more}); restored")


def changed_fields(expected: Any, found: Any, path: str = "spec.template") -> list[str]:
    """Each leaf that differs, as `path: expected -> found`."""
    if isinstance(expected, dict) and isinstance(found, dict):
        return [c for k in sorted(set(expected) | set(found)) for c in changed_fields(expected.get(k), found.get(k), f"{path}.{k}")]
    if isinstance(expected, list) and isinstance(found, list) and len(expected) == len(found):
        return [c for i, (e, f) in enumerate(zip(expected, found)) for c in changed_fields(e, f, f"{path}[{i}]")]
    return [] if expected == found else [f"{path}: {_short(expected)} -> {_short(found)}"]


def _short(value: Any) -> str:
    text = "(none)" if value is None else str(value)
    return text if len(text) <= 60 else text[:57] + "..."
