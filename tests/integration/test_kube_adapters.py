"""The Kubernetes adapters against a real API server: revisions, Services, status and ownership."""

from __future__ import annotations

import asyncio
import os
import time

import pytest
from kubernetes_asyncio import client

from shiftlane.api.status import Command, Phase, RolloutStatus
from shiftlane.kube.labels import REVISION_LABEL, ROLLOUT_LABEL
from shiftlane.kube.replica_sets import revision_counts, slim_replica_set
from shiftlane.kube.revisions import RevisionWriter, observe_revision, revision_manifest, slim_deployment
from shiftlane.kube.rollouts import StatusWriter, status_document
from shiftlane.kube.services import ServiceWriter, differs, service_manifest, service_ports, slim_service
from tests.integration.cluster import create_rollout, fresh_namespace

pytestmark = pytest.mark.skipif(not os.environ.get("KUBECONFIG"), reason="needs a cluster in KUBECONFIG")


@pytest.fixture
async def rollout(api):
    async with fresh_namespace(api, "adapters") as ns:
        yield await create_rollout(api, ns, "web", {"recreate": {}})


async def test_revision_is_created_owned_and_scaled(api, rollout) -> None:
    namespace = rollout["metadata"]["namespace"]
    writer = RevisionWriter(api)
    await writer.create(revision_manifest(rollout, "abc123", 1, 2))
    apps = client.AppsV1Api(api)
    deployment = await apps.read_namespaced_deployment("web-abc123", namespace)
    assert deployment.metadata.labels == {ROLLOUT_LABEL: "web", REVISION_LABEL: "abc123"}
    assert deployment.metadata.owner_references[0].uid == rollout["metadata"]["uid"]
    assert deployment.spec.template.metadata.labels[REVISION_LABEL] == "abc123"
    assert deployment.spec.template.spec.containers[0].ports[0].container_port == 8080

    await writer.scale(namespace, "web-abc123", 0)
    raw = await apps.read_namespaced_deployment("web-abc123", namespace, _preload_content=False)
    observed = observe_revision(await raw.json())
    assert observed.spec_replicas == 0 and observed.name == "abc123" and observed.number == 1

    await writer.delete(namespace, "web-abc123")
    await writer.delete(namespace, "web-abc123")  # already gone is fine


async def test_a_revisions_replica_set_is_its_own_and_never_counts_more_than_its_pods(api, rollout) -> None:
    """The controller-manager's ReplicaSet carries what the readiness rule needs (our labels, the
    Deployment's uid as controller), and the counts chosen never exceed the pods that are ready."""
    namespace = rollout["metadata"]["namespace"]
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    writer = RevisionWriter(api)
    created = await writer.create(revision_manifest(rollout, "abc123", 1, 2))
    selector = f"{ROLLOUT_LABEL},{REVISION_LABEL}"  # the operator's ReplicaSet watch
    deadline = time.monotonic() + 60
    for replicas in (2, 3):
        await writer.scale(namespace, "web-abc123", replicas)
        while True:
            assert time.monotonic() < deadline, "the revision's pods did not become ready"
            deployment = slim_deployment(await (await apps.read_namespaced_deployment("web-abc123", namespace, _preload_content=False)).json())
            listed = (await (await apps.list_namespaced_replica_set(namespace, label_selector=selector, _preload_content=False)).json())["items"]
            views = [slim_replica_set(rs) for rs in listed]
            counts = revision_counts(deployment, views)
            pods = (await (await core.list_namespaced_pod(namespace, label_selector=selector, _preload_content=False)).json())["items"]
            ready = sum(any(c["type"] == "Ready" and c["status"] == "True" for c in (p.get("status") or {}).get("conditions") or []) for p in pods)
            assert counts.ready <= ready  # kwok's pods only become ready here: read after, never fewer
            if counts.ready == replicas and deployment["spec"]["replicas"] == replicas:
                break
            await asyncio.sleep(0.02)
    assert [rs["metadata"]["labels"][REVISION_LABEL] for rs in listed] == ["abc123"]
    assert [view.owner_uid for view in views] == [created["metadata"]["uid"]]


async def test_services_switch_selector_and_report_drift(api, rollout) -> None:
    namespace = rollout["metadata"]["namespace"]
    ports = service_ports(rollout["spec"]["template"])
    writer = ServiceWriter(api)
    wanted = service_manifest(rollout, "", "rev1", ports)
    await writer.create(wanted)
    core = client.CoreV1Api(api)
    raw = await core.read_namespaced_service("web", namespace, _preload_content=False)
    observed = slim_service(await raw.json())
    assert observed.owner_uid == rollout["metadata"]["uid"]
    assert observed.selector == {"app": "web", ROLLOUT_LABEL: "web", REVISION_LABEL: "rev1"}
    assert not differs(observed, wanted)  # nothing to write when it already holds
    switched = service_manifest(rollout, "", None, ports)
    assert differs(observed, switched)
    await writer.apply(switched)
    service = await core.read_namespaced_service("web", namespace)
    assert REVISION_LABEL not in service.spec.selector


async def test_status_patch_clears_fields_and_keeps_the_plugin_command(api, rollout) -> None:
    namespace, name = rollout["metadata"]["namespace"], rollout["metadata"]["name"]
    custom = client.CustomObjectsApi(api)
    await custom.patch_namespaced_custom_object_status(
        "shiftlane.io", "v1alpha1", namespace, "rollouts", name,
        {"status": {"command": {"name": "promote", "id": "c1"}, "canaryRevision": "old"}},
        _content_type="application/merge-patch+json",
    )
    status = RolloutStatus(phase=Phase.HEALTHY, stable_revision="rev1", command=Command(name="abort", id="ignored"))
    document = status_document(status)
    patched = await StatusWriter(api).patch(namespace, name, {**document, "canaryRevision": None})
    assert patched["status"]["phase"] == "Healthy"
    assert "canaryRevision" not in patched["status"]
    assert patched["status"]["command"] == {"name": "promote", "id": "c1"}
    assert RolloutStatus.model_validate(patched["status"]).stable_revision == "rev1"
