"""Real requests through the local control plane's gateway, and what the pods say they served.

hack/cluster.sh runs Traefik with a Gateway `shiftlane` (namespace `shiftlane-gateway`, listener
`web`) on 127.0.0.1:$SHIFTLANE_GATEWAY_PORT, and the pod server (tests/harness/podserver.py), whose
metrics on 127.0.0.1:$SHIFTLANE_PODSERVER_METRICS_PORT count every request each pod answered,
mirrored ones included. Attach an HTTPRoute with `parentRefs: [GATEWAY]` and a hostname of its own,
then `send(n, host)`. Every request goes to 127.0.0.1 only. Plain threads, so sync and async tests
(through asyncio.to_thread) both use it.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

GATEWAY_PORT = int(os.environ.get("SHIFTLANE_GATEWAY_PORT", "20080"))
PODSERVER_METRICS_PORT = int(os.environ.get("SHIFTLANE_PODSERVER_METRICS_PORT", "20090"))
TRAEFIK_PORT = int(os.environ.get("SHIFTLANE_TRAEFIK_PORT", "20081"))
GATEWAY = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "shiftlane", "namespace": "shiftlane-gateway"}
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Reply:
    status: int  # 0: no HTTP answer at all (refused, reset, timed out)
    revision: str | None = None
    pod: str | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def send(n: int, host: str, path: str = "/", headers: Mapping[str, str] | None = None, concurrency: int = 16,
         timeout: float = 120) -> list[Reply]:
    """n GET requests to the gateway with this Host header, `concurrency` keep-alive connections at a time."""
    local = threading.local()
    deadline = time.monotonic() + timeout
    sent = {"Host": host, **(headers or {})}

    def one(_: int) -> Reply:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{n} requests to the gateway took over {timeout}s")
        conn = getattr(local, "conn", None) or http.client.HTTPConnection(LOOPBACK, GATEWAY_PORT, timeout=10)
        local.conn = conn
        try:
            conn.request("GET", path, headers=sent)
            response = conn.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException):
            conn.close()
            return Reply(0)
        try:
            answer = json.loads(body)
        except ValueError:
            answer = {}
        return Reply(response.status, answer.get("revision"), answer.get("pod"))

    with ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(one, range(n)))


def by_revision(replies: list[Reply]) -> Counter[str | None]:
    """Successful replies counted by the revision that answered."""
    return Counter(r.revision for r in replies if r.ok)


def statuses(replies: list[Reply]) -> Counter[int]:
    return Counter(r.status for r in replies)


def binomial_slack(n: int, p: float, z: float = 4.5) -> float:
    """How far a count of n draws with probability p may stray from n*p: z standard deviations (4.5:
    a false alarm about once in 150,000 checks)."""
    return z * math.sqrt(n * p * (1 - p))


def until_routed(host: str, check: Callable[[list[Reply]], bool], headers: Mapping[str, str] | None = None,
                 timeout: float = 60, batch: int = 20) -> list[Reply]:
    """Send small batches until one passes `check`: Traefik applies a new route within seconds."""
    deadline = time.monotonic() + timeout
    while True:
        replies = send(batch, host, headers=headers)
        if check(replies):
            return replies
        if time.monotonic() > deadline:
            raise AssertionError(f"gateway never routed {host} as expected; last batch: {statuses(replies)}, {by_revision(replies)}")
        time.sleep(0.5)


def traefik_service(namespace: str, name: str) -> dict | None:
    """A TraefikService as Traefik runs it now (its API), None while Traefik has not loaded it: the
    object can say one thing while Traefik still routes by the previous version."""
    url = f"http://{LOOPBACK}:{TRAEFIK_PORT}/api/http/services/{namespace}-{name}@kubernetescrd"
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        raise


def served(namespace: str) -> Counter[tuple[str, str, str]]:
    """Requests each pod of the namespace answered, from the pod server: (pod, revision, code) -> count."""
    with urllib.request.urlopen(f"http://{LOOPBACK}:{PODSERVER_METRICS_PORT}/metrics", timeout=10) as response:
        text = response.read().decode()
    counts: Counter[tuple[str, str, str]] = Counter()
    for family in text_string_to_metric_families(text):
        if family.name != "shiftlane_podserver_requests":
            continue
        for sample in family.samples:
            labels = sample.labels
            if sample.name.endswith("_total") and labels["namespace"] == namespace:
                counts[(labels["pod"], labels["revision"], labels["code"])] += int(sample.value)
    return counts


def served_by_revision(namespace: str) -> Counter[str]:
    counts: Counter[str] = Counter()
    for (_, revision, _), n in served(namespace).items():
        counts[revision] += n
    return counts


class Background:
    """Requests to each host, a few every `interval` seconds from a thread, for as long as the `with`
    block runs (a promote, an abort, chaos): every reply is kept by host."""

    def __init__(self, hosts: list[str], batch: int = 5, interval: float = 0.2):
        self.hosts, self.batch, self.interval = hosts, batch, interval
        self.replies: dict[str, list[Reply]] = {host: [] for host in hosts}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="background-traffic", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            for host in self.hosts:
                self.replies[host] += send(self.batch, host, concurrency=self.batch)

    def __enter__(self) -> Background:
        if self.hosts:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self.hosts:
            self._thread.join(30)
