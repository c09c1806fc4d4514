"""``spec.imagePolicy``: what an image must be before a rollout may start with it."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from shiftlane.api.base import Duration, Model

Severity = Literal["INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"]
VulnerabilityId = Annotated[str, Field(min_length=1, max_length=128)]


class ScanPolicy(Model):
    # The lowest severity that blocks: HIGH blocks on HIGH and CRITICAL findings. Unset: findings never block.
    max_severity: Severity | None = None
    allow_list: list[VulnerabilityId] = Field(default_factory=list, max_length=512)
    # How long a scan still PENDING or IN_PROGRESS is waited for before the rollout is blocked.
    wait_for: Duration = "10m"
    # A missing, failed or unsupported scan blocks (otherwise only findings do).
    require_scan: bool = False


class ImagePolicy(Model):
    pin_digest: bool = True
    deny_tags: list[Annotated[str, Field(min_length=1, max_length=128)]] = Field(default_factory=lambda: ["latest"], max_length=64)
    require_immutable_tags: bool = False
    scan: ScanPolicy | None = None
    prefer_regional_replica: bool = False
    protect_stable: bool = False
