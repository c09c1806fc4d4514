"""Kubernetes Events about a Rollout, in the order they happened.

An Event's own time is `eventTime` (events.k8s.io, microseconds; kopf sets it); older writers leave it
empty and keep `lastTimestamp` / `firstTimestamp` (seconds). The API lists events by name, which is
no order at all, so every view sorts by this time (then by creation, then by name for a stable tie).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shiftlane.cli.clock import ago, parse_time


@dataclass(frozen=True)
class EventLine:
    time: datetime | None
    type: str
    reason: str
    message: str
    count: int = 1


def event_time(event: dict[str, Any]) -> datetime | None:
    series = event.get("series") or {}
    meta = event.get("metadata") or {}
    for value in (series.get("lastObservedTime"), event.get("eventTime"), event.get("lastTimestamp"),
                  event.get("firstTimestamp"), meta.get("creationTimestamp")):
        parsed = parse_time(value)
        if parsed is not None:
            return parsed
    return None


def ordered_events(events: list[dict[str, Any]]) -> list[EventLine]:
    """Oldest first, by event time."""
    def key(event: dict[str, Any]) -> tuple[float, float, str]:
        meta = event.get("metadata") or {}
        when = event_time(event)
        created = parse_time(meta.get("creationTimestamp"))
        return (when.timestamp() if when else 0.0, created.timestamp() if created else 0.0, str(meta.get("name", "")))

    lines = []
    for event in sorted(events, key=key):
        series = event.get("series") or {}
        count = series.get("count") or event.get("count") or 1
        lines.append(EventLine(event_time(event), str(event.get("type") or "Normal"), str(event.get("reason") or ""),
                               " ".join(str(event.get("message") or "").split()), int(count)))
    return lines


def event_rows(lines: list[EventLine], now: datetime | None, limit: int = 10) -> list[list[str]]:
    """The last `limit` events as table rows (AGE only when the view has a clock)."""
    rows = [(["AGE"] if now else []) + ["TYPE", "REASON", "MESSAGE"]]
    for line in lines[-limit:]:
        count = f" (x{line.count})" if line.count > 1 else ""
        age = [ago(line.time, now) if line.time else "-"] if now else []
        rows.append(age + [line.type, line.reason or "-", line.message + count])
    return rows
