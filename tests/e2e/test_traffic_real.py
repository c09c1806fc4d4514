"""Rollouts that move real requests: Traefik (the local control plane's Gateway) routes by the
objects Shiftlane writes, and the split is counted from the pods' own answers.

Every check sends N = 1,000 requests to 127.0.0.1 and allows traffic.binomial_slack (4.5 standard
deviations of a binomial count: a false alarm about once in 150,000 checks). Before counting, each
test waits until Traefik routes by the new object, which takes it a second or two after the write.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import pytest

from tests.e2e.helpers import IMAGE_V2, Namespace, rollout_manifest, wait_for
from tests.harness.traffic import (
    GATEWAY, Reply, binomial_slack, by_revision, send, served_by_revision, statuses, until_routed,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

N = 1000
PORT = 8080
REPLICAS = 4


def host_of(ns: Namespace, name: str) -> str:
    return f"{name}.{ns.name}.test"


def http_route(ns: Namespace, name: str, backend: dict[str, Any]) -> dict[str, Any]:
    """The user's route: everything for the host to one backend (stable, or a TraefikService)."""
    return {
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": name},
        "spec": {"parentRefs": [GATEWAY], "hostnames": [host_of(ns, name)], "rules": [{"backendRefs": [backend]}]},
    }


def healthy_on_v1(ns: Namespace, name: str, strategy: dict[str, Any], route: dict[str, Any], *extra: dict[str, Any]) -> str:
    """Route (and extra objects) first, then the Rollout; all requests reach the first revision."""
    for obj in (*extra, route):
        ns.apply(obj)
    ns.apply(rollout_manifest(name, strategy, replicas=REPLICAS))
    stable = ns.wait_phase(name, "Healthy", 30)["stableRevision"]
    ns.wait_replicas(name, {stable: REPLICAS})
    until_routed(host_of(ns, name), lambda replies: by_revision(replies) == {stable: len(replies)})
    return stable


def start_v2(ns: Namespace, name: str, old: str, **fields: Any) -> str:
    ns.set_image(name, IMAGE_V2)
    status = ns.wait_phase(name, "Paused", 40, **fields)
    new = status["canaryRevision"]
    assert new and new != old
    return new


def share_of(counts: Counter, revision: str) -> float:
    return counts[revision] / sum(counts.values())


def assert_split(replies: list[Reply], stable: str, canary: str, weight: int) -> Counter:
    """Every request answered by stable or canary, the canary's count within the slack of `weight`%."""
    counts = by_revision(replies)
    assert statuses(replies) == {200: len(replies)}, statuses(replies)
    assert set(counts) <= {stable, canary}, counts
    p = weight / 100
    assert abs(counts[canary] - p * len(replies)) <= binomial_slack(len(replies), p), (weight, counts)
    return counts


def routed_at(host: str, stable: str, canary: str, weight: int, headers: dict[str, str] | None = None) -> None:
    """Wait until Traefik splits by `weight`: a batch of 200 within the slack of the new weight and
    outside that of the previous one (20 -> 50 is 6.3 sigma apart at 200 requests)."""
    p = weight / 100

    def at_weight(replies: list[Reply]) -> bool:
        counts = by_revision(replies)
        return set(counts) <= {stable, canary} and abs(counts[canary] - p * len(replies)) <= binomial_slack(len(replies), p, z=3)

    until_routed(host, at_weight, headers=headers, batch=200)


def test_canary_on_an_httproute_splits_real_requests_at_each_step(ns: Namespace) -> None:
    name = "web"
    routing = {"gatewayAPI": {"httpRoute": name}}
    steps = [{"setWeight": 20}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}]
    old = healthy_on_v1(ns, name, {"canary": {"steps": steps, "trafficRouting": routing}},
                        http_route(ns, name, {"name": f"{name}-stable", "port": PORT}))
    host = host_of(ns, name)
    measured = {}

    new = start_v2(ns, name, old, canaryWeight=20)
    for weight in (20, 50):
        if weight == 50:
            ns.plugin("promote", name)
            ns.wait_phase(name, "Paused", 40, canaryWeight=50)
        routed_at(host, old, new, weight)
        measured[weight] = share_of(assert_split(send(N, host), old, new, weight), new)

    ns.plugin("promote", name)
    ns.wait_phase(name, "Healthy", 60, stableRevision=new)
    until_routed(host, lambda replies: by_revision(replies) == {new: len(replies)})
    replies = send(N, host)
    assert by_revision(replies) == {new: N}, statuses(replies)
    print(f"canary share measured: {measured}")
