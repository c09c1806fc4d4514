"""Who last set a field of an object, from its managedFields: how Shiftlane tells drift (a field of an
object it owns, changed by someone else) from its own writes.

The API server gives each changed field to the manager whose write changed it (an Update takes the
fields it changes from every other manager; a forced Apply takes the fields it sends), so a field that
some manager other than Shiftlane holds was last set by that manager.
"""

from __future__ import annotations

from typing import Any

from shiftlane.kube.labels import FIELD_MANAGER


def edited_by(metadata: dict[str, Any], *path: str) -> tuple[str, ...]:
    """The managers other than Shiftlane's that hold a field at or under `path` (e.g. "spec", "replicas")."""
    managers = []
    for entry in metadata.get("managedFields") or []:
        fields: Any = entry.get("fieldsV1") or {}
        for name in path:
            fields = fields.get(f"f:{name}") if isinstance(fields, dict) else None
        manager = entry.get("manager") or ""
        if fields is not None and manager != FIELD_MANAGER and manager not in managers:
            managers.append(manager)
    return tuple(managers)
