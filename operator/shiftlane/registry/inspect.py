"""What the image policy needs to know about a template's images, asked of ECR or the image's own
registry, all images at once."""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from typing import Any

from shiftlane.api.image_policy import ImagePolicy
from shiftlane.registry.ecr import Ecr
from shiftlane.registry.oci import OciRegistry
from shiftlane.registry.policy import ImageFacts
from shiftlane.registry.references import ImageReference, MalformedImage, RegistryKind, template_images
from shiftlane.registry.results import Problem, RegistryError


@dataclass(frozen=True)
class ImageProblem:
    """Why a template's images could not be judged; the rollout stalls (or waits, for ``retry_after``)
    with this message, naming the container."""

    container: str
    message: str
    problem: Problem | None  # None: the reference itself is malformed; asking again will not help
    retry_after: float | None


async def inspect_images(template: dict[str, Any], policy: ImagePolicy, ecr: Ecr, oci: OciRegistry) -> list[ImageFacts] | ImageProblem:
    try:
        references = template_images(template)
    except MalformedImage as error:
        return ImageProblem(error.container, str(error), None, None)
    answers = await asyncio.gather(*(_facts(ref, policy, ecr, oci) for ref in references))
    problems = [answer for answer in answers if isinstance(answer, ImageProblem)]
    # A missing image is reported before a registry that may come back.
    problems.sort(key=lambda p: p.problem is not Problem.NOT_FOUND)
    return problems[0] if problems else list(answers)


async def image_exists(ref: ImageReference, digest: str, ecr: Ecr, oci: OciRegistry) -> bool | RegistryError:
    """Whether ``digest`` is still in ``ref``'s repository: a rollback to it can pull it."""
    if ref.kind is RegistryKind.ECR:
        return await ecr.digest_exists(ref, digest)
    answer = await oci.resolve_digest(dataclasses.replace(ref, digest=digest))
    if isinstance(answer, RegistryError):
        return False if answer.problem is Problem.NOT_FOUND else answer
    return True


async def _facts(ref: ImageReference, policy: ImagePolicy, ecr: Ecr, oci: OciRegistry) -> ImageFacts | ImageProblem:
    if ref.kind is not RegistryKind.ECR:
        digest = await oci.resolve_digest(ref)
        if isinstance(digest, RegistryError):
            return _problem(ref, digest)
        return ImageFacts(ref, digest.value)
    digest = await ecr.resolve_digest(ref)
    if isinstance(digest, RegistryError):
        return _problem(ref, digest)
    immutable = await ecr.tag_immutable(ref) if policy.require_immutable_tags and ref.digest is None else None
    scan = await ecr.scan_findings(ref, digest.value) if policy.scan is not None else None
    replica = await ecr.regional_replica(ref, digest.value) if policy.prefer_regional_replica else None
    for answer in (immutable, scan, replica):
        if isinstance(answer, RegistryError):
            return _problem(ref, answer)
    return ImageFacts(ref, digest.value, tag_immutable=immutable, scan=scan, pull_from=replica)


def _problem(ref: ImageReference, error: RegistryError) -> ImageProblem:
    return ImageProblem(ref.container, f"container {ref.container!r}: {error.message}", error.problem, error.retry_after)
