"""The operator's registry settings: pull secrets and the operator-wide default image policy.

Each comes from a `shiftlane run` flag, whose default is read from an environment variable (the chart
sets the variables). The default policy is JSON in the spec's camelCase, the shape of
``spec.imagePolicy``; a Rollout's own fields win over it, field by field (``scan`` merged key by key;
lists replaced, not joined).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import ValidationError

from shiftlane.api.durations import seconds_of
from shiftlane.api.image_policy import ImagePolicy
from shiftlane.api.base import DURATION_PATTERN
from shiftlane.registry.pull_secret import REFRESH_BEFORE

PULL_SECRETS_ENV = "SHIFTLANE_ECR_PULL_SECRETS"
REFRESH_BEFORE_ENV = "SHIFTLANE_ECR_PULL_SECRET_REFRESH_BEFORE"
CHECK_INTERVAL_ENV = "SHIFTLANE_ECR_PULL_SECRET_CHECK_INTERVAL"
DEFAULT_POLICY_ENV = "SHIFTLANE_DEFAULT_IMAGE_POLICY"
# How often each namespace's pull Secret is read back, so one deleted or edited is rewritten soon.
CHECK_INTERVAL = "1m"
# ECR tokens last 12 hours: refreshing closer to expiry than this leaves no margin.
MAX_REFRESH_BEFORE = timedelta(hours=11)


class SettingError(ValueError):
    """A setting that cannot be used; the operator refuses to start with this message."""


@dataclass(frozen=True)
class PullSecretSettings:
    refresh_before: timedelta = REFRESH_BEFORE
    check_interval: float = 60.0  # seconds; CHECK_INTERVAL as the flag writes it


@dataclass(frozen=True)
class RegistrySettings:
    pull_secrets: PullSecretSettings | None = None  # None: no pull Secrets are kept
    default_policy: dict[str, Any] | None = None  # the policy's set fields, camelCase, validated


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def parse_duration(value: str, what: str) -> timedelta:
    if not re.fullmatch(DURATION_PATTERN.strip("^$"), value or ""):
        raise SettingError(f"{what}: {value!r} is not a duration such as 30s, 5m or 6h")
    return timedelta(seconds=seconds_of(value) or 0.0)


def pull_secret_settings(enabled: bool, refresh_before: str, check_interval: str) -> PullSecretSettings | None:
    if not enabled:
        return None
    before = parse_duration(refresh_before, "--ecr-pull-secret-refresh-before")
    if before > MAX_REFRESH_BEFORE:
        raise SettingError(f"--ecr-pull-secret-refresh-before: {refresh_before} is longer than an ECR token's 12 h less 1 h")
    interval = parse_duration(check_interval, "--ecr-pull-secret-check-interval").total_seconds()
    if interval <= 0:
        raise SettingError("--ecr-pull-secret-check-interval must be above zero")
    return PullSecretSettings(before, interval)


def default_policy(text: str | None) -> dict[str, Any] | None:
    """The operator-wide policy's fields as written (JSON, camelCase), checked against the spec's model."""
    if not text or not text.strip():
        return None
    try:
        fields = json.loads(text)
    except json.JSONDecodeError as error:
        raise SettingError(f"--default-image-policy is not JSON: {error}") from None
    if not isinstance(fields, dict):
        raise SettingError("--default-image-policy must be a JSON object such as {\"scan\": {\"maxSeverity\": \"HIGH\"}}")
    if not fields:
        return None
    try:
        ImagePolicy.model_validate(fields)
    except ValidationError as error:
        raise SettingError(f"--default-image-policy is not a valid imagePolicy: {error}") from None
    return fields


def effective_policy(own: ImagePolicy | None, default: dict[str, Any] | None) -> ImagePolicy | None:
    """The policy a Rollout is checked by: its own fields, the default's where it leaves them unset,
    the built-in defaults for the rest. None when neither names a policy: nothing is checked."""
    if default is None:
        return own
    if own is None:
        return ImagePolicy.model_validate(default)
    return ImagePolicy.model_validate(_merged(default, own.model_dump(by_alias=True, exclude_unset=True)))


def _merged(default: dict[str, Any], own: dict[str, Any]) -> dict[str, Any]:
    merged = dict(default)
    for key, value in own.items():
        below = merged.get(key)
        merged[key] = _merged(below, value) if isinstance(below, dict) and isinstance(value, dict) else value
    return merged
