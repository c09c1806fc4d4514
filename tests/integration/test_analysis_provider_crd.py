"""The provider schema as the API server enforces it: a throwaway CRD whose spec is MetricProvider's
rendered schema, and objects it must accept or refuse with a message naming the mistake."""

from __future__ import annotations

import asyncio

import pytest
from kubernetes_asyncio import client

from shiftlane.api.analysis_providers import MetricProvider
from shiftlane.api.crd import schema_of
from tests.integration.cluster import fresh_namespace

GROUP, PLURAL, KIND = "probe.shiftlane.io", "metricproviderprobes", "MetricProviderProbe"
CONTAINERS = [{"name": "c", "image": "busybox"}]


@pytest.fixture(scope="module")
async def probes(api):
    extensions = client.ApiextensionsV1Api(api)
    name = f"{PLURAL}.{GROUP}"
    await extensions.create_custom_resource_definition({
        "metadata": {"name": name},
        "spec": {
            "group": GROUP, "scope": "Namespaced",
            "names": {"kind": KIND, "plural": PLURAL, "singular": KIND.lower(), "listKind": f"{KIND}List"},
            "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                "type": "object", "properties": {"spec": schema_of(MetricProvider)}}}}],
        },
    })
    try:
        for _ in range(100):
            crd = await extensions.read_custom_resource_definition(name)
            if any(c.type == "Established" and c.status == "True" for c in (crd.status.conditions or [])):
                break
            await asyncio.sleep(0.1)
        async with fresh_namespace(api, "analysis-crd") as namespace:
            yield client.CustomObjectsApi(api), namespace
    finally:
        await extensions.delete_custom_resource_definition(name)


async def apply(probes, spec: dict) -> str | None:
    """None when accepted, else the API server's message."""
    objects, namespace = probes
    body = {"apiVersion": f"{GROUP}/v1", "kind": KIND, "metadata": {"generateName": "p-"}, "spec": spec}
    try:
        await objects.create_namespaced_custom_object(GROUP, "v1", namespace, PLURAL, body)
        return None
    except client.ApiException as error:
        assert error.status == 422, error.body
        return error.body


@pytest.mark.parametrize(
    "spec",
    [
        {"prometheus": {"address": "http://prometheus:9090", "query": "up", "range": {"window": "5m"},
                        "authentication": {"sigv4": {"region": "eu-west-1"}}, "tls": {"insecureSkipVerify": True}}},
        {"prometheus": {"address": "{{args.address}}", "query": "up", "authentication": {"basic": {"secretName": "b"}}}},
        {"cloudWatch": {"metricDataQueries": [{"id": "r", "expression": "a / b"},
                                              {"id": "a", "returnData": False, "metricStat": {"metric": {"namespace": "N", "metricName": "M"}, "stat": "Sum"}}]}},
        {"web": {"url": "https://example.test/x", "method": "POST", "body": "{}", "jsonPath": "$.ok",
                 "headers": [{"name": "X-Key", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]}},
        {"job": {"spec": {"backoffLimit": 1, "template": {"spec": {"restartPolicy": "Never", "containers": CONTAINERS}}}}},
    ],
)
async def test_valid_providers_are_accepted(probes, spec: dict) -> None:
    assert await apply(probes, spec) is None


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ({}, "set exactly one provider"),
        ({"web": {"url": "http://x"}, "prometheus": {"address": "http://p", "query": "up"}}, "set exactly one provider"),
        ({"prometheus": {"address": "p:9090", "query": "up"}}, "spec.prometheus.address"),
        ({"prometheus": {"address": "http://p", "query": "up", "authentication": {}}}, "set exactly one of bearerToken, basic, sigv4"),
        ({"prometheus": {"address": "http://p", "query": "up", "tls": {"insecureSkipVerify": True, "ca": {"name": "c", "key": "k"}}}},
         "ca has no use with insecureSkipVerify"),
        ({"cloudWatch": {"metricDataQueries": [{"id": "a", "expression": "x"}, {"id": "b", "expression": "y"}]}},
         "exactly one of metricDataQueries returns data"),
        ({"cloudWatch": {"metricDataQueries": [{"id": "a"}]}}, "set exactly one of expression, metricStat"),
        ({"web": {"url": "http://x", "body": "{}"}}, "body needs method: POST"),
        ({"web": {"url": "http://x", "headers": [{"name": "X", "value": "v", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]}},
         "set exactly one of value, valueFrom"),
        ({"job": {"spec": {"template": {"spec": {"restartPolicy": "Always", "containers": CONTAINERS}}}}}, "restartPolicy"),
        ({"job": {"spec": {"template": {"spec": {"restartPolicy": "Never"}}}}}, "containers"),
    ],
)
async def test_malformed_providers_are_refused_naming_the_mistake(probes, spec: dict, says: str) -> None:
    message = await apply(probes, spec)
    assert message is not None and says in message, message


async def test_the_job_template_keeps_what_it_does_not_declare(probes) -> None:
    objects, namespace = probes
    spec = {"job": {"spec": {"ttlSecondsAfterFinished": 60, "template": {"spec": {
        "restartPolicy": "Never", "serviceAccountName": "smoke", "containers": [{"name": "c", "image": "i", "args": ["x"]}]}}}}}
    body = {"apiVersion": f"{GROUP}/v1", "kind": KIND, "metadata": {"name": "keeps"}, "spec": spec}
    stored = await objects.create_namespaced_custom_object(GROUP, "v1", namespace, PLURAL, body)
    assert stored["spec"] == spec
