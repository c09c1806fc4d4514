"""The provider models: their rendered schema, their CEL rules, and what each provider asks for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import cel
import pytest

from shiftlane.analysis import cloudwatch, job, prometheus
from shiftlane.analysis.measurement import ProviderContext, ProviderError
from shiftlane.api.analysis_providers import MetricProvider
from shiftlane.api.crd import schema_of

SCHEMA = schema_of(MetricProvider)
PROMETHEUS = {"prometheus": {"address": "http://127.0.0.1:9090", "query": "up"}}
WEB = {"web": {"url": "http://127.0.0.1:8080/"}}
JOB = {"job": {"spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}}
CLOUDWATCH = {"cloudWatch": {"metricDataQueries": [{"id": "q", "expression": "SUM(METRICS())"}]}}


def _rules(schema: dict[str, Any]) -> list[str]:
    return [r["rule"] for r in schema.get("x-kubernetes-validations", [])]


def _holds(rules: list[str], obj: dict[str, Any]) -> bool:
    return all(cel.evaluate(rule, {"self": obj}) for rule in rules)


def _structural_problems(node: Any, path: str = "") -> list[str]:
    if not isinstance(node, dict):
        return []
    problems = [] if "type" in node or node.get("x-kubernetes-int-or-string") else [path or "."]
    problems += [f"{path}: {key}" for key in ("$ref", "anyOf", "oneOf", "allOf", "nullable") if key in node]
    for name, child in node.get("properties", {}).items():
        problems += _structural_problems(child, f"{path}.{name}")
    if "items" in node:
        problems += _structural_problems(node["items"], f"{path}[]")
    return problems


def test_the_schema_is_structural() -> None:
    assert _structural_problems(SCHEMA) == []


@pytest.mark.parametrize(
    ("obj", "holds"),
    [
        (PROMETHEUS, True),
        (WEB, True),
        (JOB, True),
        (CLOUDWATCH, True),
        ({}, False),
        ({**PROMETHEUS, **WEB}, False),
        ({**PROMETHEUS, **WEB, **JOB, **CLOUDWATCH}, False),
    ],
)
def test_exactly_one_provider_rule(obj: dict[str, Any], holds: bool) -> None:
    assert _holds(_rules(SCHEMA), obj) is holds


@pytest.mark.parametrize(
    ("queries", "holds"),
    [
        ([{"id": "a", "expression": "e"}], True),
        ([{"id": "a", "expression": "e"}, {"id": "b", "expression": "f", "returnData": False}], True),
        ([{"id": "a", "expression": "e", "returnData": False}, {"id": "b", "expression": "f", "returnData": True}], True),
        ([{"id": "a", "expression": "e"}, {"id": "b", "expression": "f"}], False),  # both return data, as in AWS
        ([{"id": "a", "expression": "e", "returnData": False}], False),
    ],
)
def test_cloudwatch_one_query_returns_data_rule(queries: list[dict[str, Any]], holds: bool) -> None:
    assert _holds(_rules(SCHEMA["properties"]["cloudWatch"]), {"metricDataQueries": queries}) is holds


def test_web_body_needs_post_rule() -> None:
    rules = _rules(SCHEMA["properties"]["web"])
    assert _holds(rules, {"url": "http://x", "method": "POST", "body": "{}"})
    assert not _holds(rules, {"url": "http://x", "body": "{}"})
    assert not _holds(rules, {"url": "http://x", "method": "GET", "body": "{}"})


def test_prometheus_authentication_is_one_kind() -> None:
    rules = _rules(SCHEMA["properties"]["prometheus"]["properties"]["authentication"])
    assert _holds(rules, {"sigv4": {}})
    assert not _holds(rules, {"sigv4": {}, "bearerToken": {"name": "s", "key": "k"}})
    assert not _holds(rules, {})


def test_the_job_pod_template_keeps_fields_it_does_not_declare() -> None:
    template = SCHEMA["properties"]["job"]["properties"]["spec"]["properties"]["template"]
    assert template["properties"]["spec"]["x-kubernetes-preserve-unknown-fields"] is True
    assert template["properties"]["spec"]["properties"]["restartPolicy"]["enum"] == ["Never", "OnFailure"]
    assert SCHEMA["properties"]["job"]["properties"]["spec"]["x-kubernetes-preserve-unknown-fields"] is True


def test_config_is_the_provider_that_is_set() -> None:
    assert MetricProvider.model_validate(CLOUDWATCH).config.metric_data_queries[0].id == "q"
    assert MetricProvider.model_validate(WEB).config.method == "GET"


@pytest.mark.parametrize(
    "obj",
    [
        {"prometheus": {"address": "127.0.0.1:9090", "query": "up"}},  # no scheme
        {"prometheus": {"address": "http://p", "query": ""}},
        {"prometheus": {"address": "http://p", "query": "up", "timeout": "ten seconds"}},
        {"web": {"url": "http://x", "method": "PUT"}},
        {"web": {"url": "http://x", "headers": [{"name": "bad header", "value": "v"}]}},
        {"cloudWatch": {"metricDataQueries": [{"id": "Upper", "expression": "e"}]}},
        {"job": {"spec": {"template": {"spec": {"restartPolicy": "Always", "containers": [{"name": "c", "image": "i"}]}}}}},
        {"job": {"spec": {"template": {"spec": {"restartPolicy": "Never", "containers": []}}}}},
    ],
)
def test_malformed_providers_are_refused(obj: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        MetricProvider.model_validate(obj)


# --- what a provider asks -----------------------------------------------------------------------


def _prometheus(**fields: Any) -> Any:
    return MetricProvider.model_validate({"prometheus": {"address": "http://p", "query": "up", **fields}}).config


@pytest.mark.parametrize(
    ("range_", "path", "start", "step"),
    [
        (None, "query", None, None),
        ({"window": "5m"}, "query_range", "700.000", "5"),  # window / 60
        ({"window": "30s"}, "query_range", "970.000", "1"),  # at least 1s
        ({"window": "1h", "step": "30s"}, "query_range", "-2600.000", "30"),
    ],
)
def test_prometheus_form_table(range_: dict[str, str] | None, path: str, start: str | None, step: str | None) -> None:
    spec = _prometheus(**({"range": range_} if range_ else {}))
    got_path, form = prometheus.form_of(spec, timeout=10, now=1000.0)
    assert got_path == path
    assert form["query"] == "up" and form["timeout"] == "10s"
    assert form.get("start") == start and form.get("step") == step
    assert form.get("end") == ("1000.000" if range_ else None)


def _vector(*values: tuple[dict[str, str], str]) -> dict[str, Any]:
    return {"resultType": "vector", "result": [{"metric": m, "value": [1.0, v]} for m, v in values]}


NAN = float("nan")


@pytest.mark.parametrize(
    ("data", "value"),
    [
        ({"resultType": "scalar", "result": [1.0, "0.25"]}, 0.25),
        ({"resultType": "string", "result": [1.0, "ok"]}, "ok"),
        (_vector(), None),
        (_vector(({"a": "1"}, "0.01")), 0.01),
        (_vector(({"rev": "b"}, "0.2"), ({"rev": "a"}, "0.01")), [0.01, 0.2]),  # ordered by labels
        (_vector(({}, "+Inf")), float("inf")),
        ({"resultType": "matrix", "result": []}, None),
        ({"resultType": "matrix", "result": [{"metric": {}, "values": [[1, "1"], [2, "2"], [3, "3"]]}]}, [3.0, 2.0, 1.0]),
        ({"resultType": "matrix", "result": [{"metric": {}, "values": []}]}, None),
    ],
)
def test_prometheus_value_table(data: dict[str, Any], value: Any) -> None:
    assert prometheus.value_of(data) == value


def test_prometheus_nan_stays_nan() -> None:
    assert str(prometheus.value_of(_vector(({}, "NaN")))) == "nan"


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"resultType": "matrix", "result": [{"metric": {}, "values": []}, {"metric": {}, "values": []}]}, "2 series"),
        ({"resultType": "vector", "result": [{"metric": {}}]}, "unknown shape"),
        ({"resultType": "scalar", "result": [1.0, "x"]}, "unknown shape"),
        ({"resultType": "histogram", "result": []}, "unknown shape"),
    ],
)
def test_prometheus_answers_it_cannot_use_are_errors(data: dict[str, Any], says: str) -> None:
    with pytest.raises(ProviderError, match=says):
        prometheus.value_of(data)


def test_cloudwatch_request_in_aws_spelling() -> None:
    spec = MetricProvider.model_validate({"cloudWatch": {
        "window": "10m",
        "period": 60,
        "metricDataQueries": [
            {"id": "ratio", "expression": "errors / requests", "label": "error ratio"},
            {"id": "errors", "returnData": False, "metricStat": {
                "metric": {"namespace": "AWS/ApplicationELB", "metricName": "HTTPCode_Target_5XX_Count",
                           "dimensions": [{"name": "TargetGroup", "value": "targetgroup/web/1"}]},
                "stat": "Sum", "unit": "Count"}},
            {"id": "requests", "returnData": False, "period": 120, "metricStat": {
                "metric": {"namespace": "AWS/ApplicationELB", "metricName": "RequestCount"}, "stat": "Sum", "period": 300}},
        ],
    }}).config
    now = datetime(2026, 1, 1, tzinfo=UTC)
    request = cloudwatch.request_of(spec, now)
    assert request["StartTime"] == now - timedelta(minutes=10) and request["EndTime"] == now
    assert request["ScanBy"] == "TimestampDescending"
    ratio, errors, requests = request["MetricDataQueries"]
    assert ratio == {"Id": "ratio", "ReturnData": True, "Expression": "errors / requests", "Period": 60, "Label": "error ratio"}
    assert errors == {"Id": "errors", "ReturnData": False, "MetricStat": {
        "Metric": {"Namespace": "AWS/ApplicationELB", "MetricName": "HTTPCode_Target_5XX_Count",
                   "Dimensions": [{"Name": "TargetGroup", "Value": "targetgroup/web/1"}]},
        "Period": 60, "Stat": "Sum", "Unit": "Count"}}
    assert requests["MetricStat"]["Period"] == 300  # the metric stat's own period first
    assert cloudwatch.query_of(spec) == "errors / requests"


def test_job_manifest_is_named_owned_and_keeps_the_template() -> None:
    spec = MetricProvider.model_validate({"job": {
        "metadata": {"labels": {"team": "web"}},
        "spec": {"backoffLimit": 0, "ttlSecondsAfterFinished": 600, "template": {
            "metadata": {"annotations": {"a": "b"}},
            "spec": {"restartPolicy": "Never", "serviceAccountName": "smoke",
                     "containers": [{"name": "c", "image": "curl", "args": ["-f", "http://web/health"]}]}}},
    }}).config
    owner = {"apiVersion": "shiftlane.io/v1alpha1", "kind": "Rollout", "name": "web", "uid": "u-1", "controller": True}
    manifest = job.manifest(spec, ProviderContext("shop", "web-5d9f-1-2-smoke-3", owner, None))
    assert manifest["metadata"] == {"name": "web-5d9f-1-2-smoke-3", "namespace": "shop", "labels": {"team": "web"},
                                    "ownerReferences": [owner]}
    assert manifest["spec"]["backoffLimit"] == 0 and manifest["spec"]["ttlSecondsAfterFinished"] == 600
    pod = manifest["spec"]["template"]
    assert pod["metadata"]["annotations"] == {"a": "b"}
    assert pod["spec"]["serviceAccountName"] == "smoke"
    assert pod["spec"]["containers"] == [{"name": "c", "image": "curl", "args": ["-f", "http://web/health"]}]
