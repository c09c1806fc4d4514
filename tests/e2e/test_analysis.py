"""Analysis that decides, on real metrics: a real Prometheus scrapes the pod server (every pod's answers,
by revision and status code) while real requests go through the gateway, and the operator judges the
canary by its error ratio. Webhooks are answered by a local HTTP server.

Each test sends a steady stream of requests (about 100 a second) to the Rollout's host for its
whole run, so both revisions have answers to count.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.e2e.helpers import IMAGE_V1, Namespace, rollout_manifest, wait_for
from tests.harness.prometheus import BINARY, PrometheusServer, ScrapeJob
from tests.harness.traffic import GATEWAY, PODSERVER_METRICS_PORT, Reply, by_revision, send, until_routed

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180),
              pytest.mark.skipif(BINARY is None, reason="prometheus is not installed (hack/install-test-deps.sh)")]

PORT = 8080
GOOD = "registry.k8s.io/pause:3.10"
BAD = "registry.k8s.io/pause:errors-20"  # the pod server answers 20% of its requests with 500
RATIO = ('(sum(rate(shiftlane_podserver_requests_total{{namespace="{{{{args.namespace}}}}",revision="{{{{args.revision}}}}",code=~"5.."}}[{w}]))'
         ' or vector(0)) / sum(rate(shiftlane_podserver_requests_total{{namespace="{{{{args.namespace}}}}",revision="{{{{args.revision}}}}"}}[{w}]))')


@pytest.fixture(scope="module")
def prometheus() -> Iterator[PrometheusServer]:
    server = PrometheusServer([ScrapeJob("podserver", [f"127.0.0.1:{PODSERVER_METRICS_PORT}"])])
    server.start()
    yield server
    server.stop()


class Hooks(ThreadingHTTPServer):
    """Answers webhook POSTs on loopback: each path's status code is set by the test; bodies are kept."""

    def __init__(self) -> None:
        self.answers: dict[str, int] = {}
        self.received: list[tuple[str, dict[str, Any]]] = []
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                hooks.received.append((self.path, body))
                self.send_response(hooks.answers.get(self.path, 200))
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def bodies(self, path: str) -> list[dict[str, Any]]:
        return [body for p, body in self.received if p == path]


@pytest.fixture
def hooks() -> Iterator[Hooks]:
    server = Hooks()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


class Load(threading.Thread):
    """Requests to a host in small batches until stopped; every reply kept."""

    def __init__(self, host: str):
        super().__init__(daemon=True)
        self.host, self.replies, self.stop = host, [], threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.replies += send(10, self.host, concurrency=2)
            time.sleep(0.1)


def template(name: str, prometheus: PrometheusServer, query: str | None = None, **metric: Any) -> dict[str, Any]:
    return {
        "apiVersion": "shiftlane.io/v1alpha1", "kind": "AnalysisTemplate", "metadata": {"name": name},
        "spec": {
            "args": [{"name": "namespace", "valueFrom": "namespace"}, {"name": "revision", "valueFrom": "canaryRevision"}],
            "metrics": [{
                # A revision's first seconds may have no sample in the window yet: tolerated, never counted.
                "name": "error-ratio", "initialDelay": "4s", "interval": "2s", "count": 3, "inconclusiveLimit": 10,
                "successCondition": "result < 0.05", "failureCondition": "result >= 0.05",
                "provider": {"prometheus": {"address": prometheus.url, "query": query or RATIO.format(w="8s"), "timeout": "3s"}},
                **metric,
            }],
        },
    }


def canary(name: str, **spec: Any) -> dict[str, Any]:
    steps = [{"setWeight": 50}, {"analysis": {"templates": [{"name": "error-ratio"}]}}]
    return rollout_manifest(name, {"canary": {"steps": steps, "trafficRouting": {"gatewayAPI": {"httpRoute": name}}}},
                            replicas=2, image=IMAGE_V1, abortScaleDownDelaySeconds=0, **spec)


def serving(ns: Namespace, name: str, rollout: dict[str, Any], tmpl: dict[str, Any]) -> tuple[str, Load]:
    host = f"{name}.{ns.name}.test"
    ns.apply({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": name},
              "spec": {"parentRefs": [GATEWAY], "hostnames": [host], "rules": [{"backendRefs": [{"name": f"{name}-stable", "port": PORT}]}]}})
    ns.apply(tmpl)
    ns.apply(rollout)
    stable = ns.wait_phase(name, "Healthy", 30)["stableRevision"]
    until_routed(host, lambda replies: by_revision(replies) == {stable: len(replies)})
    load = Load(host)
    load.start()
    return stable, load


def run_of(status: dict[str, Any]) -> dict[str, Any]:
    return status["analysisRuns"][-1]


def test_a_healthy_canary_is_promoted_by_analysis_alone(ns: Namespace, prometheus: PrometheusServer) -> None:
    stable, load = serving(ns, "good", canary("good"), template("error-ratio", prometheus))
    try:
        ns.set_image("good", GOOD)
        status = ns.wait_phase("good", "Healthy", 90, canaryRevision=None)
    finally:
        load.stop.set()
        load.join()
    assert status["stableRevision"] != stable
    run = run_of(status)
    assert run["phase"] == "Successful"
    metric = run["metrics"][0]
    assert metric["successful"] == 3 and all(float(m["value"]) < 0.05 for m in metric["measurements"] if m["phase"] == "Successful")
    assert 'revision="' + status["stableRevision"] + '"' in metric["query"]  # the argument was substituted
    assert all(r.status == 200 for r in load.replies)


def test_a_canary_answering_20_percent_errors_is_rolled_back_by_analysis_alone(ns: Namespace, prometheus: PrometheusServer) -> None:
    stable, load = serving(ns, "bad", canary("bad"), template("error-ratio", prometheus))
    try:
        ns.set_image("bad", BAD)
        status = ns.wait_phase("bad", "Aborted", 90)
        new = status["canaryRevision"]
        ns.wait_replicas("bad", {stable: 2, new: 0}, 40)
        until_routed(f"bad.{ns.name}.test", lambda replies: by_revision(replies) == {stable: len(replies)})
    finally:
        load.stop.set()
        load.join()
    assert status["stableWeight"] == 100 and status["canaryWeight"] == 0
    run = run_of(status)
    assert run["phase"] == "Failed"
    measured = float(run["metrics"][0]["measurements"][-1]["value"])
    assert 0.1 < measured < 0.3, measured  # 20% of the canary's answers
    (event,) = ns.events("bad", "AnalysisFailed")
    assert "error-ratio/error-ratio" in event["message"] and run["metrics"][0]["measurements"][-1]["value"][:4] in event["message"]


def test_a_missing_series_pauses_and_never_promotes(ns: Namespace, prometheus: PrometheusServer) -> None:
    missing = 'sum(rate(no_such_metric_total{namespace="{{args.namespace}}"}[10s]))'
    stable, load = serving(ns, "nodata", canary("nodata"), template("error-ratio", prometheus, query=missing, initialDelay="0s", inconclusiveLimit=0))
    try:
        ns.set_image("nodata", GOOD)
        status = ns.wait_phase("nodata", "Paused", 60)
        assert "inconclusive" in status["message"]
        time.sleep(5)  # nothing promotes it meanwhile
        status = ns.status("nodata")
    finally:
        load.stop.set()
        load.join()
    assert status["phase"] == "Paused" and status["stableRevision"] == stable
    assert run_of(status)["metrics"][0]["measurements"][-1]["phase"] == "Inconclusive"


def test_prometheus_stopped_mid_analysis_counts_errors_and_never_promotes(ns: Namespace) -> None:
    own = PrometheusServer([ScrapeJob("podserver", [f"127.0.0.1:{PODSERVER_METRICS_PORT}"])])
    own.start()
    tmpl = template("error-ratio", own, interval="1s", count=20, consecutiveErrorLimit=2)
    stable, load = serving(ns, "noprom", canary("noprom"), tmpl)
    try:
        ns.set_image("noprom", GOOD)
        ns.wait_status("noprom", lambda s: any(m.get("count", 0) >= 1 for m in run_of(s)["metrics"]) if s.get("analysisRuns") else False,
                       60, "a first measurement")
        own.stop()
        status = ns.wait_phase("noprom", "Aborted", 60)
    finally:
        load.stop.set()
        load.join()
        own.stop()
    metric = run_of(status)["metrics"][0]
    assert run_of(status)["phase"] == "Error" and metric["consecutiveErrors"] == 3
    assert status["stableRevision"] == stable
    assert all(m["phase"] == "Error" for m in metric["measurements"][-3:])
    (event,) = ns.events("noprom", "AnalysisMeasurementError")  # once for the run of errors, not per error
    assert "error-ratio/error-ratio" in event["message"] and (event.get("count") or 1) == 1


def test_an_invalid_condition_marks_the_template_and_stalls_the_rollout(ns: Namespace, prometheus: PrometheusServer) -> None:
    stable, load = serving(ns, "broken", canary("broken"), template("error-ratio", prometheus, successCondition="result <"))
    try:
        marked = wait_for(lambda: next((c for c in (ns.json("get", "analysistemplates.shiftlane.io", "error-ratio").get("status") or {})
                                        .get("conditions", []) if c["type"] == "Valid" and c["status"] == "False"), None),
                          30, "the template marked invalid")
        assert "successCondition does not compile" in marked["message"]
        ns.set_image("broken", GOOD)
        status = ns.wait_status("broken", lambda s: "successCondition does not compile" in (s.get("message") or ""), 30,
                                "a stall naming the template")
        assert status["stableRevision"] == stable and status["stableWeight"] == 100
        ns.apply(template("error-ratio", prometheus))  # mended: the rollout goes on by itself
        ns.wait_phase("broken", "Healthy", 90, canaryRevision=None)
    finally:
        load.stop.set()
        load.join()


def test_webhooks_gate_and_notify(ns: Namespace, prometheus: PrometheusServer, hooks: Hooks) -> None:
    hooks.answers["/release"] = 403
    webhooks = [
        {"name": "release", "type": "confirmPromotion", "url": hooks.url("/release"), "timeout": "2s"},
        {"name": "rollback", "type": "rollback", "url": hooks.url("/rollback")},
        {"name": "events", "type": "event", "url": hooks.url("/events")},
    ]
    stable, load = serving(ns, "hooked", canary("hooked", webhooks=webhooks), template("error-ratio", prometheus))
    try:
        ns.set_image("hooked", GOOD)
        ns.wait_status("hooked", lambda s: "confirmPromotion webhook release" in (s.get("message") or ""), 90, "waiting on the webhook")
        time.sleep(6)  # asked again meanwhile, still refused: the rollout holds
        status = ns.status("hooked")
        assert status["stableRevision"] == stable and len(hooks.bodies("/release")) >= 2
        ns.plugin("abort", "hooked")
        ns.wait_phase("hooked", "Aborted", 30)
        wait_for(lambda: hooks.bodies("/rollback"), 20, "the rollback hook")
    finally:
        load.stop.set()
        load.join()
    (rollback,) = hooks.bodies("/rollback")
    assert rollback["name"] == "hooked" and rollback["namespace"] == ns.name and rollback["type"] == "rollback"
    emitted = sorted(e["reason"] + e["message"] for e in ns.events("hooked") for _ in range(e.get("count") or 1))
    wait_for(lambda: len(hooks.bodies("/events")) >= len(emitted), 20, "every Event posted")
    posted = sorted(b["event"]["reason"] + b["event"]["message"] for b in hooks.bodies("/events"))
    assert posted == emitted  # each Event once


def test_an_operator_restarted_mid_analysis_resumes_the_run(ns: Namespace, prometheus: PrometheusServer, operator) -> None:
    stable, load = serving(ns, "resume", canary("resume"), template("error-ratio", prometheus, count=6, initialDelay="2s"))
    try:
        ns.set_image("resume", GOOD)
        before = ns.wait_status("resume", lambda s: bool(s.get("analysisRuns")) and run_of(s)["metrics"][0].get("count", 0) >= 2,
                                90, "two measurements")
        operator.restart()
        status = ns.wait_phase("resume", "Healthy", 90, canaryRevision=None)
    finally:
        load.stop.set()
        load.join()
    run, started = run_of(status), run_of(before)
    assert run["key"] == started["key"] and run["startedAt"] == started["startedAt"]  # the same run, not a new one
    metric = run["metrics"][0]
    assert metric["successful"] == 6 and metric["failed"] == 0  # measured on from where it was, none repeated
