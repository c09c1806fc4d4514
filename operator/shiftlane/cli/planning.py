"""`plan`: compile a Rollout from a file or the cluster and print its steps, shared by both commands."""

from __future__ import annotations

import os
import sys
from collections.abc import Set
from typing import Any, TextIO

import yaml
from pydantic import ValidationError

from shiftlane.api.spec import RolloutSpec
from shiftlane.cli.render import format_validation_error, plan_for, render_plan, spec_problem
from shiftlane.engine.plan import CompileError

EXIT_OK = 0
EXIT_COMPILE = 1  # the spec is valid but asks for something this operator cannot do
EXIT_INVALID = 2  # the spec is malformed


class InputError(Exception):
    """The input could not be read as Rollouts."""


def load_rollouts(text: str, source: str) -> list[dict[str, Any]]:
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as error:
        raise InputError(f"{source}: not valid YAML: {error}") from None
    items: list[Any] = []
    for doc in docs:
        if isinstance(doc, dict) and doc.get("kind", "").endswith("List") and isinstance(doc.get("items"), list):
            items += doc["items"]
        else:
            items.append(doc)
    rollouts = [d for d in items if isinstance(d, dict) and d.get("kind") == "Rollout"]
    if not rollouts:
        raise InputError(f"{source}: no Rollout found")
    return rollouts


def read_source(source: str) -> str:
    if source == "-":
        return sys.stdin.read()
    with open(source, encoding="utf-8") as handle:
        return handle.read()


def is_file_source(source: str) -> bool:
    return source == "-" or os.path.isfile(source)


def plan_rollout(rollout: dict[str, Any], out: TextIO, err: TextIO, routers: Set[str] | None = None) -> int:
    meta = rollout.get("metadata") or {}
    name = meta.get("name") or "(unnamed)"
    if meta.get("namespace"):
        name = f"{meta['namespace']}/{name}"
    try:
        spec = RolloutSpec.model_validate(rollout.get("spec") or {})
    except ValidationError as error:
        print(f"error: rollout {name}: invalid spec:\n{format_validation_error(error)}", file=err)
        return EXIT_INVALID
    problem = spec_problem(spec)
    if problem:
        print(f"error: rollout {name}: invalid spec:\n  {problem}", file=err)
        return EXIT_INVALID
    try:
        plan = plan_for(spec, routers=frozenset(routers or ()))
    except CompileError as error:
        print(f"error: rollout {name}: cannot compile: {error}", file=err)
        return EXIT_COMPILE
    out.write(render_plan(plan, name=name, spec=spec))
    return EXIT_OK


def plan_all(rollouts: list[dict[str, Any]], out: TextIO, err: TextIO, routers: Set[str] | None = None) -> int:
    worst = EXIT_OK
    for i, rollout in enumerate(rollouts):
        if i:
            out.write("\n")
        worst = max(worst, plan_rollout(rollout, out, err, routers))
    return worst
