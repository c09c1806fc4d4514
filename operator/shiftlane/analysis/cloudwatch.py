"""The cloudWatch provider: GetMetricData over the last ``window``, through boto3 in a worker thread.

The value bound to ``result`` is the list of values of the one query that returns data, newest first
(``result[0]`` is the latest point; ``result.all(v, v < 0.05)`` checks the whole window); no data
point gives None (inconclusive).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from shiftlane.analysis import aws
from shiftlane.analysis.measurement import Measurement, ProviderContext, ProviderError
from shiftlane.api.analysis_providers import CloudWatch, MetricDataQuery
from shiftlane.api.durations import seconds_of

# StatusCode of a result that carries no usable data: the others are Complete and PartialData.
_FAILED_STATUS = {"InternalError", "Forbidden"}


def _result_query(spec: CloudWatch) -> MetricDataQuery:
    return next(q for q in spec.metric_data_queries if q.return_data is not False)


def query_of(spec: CloudWatch) -> str:
    query = _result_query(spec)
    if query.expression is not None:
        return query.expression
    assert query.metric_stat is not None  # the CRD's rule: expression or metricStat
    stat = query.metric_stat
    dimensions = ",".join(f"{d.name}={d.value}" for d in stat.metric.dimensions)
    return f"{stat.stat}({stat.metric.namespace} {stat.metric.metric_name}{{{dimensions}}})"


def request_of(spec: CloudWatch, now: datetime) -> dict[str, Any]:
    """GetMetricData's parameters: the queries in AWS' own spelling, from ``window`` ago until ``now``."""
    queries = []
    for query in spec.metric_data_queries:
        entry: dict[str, Any] = {"Id": query.id, "ReturnData": query.return_data is not False}
        if query.expression is not None:
            entry["Expression"] = query.expression
            entry["Period"] = query.period or spec.period
        if query.metric_stat is not None:
            stat = query.metric_stat
            entry["MetricStat"] = {
                "Metric": {
                    "Namespace": stat.metric.namespace,
                    "MetricName": stat.metric.metric_name,
                    "Dimensions": [{"Name": d.name, "Value": d.value} for d in stat.metric.dimensions],
                },
                "Period": stat.period or query.period or spec.period,
                "Stat": stat.stat,
                **({"Unit": stat.unit} if stat.unit else {}),
            }
        if query.label is not None:
            entry["Label"] = query.label
        queries.append(entry)
    window = timedelta(seconds=seconds_of(spec.window) or 0)
    return {"MetricDataQueries": queries, "StartTime": now - window, "EndTime": now, "ScanBy": "TimestampDescending"}


def _values(spec: CloudWatch, timeout: float, now: datetime) -> list[float]:
    """In a worker thread, where botocore is first imported (see aws)."""
    from botocore.exceptions import BotoCoreError, ClientError

    wanted = _result_query(spec).id
    values: list[float] = []
    try:
        client = aws.client("cloudwatch", spec.region, timeout)
        for page in client.get_paginator("get_metric_data").paginate(**request_of(spec, now)):
            for result in page.get("MetricDataResults", []):
                if result.get("Id") != wanted:
                    continue
                if result.get("StatusCode") in _FAILED_STATUS:
                    said = "; ".join(m.get("Value", "") for m in result.get("Messages", [])) or "no message"
                    raise ProviderError(f"GetMetricData: query {wanted} ended {result['StatusCode']}: {said}")
                values.extend(float(v) for v in result.get("Values", []))
    except ClientError as error:
        detail = error.response.get("Error", {})
        raise ProviderError(f"GetMetricData: {detail.get('Code', 'error')}: {detail.get('Message', error)}") from None
    except BotoCoreError as error:
        raise ProviderError(f"GetMetricData: {error}") from None
    return values


async def measure(spec: CloudWatch, context: ProviderContext) -> Measurement:
    timeout = seconds_of(spec.timeout) or context.timeout
    values = await asyncio.to_thread(_values, spec, timeout, datetime.now(UTC))
    return Measurement(value=values or None)
