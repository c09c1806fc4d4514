"""The Rollout's own status subresource."""

from __future__ import annotations

from typing import Any

from kubernetes_asyncio import client

from shiftlane.api.crd import GROUP, PLURAL, VERSION
from shiftlane.api.status import RolloutStatus
from shiftlane.kube.labels import FIELD_MANAGER

# The kubectl plugin writes `command`; the operator never overwrites it.
_PLUGIN_OWNED = {"command"}


def status_document(status: RolloutStatus) -> dict[str, Any]:
    return status.model_dump(mode="json", by_alias=True, exclude=_PLUGIN_OWNED, exclude_none=True)


_BULKY_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)


def slim_rollout(rollout: dict[str, Any]) -> dict[str, Any]:
    """The Rollout without managedFields and the copy of itself kubectl keeps in an annotation."""
    meta = {k: v for k, v in rollout["metadata"].items() if k != "managedFields"}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in _BULKY_ANNOTATIONS}
    return {**rollout, "metadata": {**meta, "annotations": annotations}}


class StatusWriter:
    def __init__(self, api: client.ApiClient):
        self.custom = client.CustomObjectsApi(api)

    async def patch(self, namespace: str, name: str, document: dict[str, Any]) -> dict[str, Any]:
        """A merge patch: nulls clear fields, and fields we do not send (the command) stay."""
        patched = await self.custom.patch_namespaced_custom_object_status(
            GROUP, VERSION, namespace, PLURAL, name, {"status": document},
            field_manager=FIELD_MANAGER, _content_type="application/merge-patch+json",
        )
        return slim_rollout(patched)
