"""The image policy as a pure function of the facts gathered about each image: allowed (with the
images to run), blocked (and why), or waiting for a scan."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from shiftlane.api.image_policy import ImagePolicy
from shiftlane.api.durations import seconds_of
from shiftlane.registry.findings import Finding, ScanFindings, Severity
from shiftlane.registry.references import ImageReference

WORST_SHOWN = 5
# How often a running scan is looked at again.
SCAN_POLL_SECONDS = 15.0


@dataclass(frozen=True)
class ImageFacts:
    reference: ImageReference
    digest: str
    tag_immutable: bool | None = None  # None: not known (not ECR, or not asked)
    scan: ScanFindings | None = None  # None: no scanner for this registry
    pull_from: ImageReference | None = None  # a regional replica holding the digest


@dataclass(frozen=True)
class PinnedImage:
    container: str
    image: str  # what the revision runs
    tag: str | None
    digest: str


@dataclass(frozen=True)
class Allowed:
    images: tuple[PinnedImage, ...]

    def by_container(self) -> dict[str, str]:
        """For pinned_template."""
        return {pinned.container: pinned.image for pinned in self.images}


class BlockReason(StrEnum):
    DENIED_TAG = "ImageTagDenied"
    MUTABLE_TAG = "ImageTagMutable"
    VULNERABLE = "ImageVulnerable"
    SCAN_MISSING = "ImageScanMissing"
    SCAN_TIMEOUT = "ImageScanTimeout"


@dataclass(frozen=True)
class Blocked:
    reason: BlockReason
    container: str
    message: str
    counts: tuple[tuple[Severity, int], ...] = ()  # blocking findings, worst severity first
    worst: tuple[str, ...] = ()


@dataclass(frozen=True)
class Waiting:
    message: str
    retry_after: float


Verdict = Allowed | Blocked | Waiting


def evaluate(policy: ImagePolicy, facts: Sequence[ImageFacts], *, now: datetime, checking_since: datetime) -> Verdict:
    """The verdict on a revision's images. ``checking_since`` is when this revision's check began,
    which bounds the wait for a running scan. A block wins over a wait."""
    waits = []
    for fact in facts:
        verdict = _judge(policy, fact, now, checking_since)
        if isinstance(verdict, Blocked):
            return verdict
        elif verdict is not None:
            waits.append(verdict)
    if waits:
        return Waiting("; ".join(w.message for w in waits), min(w.retry_after for w in waits))
    return Allowed(tuple(_pinned(policy, fact) for fact in facts))


def _judge(policy: ImagePolicy, fact: ImageFacts, now: datetime, since: datetime) -> Blocked | Waiting | None:
    ref = fact.reference
    where = f"container {ref.container!r} image {ref.describe()}"
    if ref.tag is not None and ref.tag in policy.deny_tags:
        return Blocked(BlockReason.DENIED_TAG, ref.container, f"{where}: tag {ref.tag!r} is denied by imagePolicy.denyTags")
    # A reference by digest cannot move, whatever the repository allows.
    if policy.require_immutable_tags and ref.digest is None and fact.tag_immutable is not True:
        why = "is in a repository with mutable tags" if fact.tag_immutable is False else "has a tag whose mutability cannot be checked (not ECR)"
        return Blocked(BlockReason.MUTABLE_TAG, ref.container, f"{where} {why}; imagePolicy.requireImmutableTags is set")
    scan_policy = policy.scan
    if scan_policy is None:
        return None
    scan = fact.scan
    if scan is not None and scan.status.running:
        waited = (now - since).total_seconds()
        limit = seconds_of(scan_policy.wait_for) or 0.0
        if waited < limit:
            return Waiting(f"{where}: scan {scan.status.value}", min(SCAN_POLL_SECONDS, limit - waited))
        return Blocked(BlockReason.SCAN_TIMEOUT, ref.container,
                       f"{where}: scan still {scan.status.value} after imagePolicy.scan.waitFor {scan_policy.wait_for}")
    if scan is None or not scan.status.has_results:
        if not scan_policy.require_scan:
            return None
        state = "no scanner for this registry" if scan is None else f"scan {scan.status.value}"
        detail = f" ({scan.description})" if scan is not None and scan.description else ""
        return Blocked(BlockReason.SCAN_MISSING, ref.container, f"{where}: {state}{detail}; imagePolicy.scan.requireScan is set")
    if scan_policy.max_severity is None:
        return None
    threshold = Severity(scan_policy.max_severity).rank
    allowed = set(scan_policy.allow_list)
    blocking = [f for f in scan.findings if f.severity.rank >= threshold and f.id not in allowed]
    if not blocking:
        return None
    return _vulnerable(ref, where, scan_policy.max_severity, blocking)


def _vulnerable(ref: ImageReference, where: str, threshold: str, blocking: list[Finding]) -> Blocked:
    counts = sorted(Counter(f.severity for f in blocking).items(), key=lambda item: -item[0].rank)
    worst = tuple(dict.fromkeys(f.id for f in sorted(blocking, key=lambda f: (-f.severity.rank, f.id))))[:WORST_SHOWN]
    summary = ", ".join(f"{count} {severity.value}" for severity, count in counts)
    return Blocked(
        BlockReason.VULNERABLE, ref.container,
        f"{where} has {summary} findings at or above {threshold} not in imagePolicy.scan.allowList; worst: {', '.join(worst)}",
        counts=tuple(counts), worst=worst,
    )


def _pinned(policy: ImagePolicy, fact: ImageFacts) -> PinnedImage:
    ref = fact.reference
    source = fact.pull_from or ref
    if policy.pin_digest:
        image = source.pinned(fact.digest)
    elif fact.pull_from is not None:
        image = source.describe()
    else:
        image = ref.written
    return PinnedImage(ref.container, image, ref.tag, fact.digest)
