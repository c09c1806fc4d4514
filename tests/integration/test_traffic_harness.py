"""Real requests through Traefik on the local control plane reach the pods the real objects name.

Two revisions as two Deployments and Services; an HTTPRoute (weights, a header match) or a
TraefikService (mirroring) on the cluster's Gateway; responses counted by the revision that
answered, and mirrored requests counted by the pod server. Traefik balances weights and mirrors by
its own schedule; each check allows the binomial slack of traffic.binomial_slack (4.5 sigma).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from typing import Any

import pytest

from tests.harness.traffic import (
    GATEWAY, binomial_slack, by_revision, send, served, served_by_revision, statuses, until_routed,
)

pytestmark = [
    pytest.mark.skipif(not os.environ.get("KUBECONFIG"), reason="needs a cluster in KUBECONFIG"),
    pytest.mark.timeout(300),
]

N = 1000
PORT = 8080


def kubectl(*args: str, stdin: str | None = None) -> str:
    return subprocess.run(["kubectl", *args], input=stdin, capture_output=True, text=True, check=True, timeout=60).stdout


def apply(namespace: str, *objects: dict[str, Any]) -> None:
    kubectl("-n", namespace, "apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)}))


def revision(name: str, rev: str, image: str, replicas: int) -> list[dict[str, Any]]:
    labels = {"app": name, "shiftlane.io/revision": rev}
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {
            "replicas": replicas, "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels},
                         "spec": {"containers": [{"name": "app", "image": image, "ports": [{"name": "http", "containerPort": PORT}]}]}},
        },
    }
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
               "spec": {"selector": labels, "ports": [{"name": "http", "port": PORT, "targetPort": PORT}]}}
    return [deployment, service]


def backend(name: str, weight: int | None = None) -> dict[str, Any]:
    ref: dict[str, Any] = {"name": name, "port": PORT}
    if weight is not None:
        ref["weight"] = weight
    return ref


def route(name: str, host: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": name},
            "spec": {"parentRefs": [GATEWAY], "hostnames": [host], "rules": rules}}


@pytest.fixture(scope="module")
def namespace():
    """stable (v1, 2 pods), canary (v2, 1 pod) and faulty (errors-20 and slow-300, 2 pods), all Ready."""
    name = f"traffic-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", name)
    apply(name, *revision("stable", "v1", "example.com/web:1.0", 2), *revision("canary", "v2", "example.com/web:1.1", 1),
          *revision("faulty", "v3", "example.com/web:1.2-errors-20-slow-300", 2))
    kubectl("-n", name, "wait", "--for=condition=Available", "deployment", "--all", "--timeout=60s")
    yield name
    kubectl("delete", "namespace", name, "--wait=false")


def test_httproute_weights_split_real_requests(namespace):
    host = f"weights.{namespace}.test"
    apply(namespace, route("weights", host, [{"backendRefs": [backend("stable", 80), backend("canary", 20)]}]))
    until_routed(host, lambda replies: set(by_revision(replies)) == {"v1", "v2"})
    status = json.loads(kubectl("-n", namespace, "get", "httproute", "weights", "-o", "json"))["status"]
    accepted = [c for p in status["parents"] for c in p["conditions"] if c["type"] == "Accepted"]
    assert accepted and accepted[0]["status"] == "True", status

    replies = send(N, host)

    assert statuses(replies) == {200: N}
    counts = by_revision(replies)
    assert abs(counts["v2"] - 0.2 * N) <= binomial_slack(N, 0.2), counts
    assert counts["v1"] + counts["v2"] == N


def test_header_match_sends_only_matching_requests_to_canary(namespace):
    host = f"headers.{namespace}.test"
    beta = {"x-beta": "1"}
    apply(namespace, route("headers", host, [
        {"matches": [{"headers": [{"name": "x-beta", "value": "1"}]}], "backendRefs": [backend("canary")]},
        {"backendRefs": [backend("stable")]},
    ]))
    until_routed(host, lambda replies: by_revision(replies) == {"v2": len(replies)}, headers=beta)

    with_header, without = send(500, host, headers=beta), send(500, host, headers={"x-beta": "0"})

    assert by_revision(with_header) == {"v2": 500}
    assert by_revision(without) == {"v1": 500}


def test_traefikservice_mirrors_to_canary_and_only_stable_answers(namespace):
    host = f"mirror.{namespace}.test"
    apply(namespace, {
        "apiVersion": "traefik.io/v1alpha1", "kind": "TraefikService", "metadata": {"name": "shadow"},
        "spec": {"mirroring": {"name": "stable", "port": PORT, "mirrors": [{"name": "canary", "port": PORT, "percent": 50}]}},
    }, route("mirror", host, [{"backendRefs": [{"group": "traefik.io", "kind": "TraefikService", "name": "shadow"}]}]))
    # Routed once stable answers and the canary pods have seen mirrored requests.
    before = served_by_revision(namespace)
    until_routed(host, lambda replies: by_revision(replies) == {"v1": len(replies)}
                 and served_by_revision(namespace)["v2"] > before["v2"])

    before = served_by_revision(namespace)
    replies = send(N, host)
    # Mirrors are sent next to the main request: wait until the canary's count settles.
    mirrored, deadline = -1, time.monotonic() + 10
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = served_by_revision(namespace)["v2"] - before["v2"]
        if now == mirrored:
            break
        mirrored = now

    assert by_revision(replies) == {"v1": N}, "a mirrored request answered a client"
    assert served_by_revision(namespace)["v1"] - before["v1"] == N
    assert abs(mirrored - 0.5 * N) <= binomial_slack(N, 0.5), mirrored


def test_image_tag_makes_a_faulty_revision(namespace):
    host = f"faulty.{namespace}.test"
    apply(namespace, route("faulty", host, [{"backendRefs": [backend("faulty")]}]))
    until_routed(host, lambda replies: {r.revision for r in replies} == {"v3"})
    before = served(namespace)

    started = time.monotonic()
    replies = send(N, host, concurrency=50)
    elapsed = time.monotonic() - started

    failed = statuses(replies)[500]
    assert failed + statuses(replies)[200] == N
    assert abs(failed - 0.2 * N) <= binomial_slack(N, 0.2), statuses(replies)
    # slow-300: 1,000 requests, 50 at a time, each held 300 ms by the pod, take at least 6 s.
    assert elapsed >= N / 50 * 0.3, elapsed
    after = served(namespace)
    pods = {pod for (pod, rev, _) in after if rev == "v3"}
    assert len(pods) == 2 and sum(after[k] - before[k] for k in after if k[1] == "v3") == N


def test_deleted_pod_answers_no_more(namespace):
    host = f"deleted.{namespace}.test"
    apply(namespace, route("deleted", host, [{"backendRefs": [backend("stable")]}]))
    until_routed(host, lambda replies: len({r.pod for r in replies if r.ok}) == 2)
    gone = json.loads(kubectl("-n", namespace, "get", "pods", "-l", "app=stable", "-o", "json"))["items"][0]["metadata"]["name"]

    kubectl("-n", namespace, "delete", "pod", gone, "--wait=true")
    until_routed(host, lambda replies: all(r.ok for r in replies) and len({r.pod for r in replies}) == 2)
    replies = send(300, host)

    assert statuses(replies) == {200: 300}
    assert gone not in {r.pod for r in replies}
