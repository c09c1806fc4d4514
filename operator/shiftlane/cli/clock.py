"""Times as the API server writes them (RFC 3339), and as a person reads them (12s, 3m4s, 2h, 5d)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any


def parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def span(seconds: float) -> str:
    """A duration as kubectl prints ages: the two largest units that matter."""
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds}s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 10:
        return f"{minutes}m{secs}s" if secs else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours, mins = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{mins}m" if hours < 8 and mins else f"{hours}h"
    return f"{hours // 24}d"


def ago(when: datetime, now: datetime) -> str:
    return span((now - when).total_seconds())


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def stamp(when: datetime) -> str:
    """The time a watch line was printed: local wall-clock time, to the second, with its offset."""
    return when.astimezone().strftime("%Y-%m-%d %H:%M:%S %z")
