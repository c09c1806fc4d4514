"""The registry's verdict on a revision's images in the engine's terms: gather the facts, judge them
by the policy, and say which image each container is pinned to."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shiftlane.api.image_policy import ImagePolicy
from shiftlane.engine.model import ImageCheck, ImageDigest, ImageGate
from shiftlane.registry.ecr import Ecr
from shiftlane.registry.inspect import ImageProblem, inspect_images
from shiftlane.registry.oci import OciRegistry
from shiftlane.registry.policy import Allowed, Blocked, evaluate
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
