"""`kubectl shiftlane status NAME [--timeout 10m]`: for CI pipelines, wait until the Rollout's current
spec is Healthy (exit 0), or stop at Degraded / Aborted (exit 1) or at the deadline (exit 3), printing
each change of phase, step or message with the time."""

from __future__ import annotations

import argparse
import re
import sys
import time
from dataclasses import dataclass
from enum import Enum
from typing import Any

from shiftlane.api.durations import seconds_of
from shiftlane.api.status import Phase
from shiftlane.cli.clock import stamp, utcnow
from shiftlane.cli.kubectl import Kubectl
from shiftlane.cli.progress import Progress
from shiftlane.cli.view import read_rollout
from shiftlane.cli.watching import RolloutFeed
from shiftlane.traffic import ROUTERS

EXIT_HEALTHY = 0
EXIT_FAILED = 1
EXIT_TIMEOUT = 3
_TIMEOUT = re.compile(r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$|^[0-9]+$")


class Outcome(str, Enum):
    HEALTHY = "healthy"
    FAILED = "failed"
    WAITING = "waiting"


@dataclass(frozen=True)
class Health:
    outcome: Outcome
    line: str  # phase, the user's step, and the operator's message


def timeout_argument(text: str) -> str:
    timeout_seconds(text)
    return text


def timeout_seconds(text: str | None) -> float | None:
    """`10m`, `90s`, `1h30m`, or a number of seconds; 0 or unset waits without end."""
    if text is None:
        return None
    if not _TIMEOUT.match(text):
        raise argparse.ArgumentTypeError(f"--timeout must be a duration such as 90s, 10m or 1h (got {text!r})")
    seconds = float(text) if text.isdigit() else seconds_of(text) or 0.0
    return seconds or None


def health(rollout: dict[str, Any]) -> Health:
    read = read_rollout(rollout)
    status = read.status
    generation = (rollout.get("metadata") or {}).get("generation")
    shown = read.progress(ROUTERS)
    step = f" step {shown.position}" if isinstance(shown, Progress) and shown.in_progress else ""
    line = f"{status.phase.value}{step}" + (f": {status.message}" if status.message else "")
    if generation is not None and status.observed_generation != generation:
        # A status from before the last spec change says nothing about the spec now applied.
        return Health(Outcome.WAITING, f"waiting for the operator to observe generation {generation}")
    if status.phase in (Phase.DEGRADED, Phase.ABORTED):
        return Health(Outcome.FAILED, line)
    if status.phase is Phase.HEALTHY:
        return Health(Outcome.HEALTHY, line)
    return Health(Outcome.WAITING, line)


def cmd_status(kube: Kubectl, args: argparse.Namespace) -> int:
    rollout = kube.get_rollout(args.name)
    meta = rollout.get("metadata") or {}
    where = f"{meta['namespace']}/{args.name}" if meta.get("namespace") else args.name
    limit = timeout_seconds(args.timeout)
    deadline = time.monotonic() + limit if limit else None
    feed: RolloutFeed | None = None
    said = None
    while True:
        state = health(rollout)
        if state.line != said:
            print(f"{stamp(utcnow())} rollout {where}: {state.line}", flush=True)
            said = state.line
        if state.outcome is Outcome.HEALTHY:
            return EXIT_HEALTHY
        if state.outcome is Outcome.FAILED:
            print(f"error: rollout {where} is {state.line}", file=sys.stderr)
            return EXIT_FAILED
        if args.no_wait:
            return EXIT_TIMEOUT
        remaining = deadline - time.monotonic() if deadline else 30.0
        if remaining <= 0:
            print(f"error: rollout {where} not Healthy within {args.timeout}: {state.line}", file=sys.stderr)
            return EXIT_TIMEOUT
        feed = feed or RolloutFeed(kube, args.name).start()
        change = feed.next(remaining)
        if change is not None and change.kind == "DELETED":
            print(f"error: rollout {where} was deleted", file=sys.stderr)
            return EXIT_FAILED
        if change is not None:
            rollout = change.rollout
