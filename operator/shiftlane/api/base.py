"""What every API model builds on: camelCase aliases, frozen instances, and durations as the spec writes them."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"

# A duration such as 30s, 5m or 1h30m (each field's description says so: a description here would hide it).
Duration = Annotated[str, Field(pattern=DURATION_PATTERN)]


class Model(BaseModel):
    # Attribute docstrings become the CRD's field descriptions (`kubectl explain`).
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True, use_attribute_docstrings=True
    )


def rule(expression: str, message: str, reason: str | None = None, field_path: str | None = None) -> dict[str, str]:
    """One CEL validation rule for ``x-kubernetes-validations``; ``field_path`` (e.g. ``.steps``) names the
    field the error is reported on when it is not the object that carries the rule."""
    entry = {"rule": expression, "message": message}
    if reason:
        entry["reason"] = reason
    if field_path:
        entry["fieldPath"] = field_path
    return entry


def one_of(keys: list[str]) -> str:
    """A CEL expression true when exactly one of ``keys`` is set on ``self``."""
    return "[" + ", ".join(f"has(self.{k})" for k in keys) + "].filter(x, x).size() == 1"
