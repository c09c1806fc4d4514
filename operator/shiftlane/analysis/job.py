"""The job provider: a Kubernetes Job per measurement; it decides the phase itself.

The first measure creates the Job ``context.run_name`` in the Rollout's namespace, owned by
``context.owner`` (an operator restart finds it and goes on reading it). Until the Job has a Complete
or Failed condition the measurement is pending; then its phase is SUCCESSFUL or FAILED and its value
is the condition's reason and message.
"""

from __future__ import annotations

from typing import Any

from kubernetes_asyncio import client

from shiftlane.analysis.measurement import Measurement, Phase, ProviderContext, ProviderError
from shiftlane.api.analysis_providers import Job
from shiftlane.kube.client import api_message

# The terminal conditions of a Job, and what each means for the measurement.
_OUTCOMES = {"Complete": Phase.SUCCESSFUL, "Failed": Phase.FAILED}


def query_of(context: ProviderContext) -> str:
    return f"Job {context.namespace}/{context.run_name}"


def manifest(spec: Job, context: ProviderContext) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "name": context.run_name,
        "namespace": context.namespace,
        **spec.metadata.model_dump(by_alias=True, exclude_defaults=True),
    }
    if context.owner is not None:
        metadata["ownerReferences"] = [context.owner]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": spec.spec.model_dump(by_alias=True, exclude_none=True),
    }


async def measure(spec: Job, context: ProviderContext) -> Measurement:
    if context.api is None:
        raise ProviderError("the job provider needs a Kubernetes API client")
    jobs = client.BatchV1Api(context.api)
    job = await _existing(jobs, context)
    if job is None:
        try:
            job = await jobs.create_namespaced_job(context.namespace, manifest(spec, context))
        except client.ApiException as error:
            if error.status != 409:
                raise ProviderError(f"creating {query_of(context)} failed: {api_message(error)}") from None
            job = await _existing(jobs, context)  # created meanwhile (a second worker, a restart)
    for condition in (job.status.conditions if job and job.status else None) or []:
        if condition.type in _OUTCOMES and condition.status == "True":
            said = ": ".join(part for part in (condition.reason, condition.message) if part)
            return Measurement(value=said or condition.type, phase=_OUTCOMES[condition.type])
    return Measurement(pending=True)


async def _existing(jobs: client.BatchV1Api, context: ProviderContext) -> Any:
    try:
        return await jobs.read_namespaced_job(context.run_name, context.namespace)
    except client.ApiException as error:
        if error.status == 404:
            return None
        raise ProviderError(f"reading {query_of(context)} failed: {api_message(error)}") from None
