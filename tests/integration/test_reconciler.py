"""The reconciler against a real API server: what it writes, and what it must never write.

The tests read the cluster as the kopf indexes would (same slimming) and call the reconciler
directly, so they can hand it a view that lags behind its own writes, as a watch does.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import boto3
import pytest
from botocore.config import Config
from kubernetes_asyncio import client

from shiftlane.api.revision import revision_of
from shiftlane.controller.reconciler import Children, Key, Reconciler
from shiftlane.engine.model import Event
from shiftlane.kube.labels import REVISION_LABEL, ROLLOUT_LABEL, SERVICE_SUFFIXES, service_name
from shiftlane.kube.replica_sets import slim_replica_set
from shiftlane.kube.revisions import RevisionWriter, revision_manifest, slim_deployment
from shiftlane.kube.rollouts import StatusWriter, slim_rollout
from shiftlane.kube.services import ServiceWriter, slim_service
from shiftlane.registry.ecr import Ecr, default_config
from shiftlane.registry.gate import ImageGatekeeper
from shiftlane.registry.oci import OciRegistry
from tests.e2e.helpers import rollout_manifest
from tests.harness.ecr import free_port, push
from tests.integration.cluster import create_rollout, fresh_namespace

pytestmark = pytest.mark.skipif(not os.environ.get("KUBECONFIG"), reason="needs a cluster in KUBECONFIG")

GROUP, VERSION, PLURAL = "shiftlane.io", "v1alpha1", "rollouts"


class CountingApiClient(client.ApiClient):
    """The real client, recording every request that could change something (dry runs apart), and every read."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []
        self.dry_runs: list[str] = []
        self.reads: list[str] = []

    def request(self, method, url, query_params=None, *args, **kwargs):  # type: ignore[no-untyped-def]
        where = f"{method} {url.split('/namespaces/', 1)[-1].split('/', 1)[-1]}"
        if method == "GET":
            self.reads.append(where)
        elif method != "HEAD":
            (self.dry_runs if ("dryRun", "All") in (query_params or []) else self.writes).append(where)
        return super().request(method, url, query_params, *args, **kwargs)


def reconciler_for(api: client.ApiClient, events: list[Event]) -> Reconciler:
    return Reconciler(RevisionWriter(api), ServiceWriter(api), StatusWriter(api), lambda _, event: events.append(event))


async def observe(api: client.ApiClient, namespace: str, name: str) -> tuple[dict[str, Any], Children]:
    """The Rollout and its objects as the operator's indexes hold them."""
    raw = await client.CustomObjectsApi(api).get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
    selector = f"{ROLLOUT_LABEL}={name}"
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    deployments = await _items(apps.list_namespaced_deployment(namespace, label_selector=selector, _preload_content=False))
    replica_sets = await _items(apps.list_namespaced_replica_set(namespace, label_selector=f"{selector},{REVISION_LABEL}", _preload_content=False))
    services = await _items(core.list_namespaced_service(namespace, _preload_content=False))
    pods = await _items(core.list_namespaced_pod(namespace, label_selector=selector, _preload_content=False))
    names = {service_name(name, suffix) for suffix in SERVICE_SUFFIXES}
    return slim_rollout(raw), Children(
        deployments=[slim_deployment(d) for d in deployments],
        replica_sets=[slim_replica_set(rs) for rs in replica_sets],
        services={s["metadata"]["name"]: slim_service(s) for s in services if s["metadata"]["name"] in names},
        terminating=Counter(p["metadata"]["labels"][REVISION_LABEL] for p in pods if p["metadata"].get("deletionTimestamp")),
    )


async def _items(call: Awaitable[Any]) -> list[dict[str, Any]]:
    return (await (await call).json())["items"]


def _no_wake(_: Key) -> None:
    pass


async def settle(reconciler: Reconciler, api: client.ApiClient, namespace: str, name: str,
                 done: Callable[[dict[str, Any]], bool], timeout: float = 40) -> None:
    """Reconcile from fresh reads, as watch events would trigger it, until `done(status)` holds."""
    deadline = time.monotonic() + timeout
    while True:
        rollout, children = await observe(api, namespace, name)
        status = rollout.get("status") or {}
        if done(status):
            return
        assert time.monotonic() < deadline, f"{namespace}/{name} did not settle; status: {status}"
        await reconciler.reconcile((namespace, name), rollout, children, _no_wake)
        await asyncio.sleep(0.3)


def stalled_message(status: dict[str, Any]) -> str:
    condition = next((c for c in status.get("conditions") or [] if c["type"] == "Stalled"), {})
    return condition.get("message", "") if condition.get("status") == "True" else ""


async def test_each_reconcile_writes_only_what_changed_though_the_watch_lags(api) -> None:
    async with fresh_namespace(api, "writes") as ns, CountingApiClient() as counting:
        await create_rollout(api, ns, "web", {"canary": {"steps": [{"setWeight": 50}, {"pause": {}}]}}, replicas=4)
        reconciler = reconciler_for(counting, [])
        await settle(reconciler, api, ns, "web", lambda s: s.get("phase") == "Healthy" and s.get("readyReplicas") == 4)
        stable = (await observe(api, ns, "web"))[0]["status"]["stableRevision"]
        await client.CustomObjectsApi(api).patch_namespaced_custom_object(
            GROUP, VERSION, ns, PLURAL, "web", [{"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "web:2"}],
            _content_type="application/json-patch+json",
        )

        counting.dry_runs.clear()
        steps: list[list[str]] = []
        deadline = time.monotonic() + 40
        while (await observe(api, ns, "web"))[0].get("status", {}).get("phase") != "Paused":
            assert time.monotonic() < deadline, f"the canary step was not reached; writes so far: {steps}"
            rollout, children = await observe(api, ns, "web")
            counting.writes.clear()
            await reconciler.reconcile((ns, "web"), rollout, children, _no_wake)
            step = list(counting.writes)
            assert len(step) == len(set(step)), f"an object written twice in one reconcile: {step}"
            # Our own status write wakes the Rollout before the watches show what we wrote: the same
            # lagging view must not cause one more write.
            counting.writes.clear()
            await reconciler.reconcile((ns, "web"), rollout, children, _no_wake)
            assert counting.writes == [], f"after {step}, the lagging view wrote again: {counting.writes}"
            steps.append(step)
            await asyncio.sleep(0.3)

        writes = [write for step in steps for write in step]
        assert writes.count("POST deployments") == 1  # the new revision
        assert f"PATCH deployments/web-{stable}" in writes  # stable scaled down for the canary
        assert counting.dry_runs == ["POST deployments"]  # its template checked once, before the create
        deployments = (await observe(api, ns, "web"))[1].deployments
        new = revision_of(rollout["spec"]["template"])
        assert {d["metadata"]["labels"][REVISION_LABEL]: d["spec"]["replicas"] for d in deployments} == {stable: 2, new: 2}


async def test_each_reconcile_reads_its_route_once_and_writes_against_that_read(api) -> None:
    """The route's GET for the observation is the read its patch is checked against: one per reconcile."""
    route = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "web"},
        "spec": {"parentRefs": [{"name": "public"}], "rules": [{"backendRefs": [{"name": "web-stable", "port": 8080}]}]},
    }
    strategy = {"canary": {"steps": [{"setWeight": 50}, {"pause": {}}], "trafficRouting": {"gatewayAPI": {"httpRoute": "web"}}}}
    async with fresh_namespace(api, "route-reads") as ns, CountingApiClient() as counting:
        routes = client.CustomObjectsApi(api)
        await routes.create_namespaced_custom_object("gateway.networking.k8s.io", "v1", ns, "httproutes", route)
        await create_rollout(api, ns, "web", strategy, replicas=2)
        reconciler = Reconciler(RevisionWriter(api), ServiceWriter(api), StatusWriter(api), lambda _, event: None, routes=counting)
        await settle(reconciler, api, ns, "web", lambda s: s.get("phase") == "Healthy" and s.get("readyReplicas") == 2)
        await client.CustomObjectsApi(api).patch_namespaced_custom_object(
            GROUP, VERSION, ns, PLURAL, "web", [{"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "web:2"}],
            _content_type="application/json-patch+json",
        )

        reconciles: list[tuple[list[str], list[str]]] = []  # (reads, writes) of the route in each reconcile
        deadline = time.monotonic() + 40
        while (await observe(api, ns, "web"))[0].get("status", {}).get("phase") != "Paused":
            assert time.monotonic() < deadline, f"the canary step was not reached; route reads and writes: {reconciles}"
            rollout, children = await observe(api, ns, "web")
            counting.reads.clear()
            counting.writes.clear()
            await reconciler.reconcile((ns, "web"), rollout, children, _no_wake)
            reconciles.append((list(counting.reads), list(counting.writes)))
            await asyncio.sleep(0.3)

        assert all(reads == ["GET httproutes/web"] for reads, _ in reconciles), reconciles
        assert ["PATCH httproutes/web"] in [writes for _, writes in reconciles]  # the 50% was written
        held = await routes.get_namespaced_custom_object("gateway.networking.k8s.io", "v1", ns, "httproutes", "web")
        assert [b.get("weight") for b in held["spec"]["rules"][0]["backendRefs"]] == [50, 50]


async def test_a_spec_edit_right_after_a_reconcile_is_acted_on_and_a_deleted_rollout_is_forgotten(api) -> None:
    """The spec is parsed once per generation: an edit must still reach the very next reconcile."""
    async with fresh_namespace(api, "spec-edit") as ns:
        await create_rollout(api, ns, "web", {"canary": {"steps": [{"setWeight": 50}]}}, replicas=2)
        reconciler = reconciler_for(api, [])
        await settle(reconciler, api, ns, "web", lambda s: s.get("phase") == "Healthy" and s.get("readyReplicas") == 2)
        await client.CustomObjectsApi(api).patch_namespaced_custom_object(
            GROUP, VERSION, ns, PLURAL, "web", {"spec": {"replicas": 3}}, _content_type="application/merge-patch+json")
        rollout, children = await observe(api, ns, "web")
        await reconciler.reconcile((ns, "web"), rollout, children, _no_wake)
        deployments = (await observe(api, ns, "web"))[1].deployments
        assert [d["spec"]["replicas"] for d in deployments] == [3]
        assert len(reconciler.specs) == 1

        await reconciler.reconcile((ns, "web"), None, Children(), _no_wake)  # as after its DELETED event
        assert len(reconciler.specs) == 0


async def test_a_service_someone_else_made_is_left_untouched_and_named(api) -> None:
    async with fresh_namespace(api, "foreign") as ns:
        core = client.CoreV1Api(api)
        theirs = await core.create_namespaced_service(
            ns, {"metadata": {"name": "web"}, "spec": {"selector": {"app": "legacy"}, "ports": [{"port": 80, "targetPort": 9090}]}}
        )
        await create_rollout(api, ns, "web", {"recreate": {}})
        reconciler = reconciler_for(api, [])
        for _ in range(3):  # a few watch events' worth
            rollout, children = await observe(api, ns, "web")
            await reconciler.reconcile((ns, "web"), rollout, children, _no_wake)

        after = await core.read_namespaced_service("web", ns)
        assert after.metadata.resource_version == theirs.metadata.resource_version
        assert after.metadata.owner_references is None
        assert after.spec.selector == {"app": "legacy"}
        status = (await observe(api, ns, "web"))[0]["status"]
        assert f"Service {ns}/web" in stalled_message(status), status


MALFORMED = [
    pytest.param({"ports": [{"containerPort": "http"}]}, "containerPort", id="port-name-where-a-number-belongs"),
    pytest.param({"resources": {"limits": {"cpu": "lots"}}}, "quantities must match", id="resource-quantity-that-does-not-parse"),
    pytest.param({"ports": [{"name": "http", "containerPort": 8080}, {"name": "http", "containerPort": 8081}]},
                 "ports[1].name", id="two-ports-with-one-name"),
]


@pytest.mark.parametrize(("mistake", "named"), MALFORMED)
async def test_a_template_the_api_server_refuses_is_named_and_nothing_is_created(api, mistake, named) -> None:
    async with fresh_namespace(api, "template") as ns:
        rollout = await create_rollout(api, ns, "web", {"recreate": {}}, container={"name": "web", "image": "web:1", **mistake})
        revision = revision_of(rollout["spec"]["template"])
        refusal = await RevisionWriter(api).refusal(revision_manifest(rollout, revision, 1, 2))
        assert refusal is not None and named in refusal

        reconciler = reconciler_for(api, [])
        rollout, children = await observe(api, ns, "web")
        await reconciler.reconcile((ns, "web"), rollout, children, _no_wake)
        rollout, children = await observe(api, ns, "web")
        assert children.deployments == [] and children.services == {}
        assert named in stalled_message(rollout.get("status") or {}), rollout.get("status")


class Clock:
    """Time for the reconciler's backoff, moved by the test rather than waited for."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


async def refuse_rollout_services(api: client.ApiClient, namespace: str) -> tuple[str, str]:
    """A ValidatingAdmissionPolicy bound to this namespace that refuses Services made for Rollouts."""
    admission = client.AdmissionregistrationV1Api(api)
    name, message = f"refuse-{namespace}", f"no rollout services in {namespace}"
    await admission.create_validating_admission_policy({
        "metadata": {"name": name},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": [
                {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["services"]}
            ]},
            "validations": [{"expression": f"!('{ROLLOUT_LABEL}' in object.metadata.?labels.orValue({{}}))", "message": message}],
        },
    })
    await admission.create_validating_admission_policy_binding({
        "metadata": {"name": name},
        "spec": {"policyName": name, "validationActions": ["Deny"],
                 "matchResources": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}},
    })
    probe = {"metadata": {"name": "probe", "labels": {ROLLOUT_LABEL: "probe"}}, "spec": {"ports": [{"port": 80}]}}
    deadline = time.monotonic() + 20
    while True:  # the policy takes effect a moment after it is stored
        try:
            await client.CoreV1Api(api).create_namespaced_service(namespace, probe, dry_run="All")
        except client.ApiException as error:
            if message in str(error.body):
                return name, message
        assert time.monotonic() < deadline, "the admission policy never refused a Service"
        await asyncio.sleep(0.3)


async def test_a_refused_write_is_retried_with_growing_backoff_and_nothing_is_written_in_between(api) -> None:
    async with fresh_namespace(api, "refused") as ns, CountingApiClient() as counting:
        policy, message = await refuse_rollout_services(api, ns)
        try:
            await create_rollout(api, ns, "web", {"recreate": {}})
            clock, events = Clock(), []
            reconciler = Reconciler(RevisionWriter(counting), ServiceWriter(counting), StatusWriter(counting),
                                    lambda _, event: events.append(event), clock=clock)

            async def attempt() -> list[str]:
                counting.writes.clear()
                rollout, children = await observe(api, ns, "web")
                await reconciler.reconcile((ns, "web"), rollout, children, _no_wake)
                return [write for write in counting.writes if "/status" not in write]

            start = clock.now
            assert await attempt() == ["POST services"]  # refused
            status = (await observe(api, ns, "web"))[0]["status"]
            assert message in stalled_message(status), status
            assert sum(message in event.message for event in events) == 1

            for offset in (1, 4.9):  # within the first 5 s events may wake it, but nothing is written
                clock.now = start + offset
                assert await attempt() == []
            clock.now = start + 5.1
            assert await attempt() == ["POST services"]  # retried at 5 s, refused again
            clock.now = start + 14
            assert await attempt() == []  # the next wait is 10 s
            assert sum(message in event.message for event in events) == 1  # and the Event is not repeated

            await lift(api, policy)
            await asyncio.sleep(1)  # the policy's removal takes effect a moment later
            clock.now = start + 15.2
            writes = await attempt()
            assert "POST services" in writes and "POST deployments" in writes
            status = (await observe(api, ns, "web"))[0]["status"]
            assert not stalled_message(status), status
        finally:
            await lift(api, policy)


async def lift(api: client.ApiClient, policy: str) -> None:
    admission = client.AdmissionregistrationV1Api(api)
    for delete in (admission.delete_validating_admission_policy_binding, admission.delete_validating_admission_policy):
        try:
            await delete(policy)
        except client.ApiException as error:
            if error.status != 404:
                raise


async def test_an_unreachable_ecr_leaves_the_rollout_waiting_on_stable_and_nothing_unchecked_is_created(api, aws) -> None:
    host = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
    first = push(aws(), "web", "1", layer="a")
    push(aws(), "web", "2", layer="b")
    async with fresh_namespace(api, "unreachable") as ns, aiohttp.ClientSession() as session:
        body = rollout_manifest("web", {"canary": {"steps": [{"setWeight": 50}]}}, replicas=2, image=f"{host}/web:1",
                                imagePolicy={"scan": {"maxSeverity": "HIGH"}})
        await client.CustomObjectsApi(api).create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, body)
        reachable = reconciler_for(api, [])
        reachable.images = ImageGatekeeper(Ecr(boto3.Session(region_name="eu-west-1")), OciRegistry(session))
        await settle(reachable, api, ns, "web", lambda s: s.get("phase") == "Healthy" and s.get("readyReplicas") == 2)
        stable = (await observe(api, ns, "web"))[0]["status"]["stableRevision"]

        await client.CustomObjectsApi(api).patch_namespaced_custom_object(
            GROUP, VERSION, ns, PLURAL, "web", [{"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": f"{host}/web:2"}],
            _content_type="application/json-patch+json",
        )
        closed = f"http://127.0.0.1:{free_port()}"
        one_try = default_config().merge(Config(retries={"mode": "adaptive", "max_attempts": 1}, connect_timeout=1))
        cut_off = reconciler_for(api, [])
        cut_off.images = ImageGatekeeper(
            Ecr(boto3.Session(region_name="eu-west-1"), one_try), OciRegistry(session))
        with pytest.MonkeyPatch.context() as env:
            env.setenv("AWS_ENDPOINT_URL", closed)
            for _ in range(3):  # as watch events and its own requeues would call it
                rollout, children = await observe(api, ns, "web")
                await cut_off.reconcile((ns, "web"), rollout, children, _no_wake)
        rollout, children = await observe(api, ns, "web")
        status = rollout["status"]
        reconciling = next(c for c in status["conditions"] if c["type"] == "Reconciling")
        assert status["phase"] == "Progressing" and reconciling["status"] == "True"
        assert "unreachable" in reconciling["message"] and "container 'app'" in reconciling["message"]
        assert stalled_message(status) == ""  # waiting, not blocked: it goes on once ECR answers
        # Only the stable revision exists, at full size: nothing of the unchecked image was created.
        assert {d["metadata"]["labels"][REVISION_LABEL]: d["spec"]["replicas"] for d in children.deployments} == {stable: 2}
        assert status["stableRevision"] == stable and first in str(await RevisionWriter(api).template(ns, f"web-{stable}"))

        await settle(reachable, api, ns, "web", lambda s: s.get("stableRevision") not in (None, stable) and s.get("phase") == "Healthy")
