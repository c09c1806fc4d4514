"""The prometheus provider: an instant or range query through Prometheus' HTTP API.

The value bound to ``result``:
- instant query, scalar: that number; a single-sample vector: its number; several samples: a list of
  their numbers, ordered by their label sets; no sample: None (inconclusive);
- range query: the values of its one series, newest first (``result[0]`` is the latest point), as
  CloudWatch's are; no series: None; several series: an error (aggregate them to one in the query).
Prometheus' NaN and ±Inf come through as float('nan') and ±inf.
"""

from __future__ import annotations

import base64
import time
from typing import Any
from urllib.parse import urlencode

from shiftlane.analysis.http import HttpAnswer, send, tls_setting
from shiftlane.analysis.measurement import Measurement, ProviderContext, ProviderError
from shiftlane.analysis.secrets import secret_value
from shiftlane.analysis.sigv4 import signed_headers
from shiftlane.api.analysis_providers import Prometheus, PrometheusAuthentication
from shiftlane.api.durations import seconds_of

# Points a range query asks for when it names no step (Prometheus refuses more than 11,000).
DEFAULT_RANGE_POINTS = 60


def query_of(spec: Prometheus) -> str:
    return spec.query


def form_of(spec: Prometheus, timeout: float, now: float) -> tuple[str, dict[str, str]]:
    """The API path and form fields of the query: a range ends at ``now``."""
    form = {"query": spec.query, "timeout": f"{timeout:g}s"}
    if spec.range is None:
        return "query", form
    window = seconds_of(spec.range.window) or 0.0
    step = seconds_of(spec.range.step) or max(1.0, window / DEFAULT_RANGE_POINTS)
    return "query_range", {**form, "start": f"{now - window:.3f}", "end": f"{now:.3f}", "step": f"{step:g}"}


async def measure(spec: Prometheus, context: ProviderContext) -> Measurement:
    timeout = seconds_of(spec.timeout) or context.timeout
    path, form = form_of(spec, timeout, time.time())
    url = spec.address.rstrip("/") + "/api/v1/" + path
    # POST with a form body: no URL length limit, and the body is what a SigV4 signature covers.
    body = urlencode(form).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    headers = await _authenticated(spec.authentication, context, url, body, headers)
    answer = await send("POST", url, headers=headers, body=body, timeout=timeout,
                        ssl_setting=await tls_setting(spec.tls, context))
    return Measurement(value=value_of(_data(answer)))


async def _authenticated(auth: PrometheusAuthentication | None, context: ProviderContext, url: str, body: bytes,
                         headers: dict[str, str]) -> dict[str, str]:
    if auth is None:
        return headers
    if auth.bearer_token is not None:
        token = await secret_value(context, auth.bearer_token.name, auth.bearer_token.key)
        return {**headers, "Authorization": f"Bearer {token}"}
    if auth.basic is not None:
        username = await secret_value(context, auth.basic.secret_name, auth.basic.username_key)
        password = await secret_value(context, auth.basic.secret_name, auth.basic.password_key)
        credentials = base64.b64encode(f"{username}:{password}".encode()).decode()
        return {**headers, "Authorization": f"Basic {credentials}"}
    assert auth.sigv4 is not None  # the CRD's rule: exactly one
    return await signed_headers(auth.sigv4, "POST", url, body, headers)


def _data(answer: HttpAnswer) -> dict[str, Any]:
    if not answer.ok:
        try:
            reply = answer.json()
        except ProviderError:
            raise ProviderError(f"Prometheus answered HTTP {answer.status}: {answer.excerpt()}") from None
        raise ProviderError(f"Prometheus answered HTTP {answer.status}: {_complaint(reply)}")
    reply = answer.json()
    if not isinstance(reply, dict) or reply.get("status") != "success" or not isinstance(reply.get("data"), dict):
        raise ProviderError(f"Prometheus did not answer with data: {_complaint(reply)}")
    return reply["data"]


def _complaint(reply: Any) -> str:
    if isinstance(reply, dict) and reply.get("error"):
        return f"{reply.get('errorType', 'error')}: {reply['error']}"
    return repr(reply)[:200]


def value_of(data: dict[str, Any]) -> Any:
    """The value of a successful query's ``data`` (see the module's docstring)."""
    try:
        kind, result = data["resultType"], data["result"]
        if kind == "scalar":
            return float(result[1])
        if kind == "string":
            return result[1]
        if kind == "vector":
            samples = [float(sample["value"][1]) for sample in sorted(result, key=_labels)]
            return None if not samples else samples[0] if len(samples) == 1 else samples
        if kind == "matrix":
            if len(result) > 1:
                raise ProviderError(f"the range query returned {len(result)} series; aggregate them to one"
                                    " (for example with sum, avg or max)")
            points = [float(point[1]) for series in result for point in reversed(series["values"])]
            return points or None
    except (KeyError, IndexError, TypeError, ValueError):
        pass
    raise ProviderError(f"Prometheus answered data of an unknown shape: {repr(data)[:200]}")


def _labels(sample: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted(sample.get("metric", {}).items())
