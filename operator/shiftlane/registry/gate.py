"""The registry's verdict on a revision's images in the engine's terms: gather the facts, judge them
by the policy, and say which image each container is pinned to."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shiftlane.api.image_policy import ImagePolicy
from shiftlane.engine.model import ImageCheck, ImageDigest, ImageGate
from shiftlane.registry.ecr import Ecr
from shiftlane.registry.findings import ScanFindings
from shiftlane.registry.inspect import ImageProblem, image_exists, inspect_images
from shiftlane.registry.oci import OciRegistry
from shiftlane.registry.policy import Allowed, Blocked, evaluate
from shiftlane.registry.references import MalformedImage, template_images
from shiftlane.registry.results import Problem
from shiftlane.registry.settings import effective_policy


@dataclass(frozen=True)
class ImageVerdict:
    check: ImageCheck
    pins: dict[str, str] = field(default_factory=dict)  # container -> the image its revision runs
    scans: tuple[ScanFindings, ...] = ()  # the images' scans, for the findings metric


@dataclass
class ImageGatekeeper:
    ecr: Ecr
    oci: OciRegistry
    # The operator-wide policy's fields (camelCase), under each Rollout's own.
    default_policy: dict[str, Any] | None = None

    def policy_for(self, own: ImagePolicy | None) -> ImagePolicy | None:
        """The policy a Rollout's images are checked by; None checks nothing."""
        return effective_policy(own, self.default_policy)

    async def judge(self, template: dict[str, Any], policy: ImagePolicy, *, now: datetime, since: datetime) -> ImageVerdict:
        facts = await inspect_images(template, policy, self.ecr, self.oci)
        if isinstance(facts, ImageProblem):
            if facts.problem is None:
                return ImageVerdict(ImageCheck(ImageGate.BLOCKED, "InvalidImage", facts.message))
            if facts.problem is Problem.NOT_FOUND:
                return ImageVerdict(ImageCheck(ImageGate.BLOCKED, "ImageNotFound", facts.message))
            # The registry cannot be asked now: wait, never promote an unchecked image.
            return ImageVerdict(ImageCheck(ImageGate.WAITING, message=facts.message, retry_after=facts.retry_after))
        verdict = evaluate(policy, facts, now=now, checking_since=since)
        scans = tuple(fact.scan for fact in facts if fact.scan is not None and fact.scan.status.has_results)
        if isinstance(verdict, Blocked):
            return ImageVerdict(ImageCheck(ImageGate.BLOCKED, verdict.reason.value, verdict.message), scans=scans)
        if not isinstance(verdict, Allowed):
            return ImageVerdict(ImageCheck(ImageGate.WAITING, message=verdict.message, retry_after=verdict.retry_after), scans=scans)
        images = tuple(ImageDigest(p.container, p.tag, p.digest) for p in verdict.images)
        # Without pinning each image runs as written, or from its regional replica by the same tag.
        return ImageVerdict(ImageCheck(ImageGate.ALLOWED, images=images), verdict.by_container(), scans)

    async def missing_digests(self, template: dict[str, Any]) -> list[str]:
        """The digest-pinned images of a running revision that their registry no longer holds (a
        lifecycle policy removed them): a rollback to that revision could not pull them."""
        try:
            references = [r for r in template_images(template) if r.digest]
        except MalformedImage:
            return []
        missing = []
        for ref in references:
            if await image_exists(ref, ref.digest, self.ecr, self.oci) is False:  # unknown is not missing
                missing.append(ref.written)
        return missing
