"""The cloudWatch provider against moto in server mode (a real HTTP endpoint on loopback): data put
with PutMetricData comes back through GetMetricData, newest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto.server import ThreadedMotoServer

from shiftlane.analysis import aws
from shiftlane.analysis.condition import judge
from shiftlane.analysis.measurement import Phase
from shiftlane.analysis.providers import measure
from tests.harness.prometheus import LOOPBACK, free_port
from tests.integration.analysis_support import context_for, provider

REGION = "eu-west-1"
NAMESPACE = "Shiftlane/Test"
TARGET_GROUP = [{"Name": "TargetGroup", "Value": "targetgroup/checkout/0123456789abcdef"}]


@pytest.fixture(scope="module")
def moto_endpoint():
    port = free_port()
    server = ThreadedMotoServer(ip_address=LOOPBACK, port=port, verbose=False)
    server.start()
    yield f"http://{LOOPBACK}:{port}"
    server.stop()


@pytest.fixture
def cloudwatch(moto_endpoint, monkeypatch):
    """boto3 pointed at moto (AWS_ENDPOINT_URL, which the provider honours through botocore), fake credentials."""
    for name, value in {"AWS_ENDPOINT_URL": moto_endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/dev/null",
                        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}.items():
        monkeypatch.setenv(name, value)
    aws._session.cache_clear()
    yield boto3.client("cloudwatch", region_name=REGION, endpoint_url=moto_endpoint)
    aws._session.cache_clear()


def put(client, metric: str, points: list[tuple[timedelta, float]]) -> None:
    now = datetime.now(UTC)
    client.put_metric_data(Namespace=NAMESPACE, MetricData=[
        {"MetricName": metric, "Dimensions": TARGET_GROUP, "Timestamp": now - ago, "Value": value, "Unit": "Count"}
        for ago, value in points
    ])


def stat_query(metric: str, stat: str = "Sum", **more: object) -> dict:
    return {"metricStat": {"metric": {"namespace": NAMESPACE, "metricName": metric,
                                      "dimensions": [{"name": d["Name"], "value": d["Value"]} for d in TARGET_GROUP]},
                           "stat": stat, "unit": "Count"}, **more}


async def test_metric_stat_values_newest_first(cloudwatch) -> None:
    put(cloudwatch, "HTTPCode_Target_5XX_Count", [(timedelta(minutes=4), 9.0), (timedelta(minutes=2), 3.0), (timedelta(seconds=30), 1.0)])
    spec = provider("cloudWatch", window="10m", period=60,
                    metricDataQueries=[{"id": "errors", **stat_query("HTTPCode_Target_5XX_Count")}])
    m = await measure(spec, {}, context_for(None))
    assert m.error is None
    assert m.value == [1.0, 3.0, 9.0]
    assert m.query == f"Sum({NAMESPACE} HTTPCode_Target_5XX_Count{{TargetGroup=targetgroup/checkout/0123456789abcdef}})"
    assert judge(m, "result[0] < 2.0", None) == Phase.SUCCESSFUL
    assert judge(m, "result.all(v, v < 2.0)", None) == Phase.FAILED


async def test_only_the_query_that_returns_data_is_the_result(cloudwatch) -> None:
    put(cloudwatch, "RequestCount", [(timedelta(minutes=1), 500.0)])
    put(cloudwatch, "TargetResponseTime", [(timedelta(minutes=1), 0.25)])
    spec = provider("cloudWatch", window="5m", period=60, metricDataQueries=[
        {"id": "requests", "returnData": False, **stat_query("RequestCount")},
        {"id": "latency", **stat_query("TargetResponseTime", stat="Average")},
    ])
    m = await measure(spec, {}, context_for(None))
    assert m.error is None and m.value == [0.25]


async def test_no_data_points_is_inconclusive(cloudwatch) -> None:
    spec = provider("cloudWatch", window="5m", metricDataQueries=[{"id": "q", **stat_query("NeverWritten")}])
    m = await measure(spec, {}, context_for(None))
    assert m.value is None and m.error is None
    assert judge(m, "result[0] < 1", None) == Phase.INCONCLUSIVE


async def test_arguments_fill_dimensions(cloudwatch) -> None:
    put(cloudwatch, "UnHealthyHostCount", [(timedelta(minutes=1), 0.0)])
    query = stat_query("UnHealthyHostCount", stat="Maximum")
    query["metricStat"]["metric"]["dimensions"] = [{"name": "TargetGroup", "value": "{{args.target-group}}"}]
    spec = provider("cloudWatch", metricDataQueries=[{"id": "unhealthy", **query}])
    m = await measure(spec, {"target-group": TARGET_GROUP[0]["Value"]}, context_for(None))
    assert m.value == [0.0]
    assert judge(m, "result[0] == 0.0", None) == Phase.SUCCESSFUL


async def test_an_unreachable_endpoint_is_an_error(cloudwatch, monkeypatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://{LOOPBACK}:{free_port()}")
    spec = provider("cloudWatch", timeout="2s", metricDataQueries=[{"id": "q", **stat_query("RequestCount")}])
    m = await measure(spec, {}, context_for(None))
    assert m.value is None and m.error.startswith("GetMetricData: Could not connect to the endpoint URL")
    assert judge(m, None, None) == Phase.ERROR
