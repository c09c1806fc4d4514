"""Revision Deployments: what they show (observation) and how they are created and scaled."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kubernetes_asyncio import client

from shiftlane.engine.model import RevisionObservation
from shiftlane.kube.client import api_message, json_body
from shiftlane.kube.labels import (
    FIELD_MANAGER, POD_TEMPLATE, REVISION_LABEL, REVISION_NUMBER, ROLLOUT_LABEL, owner_reference, revision_name,
)
from shiftlane.kube.ownership import edited_by
from shiftlane.kube.replica_sets import ReplicaSetView, revision_counts

_COUNTS = ("replicas", "readyReplicas", "availableReplicas")


def slim_deployment(deployment: dict[str, Any]) -> dict[str, Any]:
    """Only what observe_revision reads: a watch cache of 1,000 Rollouts' revisions stays small."""
    meta = deployment["metadata"]
    edits = {field: list(by) for field in ("replicas", "template") if (by := edited_by(meta, "spec", field))}
    return {
        **({"editedBy": edits} if edits else {}),
        "metadata": {
            "name": meta["name"],
            "uid": meta.get("uid"),  # what its ReplicaSets name as owner
            "resourceVersion": meta.get("resourceVersion"),
            "labels": dict(meta.get("labels") or {}),
            "annotations": {REVISION_NUMBER: (meta.get("annotations") or {}).get(REVISION_NUMBER, "0")},
        },
        "spec": {"replicas": (deployment.get("spec") or {}).get("replicas", 0)},
        "status": {k: v for k, v in (deployment.get("status") or {}).items() if k in _COUNTS},
    }


def edits(deployment: dict[str, Any], field: str) -> list[str]:
    """The managers other than Shiftlane's that last set `spec.<field>` of a slim revision Deployment."""
    return (deployment.get("editedBy") or {}).get(field, [])


@dataclass(frozen=True)
class TemplateRestore:
    """A revision's pod template put back as it was created: what it held, and what it holds now."""

    drifted: dict[str, Any]
    restored: dict[str, Any]
    deployment: dict[str, Any]  # slim, after the write


def observe_revision(deployment: dict[str, Any], replica_sets: Iterable[ReplicaSetView] = ()) -> RevisionObservation:
    """A revision as its Deployment shows it, with pod counts from its ReplicaSet when those are fresher."""
    meta, spec = deployment["metadata"], deployment.get("spec") or {}
    counts = revision_counts(deployment, replica_sets)
    return RevisionObservation(
        name=meta["labels"][REVISION_LABEL],
        number=int((meta.get("annotations") or {}).get(REVISION_NUMBER, 0)),
        spec_replicas=spec.get("replicas", 0),
        replicas=counts.replicas,
        ready=counts.ready,
        available=counts.available,
    )


def revision_manifest(
    rollout: dict[str, Any], revision: str, number: int, replicas: int
) -> dict[str, Any]:
    name = rollout["metadata"]["name"]
    spec = rollout["spec"]
    template = copy.deepcopy(spec["template"])
    pod_labels = {**(template.get("metadata") or {}).get("labels", {}), ROLLOUT_LABEL: name, REVISION_LABEL: revision}
    template.setdefault("metadata", {})["labels"] = pod_labels
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": revision_name(name, revision),
            "namespace": rollout["metadata"]["namespace"],
            "labels": {ROLLOUT_LABEL: name, REVISION_LABEL: revision},
            "annotations": {REVISION_NUMBER: str(number)},
            "ownerReferences": [owner_reference(rollout)],
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {**spec["selector"]["matchLabels"], REVISION_LABEL: revision}},
            "template": template,
            "minReadySeconds": spec.get("minReadySeconds", 0),
            "revisionHistoryLimit": 0,
            "progressDeadlineSeconds": spec.get("progressDeadlineSeconds", 600),
        },
    }


class RevisionWriter:
    def __init__(self, api: client.ApiClient):
        self.apps = client.AppsV1Api(api)

    async def refusal(self, manifest: dict[str, Any]) -> str | None:
        """The API server's message if it would refuse to create this Deployment (a dry run: nothing is stored).

        409 (the name is taken) is raised, not returned: it is about the name, not the template.
        """
        try:
            await json_body(await self.apps.create_namespaced_deployment(
                manifest["metadata"]["namespace"], manifest, dry_run="All", _preload_content=False))
        except client.ApiException as error:
            if error.status in (400, 422):
                return api_message(error)
            raise
        return None

    async def create(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """A plain create, so an existing Deployment of that name is refused (409) rather than taken over.
        The template is kept in an annotation: it is the revision, and drift of it is put back from there."""
        manifest = {**manifest, "metadata": {**manifest["metadata"], "annotations": {
            **manifest["metadata"].get("annotations", {}),
            POD_TEMPLATE: json.dumps(manifest["spec"]["template"], sort_keys=True, separators=(",", ":")),
        }}}
        return slim_deployment(await json_body(await self.apps.create_namespaced_deployment(
            manifest["metadata"]["namespace"], manifest, field_manager=FIELD_MANAGER, _preload_content=False)))

    async def scale(self, namespace: str, name: str, replicas: int) -> dict[str, Any]:
        # A patch of the Deployment itself, not of its scale subresource: the chart's RBAC grants
        # `patch deployments`, not `deployments/scale` (found by tests/e2e).
        return slim_deployment(await json_body(await self.apps.patch_namespaced_deployment(
            name, namespace, {"spec": {"replicas": replicas}}, field_manager=FIELD_MANAGER,
            _content_type="application/merge-patch+json", _preload_content=False,
        )))

    async def restore_template(self, namespace: str, name: str) -> TemplateRestore | None:
        """Put the pod template back as the revision was created, if someone changed it; None when there
        is nothing to put back (the template is as created, or the Deployment or its record is gone)."""
        try:
            current = await self._read(namespace, name)
        except client.ApiException as error:
            if error.status == 404:
                return None
            raise
        stored = (current["metadata"].get("annotations") or {}).get(POD_TEMPLATE)
        if stored is None:
            return None
        ops = [
            {"op": "test", "path": "/metadata/resourceVersion", "value": current["metadata"]["resourceVersion"]},
            {"op": "replace", "path": "/spec/template", "value": json.loads(stored)},
        ]
        restored = await json_body(await self.apps.patch_namespaced_deployment(
            name, namespace, ops, field_manager=FIELD_MANAGER, _content_type="application/json-patch+json", _preload_content=False))
        if restored["metadata"]["resourceVersion"] == current["metadata"]["resourceVersion"]:
            return None  # the same template in other hands: nothing changed
        return TemplateRestore(current["spec"]["template"], restored["spec"]["template"], slim_deployment(restored))

    async def template(self, namespace: str, name: str) -> dict[str, Any] | None:
        """A revision's pod template as it runs (pinned images included); None when it is gone."""
        try:
            return (await self._read(namespace, name))["spec"]["template"]
        except client.ApiException as error:
            if error.status == 404:
                return None
            raise

    async def _read(self, namespace: str, name: str) -> dict[str, Any]:
        return await json_body(await self.apps.read_namespaced_deployment(name, namespace, _preload_content=False))

    async def delete(self, namespace: str, name: str) -> None:
        try:
            await self.apps.delete_namespaced_deployment(name, namespace)
        except client.ApiException as error:
            if error.status != 404:
                raise
