"""The web provider against a loopback HTTP server: GET and POST, headers from Secrets, JSONPath,
timeouts, and answers it cannot use."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiohttp import web

from shiftlane.analysis.condition import judge
from shiftlane.analysis.measurement import Phase
from shiftlane.analysis.providers import measure
from tests.integration.analysis_support import context_for, create_secret, make_ca, provider, serving
from tests.integration.cluster import fresh_namespace

API_KEY = "k3y-from-a-secret"


@pytest.fixture(scope="module")
async def server():
    seen: list[web.Request] = []
    bodies: list[bytes] = []

    async def health(request: web.Request) -> web.Response:
        seen.append(request)
        if request.headers.get("X-Api-Key") not in (None, API_KEY):
            return web.json_response({"error": "bad key"}, status=403)
        return web.json_response({"data": {"ratio": 0.01, "ok": True, "pods": [{"ready": 1}, {"ready": 0}]}, "empty": []})

    async def score(request: web.Request) -> web.Response:
        seen.append(request)
        bodies.append(await request.read())
        payload = await request.json()
        return web.json_response({"score": payload["canary"] * 10})

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(3)  # past the provider's 1s timeout
        return web.json_response({})

    async def broken(request: web.Request) -> web.Response:
        return web.Response(text="upstream is down", status=503)

    async def text(request: web.Request) -> web.Response:
        return web.Response(text="<html>not json</html>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/health", health)
    app.router.add_post("/score", score)
    app.router.add_get("/slow", slow)
    app.router.add_get("/broken", broken)
    app.router.add_get("/text", text)
    async with serving(app) as base:
        yield base, seen, bodies


@pytest.fixture(scope="module")
async def namespace(api):
    async with fresh_namespace(api, "analysis-web") as name:
        await create_secret(api, name, "web-key", {"key": API_KEY})
        yield name


def web_provider(url: str, **more: object):
    return provider("web", url=url, **{"timeout": "2s", **more})


@pytest.mark.parametrize(
    ("json_path", "value"),
    [
        ("$.data.ratio", 0.01),
        ("$.data.ok", True),
        ("$.data.pods[*].ready", [1, 0]),  # several nodes: a list
        ("$.data.pods[?@.ready == 0]", {"ready": 0}),
        ("$.empty", []),
        ("$.data.absent", None),  # nothing selected
    ],
)
async def test_get_selects_the_value_by_json_path(server, json_path: str, value: object) -> None:
    base, _, _ = server
    m = await measure(web_provider(f"{base}/health", jsonPath=json_path), {}, context_for(None))
    assert m.error is None
    assert m.value == value
    assert m.query == f"GET {base}/health {json_path}"


async def test_the_whole_document_without_a_json_path(server) -> None:
    base, _, _ = server
    m = await measure(web_provider(f"{base}/health"), {}, context_for(None))
    assert judge(m, "result.data.ratio < 0.05 && result.data.ok", None) == Phase.SUCCESSFUL


async def test_nothing_selected_or_an_empty_list_is_inconclusive(server) -> None:
    base, _, _ = server
    for path in ("$.data.absent", "$.empty"):
        m = await measure(web_provider(f"{base}/health", jsonPath=path), {}, context_for(None))
        assert judge(m, "size(result) == 0", None) == Phase.INCONCLUSIVE


async def test_post_sends_the_body_with_arguments(server) -> None:
    base, seen, bodies = server
    m = await measure(web_provider(f"{base}/score", method="POST", body='{"canary": {{args.weight}}}', jsonPath="$.score"),
                      {"weight": "3"}, context_for(None))
    assert m.error is None and m.value == 30
    assert bodies[-1] == b'{"canary": 3}'
    assert seen[-1].headers["Content-Type"] == "application/json"
    assert judge(m, "result >= 30", None) == Phase.SUCCESSFUL


async def test_headers_from_a_secret_and_as_written(server, namespace, api) -> None:
    base, seen, _ = server
    headers = [{"name": "X-Api-Key", "valueFrom": {"secretKeyRef": {"name": "web-key", "key": "key"}}},
               {"name": "X-Rollout", "value": "{{args.rollout}}"}]
    m = await measure(web_provider(f"{base}/health", headers=headers, jsonPath="$.data.ratio"), {"rollout": "checkout"},
                      context_for(api, namespace))
    assert m.error is None and m.value == 0.01
    assert seen[-1].headers["X-Api-Key"] == API_KEY and seen[-1].headers["X-Rollout"] == "checkout"
    missing = await measure(web_provider(f"{base}/health", headers=[
        {"name": "X-Api-Key", "valueFrom": {"secretKeyRef": {"name": "absent", "key": "key"}}}]), {}, context_for(api, namespace))
    assert missing.error == f"Secret {namespace}/absent does not exist"


async def test_a_non_2xx_answer_is_an_error(server) -> None:
    base, _, _ = server
    m = await measure(web_provider(f"{base}/broken"), {}, context_for(None))
    assert m.error == f"GET {base}/broken answered HTTP 503: 'upstream is down'"
    assert judge(m, "true", None) == Phase.ERROR
    refused = await measure(web_provider(f"{base}/health", headers=[{"name": "X-Api-Key", "value": "wrong"}]), {}, context_for(None))
    assert "HTTP 403" in refused.error


async def test_an_answer_that_is_not_json_is_an_error(server) -> None:
    base, _, _ = server
    m = await measure(web_provider(f"{base}/text"), {}, context_for(None))
    assert m.error == "the answer is not JSON: '<html>not json</html>'"


async def test_a_slow_server_is_an_error_after_the_timeout(server) -> None:
    base, _, _ = server
    started = time.monotonic()
    m = await measure(web_provider(f"{base}/slow", timeout="1s"), {}, context_for(None))
    took = time.monotonic() - started
    assert m.error == f"GET {base}/slow: no answer within 1s"
    assert 0.9 < took < 3


async def test_nothing_listening_is_an_error(server) -> None:
    from tests.harness.prometheus import free_port

    m = await measure(web_provider(f"http://127.0.0.1:{free_port()}/health"), {}, context_for(None))
    assert "Cannot connect" in m.error


async def test_https_with_a_ca_from_a_secret(namespace, api, tmp_path) -> None:
    ca = make_ca(tmp_path)
    await create_secret(api, namespace, "web-ca", {"ca.crt": ca.ca_pem})

    async def value(request: web.Request) -> web.Response:
        return web.json_response({"v": 1})

    app = web.Application()
    app.router.add_get("/v", value)
    async with serving(app, ca.server_context) as base:
        trusted = await measure(web_provider(f"{base}/v", jsonPath="$.v", tls={"ca": {"name": "web-ca", "key": "ca.crt"}}),
                                {}, context_for(api, namespace))
        unknown = await measure(web_provider(f"{base}/v"), {}, context_for(api, namespace))
    assert trusted.error is None and trusted.value == 1
    assert "certificate verify failed" in unknown.error


async def test_a_json_path_that_is_no_json_path_is_an_error(server) -> None:
    base, _, _ = server
    m = await measure(web_provider(f"{base}/health", jsonPath="$.[["), {}, context_for(None))
    assert m.error.startswith("jsonPath '$.[[' is not a JSONPath")
