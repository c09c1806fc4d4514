"""The Deployment a Rollout adopts (spec.workloadRef): what it shows, the spec it lends the Rollout,
and the two writes Shiftlane makes to it (a label, so the operator's filtered Deployment watch sees
it, and its replicas)."""

from __future__ import annotations

from typing import Any

from kubernetes_asyncio import client

from shiftlane.engine.model import WorkloadObservation
from shiftlane.kube.client import json_body
from shiftlane.kube.labels import FIELD_MANAGER, ROLLOUT_LABEL

MERGE_PATCH = "application/merge-patch+json"


def slim_workload(deployment: dict[str, Any]) -> dict[str, Any]:
    """What a reconcile reads of an adopted Deployment: its template, selector and counts."""
    meta, spec = deployment["metadata"], deployment.get("spec") or {}
    status = deployment.get("status") or {}
    return {
        "metadata": {
            "name": meta["name"],
            "resourceVersion": meta.get("resourceVersion"),
            "labels": dict(meta.get("labels") or {}),
        },
        "spec": {k: spec[k] for k in ("replicas", "selector", "template") if k in spec},
        "status": {k: status[k] for k in ("replicas", "readyReplicas") if k in status},
    }


def observe_workload(workload: dict[str, Any]) -> WorkloadObservation:
    spec, status = workload.get("spec") or {}, workload.get("status") or {}
    return WorkloadObservation(
        name=workload["metadata"]["name"],
        spec_replicas=spec.get("replicas", 1),
        replicas=status.get("replicas", 0),
        ready=status.get("readyReplicas", 0),
    )


def adopted_rollout(rollout: dict[str, Any], workload: dict[str, Any]) -> dict[str, Any]:
    """The Rollout as if it carried the Deployment's pod template (and selector, when it names none):
    the revision hash, the revision Deployments and the Services all come from these."""
    spec = {**rollout["spec"], "template": workload["spec"]["template"]}
    if "selector" not in spec:
        spec["selector"] = {"matchLabels": dict((workload["spec"].get("selector") or {}).get("matchLabels") or {})}
    return {**rollout, "spec": spec}


class WorkloadWriter:
    """Reads answer the API server's JSON as it is, so the template hashes as the watch delivers it."""

    def __init__(self, api: client.ApiClient):
        self.apps = client.AppsV1Api(api)

    async def read(self, namespace: str, name: str) -> dict[str, Any] | None:
        response = await self.apps.read_namespaced_deployment(name, namespace, _preload_content=False)
        if response.status == 404:
            response.release()
            return None
        return slim_workload(await json_body(response))

    async def label(self, namespace: str, name: str, rollout: str) -> dict[str, Any]:
        """Mark it as the Rollout's: the operator watches only Deployments carrying this label."""
        return await self._patch(namespace, name, {"metadata": {"labels": {ROLLOUT_LABEL: rollout}}})

    async def scale(self, namespace: str, name: str, replicas: int) -> dict[str, Any]:
        return await self._patch(namespace, name, {"spec": {"replicas": replicas}})

    async def _patch(self, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        return slim_workload(await json_body(await self.apps.patch_namespaced_deployment(
            name, namespace, patch, field_manager=FIELD_MANAGER, _content_type=MERGE_PATCH, _preload_content=False
        )))
