"""The job provider on the local control plane: kwok runs a Job's pod to Succeeded, or to Failed when
the pod carries the annotation shiftlane.io/test-exit-code (hack/cluster/stages/pod.yaml), and the
Job controller of kube-controller-manager marks the Job Complete or Failed."""

from __future__ import annotations

import asyncio
import time

import pytest
from kubernetes_asyncio import client

from shiftlane.analysis.condition import judge
from shiftlane.analysis.measurement import Measurement, Phase, ProviderContext
from shiftlane.analysis.providers import measure
from tests.integration.analysis_support import context_for, provider
from tests.integration.cluster import fresh_namespace


@pytest.fixture(scope="module")
async def namespace(api):
    async with fresh_namespace(api, "analysis-job") as name:
        yield name


def job_provider(annotations: dict[str, str] | None = None, **spec: object):
    return provider("job", metadata={"labels": {"shiftlane.io/analysis": "smoke"}}, spec={
        "backoffLimit": 0,
        **spec,
        "template": {
            "metadata": {"annotations": annotations or {}},
            "spec": {"restartPolicy": "Never", "containers": [{"name": "smoke", "image": "curlimages/curl:8",
                                                              "args": ["-f", "http://{{args.service}}/health"]}]},
        },
    })


async def until_decided(spec, args, context: ProviderContext, timeout: float = 60) -> tuple[Measurement, int]:
    """Measures as a run would, until the provider decides; returns the last measurement and how many were pending."""
    pending, deadline = 0, time.monotonic() + timeout
    while True:
        m = await measure(spec, args, context)
        if not m.pending:
            return m, pending
        assert m.error is None
        assert judge(m, None, None) == Phase.RUNNING
        pending += 1
        assert time.monotonic() < deadline, "the Job did not finish"
        await asyncio.sleep(0.5)


async def test_a_job_that_succeeds_is_successful(api, namespace) -> None:
    owner_map = await client.CoreV1Api(api).create_namespaced_config_map(namespace, {"metadata": {"name": "owner"}})
    owner = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner_map.metadata.uid}
    context = context_for(api, namespace, run_name="smoke-ok-1", owner=owner)
    m, pending = await until_decided(job_provider(), {"service": "checkout"}, context)
    assert pending >= 1  # the first measure created it and found it running
    assert m.phase == Phase.SUCCESSFUL and m.error is None
    assert m.query == f"Job {namespace}/smoke-ok-1"
    assert judge(m, None, None) == Phase.SUCCESSFUL
    job = await client.BatchV1Api(api).read_namespaced_job("smoke-ok-1", namespace)
    assert job.metadata.labels["shiftlane.io/analysis"] == "smoke"
    assert [(o.kind, o.name, o.uid) for o in job.metadata.owner_references] == [("ConfigMap", "owner", owner_map.metadata.uid)]
    assert job.spec.template.spec.containers[0].args == ["-f", "http://checkout/health"]  # arguments filled in


async def test_a_job_that_fails_is_failed(api, namespace) -> None:
    context = context_for(api, namespace, run_name="smoke-fail-1")
    m, _ = await until_decided(job_provider({"shiftlane.io/test-exit-code": "2"}), {"service": "checkout"}, context)
    assert m.phase == Phase.FAILED
    assert "BackoffLimitExceeded" in m.value
    assert judge(m, "true", None) == Phase.FAILED  # the Job decides, not the conditions


async def test_measuring_again_reads_the_same_job(api, namespace) -> None:
    """As after an operator restart: the Job of this measurement exists and is read, not made twice."""
    context = context_for(api, namespace, run_name="smoke-again-1")
    first = await measure(job_provider(), {"service": "checkout"}, context)
    assert first.pending
    created = (await client.BatchV1Api(api).read_namespaced_job("smoke-again-1", namespace)).metadata.uid
    m, _ = await until_decided(job_provider(), {"service": "checkout"}, context)
    assert m.phase == Phase.SUCCESSFUL
    jobs = await client.BatchV1Api(api).list_namespaced_job(namespace, label_selector="shiftlane.io/analysis=smoke")
    assert [j.metadata.uid for j in jobs.items if j.metadata.name == "smoke-again-1"] == [created]


async def test_a_job_the_api_refuses_is_an_error(api, namespace) -> None:
    context = context_for(api, namespace, run_name="smoke-bad-1")
    m = await measure(job_provider(completions=-1), {"service": "checkout"}, context)
    assert "creating Job" in m.error and "completions" in m.error
    assert judge(m, None, None) == Phase.ERROR


async def test_a_missing_argument_is_an_error_before_anything_is_created(api, namespace) -> None:
    context = context_for(api, namespace, run_name="smoke-noarg-1")
    m = await measure(job_provider(), {}, context)
    assert m.error == "argument 'service' is used but not given"
    with pytest.raises(client.ApiException):
        await client.BatchV1Api(api).read_namespaced_job("smoke-noarg-1", namespace)
