"""The registry's verdict on a revision's images in the engine's terms: gather the facts, judge them
by the policy, and say which image each container is pinned to."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shiftlane.api.image_policy import ImagePolicy
from shiftlane.engine.model import ImageCheck, ImageDigest, ImageGate
from shiftlane.registry.ecr import Ecr
from shiftlane.registry.inspect import ImageProblem, image_exists, inspect_images
from shiftlane.registry.oci import OciRegistry
from shiftlane.registry.policy import Allowed, Blocked, evaluate
from shiftlane.registry.references import MalformedImage, template_images
from shiftlane.registry.results import Problem


@dataclass(frozen=True)
class ImageVerdict:
    check: ImageCheck
    pins: dict[str, str] = field(default_factory=dict)  # container -> the image its revision runs


@dataclass
class ImageGatekeeper:
    ecr: Ecr
    oci: OciRegistry

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
        if isinstance(verdict, Blocked):
            return ImageVerdict(ImageCheck(ImageGate.BLOCKED, verdict.reason.value, verdict.message))
        if not isinstance(verdict, Allowed):
            return ImageVerdict(ImageCheck(ImageGate.WAITING, message=verdict.message, retry_after=verdict.retry_after))
        images = tuple(ImageDigest(p.container, p.tag, p.digest) for p in verdict.images)
        pins = verdict.by_container() if policy.pin_digest else {}
        return ImageVerdict(ImageCheck(ImageGate.ALLOWED, images=images), pins)

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
