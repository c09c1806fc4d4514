"""The web provider: an HTTP GET or POST whose JSON answer holds the value.

The value bound to ``result`` is what ``jsonPath`` (RFC 9535) selects: one node gives its value (a
number, string, bool, list or map, as in the JSON), several give a list of their values, none gives
None (inconclusive). The whole document when jsonPath is unset.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from shiftlane.analysis.http import send, shown, tls_setting
from shiftlane.analysis.measurement import Measurement, ProviderContext, ProviderError
from shiftlane.analysis.secrets import secret_value
from shiftlane.api.analysis_providers import Web
from shiftlane.api.durations import seconds_of

if TYPE_CHECKING:
    from jsonpath import CompoundJSONPath, JSONPath


def query_of(spec: Web) -> str:
    return f"{spec.method} {shown(spec.url)} {spec.json_path}"


def _compiled(json_path: str) -> JSONPath | CompoundJSONPath:
    """In a worker thread: the first call imports the JSONPath library, which only this provider needs."""
    import jsonpath
    from jsonpath.exceptions import JSONPathError

    try:
        return jsonpath.compile(json_path)
    except JSONPathError as error:
        raise ProviderError(f"jsonPath {json_path!r} is not a JSONPath: {error}") from None


async def measure(spec: Web, context: ProviderContext) -> Measurement:
    path = await asyncio.to_thread(_compiled, spec.json_path)
    headers = {"Accept": "application/json"}
    if spec.body is not None:
        headers["Content-Type"] = "application/json"
    for header in spec.headers:
        if header.value_from is not None:
            ref = header.value_from.secret_key_ref
            headers[header.name] = await secret_value(context, ref.name, ref.key)
        else:
            headers[header.name] = header.value or ""
    timeout = seconds_of(spec.timeout) or context.timeout
    answer = await send(spec.method, spec.url, headers=headers, body=spec.body.encode() if spec.body is not None else None,
                        timeout=timeout, ssl_setting=await tls_setting(spec.tls, context))
    if not answer.ok:
        raise ProviderError(f"{spec.method} {shown(spec.url)} answered HTTP {answer.status}: {answer.excerpt()}")
    return Measurement(value=_selected(path.findall(answer.json())))


def _selected(found: list[Any]) -> Any:
    if not found:
        return None
    return found[0] if len(found) == 1 else found
