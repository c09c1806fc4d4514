"""CloudWatch's refusals, which moto does not produce: botocore's Stubber gives AWS' own shapes."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import ANY, Stubber

from shiftlane.analysis import aws
from shiftlane.analysis.condition import judge
from shiftlane.analysis.measurement import Phase, ProviderContext
from shiftlane.analysis.providers import measure
from shiftlane.api.analysis_providers import MetricProvider

SPEC = MetricProvider.model_validate({"cloudWatch": {"region": "eu-west-1", "metricDataQueries": [
    {"id": "ratio", "expression": "errors / requests"},
    {"id": "errors", "returnData": False, "metricStat": {"metric": {"namespace": "AWS/ApplicationELB", "metricName": "HTTPCode_Target_5XX_Count"}, "stat": "Sum"}},
]}})
CONTEXT = ProviderContext("default", "run", None, None)


@pytest.fixture
def stubbed(monkeypatch):
    client = boto3.client("cloudwatch", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    monkeypatch.setattr(aws, "client", lambda service, region, timeout: client)
    with Stubber(client) as stubber:
        yield stubber


async def test_access_denied_is_an_error_with_aws_reason(stubbed) -> None:
    stubbed.add_client_error("get_metric_data", service_error_code="AccessDenied", service_message="not allowed: cloudwatch:GetMetricData")
    m = await measure(SPEC, {}, CONTEXT)
    assert m.error == "GetMetricData: AccessDenied: not allowed: cloudwatch:GetMetricData"
    assert m.query == "errors / requests"
    assert judge(m, "true", None) == Phase.ERROR


@pytest.mark.parametrize("status", ["InternalError", "Forbidden"])
async def test_a_result_that_ended_without_data_is_an_error(stubbed, status: str) -> None:
    stubbed.add_response("get_metric_data", {"MetricDataResults": [
        {"Id": "ratio", "Timestamps": [], "Values": [], "StatusCode": status, "Messages": [{"Code": "x", "Value": "no access to errors"}]},
    ]}, {"MetricDataQueries": ANY, "StartTime": ANY, "EndTime": ANY, "ScanBy": "TimestampDescending"})
    m = await measure(SPEC, {}, CONTEXT)
    assert m.error == f"GetMetricData: query ratio ended {status}: no access to errors"


async def test_partial_data_still_counts_and_pages_are_joined(stubbed) -> None:
    params = {"MetricDataQueries": ANY, "StartTime": ANY, "EndTime": ANY, "ScanBy": "TimestampDescending"}
    stubbed.add_response("get_metric_data", {"NextToken": "more", "MetricDataResults": [
        {"Id": "ratio", "Values": [0.01, 0.02], "StatusCode": "PartialData"}]}, params)
    stubbed.add_response("get_metric_data", {"MetricDataResults": [
        {"Id": "ratio", "Values": [0.03], "StatusCode": "Complete"}]}, {**params, "NextToken": "more"})
    m = await measure(SPEC, {}, CONTEXT)
    assert m.error is None and m.value == [0.01, 0.02, 0.03]
