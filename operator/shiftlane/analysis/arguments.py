"""``{{args.NAME}}`` placeholders in provider specs, replaced by a run's argument values."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

PLACEHOLDER = re.compile(r"\{\{\s*args\.([A-Za-z0-9_.-]+)\s*\}\}")

M = TypeVar("M", bound=BaseModel)


class MissingArgument(KeyError):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f"argument {self.name!r} is used but not given"


def substitute(text: str, args: Mapping[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in args:
            raise MissingArgument(name)
        return args[name]

    return PLACEHOLDER.sub(value, text)


def substitute_all(value: Any, args: Mapping[str, str]) -> Any:
    """``value`` with every string in it (at any depth of lists and dicts) substituted; keys are kept."""
    if isinstance(value, str):
        return substitute(value, args)
    if isinstance(value, list):
        return [substitute_all(item, args) for item in value]
    if isinstance(value, dict):
        return {key: substitute_all(item, args) for key, item in value.items()}
    return value


def substitute_model(model: M, args: Mapping[str, str]) -> M:
    """A copy of ``model`` with its text fields substituted, validated again (a value may break a pattern)."""
    return type(model).model_validate(substitute_all(model.model_dump(by_alias=True, exclude_none=True), args))
