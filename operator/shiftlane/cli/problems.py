"""What is wrong with a Rollout manifest, in Shiftlane's words: each problem once, named by its field path.

Unknown fields matter because the API server prunes them silently: a typo such as `pauseBetwen` would
apply cleanly and simply not pause. So `plan`, `lint` and `convert` name each one, with the field the
user most likely meant (close matches among the model's own aliases).
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Union

from pydantic import BaseModel, ValidationError

from shiftlane.api.spec import DURATION_PATTERN, MAX_NAME_LENGTH, RolloutSpec

# The top of a Rollout object; `status` is the operator's.
OBJECT_FIELDS = ("apiVersion", "kind", "metadata", "spec", "status")
_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
# pydantic adds the member type of a union (`int`, `str`, `function-after[...]`) to an error's location.
_UNION_TAG = re.compile(r"^(int|str|float|bool|none|list\[.*\]|dict\[.*\]|[a-z-]+\[.*\])$")


@dataclass(frozen=True)
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def field_path(loc: Iterable[Any], prefix: str = "spec") -> str:
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


# --- unknown fields ------------------------------------------------------------------------------


def _aliases(model: type[BaseModel]) -> dict[str, str]:
    """alias -> attribute name: the keys the CRD (and so the API server) knows."""
    return {(info.alias or name): name for name, info in model.model_fields.items()}


def _members(annotation: Any) -> list[Any]:
    """The types a value of this annotation may take, Annotated and Optional unwrapped."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in _members(arg)]
    return [annotation]


def _suggest(key: str, known: Iterable[str]) -> list[str]:
    known = list(known)
    by_case = {k.lower(): k for k in known}
    if key.lower() in by_case:
        return [by_case[key.lower()]]
    # snake_case of a camelCase field: pause_between -> pauseBetween
    camel = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), key)
    if camel in known:
        return [camel]
    return difflib.get_close_matches(key, known, n=2, cutoff=0.6)


def _unknown_message(key: str, known: Iterable[str]) -> str:
    suggestions = _suggest(key, known)
    hint = f"; did you mean {' or '.join(repr(s) for s in suggestions)}?" if suggestions else ""
    return f"unknown field {key!r}{hint}"


def _walk(value: Any, annotation: Any, path: str) -> list[Problem]:
    problems: list[Problem] = []
    for member in _members(annotation):
        origin = typing.get_origin(member)
        if isinstance(member, type) and issubclass(member, BaseModel) and isinstance(value, dict):
            return _walk_model(value, member, path)
        if origin is list and isinstance(value, list):
            (item,) = typing.get_args(member) or (Any,)
            for i, entry in enumerate(value):
                problems += _walk(entry, item, f"{path}[{i}]")
            return problems
        if origin is dict and isinstance(value, dict):
            item = typing.get_args(member)[1] if typing.get_args(member) else Any
            for key, entry in value.items():
                problems += _walk(entry, item, f"{path}.{key}")
            return problems
    return problems


def _walk_model(value: dict[str, Any], model: type[BaseModel], path: str) -> list[Problem]:
    aliases = _aliases(model)
    # Models that keep what they do not read (a container, a pod spec) take any field.
    open_ = model.model_config.get("extra") == "allow"
    problems = []
    for key, entry in value.items():
        if key in aliases:
            problems += _walk(entry, model.model_fields[aliases[key]].annotation, f"{path}.{key}")
        elif not open_:
            problems.append(Problem(f"{path}.{key}", _unknown_message(key, aliases)))
    return problems


def unknown_fields(rollout: dict[str, Any]) -> list[Problem]:
    """Fields of a Rollout object that the Rollout model does not have (metadata and status not checked)."""
    problems = [Problem(key, _unknown_message(key, OBJECT_FIELDS)) for key in rollout if key not in OBJECT_FIELDS]
    spec = rollout.get("spec")
    if isinstance(spec, dict):
        problems += _walk_model(spec, RolloutSpec, "spec")
    return problems


# --- model errors --------------------------------------------------------------------------------


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _message(error: dict[str, Any], tags: list[str]) -> str:
    kind = error["type"]
    if kind == "missing":
        return "required"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "string_pattern_mismatch" and (error.get("ctx") or {}).get("pattern") == DURATION_PATTERN:
        return f"must be a duration such as 30s, 5m or 1h30m (got {_shown(error['input'])})"
    if set(tags) == {"int", "str"}:
        return f"must be a whole number or a string such as 25% (got {_shown(error['input'])})"
    message = error["msg"]
    if "input" in error and not isinstance(error["input"], dict | list):
        message += f" (got {_shown(error['input'])})"
    return message


def validation_problems(error: ValidationError, prefix: str = "spec") -> list[Problem]:
    """One problem per field: the branches of a union that all failed are one mistake, not several."""
    by_path: dict[str, tuple[dict[str, Any], list[str]]] = {}
    for item in error.errors(include_url=False):
        loc = list(item["loc"])
        tags = []
        while loc and isinstance(loc[-1], str) and _UNION_TAG.match(loc[-1]):
            tags.insert(0, loc.pop())
        path = field_path(loc, prefix)
        if path in by_path:
            by_path[path][1].extend(tags)
        else:
            by_path[path] = (item, tags)
    return [Problem(path, _message(item, tags)) for path, (item, tags) in by_path.items()]


def format_problems(problems: Iterable[Problem]) -> str:
    return "\n".join(f"  {p}" for p in problems)


def format_validation_error(error: ValidationError, prefix: str = "spec") -> str:
    return format_problems(validation_problems(error, prefix))


def spec_problems(spec: RolloutSpec) -> list[Problem]:
    """What the CRD's CEL rules reject but the pydantic models let through, for the rules a hand-written or
    converted manifest most often breaks. (The API server checks every rule: `kubectl apply --dry-run=server`.)"""
    strategy = spec.strategy
    chosen = [info.alias or name for name, info in type(strategy).model_fields.items() if getattr(strategy, name) is not None]
    if len(chosen) != 1:
        return [Problem("spec.strategy", "exactly one strategy must be set: " + (", ".join(chosen) if chosen else "none is"))]
    problems = []
    name = chosen[0]
    if name in ("abTesting", "shadow") and strategy.traffic_routing is None:
        problems.append(Problem(f"spec.strategy.{name}.trafficRouting", f"required for {name}"))
    if strategy.canary is not None:
        weights = [(i, s.set_weight) for i, s in enumerate(strategy.canary.steps) if s.set_weight is not None]
        for (_, before), (i, weight) in zip(weights, weights[1:]):
            if weight < before:
                problems.append(Problem(f"spec.strategy.canary.steps[{i}].setWeight",
                                        f"{weight} after {before}: setWeight values must not decrease from one step to the next"))
    if (spec.template is None) == (spec.workload_ref is None):
        problems.append(Problem("spec.template", "exactly one of template, workloadRef must be set"))
    elif spec.selector is None and spec.workload_ref is None:
        problems.append(Problem("spec.selector", "required with template"))
    elif spec.template is not None and spec.selector is not None:
        labels = spec.template.metadata.labels
        wrong = {k: v for k, v in spec.selector.match_labels.items() if labels.get(k) != v}
        if wrong:
            problems.append(Problem("spec.selector.matchLabels", f"must match template.metadata.labels: {wrong} do not"))
    return problems


def name_problem(name: Any) -> Problem | None:
    """The Rollout name rules the CRD checks at the root (spec.ROLLOUT_RULES)."""
    if not isinstance(name, str) or not name:
        return Problem("metadata.name", "required")
    if not _NAME.match(name):
        return Problem("metadata.name", "must be a DNS-1035 label (lower-case letters, digits and '-', starting with a letter)")
    if len(name) > MAX_NAME_LENGTH:
        return Problem("metadata.name", f"must be at most {MAX_NAME_LENGTH} characters")
    return None
