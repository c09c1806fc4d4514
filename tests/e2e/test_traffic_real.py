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
from tests.harness.invariants import InvariantWatcher
from tests.harness.traffic import (
    GATEWAY, Background, Reply, binomial_slack, by_revision, send, served_by_revision, statuses, traefik_service, until_routed,
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


def test_canary_on_an_httproute_splits_real_requests_at_each_step(ns: Namespace, invariants: InvariantWatcher) -> None:
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

    with Background([host]) as during:
        ns.plugin("promote", name)
        ns.wait_phase(name, "Healthy", 60, stableRevision=new)
        until_routed(host, lambda replies: by_revision(replies) == {new: len(replies)})
    invariants.replies(ns.name, name, "promote", during.replies[host])
    replies = send(N, host)
    assert by_revision(replies) == {new: N}, statuses(replies)
    print(f"canary share measured: {measured}")


def test_ab_test_sends_exactly_the_requests_with_the_header_to_the_canary(ns: Namespace) -> None:
    name = "ab"
    beta = {"x-canary": "yes"}
    strategy = {"abTesting": {"match": [{"headers": [{"name": "x-canary", "exact": "yes"}]}],
                              "trafficRouting": {"gatewayAPI": {"httpRoute": name}}}}
    old = healthy_on_v1(ns, name, strategy, http_route(ns, name, {"name": f"{name}-stable", "port": PORT}))
    host = host_of(ns, name)

    new = start_v2(ns, name, old)
    until_routed(host, lambda replies: by_revision(replies) == {new: len(replies)}, headers=beta)
    with_header, without, other_value = send(N, host, headers=beta), send(N, host), send(N, host, headers={"x-canary": "no"})
    assert by_revision(with_header) == {new: N}, statuses(with_header)
    assert by_revision(without) == {old: N}, statuses(without)
    assert by_revision(other_value) == {old: N}, statuses(other_value)

    ns.plugin("promote", name)
    ns.wait_phase(name, "Healthy", 60, stableRevision=new)
    until_routed(host, lambda replies: by_revision(replies) == {new: len(replies)})
    for headers in (beta, None):
        replies = send(N, host, headers=headers)
        assert by_revision(replies) == {new: N}, (headers, statuses(replies))


def settled(namespace: str, revision: str, before: Counter) -> int:
    """Requests the revision's pods answered since `before`, once the count stops moving: a mirror
    is sent next to the main request and may land a moment after the client's answer."""
    last, deadline = -1, time.monotonic() + 10
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = served_by_revision(namespace)[revision] - before[revision]
        if now == last:
            return now
        last = now
    return last


@pytest.mark.parametrize("end", ["promote", "abort"])
def test_shadow_through_a_traefikservice_mirrors_to_the_canary_and_only_stable_answers(
        ns: Namespace, end: str, invariants: InvariantWatcher) -> None:
    name = "shadow"
    percent = 40
    service = {"apiVersion": "traefik.io/v1alpha1", "kind": "TraefikService", "metadata": {"name": name},
               "spec": {"weighted": {"services": [{"name": f"{name}-stable", "port": PORT}],
                                     "sticky": {"cookie": {"name": "lb"}}}}}
    route = http_route(ns, name, {"group": "traefik.io", "kind": "TraefikService", "name": name})
    strategy = {"shadow": {"mirrorPercent": percent, "trafficRouting": {"traefik": {"traefikService": name}}}}
    old = healthy_on_v1(ns, name, strategy, route, service)
    host = host_of(ns, name)

    new = start_v2(ns, name, old)
    mirroring = ns.json("get", "traefikservice", name)["spec"]["mirroring"]
    assert mirroring["name"] == f"{name}-stable" and mirroring["mirrors"] == [{"name": f"{name}-canary", "port": PORT, "percent": percent}]
    wait_for(lambda: "mirroring" in (traefik_service(ns.name, name) or {}), 20, "Traefik to run the mirror")
    before = served_by_revision(ns.name)
    replies = send(N, host)
    mirrored = settled(ns.name, new, before)
    assert by_revision(replies) == {old: N}, f"a mirrored request answered a client: {statuses(replies)}"
    assert served_by_revision(ns.name)[old] - before[old] == N
    p = percent / 100
    assert abs(mirrored - p * N) <= binomial_slack(N, p), mirrored
    print(f"shadow: {mirrored} of {N} requests mirrored to the canary at {percent}%")

    stable = new if end == "promote" else old
    with Background([host]) as during:
        ns.plugin(end, name)
        ns.wait_phase(name, "Healthy" if end == "promote" else "Aborted", 60, stableRevision=stable)
        wait_for(lambda: "mirroring" not in ns.json("get", "traefikservice", name)["spec"], 20, "the mirror to be removed")
    invariants.replies(ns.name, name, end, during.replies[host])
    # The user's own `weighted` settings come back as they were.
    assert ns.json("get", "traefikservice", name)["spec"]["weighted"]["sticky"] == {"cookie": {"name": "lb"}}
    wait_for(lambda: "weighted" in (traefik_service(ns.name, name) or {}), 20, "Traefik to stop mirroring")
    until_routed(host, lambda replies: by_revision(replies) == {stable: len(replies)})
    # No mirror left: the pods answer exactly the requests sent, whatever `<name>-canary` selects now.
    before = served_by_revision(ns.name)
    replies = send(N, host)
    assert by_revision(replies) == {stable: N}, statuses(replies)
    assert settled(ns.name, stable, before) == N
    assert sum(served_by_revision(ns.name).values()) - sum(before.values()) == N


class Traffic(threading.Thread):
    """Requests sent in batches of 20 until stopped (at most 60 s, about 1,000 a second at most), each
    batch stamped with when it ended."""

    def __init__(self, host: str):
        super().__init__(daemon=True)
        self.host = host
        self.batches: list[tuple[float, list[Reply]]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        deadline = time.monotonic() + 60
        while not self.stop.is_set() and time.monotonic() < deadline:
            replies = send(20, self.host, concurrency=4)
            self.batches.append((time.monotonic(), replies))
            time.sleep(0.02)  # the machine is shared: a steady stream, not a flood

    def replies(self) -> list[Reply]:
        return [r for _, batch in self.batches for r in batch]


def test_abort_mid_canary_returns_all_requests_to_stable_without_failing_one(ns: Namespace, invariants: InvariantWatcher) -> None:
    name = "abort"
    steps = [{"setWeight": 50}, {"pause": {}}]
    old = healthy_on_v1(ns, name, {"canary": {"steps": steps, "trafficRouting": {"gatewayAPI": {"httpRoute": name}}}},
                        http_route(ns, name, {"name": f"{name}-stable", "port": PORT}))
    host = host_of(ns, name)
    new = start_v2(ns, name, old, canaryWeight=50)
    canary_pods = ns.replicas(name)[new]
    assert canary_pods > 0
    routed_at(host, old, new, 50)

    traffic = Traffic(host)
    traffic.start()
    wait_for(lambda: len(traffic.batches) >= 5, 20, "traffic before the abort")
    ns.plugin("abort", name)
    # The last moment the canary's pods were all still there: they must have stopped getting requests by then.
    last_full = time.monotonic()
    while True:
        checked = time.monotonic()
        if ns.replicas(name)[new] < canary_pods:
            break
        last_full = checked
        assert checked - last_full < 30, "the canary was never scaled down"
    ns.wait_phase(name, "Aborted", 30, stableRevision=old)
    ns.wait_replicas(name, {old: REPLICAS, new: 0}, timeout=30)
    time.sleep(2)  # requests on after the canary's pods are gone
    traffic.stop.set()
    traffic.join(30)

    replies = traffic.replies()
    invariants.replies(ns.name, name, "abort", replies)
    assert statuses(replies) == {200: len(replies)}, f"failed requests during the abort: {statuses(replies)}"
    last_canary = max(at for at, batch in traffic.batches if any(r.revision == new for r in batch))
    assert last_canary <= last_full, f"the canary was scaled down {last_canary - last_full:.2f}s before its last request"
    during = by_revision(traffic.replies())
    replies = send(N, host)
    assert by_revision(replies) == {old: N}, statuses(replies)
    print(f"abort: {sum(during.values())} requests during the switch, all 200, by revision {dict(during)}")
