"""The ``kubernetes.io/dockerconfigjson`` Secret that lets clusters outside EKS pull from ECR.

ECR tokens last 12 hours. The Secret is rewritten when less than REFRESH_BEFORE remains, so a pod
scheduled just before a refresh still pulls with hours to spare, and at once when it is missing,
unreadable, or lacks a registry a Rollout now needs. The token is only ever inside the Secret's data:
it is kept out of reprs, logs, events and status.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shiftlane.registry.results import AuthorizationToken

SECRET_NAME = "shiftlane-ecr-pull"
MANAGED_BY = {"app.kubernetes.io/managed-by": "shiftlane"}
EXPIRES_ANNOTATION = "shiftlane.io/token-expires-at"
REFRESH_BEFORE = timedelta(hours=6)


def pull_secret_manifest(namespace: str, tokens: Sequence[AuthorizationToken], name: str = SECRET_NAME) -> dict[str, Any]:
    """One Secret with an ``auths`` entry per registry; it expires with the earliest token."""
    auths = {
        token.registry: {
            "username": token.username,
            "password": token.password,
            "auth": base64.b64encode(f"{token.username}:{token.password}".encode()).decode(),
        }
        for token in tokens
    }
    config = json.dumps({"auths": auths}, sort_keys=True)
    expires = min(token.expires_at for token in tokens)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/dockerconfigjson",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": dict(MANAGED_BY),
            "annotations": {EXPIRES_ANNOTATION: expires.isoformat()},
        },
        "data": {".dockerconfigjson": base64.b64encode(config.encode()).decode()},
    }


@dataclass(frozen=True)
class ObservedPullSecret:
    expires_at: datetime | None  # None: the annotation is missing or unreadable
    registries: frozenset[str]
    ours: bool = True  # False: someone else's Secret holds the name; it is never written over
    resource_version: str | None = None


def observe_pull_secret(secret: dict[str, Any] | None) -> ObservedPullSecret | None:
    """What a Secret read from the API server holds, without keeping its credentials."""
    if not secret:
        return None
    meta = secret.get("metadata") or {}
    ours = all((meta.get("labels") or {}).get(k) == v for k, v in MANAGED_BY.items())
    annotation = (meta.get("annotations") or {}).get(EXPIRES_ANNOTATION)
    try:
        expires = datetime.fromisoformat(annotation) if annotation else None
    except ValueError:
        expires = None
    if expires is not None and expires.tzinfo is None:
        expires = None
    try:
        document = json.loads(base64.b64decode((secret.get("data") or {}).get(".dockerconfigjson", "")))
        registries = frozenset(document.get("auths") or {})
    except (ValueError, AttributeError):
        registries = frozenset()
    return ObservedPullSecret(expires, registries, ours, meta.get("resourceVersion"))


@dataclass(frozen=True)
class Refresh:
    due: bool
    reason: str
    at: datetime | None  # when the next refresh falls due, if not now


def refresh_due(
    observed: ObservedPullSecret | None, registries: frozenset[str], now: datetime, refresh_before: timedelta = REFRESH_BEFORE
) -> Refresh:
    """Whether the Secret must be rewritten now for ``registries`` (hosts); ``now`` is timezone-aware."""
    if observed is None:
        return Refresh(True, "missing", None)
    if observed.expires_at is None:
        return Refresh(True, "expiry unknown", None)
    if not registries <= observed.registries:
        return Refresh(True, "new registry: " + ", ".join(sorted(registries - observed.registries)), None)
    at = observed.expires_at - refresh_before
    if now >= at:
        return Refresh(True, "expires soon" if now < observed.expires_at else "expired", None)
    return Refresh(False, "fresh", at)
