"""An apps/v1 Deployment as a Rollout: the same pods, and the Deployment's own update strategy."""

from __future__ import annotations

from typing import Any

from shiftlane.cli.convert.common import Conversion, metadata, rollout, workload_spec


def from_deployment(deployment: dict[str, Any], name: str | None = None) -> Conversion:
    meta = deployment.get("metadata") or {}
    conversion = Conversion(f"Deployment {meta.get('name', '?')}")
    spec = deployment.get("spec") or {}
    out = workload_spec(spec, conversion)
    strategy = spec.get("strategy") or {}
    if strategy.get("type") == "Recreate":
        out["strategy"] = {"recreate": {}}
    else:
        rolling = strategy.get("rollingUpdate") or {}
        out["strategy"] = {"rolling": {k: rolling[k] for k in ("maxSurge", "maxUnavailable") if k in rolling}}
    conversion.rollout = rollout(metadata(deployment, name), out)
    return conversion
