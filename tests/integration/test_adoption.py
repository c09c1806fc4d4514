"""Adoption against a real API server: a Rollout that names a Deployment (spec.workloadRef) or existing
Services (spec.services). The reconciler is called directly with the cluster read as the operator's
indexes would hold it (tests/integration/test_reconciler.py does the same for owned objects)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes_asyncio import client

from shiftlane.api.revision import revision_of
from shiftlane.controller.reconciler import Children, Key, Reconciler
from shiftlane.engine.model import Event
from shiftlane.kube.labels import REVISION_LABEL, ROLLOUT_LABEL, service_names
from shiftlane.kube.revisions import RevisionWriter, slim_deployment
from shiftlane.kube.rollouts import StatusWriter, slim_rollout
from shiftlane.kube.services import ServiceWriter, slim_service
from shiftlane.kube.workloads import WorkloadWriter, slim_workload
from tests.e2e.helpers import rollout_manifest
from tests.integration.cluster import fresh_namespace

pytestmark = pytest.mark.skipif(not os.environ.get("KUBECONFIG"), reason="needs a cluster in KUBECONFIG")

GROUP, VERSION, PLURAL = "shiftlane.io", "v1alpha1", "rollouts"
TEMPLATE = {
    "metadata": {"labels": {"app": "web"}},
    "spec": {"containers": [{"name": "web", "image": "web:1", "ports": [{"name": "http", "containerPort": 8080}]}]},
}


def reconciler_for(api: client.ApiClient, events: list[Event]) -> Reconciler:
    return Reconciler(RevisionWriter(api), ServiceWriter(api), StatusWriter(api), lambda _, e: events.append(e),
                      workloads=WorkloadWriter(api))


async def _items(call: Any) -> list[dict[str, Any]]:
    return (await (await call).json())["items"]


async def observe(api: client.ApiClient, namespace: str, name: str) -> tuple[dict[str, Any], Children]:
    """The Rollout and what the operator's indexes would hand its reconcile."""
    rollout = slim_rollout(await client.CustomObjectsApi(api).get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name))
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    deployments = await _items(apps.list_namespaced_deployment(namespace, label_selector=ROLLOUT_LABEL, _preload_content=False))
    services = await _items(core.list_namespaced_service(namespace, _preload_content=False))
    names = set(service_names(rollout).values())
    ref = (rollout["spec"].get("workloadRef") or {}).get("name")
    return rollout, Children(
        deployments=[slim_deployment(d) for d in deployments if REVISION_LABEL in d["metadata"]["labels"]],
        services={s["metadata"]["name"]: slim_service(s) for s in services if s["metadata"]["name"] in names},
        workload=next((slim_workload(d) for d in deployments
                       if REVISION_LABEL not in d["metadata"]["labels"] and d["metadata"]["name"] == ref), None),
    )


def _no_wake(_: Key) -> None:
    pass


async def settle(reconciler: Reconciler, api: client.ApiClient, namespace: str, name: str,
                 done: Callable[[dict[str, Any]], bool], timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        rollout, children = await observe(api, namespace, name)
        status = rollout.get("status") or {}
        if done(status):
            return status
        assert time.monotonic() < deadline, f"{namespace}/{name} did not settle; status: {status}"
        await reconciler.reconcile((namespace, name), rollout, children, _no_wake)
        await asyncio.sleep(0.3)


def stalled(status: dict[str, Any]) -> dict[str, Any]:
    return next((c for c in status.get("conditions") or [] if c["type"] == "Stalled" and c["status"] == "True"), {})


async def create_deployment(api: client.ApiClient, namespace: str, replicas: int) -> dict[str, Any]:
    body = {"metadata": {"name": "web"}, "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}}, "template": TEMPLATE}}
    response = await client.AppsV1Api(api).create_namespaced_deployment(namespace, body, _preload_content=False)
    return await response.json()


async def create(api: client.ApiClient, namespace: str, body: dict[str, Any]) -> None:
    await client.CustomObjectsApi(api).create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)


def adopting(strategy: dict[str, Any], replicas: int, scale_down: str = "progressively") -> dict[str, Any]:
    body = rollout_manifest("web", strategy, replicas)
    del body["spec"]["template"], body["spec"]["selector"]
    body["spec"]["workloadRef"] = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "scaleDown": scale_down}
    return body


async def read_workload(api: client.ApiClient, namespace: str) -> dict[str, Any]:
    return await (await client.AppsV1Api(api).read_namespaced_deployment("web", namespace, _preload_content=False)).json()


async def test_a_rollout_runs_the_deployments_template_and_scales_it_to_zero(api) -> None:
    async with fresh_namespace(api, "adopt") as ns:
        deployment = await create_deployment(api, ns, 3)
        await create(api, ns, adopting({"canary": {"steps": [{"setWeight": 50}, {"pause": {}}]}}, 3))
        events: list[Event] = []
        reconciler = reconciler_for(api, events)
        status = await settle(reconciler, api, ns, "web", lambda s: bool(s.get("workload", {}).get("adopted")))

        revision = revision_of(deployment["spec"]["template"])  # the hash of the Deployment's own template
        assert status["stableRevision"] == revision and status["phase"] == "Healthy", status
        workload = await read_workload(api, ns)
        assert workload["spec"]["replicas"] == 0 and workload["metadata"]["labels"][ROLLOUT_LABEL] == "web"
        assert workload["spec"]["template"] == deployment["spec"]["template"]  # its template is never touched
        _, children = await observe(api, ns, "web")
        [owned] = children.deployments
        assert owned["metadata"]["labels"][REVISION_LABEL] == revision and owned["status"]["readyReplicas"] == 3
        reasons = [e.reason for e in events]
        assert "WorkloadScaledDown" in reasons and "WorkloadAdopted" in reasons

        # The Deployment's next template starts a rollout by the Rollout's strategy.
        await client.AppsV1Api(api).patch_namespaced_deployment(
            "web", ns, [{"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "web:2"}],
            _content_type="application/json-patch+json",
        )
        new = revision_of((await read_workload(api, ns))["spec"]["template"])
        status = await settle(reconciler, api, ns, "web", lambda s: s.get("phase") == "Paused")
        assert status["canaryRevision"] == new and status["stableRevision"] == revision
        assert (await read_workload(api, ns))["spec"]["replicas"] == 0


async def test_a_workload_ref_naming_no_deployment_stalls_naming_it_until_it_exists(api) -> None:
    async with fresh_namespace(api, "adopt-missing") as ns:
        await create(api, ns, adopting({"recreate": {}}, 2, "onSuccess"))
        reconciler = reconciler_for(api, [])
        status = await settle(reconciler, api, ns, "web", lambda s: bool(stalled(s)))
        assert stalled(status)["reason"] == "ObjectNotFound" and f"Deployment {ns}/web" in stalled(status)["message"]
        _, children = await observe(api, ns, "web")
        assert children.deployments == [] and children.services == {}  # nothing made from no template

        await create_deployment(api, ns, 2)
        status = await settle(reconciler, api, ns, "web", lambda s: s.get("phase") == "Healthy" and not stalled(s))
        assert (await read_workload(api, ns))["spec"]["replicas"] == 0


async def test_a_named_service_gets_only_the_revision_key_of_its_selector(api) -> None:
    async with fresh_namespace(api, "named") as ns:
        core = client.CoreV1Api(api)
        theirs = {"metadata": {"name": "front", "annotations": {"team": "shop"}},
                  "spec": {"selector": {"app": "web"}, "ports": [{"name": "web", "port": 80, "targetPort": 8080}]}}
        await core.create_namespaced_service(ns, theirs)
        body = rollout_manifest("web", {"blueGreen": {"autoPromotionEnabled": False}}, 2)
        body["spec"]["services"] = {"active": "front"}
        await create(api, ns, body)
        reconciler = reconciler_for(api, [])
        status = await settle(reconciler, api, ns, "web", lambda s: s.get("phase") == "Healthy")

        front = await (await core.read_namespaced_service("front", ns, _preload_content=False)).json()
        assert front["spec"]["selector"] == {"app": "web", REVISION_LABEL: status["stableRevision"]}
        assert front["spec"]["ports"][0]["port"] == 80 and front["metadata"]["annotations"] == {"team": "shop"}
        assert not front["metadata"].get("ownerReferences")
        ours = [f for f in front["metadata"]["managedFields"] if f["manager"] == "shiftlane"]
        assert [f["fieldsV1"] for f in ours] == [{"f:spec": {"f:selector": {}}}]  # the selector alone
        _, children = await observe(api, ns, "web")
        assert "web" not in children.services and {"web-stable", "web-canary"} <= set(children.services)
        assert not stalled(status)


async def test_a_named_service_that_does_not_exist_stalls_naming_it(api) -> None:
    async with fresh_namespace(api, "named-missing") as ns:
        body = rollout_manifest("web", {"recreate": {}}, 1)
        body["spec"]["services"] = {"active": "front"}
        await create(api, ns, body)
        status = await settle(reconciler_for(api, []), api, ns, "web", lambda s: bool(stalled(s)))
        assert stalled(status)["reason"] == "ObjectNotFound" and f"Service {ns}/front" in stalled(status)["message"]
