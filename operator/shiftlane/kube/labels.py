"""Names and labels of the objects a Rollout owns (DESIGN.md: Objects the operator owns)."""

from __future__ import annotations

from typing import Any

from shiftlane.api.adoption import SERVICE_ROLES

ROLLOUT_LABEL = "shiftlane.io/rollout"
REVISION_LABEL = "shiftlane.io/revision"
REVISION_NUMBER = "shiftlane.io/revision-number"
# The pod template a revision Deployment was created with (JSON): what drift of it is restored to.
POD_TEMPLATE = "shiftlane.io/pod-template"
FIELD_MANAGER = "shiftlane"
SERVICE_SUFFIXES = ("", "stable", "canary")


def revision_name(rollout: str, revision: str) -> str:
    return f"{rollout}-{revision}"


def service_name(rollout: str, suffix: str) -> str:
    return f"{rollout}-{suffix}" if suffix else rollout


def service_names(rollout: dict[str, Any]) -> dict[str, str]:
    """Service suffix -> the name of the Service the Rollout uses for it: one spec.services names, else its own."""
    named = named_services(rollout)
    name = rollout["metadata"]["name"]
    return {suffix: named.get(suffix) or service_name(name, suffix) for suffix in SERVICE_SUFFIXES}


def named_services(rollout: dict[str, Any]) -> dict[str, str]:
    """Service suffix -> the existing Service spec.services names for it (api/adoption.py SERVICE_ROLES)."""
    named = (rollout.get("spec") or {}).get("services") or {}
    return {suffix: named[role] for role, suffix in SERVICE_ROLES.items() if named.get(role)}


def rollouts_for_service(name: str) -> set[str]:
    """The Rollouts whose Services could have this name (`<rollout>`, `<rollout>-stable`, `<rollout>-canary`)."""
    return {name, *(name.removesuffix(f"-{suffix}") for suffix in SERVICE_SUFFIXES if suffix and name.endswith(f"-{suffix}"))}


def owner_reference(rollout: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": rollout["apiVersion"],
        "kind": rollout["kind"],
        "name": rollout["metadata"]["name"],
        "uid": rollout["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def controller_uid(metadata: dict[str, Any]) -> str | None:
    return next((o.get("uid") for o in metadata.get("ownerReferences") or [] if o.get("controller")), None)


def resource_version(body: dict[str, Any]) -> int:
    # resourceVersions are opaque by contract, but every API server backed by etcd issues increasing
    # integers; comparing them is how we tell our own fresh write from a stale watch event.
    try:
        return int(body["metadata"].get("resourceVersion", 0))
    except (TypeError, ValueError):
        return 0
