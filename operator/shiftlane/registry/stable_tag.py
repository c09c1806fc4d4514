"""``imagePolicy.protectStable``: the stable revision's ECR digests carry the tag
``shiftlane-stable-<rollout>``, so tag-based lifecycle rules keep what a rollback needs.

The tag follows the stable revision (ECR moves a tag with PutImage; in a repository with immutable
tags it is taken off the old digest first). When a revision leaves history the tag comes off its
digests, unless the stable revision runs the same digest. ECR calls run in the background, one
Rollout at a time, so a reconcile never waits for them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from shiftlane.engine.model import Event
from shiftlane.registry.ecr import Ecr, Unprotected
from shiftlane.registry.references import ImageReference, MalformedImage, RegistryKind, template_images
from shiftlane.registry.results import RegistryError

log = logging.getLogger(__name__)

Key = tuple[str, str]
TemplateReader = Callable[[Key, str], Awaitable[dict[str, Any] | None]]  # (Rollout, revision) -> its pod template
EventSink = Callable[[dict[str, Any], Event], None]


def stable_tag(rollout: str) -> str:
    # A Rollout name is at most 52 characters, so the tag stays under ECR's 128.
    return f"shiftlane-stable-{rollout}"


def ecr_digests(template: dict[str, Any] | None) -> dict[tuple[str, str], ImageReference]:
    """The digest-pinned ECR images of a revision's template, by (repository name, digest)."""
    try:
        references = template_images(template or {})
    except MalformedImage:
        return {}
    return {(ref.name, ref.digest): ref for ref in references if ref.kind is RegistryKind.ECR and ref.digest}


@dataclass(frozen=True)
class Protected:
    revision: str
    digests: frozenset[tuple[str, str]]
    retry_at: float | None = None  # set when a tag could not be written: asked again after it


@dataclass
class StableTagger:
    ecr: Ecr
    read_template: TemplateReader
    emit: EventSink
    clock: Callable[[], float] = time.monotonic
    _protected: dict[Key, Protected] = field(default_factory=dict)
    _locks: defaultdict[Key, asyncio.Lock] = field(default_factory=lambda: defaultdict(asyncio.Lock))
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def follow(self, key: Key, rollout: dict[str, Any], stable: str | None) -> None:
        """Tag the stable revision's digests, once per stable revision (again after a failure's wait)."""
        done = self._protected.get(key)
        if stable is None or (done is not None and done.revision == stable and
                              (done.retry_at is None or self.clock() < done.retry_at)):
            return
        self._protected[key] = Protected(stable, frozenset(), self.clock() + 3600)  # in flight
        self._spawn(key, self._protect(key, rollout, stable))

    async def leaving(self, key: Key, rollout: dict[str, Any], stable: str | None, revision: str) -> None:
        """Called before ``revision``'s Deployment is deleted: its digests lose the tag (later)."""
        template = await self.read_template(key, revision)
        if ecr_digests(template):
            self._spawn(key, self._unprotect(key, rollout, stable, template))

    def forget(self, key: Key) -> None:
        self._protected.pop(key, None)

    def _spawn(self, key: Key, work: Awaitable[None]) -> None:
        async def serially() -> None:
            async with self._locks[key]:
                try:
                    await work
                except Exception:  # noqa: BLE001 - tagging is best effort; a reconcile must not fail for it
                    log.exception("protectStable for %s/%s failed", *key)

        task = asyncio.ensure_future(serially())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _protect(self, key: Key, rollout: dict[str, Any], stable: str) -> None:
        template = await self.read_template(key, stable)
        digests = ecr_digests(template)
        tag = stable_tag(key[1])
        failures = []
        for (_, digest), ref in digests.items():
            answer = await self.ecr.protect(ref, digest, tag)
            if isinstance(answer, RegistryError):
                failures.append((ref, digest, answer))
        if failures:
            retry = min(error.retry_after for _, _, error in failures)
            self._protected[key] = Protected(stable, frozenset(), self.clock() + retry)
            message = "; ".join(f"{ref.name}@{digest}: {error.message}" for ref, digest, error in failures)
            self.emit(rollout, Event("StableImageTagFailed", f"tag {tag} not written (retried in {retry:.0f}s): {message}",
                                     "Warning"))
            return
        self._protected[key] = Protected(stable, frozenset(digests))
        if digests:
            names = ", ".join(f"{ref.name}@{digest}" for (_, digest), ref in digests.items())
            self.emit(rollout, Event("StableImageProtected", f"{names} tagged {tag} for stable revision {stable}"))

    async def _unprotect(self, key: Key, rollout: dict[str, Any], stable: str | None, template: dict[str, Any]) -> None:
        kept = self._protected.get(key)
        if kept is not None and kept.revision == stable and kept.retry_at is None:
            in_use = kept.digests
        else:  # not tagged by this process (say, after a restart): ask the stable revision itself
            in_use = frozenset(ecr_digests(await self.read_template(key, stable))) if stable else frozenset()
        tag = stable_tag(key[1])
        for (name, digest), ref in ecr_digests(template).items():
            if (name, digest) in in_use:
                continue
            answer = await self.ecr.unprotect(ref, digest, tag)
            if isinstance(answer, RegistryError):
                self.emit(rollout, Event("StableImageUntagFailed", f"tag {tag} not removed from {name}@{digest}: {answer.message}",
                                         "Warning"))
            elif answer is Unprotected.REMOVED:
                log.info("tag %s removed from %s@%s: its revision left history", tag, name, digest)
            elif answer is Unprotected.KEPT_LAST_TAG:
                log.info("tag %s kept on %s@%s: it is the image's last tag, and ECR would delete the image", tag, name, digest)
