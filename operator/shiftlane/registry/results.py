"""Typed outcomes of registry calls: callers branch on them, nothing raises past an adapter."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Problem(StrEnum):
    NOT_FOUND = "not_found"  # repository, image, tag or digest does not exist
    DENIED = "denied"  # credentials missing or refused
    THROTTLED = "throttled"  # still throttled after the client's own retries
    UNREACHABLE = "unreachable"  # connection refused, timed out, or a server error


@dataclass(frozen=True)
class RegistryError:
    problem: Problem
    message: str
    # When asking again makes sense; the reconciler waits at least this long.
    retry_after: float = 30.0


@dataclass(frozen=True)
class Digest:
    value: str
    media_type: str | None = None


@dataclass(frozen=True)
class AuthorizationToken:
    """Registry credentials; the password is kept out of repr so it never reaches a log line."""

    registry: str  # the host the token is for, as the image names it
    username: str
    password: str = field(repr=False)
    expires_at: datetime
