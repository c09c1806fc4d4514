"""A Rollout's revisions as running objects: the images each revision Deployment runs, and its pods
with their age and readiness (from the objects labelled `shiftlane.io/rollout=<name>`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shiftlane.cli.clock import parse_time
from shiftlane.kube.labels import REVISION_LABEL


@dataclass(frozen=True)
class PodView:
    name: str
    ready: bool
    phase: str
    created: datetime | None
    restarts: int = 0
    terminating: bool = False


@dataclass(frozen=True)
class Workload:
    """What the cluster runs for one Rollout; `error` says why it could not be read (RBAC, say)."""

    images: dict[str, tuple[str, ...]] = field(default_factory=dict)  # revision -> container=image
    pods: dict[str, tuple[PodView, ...]] = field(default_factory=dict)  # revision -> pods, oldest first
    error: str | None = None


def _images(template: dict[str, Any]) -> tuple[str, ...]:
    containers = ((template.get("spec") or {}).get("containers")) or []
    return tuple(f"{c.get('name', '?')}={c.get('image', '?')}" for c in containers)


def _pod(pod: dict[str, Any]) -> PodView:
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
    restarts = sum(int(c.get("restartCount") or 0) for c in status.get("containerStatuses") or [])
    return PodView(str(meta.get("name", "?")), ready, str(status.get("phase") or "Pending"),
                   parse_time(meta.get("creationTimestamp")), restarts, bool(meta.get("deletionTimestamp")))


def workload(objects: list[dict[str, Any]]) -> Workload:
    images: dict[str, tuple[str, ...]] = {}
    pods: dict[str, list[PodView]] = {}
    for obj in objects:
        revision = ((obj.get("metadata") or {}).get("labels") or {}).get(REVISION_LABEL)
        if not revision:
            continue
        if obj.get("kind") == "Deployment":
            images[revision] = _images(((obj.get("spec") or {}).get("template")) or {})
        elif obj.get("kind") == "Pod":
            pods.setdefault(revision, []).append(_pod(obj))
    ordered = {rev: tuple(sorted(items, key=lambda p: (p.created.timestamp() if p.created else 0, p.name)))
               for rev, items in pods.items()}
    return Workload(images, ordered)
