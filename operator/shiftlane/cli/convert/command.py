"""`convert -f FILE [-f FILE...]`: each Deployment, Argo Rollout and Flagger Canary in the files as a
Shiftlane Rollout on stdout (YAML documents), what did not carry over on stderr. A Deployment that a
Canary's targetRef or an Argo Rollout's workloadRef names is read for its pods, not converted alone.
Every Rollout printed has passed the checks `lint` makes; one that does not is an error, not output."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import yaml

from shiftlane.cli.convert.argo import from_argo_rollout
from shiftlane.cli.convert.common import Conversion
from shiftlane.cli.convert.deployment import from_deployment
from shiftlane.cli.convert.flagger import from_flagger_canary
from shiftlane.cli.planning import EXIT_INVALID, InputError, check_rollout, documents, read_source
from shiftlane.cli.problems import format_problems
from shiftlane.cli.render import plan_for
from shiftlane.engine.plan import CompileError
from shiftlane.traffic import ROUTERS

class _PlainDumper(yaml.SafeDumper):
    """No &anchors / *aliases for values that happen to be shared: the output is for people to read and edit."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


EXIT_OK = 0
EXIT_NOT_CONVERTED = 1


def _group(obj: dict[str, Any]) -> str:
    return str(obj.get("apiVersion", "")).split("/")[0]


def _is(obj: dict[str, Any], group: str, kind: str) -> bool:
    return obj.get("kind") == kind and (_group(obj) == group or (group == "apps" and obj.get("apiVersion") == "apps/v1"))


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def convert_objects(objects: list[dict[str, Any]], name: str | None = None) -> list[Conversion]:
    deployments = [o for o in objects if _is(o, "apps", "Deployment")]
    by_namespace: dict[str, dict[str, dict[str, Any]]] = {}
    for deployment in deployments:
        namespace, dep_name = _key(deployment)
        by_namespace.setdefault(namespace, {})[dep_name] = deployment
    conversions: list[Conversion] = []
    used: set[tuple[str, str]] = set()
    for obj in objects:
        namespace = _key(obj)[0]
        local = by_namespace.get(namespace, {}) | (by_namespace.get("", {}) if namespace else {})
        if _is(obj, "argoproj.io", "Rollout"):
            ref = ((obj.get("spec") or {}).get("workloadRef") or {}).get("name")
            if ref in local:
                used.add(_key(local[ref]))
            conversions.append(from_argo_rollout(obj, local))
        elif _is(obj, "flagger.app", "Canary"):
            ref = ((obj.get("spec") or {}).get("targetRef") or {}).get("name")
            if ref in local:
                used.add(_key(local[ref]))
            conversions.append(from_flagger_canary(obj, local))
    for deployment in deployments:
        if _key(deployment) not in used:
            conversions.append(from_deployment(deployment, name))
    return conversions


def _valid(conversion: Conversion) -> str | None:
    """Why the Rollout would not apply or compile, or None: the same checks as `lint`."""
    checked = check_rollout(conversion.rollout)
    if checked.problems or checked.spec is None:
        return format_problems(checked.problems)
    try:
        plan_for(checked.spec, routers=ROUTERS)
    except CompileError as error:
        return f"  cannot compile: {error}"
    return None


def cmd_convert(_kube: Any, args: argparse.Namespace) -> int:
    objects: list[dict[str, Any]] = []
    try:
        for path in args.files:
            objects += documents(read_source(path), "stdin" if path == "-" else path)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INVALID
    conversions = convert_objects(objects, args.name)
    if not conversions:
        print("error: no Deployment, Argo Rollouts Rollout or Flagger Canary found in " + ", ".join(args.files), file=sys.stderr)
        return EXIT_INVALID
    if args.name and len(conversions) > 1:
        print("error: --name needs exactly one object to convert", file=sys.stderr)
        return EXIT_INVALID
    worst = EXIT_OK
    printed = []
    for conversion in conversions:
        for note in conversion.notes:
            print(f"note: {conversion.source}: {note}", file=sys.stderr)
        problem = _valid(conversion)
        if problem:
            print(f"error: {conversion.source}: the converted Rollout is not valid:\n{problem}", file=sys.stderr)
            worst = EXIT_NOT_CONVERTED
            continue
        printed.append(conversion.rollout)
    if printed:
        sys.stdout.write(yaml.dump_all(printed, Dumper=_PlainDumper, sort_keys=False))
    return worst


def add_convert_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-f", "--filename", dest="files", action="append", required=True, metavar="FILE",
                        help="a YAML file with a Deployment, an Argo Rollouts Rollout or a Flagger Canary "
                             "(and the Deployment a Canary targets); repeatable, '-' for stdin")
    parser.add_argument("--name", help="name the Rollout (one object only; default: the source's name)")
    parser.set_defaults(func=cmd_convert)
