"""`plan` and `lint`: check Rollouts from files or the cluster, print their steps; shared by both commands."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Set
from dataclasses import dataclass, field
from typing import Any, TextIO

import yaml
from pydantic import ValidationError

from shiftlane.api.spec import RolloutSpec
from shiftlane.cli.problems import Problem, format_problems, name_problem, spec_problems, unknown_fields, validation_problems
from shiftlane.cli.render import plan_for, render_plan
from shiftlane.engine.plan import CompileError
from shiftlane.engine.steps import Plan

EXIT_OK = 0
EXIT_COMPILE = 1  # the spec is valid but asks for something this operator cannot do
EXIT_INVALID = 2  # the spec is malformed


class InputError(Exception):
    """The input could not be read as Rollouts."""


def documents(text: str, source: str) -> list[dict[str, Any]]:
    """The objects in a YAML stream, `kind: List` items flattened."""
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as error:
        raise InputError(f"{source}: not valid YAML: {error}") from None
    items: list[Any] = []
    for doc in docs:
        if isinstance(doc, dict) and str(doc.get("kind", "")).endswith("List") and isinstance(doc.get("items"), list):
            items += doc["items"]
        else:
            items.append(doc)
    return [d for d in items if isinstance(d, dict)]


def load_rollouts(text: str, source: str) -> list[dict[str, Any]]:
    rollouts = [d for d in documents(text, source) if d.get("kind") == "Rollout"]
    if not rollouts:
        raise InputError(f"{source}: no Rollout found")
    return rollouts


def read_source(source: str) -> str:
    """A file's text ('-' is stdin); a file that cannot be read is an InputError naming it."""
    if source == "-":
        return sys.stdin.read()
    try:
        with open(source, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        raise InputError(f"{source}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{source}: is a directory, not a file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{source}: cannot be read: {error}") from None


def looks_like_file(source: str) -> bool:
    """A Rollout's name is a DNS-1035 label: anything with a dot or a slash (or '-') can only be a file."""
    return source == "-" or "/" in source or "." in source


def select_rollouts(source: str | None, files: list[str] | None, fetch: Callable[[str], dict[str, Any]]) -> list[dict[str, Any]]:
    """The Rollouts named on the command line: files (`-f`, or a positional that can only be a file), or
    one Rollout NAME read from the cluster with `fetch`. A missing file is never looked up as a name."""
    files = list(files or [])
    name = None
    if source is not None:
        if looks_like_file(source) or os.path.exists(source):
            files.append(source)
        else:
            name = source
    if files and name:
        raise InputError(f"give files (-f) or a Rollout name, not both ({name!r} is not a file)")
    if name:
        return [fetch(name)]
    if not files:
        raise InputError("name a Rollout, or give a file with -f FILE ('-' for stdin)")
    rollouts: list[dict[str, Any]] = []
    for path in files:
        rollouts += load_rollouts(read_source(path), "stdin" if path == "-" else path)
    return rollouts


@dataclass
class Checked:
    """A Rollout object as plan and lint see it: its name, its spec if readable, and what is wrong."""

    name: str
    spec: RolloutSpec | None = None
    problems: list[Problem] = field(default_factory=list)


def display_name(rollout: dict[str, Any]) -> str:
    meta = rollout.get("metadata") or {}
    name = meta.get("name") or "(unnamed)"
    return f"{meta['namespace']}/{name}" if meta.get("namespace") else name


def check_rollout(rollout: dict[str, Any]) -> Checked:
    """Everything this side of the API server can tell: unknown fields, the name, the model, one strategy."""
    checked = Checked(display_name(rollout))
    checked.problems += unknown_fields(rollout)
    named = name_problem((rollout.get("metadata") or {}).get("name"))
    if named:
        checked.problems.append(named)
    try:
        spec = RolloutSpec.model_validate(rollout.get("spec") or {})
    except ValidationError as error:
        checked.problems += validation_problems(error)
        return checked
    problems = spec_problems(spec)
    if problems:
        checked.problems += problems
        return checked
    checked.spec = spec
    return checked


def compile_checked(rollout: dict[str, Any], err: TextIO, routers: Set[str] | None) -> tuple[Checked, Plan | int]:
    """The Rollout's plan, or the exit code after its problems went to `err`."""
    checked = check_rollout(rollout)
    if checked.problems or checked.spec is None:
        print(f"error: rollout {checked.name}: invalid:\n{format_problems(checked.problems)}", file=err)
        return checked, EXIT_INVALID
    try:
        return checked, plan_for(checked.spec, routers=frozenset(routers or ()))
    except CompileError as error:
        print(f"error: rollout {checked.name}: cannot compile: {error}", file=err)
        return checked, EXIT_COMPILE


def _each(rollouts: list[dict[str, Any]], err: TextIO, routers: Set[str] | None,
          report: Callable[[Checked, Plan], None]) -> int:
    worst = EXIT_OK
    for rollout in rollouts:
        checked, plan = compile_checked(rollout, err, routers)
        if isinstance(plan, int):
            worst = max(worst, plan)
        else:
            report(checked, plan)
    return worst


def plan_all(rollouts: list[dict[str, Any]], out: TextIO, err: TextIO, routers: Set[str] | None = None) -> int:
    shown: list[str] = []

    def report(checked: Checked, plan: Plan) -> None:
        out.write(("\n" if shown else "") + render_plan(plan, name=checked.name, spec=checked.spec))
        shown.append(checked.name)

    return _each(rollouts, err, routers, report)


def lint_all(rollouts: list[dict[str, Any]], out: TextIO, err: TextIO, routers: Set[str] | None = None) -> int:
    def report(checked: Checked, plan: Plan) -> None:
        strategy = checked.spec.strategy.name if checked.spec else "?"
        print(f"rollout {checked.name}: ok ({strategy}, {len(plan.steps)} steps)", file=out)

    return _each(rollouts, err, routers, report)
