"""`kubectl shiftlane list` (Rollouts with phase, the user's step and weight) and `version`."""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from shiftlane.cli.clock import ago, parse_time, utcnow
from shiftlane.cli.kubectl import Kubectl, KubectlError
from shiftlane.cli.progress import Progress
from shiftlane.cli.render import table
from shiftlane.cli.view import read_rollout
from shiftlane.traffic import ROUTERS


def rollout_row(rollout: dict[str, Any], now: Any) -> list[str]:
    meta = rollout.get("metadata") or {}
    read = read_rollout(rollout)
    status = read.status
    shown = read.progress(ROUTERS)
    step = shown.position if isinstance(shown, Progress) else "?"
    weight = f"{status.canary_weight}%" if status.canary_revision else "-"
    strategy = status.strategy or (read.spec.strategy.name if read.spec and not read.problems else "?")
    created = parse_time(meta.get("creationTimestamp"))
    desired = str(read.spec.replicas) if read.spec else "?"
    return [str(meta.get("namespace", "")), str(meta.get("name", "?")), strategy, status.phase.value, step, weight,
            f"{status.ready_replicas}/{desired}", ago(created, now) if created else "-"]


def cmd_list(kube: Kubectl, args: argparse.Namespace) -> int:
    rollouts = kube.list_rollouts(all_namespaces=args.all_namespaces)
    if not rollouts:
        where = "any namespace" if args.all_namespaces else f"namespace {kube.namespace}" if kube.namespace else "this namespace"
        print(f"no Rollouts in {where}", file=sys.stderr)
        return 0
    now = utcnow()
    rows = [["NAMESPACE", "NAME", "STRATEGY", "PHASE", "STEP", "CANARY WEIGHT", "READY", "AGE"]]
    rows += sorted(rollout_row(r, now) for r in rollouts)
    if not args.all_namespaces:
        rows = [row[1:] for row in rows]
    print("\n".join(table(rows, indent="")))
    return 0


def client_version() -> str:
    try:
        return version("shiftlane")
    except PackageNotFoundError:
        return "unknown (not installed as a package)"


def operator_builds(kube: Kubectl) -> list[str]:
    """The operator Deployments the chart labels, with the image each runs."""
    found = kube.run_json("get", "deployments", "--all-namespaces", "-l", "app.kubernetes.io/part-of=shiftlane", "-o", "json")
    lines = []
    for item in found.get("items") or []:
        meta = item.get("metadata") or {}
        containers = (((item.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
        images = ", ".join(str(c.get("image")) for c in containers)
        lines.append(f"{meta.get('namespace')}/{meta.get('name')}: {images}")
    return lines


def cmd_version(kube: Kubectl, args: argparse.Namespace) -> int:
    print(f"Client:   kubectl-shiftlane {client_version()}")
    if args.client:
        return 0
    try:
        builds = operator_builds(kube)
    except KubectlError as error:
        print(f"Operator: not reachable ({str(error).splitlines()[0]})")
        return 0
    print("Operator: " + ("; ".join(builds) if builds else "no Deployment labelled app.kubernetes.io/part-of=shiftlane found"))
    return 0
