"""The analysis templates' status: whether the operator can use them (`Valid`), and why not."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, Protocol

from kubernetes_asyncio import client

from shiftlane.api.crd import GROUP, VERSION
from shiftlane.kube.labels import FIELD_MANAGER


class CheckedTemplate(Protocol):
    error: str | None


class TemplateStatusWriter:
    def __init__(self, api: client.ApiClient):
        self.custom = client.CustomObjectsApi(api)

    async def mark(self, template: Mapping[str, Any], check: CheckedTemplate) -> None:
        """Set the Valid condition; written only when it changes (so this never loops on its own event)."""
        meta = template["metadata"]
        valid = "False" if check.error else "True"
        message = check.error or "every metric's conditions compile"
        current = next((c for c in (template.get("status") or {}).get("conditions", []) if c.get("type") == "Valid"), None)
        if current and current.get("status") == valid and current.get("message") == message \
                and (template.get("status") or {}).get("observedGeneration") == meta.get("generation"):
            return
        condition = {
            "type": "Valid", "status": valid, "reason": "ConditionInvalid" if check.error else "Checked",
            "message": message[:1000], "lastTransitionTime": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        document = {"status": {"observedGeneration": meta.get("generation"), "conditions": [condition]}}
        try:
            if meta.get("namespace"):
                await self.custom.patch_namespaced_custom_object_status(
                    GROUP, VERSION, meta["namespace"], "analysistemplates", meta["name"], document,
                    field_manager=FIELD_MANAGER, _content_type="application/merge-patch+json")
            else:
                await self.custom.patch_cluster_custom_object_status(
                    GROUP, VERSION, "clusteranalysistemplates", meta["name"], document,
                    field_manager=FIELD_MANAGER, _content_type="application/merge-patch+json")
        except client.ApiException as error:
            if error.status != 404:  # deleted meanwhile: nothing to mark
                raise
