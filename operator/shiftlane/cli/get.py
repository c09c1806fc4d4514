"""`kubectl shiftlane get NAME [--watch]`: the Rollout with its pods and events; a watch prints again
only when something a user would see changed (not when only an age ticked), each print stamped."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from shiftlane.cli.clock import stamp, utcnow
from shiftlane.cli.events import ordered_events
from shiftlane.cli.kubectl import Kubectl, KubectlError
from shiftlane.cli.view import Scene, render_rollout
from shiftlane.cli.watching import RolloutFeed
from shiftlane.cli.workload import Workload, workload
from shiftlane.traffic import ROUTERS

CLEAR_SCREEN = "\033[H\033[2J"


def gather(kube: Kubectl, rollout: dict[str, Any], routers: frozenset[str]) -> Scene:
    """The Rollout plus its pods and events; what cannot be read (RBAC, say) is shown as such, not fatal."""
    meta = rollout.get("metadata") or {}
    scoped = dataclasses.replace(kube, namespace=meta.get("namespace") or kube.namespace)
    try:
        owned = workload(scoped.owned_objects(str(meta.get("name", ""))))
    except KubectlError as error:
        owned = Workload(error=str(error).splitlines()[0])
    try:
        events = ordered_events(scoped.events_about(str(meta.get("uid", "")))) if meta.get("uid") else []
        events_error = None
    except KubectlError as error:
        events, events_error = None, str(error).splitlines()[0]
    return Scene(rollout, owned, events, routers, events_error)


def _write(text: str, tty: bool) -> None:
    sys.stdout.write((CLEAR_SCREEN if tty else "") + text + ("" if tty else "\n"))
    sys.stdout.flush()


def cmd_get(kube: Kubectl, args: argparse.Namespace) -> int:
    routers = frozenset(args.routers) if args.routers else ROUTERS
    rollout = kube.get_rollout(args.name)
    if not args.watch:
        sys.stdout.write(render_rollout(gather(kube, rollout, routers), now=utcnow()))
        return 0
    tty = sys.stdout.isatty()
    feed = RolloutFeed(kube, args.name).start()
    seen = None
    while True:
        scene = gather(kube, rollout, routers)
        sight = render_rollout(scene)  # without a clock: what a user sees, less what only ticks
        if sight != seen:
            now = utcnow()
            _write(f"Time:        {stamp(now)}\n" + render_rollout(scene, now=now), tty)
            seen = sight
        change = feed.next(args.interval)
        if change is None:
            continue
        if change.kind != "DELETED":
            rollout = change.rollout
        else:
            meta = change.rollout.get("metadata") or {}
            where = f"{meta['namespace']}/{args.name}" if meta.get("namespace") else args.name
            print(f"{stamp(utcnow())} rollout {where} deleted", flush=True)
            return 1
