"""The Rollout's Services: `<rollout>` for clients, `<rollout>-stable` and `<rollout>-canary` for routers and previews."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubernetes_asyncio import client

from shiftlane.kube.client import json_body
from shiftlane.kube.ownership import edited_by
from shiftlane.kube.labels import (
    FIELD_MANAGER,
    REVISION_LABEL,
    ROLLOUT_LABEL,
    controller_uid,
    owner_reference,
    resource_version,
    service_name,
)

APPLY = "application/apply-patch+yaml"

Port = tuple[str | None, int | None, Any, str | None]  # name, port, targetPort, protocol


@dataclass(frozen=True)
class ServiceView:
    """What a reconcile reads of a Service whose name a Rollout may want: who controls it, and where it sends traffic."""

    resource_version: int
    owner_uid: str | None  # the controller ownerReference: a Rollout's uid for the Services Shiftlane created
    selector: Mapping[str, str] | None = None
    ports: tuple[Port, ...] = ()
    edited_by: tuple[str, ...] = ()  # managers other than Shiftlane's that last set its spec (drift)

    @property
    def revision(self) -> str | None:
        return (self.selector or {}).get(REVISION_LABEL)


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


def named_service_manifest(namespace: str, name: str, observed: ServiceView, revision: str | None) -> dict[str, Any]:
    """An apply of the selector alone to a Service the user named in spec.services: its own keys as
    observed, plus the revision key when one revision is to be selected. (The API server treats a
    Service's selector as one atomic field, so the apply carries the user's keys unchanged.)"""
    selector = {k: v for k, v in (observed.selector or {}).items() if k != REVISION_LABEL}
    if revision:
        selector[REVISION_LABEL] = revision
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace},
            "spec": {"selector": selector}}


def _port(port: Mapping[str, Any]) -> Port:
    return (port.get("name"), port.get("port"), port.get("targetPort"), port.get("protocol"))


def slim_service(service: dict[str, Any]) -> ServiceView:
    """Owner, resourceVersion and selector of any Service (a name taken by someone else; one a Rollout
    names in spec.services); ports of ours."""
    meta, spec = service["metadata"], service.get("spec") or {}
    view = ServiceView(resource_version(service), controller_uid(meta), spec.get("selector"))
    if ROLLOUT_LABEL not in (meta.get("labels") or {}):
        return view
    return ServiceView(view.resource_version, view.owner_uid, view.selector, tuple(_port(p) for p in spec.get("ports") or []),
                       edited_by(meta, "spec", "selector") + edited_by(meta, "spec", "ports"))


def differs(observed: ServiceView | None, manifest: dict[str, Any]) -> bool:
    if observed is None:
        return True
    wanted = manifest["spec"]
    return dict(observed.selector or {}) != wanted["selector"] or observed.ports != tuple(_port(p) for p in wanted["ports"])


class ServiceWriter:
    def __init__(self, api: client.ApiClient):
        self.core = client.CoreV1Api(api)

    async def create(self, manifest: dict[str, Any]) -> ServiceView:
        """A plain create: if a Service of that name appeared meanwhile it is refused (409), never taken over."""
        return slim_service(await json_body(await self.core.create_namespaced_service(
            manifest["metadata"]["namespace"], manifest, field_manager=FIELD_MANAGER, _preload_content=False)))

    async def apply(self, manifest: dict[str, Any]) -> ServiceView:
        """Server-side apply to a Service this Rollout controls, forced so an edit by hand is repaired."""
        meta = manifest["metadata"]
        return slim_service(await json_body(await self.core.patch_namespaced_service(
            meta["name"], meta["namespace"], manifest, field_manager=FIELD_MANAGER, force=True, _content_type=APPLY,
            _preload_content=False,
        )))
