"""A fleet of Rollouts of mixed strategies changing image at once, and what each must end as.

Shared by the chaos tests (a bounded fleet) and bench/chaos_kills.py (a larger one). Steps carry
short pauses so that a rollout spans several operator kills; one kind never becomes ready and must
end Aborted by its progress deadline, with all traffic on the stable revision.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.e2e.helpers import IMAGE_V1, IMAGE_V2, NEVER_READY_IMAGE, Namespace, rollout_manifest
from tests.harness.traffic import GATEWAY

PORT = 8080


@dataclass(frozen=True)
class Kind:
    name: str
    strategy: dict[str, Any]
    replicas: int = 3
    new_image: str = IMAGE_V2
    spec: tuple[tuple[str, Any], ...] = ()
    routed: bool = False  # a gatewayAPI canary on an HTTPRoute of its own

    @property
    def aborts(self) -> bool:
        return self.new_image == NEVER_READY_IMAGE


KINDS = (
    Kind("recreate", {"recreate": {}}, replicas=2, spec=(("minReadySeconds", 5),)),
    Kind("rolling", {"rolling": {"maxSurge": 1, "maxUnavailable": 0}}, spec=(("minReadySeconds", 5),)),
    Kind("batches", {"rollingBatches": {"batchSize": 1, "pauseBetween": "8s"}}),
    Kind("bluegreen", {"blueGreen": {"autoPromotionSeconds": 15, "scaleDownDelaySeconds": 5}}),
    Kind("immutable", {"immutable": {"scaleDownDelaySeconds": 10}}, spec=(("minReadySeconds", 5),)),
    Kind("canary", {"canary": {"steps": [{"setWeight": 34}, {"pause": {"duration": "10s"}}, {"setWeight": 67},
                                         {"pause": {"duration": "8s"}}]}}),
    Kind("routed", {"canary": {"steps": [{"setWeight": 20}, {"pause": {"duration": "10s"}}, {"setWeight": 60},
                                         {"pause": {"duration": "8s"}}]}}, routed=True),
    Kind("elastic", {"elastic": {"stepPercent": 34, "pauseBetween": "8s"}}),
    Kind("doomed", {"canary": {"steps": [{"setWeight": 34}, {"pause": {}}]}}, new_image=NEVER_READY_IMAGE,
         spec=(("progressDeadlineSeconds", 20), ("progressDeadlineAbort", True), ("abortScaleDownDelaySeconds", 5))),
)


@dataclass(frozen=True)
class Member:
    name: str
    kind: Kind

    def host(self, namespace: str) -> str:
        return f"{self.name}.{namespace}.test"

    def manifest(self, image: str = IMAGE_V1) -> dict[str, Any]:
        strategy = self.kind.strategy
        if self.kind.routed:
            strategy = {"canary": {**strategy["canary"], "trafficRouting": {"gatewayAPI": {"httpRoute": self.name}}}}
        return rollout_manifest(self.name, strategy, replicas=self.kind.replicas, image=image, **dict(self.kind.spec))

    def route(self, namespace: str) -> dict[str, Any]:
        return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": self.name},
                "spec": {"parentRefs": [GATEWAY], "hostnames": [self.host(namespace)],
                         "rules": [{"backendRefs": [{"name": f"{self.name}-stable", "port": PORT}]}]}}


def fleet(size: int) -> list[Member]:
    """`size` Rollouts, the kinds in turn."""
    return [Member(f"{KINDS[i % len(KINDS)].name}-{i}", KINDS[i % len(KINDS)]) for i in range(size)]


def deploy(ns: Namespace, members: list[Member], timeout: float = 120) -> dict[str, str]:
    """Every member Healthy on the first image; its stable revision by name."""
    for member in members:
        if member.kind.routed:
            ns.apply(member.route(ns.name))
        ns.apply(member.manifest())
    return {m.name: ns.wait_phase(m.name, "Healthy", timeout)["stableRevision"] for m in members}


def change_images(ns: Namespace, members: list[Member]) -> None:
    for member in members:
        ns.set_image(member.name, member.kind.new_image)


def verdict(ns: Namespace, member: Member, old: str) -> str | None:
    """None when the member ended as it must; else what is wrong (it may still be getting there)."""
    status = ns.status(member.name)
    rollout = ns.rollout(member.name)
    if status.get("observedGeneration") != rollout["metadata"]["generation"]:
        return "status not written for the current generation"
    phase, stable = status.get("phase"), status.get("stableRevision")
    if member.kind.aborts:
        if phase != "Aborted" or stable != old or status.get("stableWeight") != 100:
            return f"phase {phase}, stable {stable}, stableWeight {status.get('stableWeight')}: want Aborted on {old} with 100%"
        canary = status.get("canaryRevision")
        if ns.replicas(member.name).get(canary, 0) != 0:
            return f"the aborted canary {canary} still has replicas"
        return None
    if phase != "Healthy" or stable == old:
        return f"phase {phase} ({status.get('message')}), stable {stable}: want Healthy on a new revision"
    deployments = ns.deployments(member.name)
    serving = {rev: d for rev, d in deployments.items() if d["replicas"]}
    if set(serving) != {stable} or serving[stable]["available"] != member.kind.replicas:
        return f"deployments {deployments}: want only {stable} with {member.kind.replicas} available"
    return None


def unfinished(ns: Namespace, members: list[Member], olds: dict[str, str]) -> dict[str, str]:
    return {m.name: problem for m in members if (problem := verdict(ns, m, olds[m.name]))}


class Killer:
    """SIGKILLs the operator at random moments and starts it again at once, until stopped."""

    def __init__(self, kill: Callable[[], None], start: Callable[[], None], seed: int, between: tuple[float, float] = (0.5, 3.0)):
        self.kill, self.start_operator = kill, start
        self.random = random.Random(seed)
        self.between = between
        self.kills = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="killer", daemon=True)
        self.error: BaseException | None = None

    def __enter__(self) -> Killer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(120)

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.random.uniform(*self.between)):
                self.kill()
                self.kills += 1
                self.start_operator()
        except BaseException as error:  # noqa: BLE001 - reported by the test
            self.error = error


def told_twice(ns: Namespace, members: list[Member]) -> list[str]:
    """The Normal Events (a transition: a revision created, a step completed, the rollout completed) a
    Rollout was told more than once: the operator decided the same transition twice."""
    names = {m.name for m in members}
    told: Counter[tuple[str, str, str]] = Counter()
    for event in ns.json("get", "events")["items"]:
        subject = event["involvedObject"]
        if subject.get("kind") == "Rollout" and subject["name"] in names and event.get("type") == "Normal":
            told[(subject["name"], event["reason"], event.get("message", ""))] += event.get("count") or 1
    return [f"{name}: {reason} {message!r} x{n}" for (name, reason, message), n in sorted(told.items()) if n > 1]


def wait_all(ns: Namespace, members: list[Member], olds: dict[str, str], timeout: float) -> dict[str, str]:
    """Poll until every member ended as it must; what is still wrong at the deadline."""
    deadline = time.monotonic() + timeout
    left = unfinished(ns, members, olds)
    while left and time.monotonic() < deadline:
        time.sleep(1)
        left = unfinished(ns, [m for m in members if m.name in left], olds)
    return left
