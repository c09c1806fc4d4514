"""The prometheus provider against a real Prometheus (Debian's package) scraping a loopback target:
instant and range queries, missing series, basic auth (Prometheus' web.config.file), a bearer token
and TLS through a loopback gateway in front of it, SigV4 checked by a loopback verifier, and a
Prometheus that has stopped."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from prometheus_client import CollectorRegistry, Gauge, start_http_server

from shiftlane.analysis import aws
from shiftlane.analysis.condition import judge
from shiftlane.analysis.measurement import Phase
from shiftlane.analysis.providers import measure
from tests.harness.prometheus import BINARY, LOOPBACK, PrometheusServer, ScrapeJob, free_port
from tests.integration.analysis_support import context_for, create_secret, make_ca, provider, serving
from tests.integration.cluster import fresh_namespace

pytestmark = pytest.mark.skipif(BINARY is None, reason="prometheus is not installed (hack/install-test-deps.sh installs Debian's package)")
USER, PASSWORD, TOKEN = "ci", "s3cret pass", "t0ken-for-tests"


@pytest.fixture(scope="module")
def target():
    """A loopback /metrics with error ratios per revision, which the test sets."""
    registry = CollectorRegistry()
    gauge = Gauge("shiftlane_test_error_ratio", "error ratio per revision", ["revision"], registry=registry)
    gauge.labels("good").set(0.01)
    gauge.labels("bad").set(0.2)
    gauge.labels("moving").set(1.0)
    port = free_port()
    server, _ = start_http_server(port, LOOPBACK, registry=registry)
    yield gauge, f"{LOOPBACK}:{port}"
    server.shutdown()


@pytest.fixture(scope="module")
def prom(target):
    with PrometheusServer([ScrapeJob("app", [target[1]])]) as server:
        server.wait_for_series("shiftlane_test_error_ratio", samples=3)
        yield server


@pytest.fixture(scope="module")
def prom_basic(target):
    with PrometheusServer([ScrapeJob("app", [target[1]])], basic_auth=(USER, PASSWORD)) as server:
        yield server


@pytest.fixture(scope="module")
async def namespace(api):
    async with fresh_namespace(api, "analysis-prom") as name:
        await create_secret(api, name, "prom-basic", {"username": USER, "password": PASSWORD + "\n"})
        await create_secret(api, name, "prom-basic-wrong", {"username": USER, "password": "nope"})
        await create_secret(api, name, "prom-token", {"token": TOKEN})
        yield name


def prometheus(address: str, query: str, **more: object):
    return provider("prometheus", address=address, query=query, **{"timeout": "5s", **more})


async def test_an_instant_query_decides_by_its_value(prom, api) -> None:
    good = await measure(prometheus(prom.url, 'shiftlane_test_error_ratio{revision="good"}'), {}, context_for(api))
    assert good.value == pytest.approx(0.01) and good.error is None
    assert good.query == 'shiftlane_test_error_ratio{revision="good"}'
    assert judge(good, "result < 0.05", None) == Phase.SUCCESSFUL
    bad = await measure(prometheus(prom.url, 'shiftlane_test_error_ratio{revision="{{args.revision}}"}'),
                        {"revision": "bad"}, context_for(api))
    assert bad.query == 'shiftlane_test_error_ratio{revision="bad"}'  # after substitution
    assert bad.value == pytest.approx(0.2)
    assert judge(bad, "result < 0.05", None) == Phase.FAILED


async def test_several_samples_are_a_list_ordered_by_labels(prom, api) -> None:
    m = await measure(prometheus(prom.url, 'shiftlane_test_error_ratio{revision=~"good|bad"}'), {}, context_for(api))
    assert m.value == [pytest.approx(0.2), pytest.approx(0.01)]  # revision="bad" sorts before "good"
    assert judge(m, "result.all(x, x < 0.05)", None) == Phase.FAILED
    scalar = await measure(prometheus(prom.url, 'scalar(sum(shiftlane_test_error_ratio{revision="good"}))'), {}, context_for(api))
    assert scalar.value == pytest.approx(0.01)


async def test_a_range_query_is_the_series_newest_first(prom, target, api) -> None:
    gauge, _ = target
    gauge.labels("moving").set(2.0)
    query = 'shiftlane_test_error_ratio{revision="moving"}'
    deadline = time.monotonic() + 20
    while float(prom.query(query)[0]["value"][1]) != 2.0:
        assert time.monotonic() < deadline, "the new value was not scraped"
        await asyncio.sleep(0.25)
    await asyncio.sleep(1.5)  # a second point at the new value
    m = await measure(prometheus(prom.url, query, range={"window": "1m", "step": "1s"}), {}, context_for(api))
    assert m.value[0] == 2.0 and m.value[-1] == 1.0  # newest first, oldest last
    assert len(m.value) >= 3
    assert judge(m, "result[0] > result[size(result) - 1]", None) == Phase.SUCCESSFUL
    assert judge(m, "result.all(x, x < 1.5)", None) == Phase.FAILED


async def test_a_missing_series_is_inconclusive_never_successful(prom, api) -> None:
    for spec in (prometheus(prom.url, 'shiftlane_test_error_ratio{revision="absent"}'),
                 prometheus(prom.url, 'shiftlane_test_error_ratio{revision="absent"}', range={"window": "30s"})):
        m = await measure(spec, {}, context_for(api))
        assert m.value is None and m.error is None
        assert judge(m, "result < 0.05", None) == Phase.INCONCLUSIVE
        assert judge(m, None, "result > 0.1") == Phase.INCONCLUSIVE
        assert judge(m, None, None) == Phase.INCONCLUSIVE


async def test_a_query_prometheus_refuses_is_an_error_with_its_reason(prom, api) -> None:
    m = await measure(prometheus(prom.url, "sum(rate(x[1m])"), {}, context_for(api))
    assert m.value is None and "HTTP 400" in m.error and "bad_data" in m.error
    assert judge(m, "result < 1", None) == Phase.ERROR
    several = await measure(prometheus(prom.url, "shiftlane_test_error_ratio", range={"window": "10s"}), {}, context_for(api))
    assert "3 series" in several.error


async def test_basic_auth_from_a_secret(prom_basic, namespace, api) -> None:
    query = 'shiftlane_test_error_ratio{revision="good"}'
    prom_basic.wait_for_series(query)
    context = context_for(api, namespace)
    m = await measure(prometheus(prom_basic.url, query, authentication={"basic": {"secretName": "prom-basic"}}), {}, context)
    assert m.error is None and m.value == pytest.approx(0.01)  # the Secret's trailing newline is not part of it
    wrong = await measure(prometheus(prom_basic.url, query, authentication={"basic": {"secretName": "prom-basic-wrong"}}), {}, context)
    assert "HTTP 401" in wrong.error
    anonymous = await measure(prometheus(prom_basic.url, query), {}, context)
    assert "HTTP 401" in anonymous.error
    missing = await measure(prometheus(prom_basic.url, query, authentication={"basic": {"secretName": "absent"}}), {}, context)
    assert missing.error == f"Secret {namespace}/absent does not exist"
    assert judge(missing, "result < 1", None) == Phase.ERROR


@pytest.fixture(scope="module")
async def gateway(prom, tmp_path_factory):
    """Prometheus behind a loopback gateway that lets in only TOKEN, over HTTP and HTTPS (a test CA)."""
    seen: list[dict[str, str]] = []

    async def forward(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"status": "error", "errorType": "unauthorized", "error": "bad token"}, status=401)
        async with aiohttp.ClientSession() as session:
            async with session.post(prom.url + request.path, data=await request.read(),
                                    headers={"Content-Type": request.content_type}) as answer:
                return web.Response(body=await answer.read(), status=answer.status, content_type="application/json")

    app = web.Application()
    app.router.add_post("/{path:.*}", forward)
    ca = make_ca(tmp_path_factory.mktemp("ca"))
    async with serving(app) as plain, serving(app, ca.server_context) as tls:
        yield plain, tls, ca.ca_pem, seen


async def test_a_bearer_token_from_a_secret(gateway, namespace, api) -> None:
    plain, _, _, _ = gateway
    query = 'shiftlane_test_error_ratio{revision="good"}'
    context = context_for(api, namespace)
    m = await measure(prometheus(plain, query, authentication={"bearerToken": {"name": "prom-token", "key": "token"}}), {}, context)
    assert m.error is None and m.value == pytest.approx(0.01)
    refused = await measure(prometheus(plain, query), {}, context)
    assert refused.error == "Prometheus answered HTTP 401: unauthorized: bad token"
    no_key = await measure(prometheus(plain, query, authentication={"bearerToken": {"name": "prom-token", "key": "nope"}}), {}, context)
    assert no_key.error == f"Secret {namespace}/prom-token has no key 'nope'"


async def test_tls_with_a_ca_from_a_secret(gateway, namespace, api) -> None:
    _, tls, ca_pem, _ = gateway
    await create_secret(api, namespace, "prom-ca", {"ca.crt": ca_pem})
    auth = {"bearerToken": {"name": "prom-token", "key": "token"}}
    query = 'shiftlane_test_error_ratio{revision="good"}'
    context = context_for(api, namespace)
    trusted = await measure(prometheus(tls, query, authentication=auth, tls={"ca": {"name": "prom-ca", "key": "ca.crt"}}), {}, context)
    assert trusted.error is None and trusted.value == pytest.approx(0.01)
    unknown_ca = await measure(prometheus(tls, query, authentication=auth), {}, context)
    assert "certificate verify failed" in unknown_ca.error
    unchecked = await measure(prometheus(tls, query, authentication=auth, tls={"insecureSkipVerify": True}), {}, context)
    assert unchecked.error is None and unchecked.value == pytest.approx(0.01)


@pytest.fixture
def aws_credentials(monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret-example",
                        "AWS_SESSION_TOKEN": "session-example", "AWS_REGION": "eu-west-1",
                        "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/dev/null",
                        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}.items():
        monkeypatch.setenv(name, value)
    aws._session.cache_clear()  # the operator resolves the chain once; this test changes it
    yield Credentials("AKIDEXAMPLE", "secret-example", "session-example")
    aws._session.cache_clear()


async def test_sigv4_signs_each_request_as_aws_checks_it(prom, aws_credentials, api) -> None:
    """A loopback verifier recomputes the signature from the request as received (what AMP does), then
    forwards it to the real Prometheus."""
    verdicts: list[tuple[str, bool]] = []

    async def verify(request: web.Request) -> web.Response:
        body = await request.read()
        authorization = request.headers.get("Authorization", "")
        signed = authorization.split("SignedHeaders=")[1].split(",")[0].split(";") if "SignedHeaders=" in authorization else []
        replay = AWSRequest(method=request.method, url=str(request.url), data=body,
                            headers={name: request.headers[name] for name in signed if name in request.headers})
        replay.context["timestamp"] = request.headers.get("X-Amz-Date", "")
        signer = SigV4Auth(aws_credentials, "aps", "eu-west-1")
        expected = signer.signature(signer.string_to_sign(replay, signer.canonical_request(replay)), replay)
        verdicts.append((authorization, authorization.endswith(f"Signature={expected}")
                         and request.headers.get("X-Amz-Security-Token") == "session-example"))
        if not verdicts[-1][1]:
            return web.json_response({"message": "signature mismatch"}, status=403)
        api_path = "/api/v1/" + request.path.split("/api/v1/", 1)[1]  # AMP's is under /workspaces/<id>
        async with aiohttp.ClientSession() as session:
            async with session.post(prom.url + api_path, data=body, headers={"Content-Type": request.content_type}) as answer:
                return web.Response(body=await answer.read(), status=answer.status, content_type="application/json")

    app = web.Application()
    app.router.add_post("/{path:.*}", verify)
    async with serving(app) as verifier:
        m = await measure(prometheus(verifier + "/workspaces/ws-test", 'shiftlane_test_error_ratio{revision="good"}',
                                     authentication={"sigv4": {}}), {}, context_for(api))
        other_region = await measure(prometheus(verifier, "up", authentication={"sigv4": {"region": "us-east-1"}}), {}, context_for(api))
    assert m.error is None and m.value == pytest.approx(0.01)
    authorization, valid = verdicts[0]
    assert valid
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-1/aps/aws4_request" in authorization and "x-amz-date" in authorization
    # signed for another region than the verifier checks: refused, an error
    assert "us-east-1/aps" in verdicts[1][0] and not verdicts[1][1]
    assert "HTTP 403" in other_region.error


async def test_a_stopped_prometheus_is_an_error_never_success(target, api) -> None:
    server = PrometheusServer([ScrapeJob("app", [target[1]])])
    server.start()
    address = server.url
    server.stop()
    started = time.monotonic()
    m = await measure(prometheus(address, "up"), {}, context_for(api))
    assert time.monotonic() - started < 5
    assert m.value is None and "Cannot connect" in m.error and m.query == "up"
    assert judge(m, "result < 1", None) == Phase.ERROR
    assert judge(m, None, None) == Phase.ERROR
