"""Names and labels of the objects a Rollout owns (DESIGN.md: Objects the operator owns)."""

from __future__ import annotations

from typing import Any

ROLLOUT_LABEL = "shiftlane.io/rollout"
REVISION_LABEL = "shiftlane.io/revision"
REVISION_NUMBER = "shiftlane.io/revision-number"
FIELD_MANAGER = "shiftlane"


def revision_name(rollout: str, revision: str) -> str:
    return f"{rollout}-{revision}"


def service_name(rollout: str, suffix: str) -> str:
    return f"{rollout}-{suffix}" if suffix else rollout


def owner_reference(rollout: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": rollout["apiVersion"],
        "kind": rollout["kind"],
        "name": rollout["metadata"]["name"],
        "uid": rollout["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
