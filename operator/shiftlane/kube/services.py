"""The Rollout's Services: `<rollout>` for clients, `<rollout>-stable` and `<rollout>-canary` for routers and previews."""

from __future__ import annotations

from typing import Any

from kubernetes_asyncio import client

from shiftlane.kube.labels import FIELD_MANAGER, REVISION_LABEL, ROLLOUT_LABEL, owner_reference, service_name
from shiftlane.kube.revisions import APPLY


def service_ports(template: dict[str, Any]) -> list[dict[str, Any]]:
    ports = []
    for container in template.get("spec", {}).get("containers", []):
        for port in container.get("ports", []):
            number = port["containerPort"]
            ports.append(
                {
                    "name": port.get("name") or f"port-{number}",
                    "port": number,
                    "targetPort": number,
                    "protocol": port.get("protocol", "TCP"),
                }
            )
    return ports


def service_selector(rollout: dict[str, Any], revision: str | None) -> dict[str, str]:
    selector = {**rollout["spec"]["selector"]["matchLabels"], ROLLOUT_LABEL: rollout["metadata"]["name"]}
    if revision:
        selector[REVISION_LABEL] = revision
    return selector


def service_manifest(rollout: dict[str, Any], suffix: str, revision: str | None, ports: list[dict[str, Any]]) -> dict[str, Any]:
    name = rollout["metadata"]["name"]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": service_name(name, suffix),
            "namespace": rollout["metadata"]["namespace"],
            "labels": {ROLLOUT_LABEL: name},
            "ownerReferences": [owner_reference(rollout)],
        },
        "spec": {"selector": service_selector(rollout, revision), "ports": ports},
    }


def slim_service(service: dict[str, Any]) -> dict[str, Any]:
    """Only what `differs` reads."""
    spec = service.get("spec") or {}
    return {"metadata": {"name": service["metadata"]["name"]}, "spec": {"selector": spec.get("selector"), "ports": spec.get("ports", [])}}


def differs(observed: dict[str, Any] | None, manifest: dict[str, Any]) -> bool:
    if observed is None:
        return True
    spec = observed.get("spec") or {}
    wanted = manifest["spec"]
    current_ports = [{k: p.get(k) for k in ("name", "port", "targetPort", "protocol")} for p in spec.get("ports", [])]
    return spec.get("selector") != wanted["selector"] or current_ports != wanted["ports"]


class ServiceWriter:
    def __init__(self, api: client.ApiClient):
        self.core = client.CoreV1Api(api)

    async def apply(self, manifest: dict[str, Any]) -> None:
        meta = manifest["metadata"]
        await self.core.patch_namespaced_service(
            meta["name"], meta["namespace"], manifest, field_manager=FIELD_MANAGER, force=True, _content_type=APPLY
        )
