"""``spec.imagePolicy``: what an image must be before a rollout may start with it."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from shiftlane.api.base import Duration, Model

Severity = Literal["INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"]
VulnerabilityId = Annotated[str, Field(min_length=1, max_length=128)]


class ScanPolicy(Model):
    """A gate on the image's vulnerability scan (ECR)."""

    max_severity: Severity | None = None
    """The lowest severity that blocks: HIGH blocks on HIGH and CRITICAL findings. Unset: findings never block."""
    allow_list: list[VulnerabilityId] = Field(default_factory=list, max_length=512)
    """Vulnerability ids (CVE-...) that never block."""
    wait_for: Duration = "10m"
    """How long a scan still PENDING or IN_PROGRESS is waited for before the rollout is blocked (such as 10m)."""
    require_scan: bool = False
    """A missing, failed or unsupported scan blocks (otherwise only findings do)."""


class ImagePolicy(Model):
    """What an image must be before a revision gets pods."""

    pin_digest: bool = True
    """Run each image by the digest its tag resolves to; the spec keeps the tag."""
    deny_tags: list[Annotated[str, Field(min_length=1, max_length=128)]] = Field(default_factory=lambda: ["latest"], max_length=64)
    """Tags refused outright."""
    require_immutable_tags: bool = False
    """Refuse images from an ECR repository whose tags are mutable."""
    scan: ScanPolicy | None = None
    """Block images by their ECR scan findings."""
    prefer_regional_replica: bool = False
    """Pull from a replica of the repository in the operator's region when one exists."""
    protect_stable: bool = False
    """Keep the stable revision's images from the registry's lifecycle policy (not acted on yet)."""
