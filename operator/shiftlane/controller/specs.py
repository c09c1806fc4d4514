"""Each Rollout's spec parsed once per generation, not on every event of it or of its objects.

The API server bumps metadata.generation on every spec change, so (uid, generation) names one spec;
an adopted Deployment lends the spec its pod template, so its resourceVersion is part of the name too.
One entry per Rollout, dropped when the Rollout goes (Reconciler.forget).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shiftlane.api.spec import RolloutSpec

Key = tuple[str, str]


@dataclass
class ParsedSpecs:
    _parsed: dict[Key, tuple[tuple[Any, ...], RolloutSpec]] = field(default_factory=dict)

    def parse(self, key: Key, rollout: dict[str, Any], workload_version: str | None = None) -> RolloutSpec:
        """The validated spec (pydantic's ValidationError when it is not valid: that is never kept)."""
        meta = rollout["metadata"]
        identity = (meta.get("uid"), meta.get("generation"), workload_version)
        cached = self._parsed.get(key)
        if cached is not None and cached[0] == identity:
            return cached[1]
        spec = RolloutSpec.model_validate(rollout.get("spec") or {})
        if identity[0] is not None and identity[1] is not None:  # what the API server stored, always named so
            self._parsed[key] = (identity, spec)
        return spec

    def forget(self, key: Key) -> None:
        self._parsed.pop(key, None)

    def __len__(self) -> int:
        return len(self._parsed)
