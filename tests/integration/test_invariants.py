"""The invariant watcher against the real API server: the test plays the operator (writes with field
manager `shiftlane`, status through the status subresource) and breaks each rule once, and keeps it
once; no operator runs in this tier.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from shiftlane.api.spec import RolloutSpec
from shiftlane.engine.plan import compile_plan
from shiftlane.engine.steps import Pause
from shiftlane.traffic import ROUTERS
from tests.e2e.helpers import GROUP_RESOURCE, NEVER_READY_IMAGE, REVISION_LABEL, ROLLOUT_LABEL, kubectl, rollout_manifest, wait_for
from tests.harness.invariants import GRACE, InvariantWatcher, Violation
from tests.harness.traffic import Reply

pytestmark = pytest.mark.skipif(not os.environ.get("KUBECONFIG"), reason="needs the API server in KUBECONFIG")

ROOT_CRDS = os.path.join(os.path.dirname(__file__), "..", "..", "crds")


@pytest.fixture(scope="module")
def watcher() -> Iterator[InvariantWatcher]:
    kubectl("apply", "--server-side", "--force-conflicts", "-f", ROOT_CRDS)
    kubectl("wait", "--for=condition=Established", f"crd/{GROUP_RESOURCE}", "--timeout=60s")
    w = InvariantWatcher(os.environ["KUBECONFIG"]).start()
    yield w
    w.stop()


@pytest.fixture
def namespace(watcher: InvariantWatcher) -> Iterator[str]:
    name = f"invariants-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", name)
    yield name
    watcher.forget(name)
    kubectl("delete", "namespace", name, "--wait=false")


class Playing:
    """The test as the operator: a Rollout, its revision Deployments, Services and status."""

    def __init__(self, namespace: str, name: str, strategy: dict[str, Any], replicas: int = 2):
        self.ns, self.name = namespace, name
        manifest = rollout_manifest(name, strategy, replicas=replicas)
        self.rollout = json.loads(kubectl("-n", namespace, "create", "-o", "json", "-f", "-", stdin=json.dumps(manifest)).stdout)
        self.plan = compile_plan(RolloutSpec.model_validate(manifest["spec"]), ROUTERS)

    def deployment(self, revision: str, replicas: int, image: str = "registry.k8s.io/pause:3.9") -> None:
        body = {
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": f"{self.name}-{revision}", "labels": {ROLLOUT_LABEL: self.name, REVISION_LABEL: revision}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {REVISION_LABEL: revision}},
                     "template": {"metadata": {"labels": {REVISION_LABEL: revision, ROLLOUT_LABEL: self.name}},
                                  "spec": {"containers": [{"name": "app", "image": image}]}}},
        }
        kubectl("-n", self.ns, "create", "--field-manager=shiftlane", "-f", "-", stdin=json.dumps(body))

    def ready(self, revision: str, count: int) -> None:
        wait_for(lambda: json.loads(kubectl("-n", self.ns, "get", "deployment", f"{self.name}-{revision}", "-o", "json").stdout)
                 .get("status", {}).get("readyReplicas", 0) == count, 30, f"{revision} to have {count} ready pods")

    def scale(self, revision: str, replicas: int) -> None:
        kubectl("-n", self.ns, "patch", "deployment", f"{self.name}-{revision}", "--field-manager=shiftlane", "--type=merge",
                "-p", json.dumps({"spec": {"replicas": replicas}}))

    def service(self, suffix: str, revision: str) -> None:
        name = f"{self.name}-{suffix}" if suffix else self.name
        body = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "labels": {ROLLOUT_LABEL: self.name}},
                "spec": {"selector": {REVISION_LABEL: revision}, "ports": [{"port": 8080}]}}
        kubectl("-n", self.ns, "apply", "--server-side", "--field-manager=shiftlane", "--force-conflicts", "-f", "-", stdin=json.dumps(body))

    def status(self, **status: Any) -> None:
        kubectl("-n", self.ns, "patch", GROUP_RESOURCE, self.name, "--subresource=status", "--type=merge",
                "--field-manager=shiftlane", "-p", json.dumps({"status": status}))


def broken(watcher: InvariantWatcher, mark: int, rule: str) -> list[Violation]:
    watcher.settle()
    return [v for v in watcher.since(mark) if v.rule == rule]


def test_traffic_on_a_revision_without_ready_pods_is_reported_after_the_grace(watcher: InvariantWatcher, namespace: str) -> None:
    world = Playing(namespace, "switch", {"blueGreen": {"autoPromotionEnabled": False}})
    world.deployment("good", 2)
    world.deployment("bad", 2, image=NEVER_READY_IMAGE)
    world.ready("good", 2)
    mark = watcher.mark()
    world.service("", "good")
    time.sleep(GRACE + 1)
    assert broken(watcher, mark, "traffic-without-ready-pods") == []

    world.service("", "bad")  # the main Service now selects a revision no pod of which is ready
    found = wait_for(lambda: broken(watcher, mark, "traffic-without-ready-pods"), GRACE + 10, "the violation")
    assert "revision bad" in found[0].detail and found[0].rollout == "switch"


def test_scaling_a_revision_below_its_traffic_share_is_reported_and_after_traffic_left_it_is_not(
        watcher: InvariantWatcher, namespace: str) -> None:
    world = Playing(namespace, "bg", {"blueGreen": {"autoPromotionEnabled": False}}, replicas=2)
    world.deployment("old", 2)
    world.deployment("new", 2)
    world.ready("old", 2)
    world.ready("new", 2)
    world.service("", "old")
    mark = watcher.mark()
    world.scale("old", 1)  # still selected: all traffic, which needs both pods
    found = wait_for(lambda: broken(watcher, mark, "capacity-below-traffic"), 10, "the violation")
    assert "revision old scaled 2 -> 1" in found[0].detail

    world.service("", "new")
    world.status(revisions=[{"name": "new", "weight": 100}, {"name": "old", "weight": 0}])
    watcher.settle()
    mark = watcher.mark()
    world.scale("old", 0)  # no traffic left on it
    assert broken(watcher, mark, "capacity-below-traffic") == []


def test_a_third_revision_scaled_up_is_reported_unless_it_is_the_previous_stable_held_for_rollback(
        watcher: InvariantWatcher, namespace: str) -> None:
    world = Playing(namespace, "three", {"rolling": {}}, replicas=1)
    world.deployment("a", 1)
    world.deployment("b", 1)
    world.status(scaleDown={"revision": "a", "after": "2099-01-01T00:00:00Z"})
    watcher.settle()
    mark = watcher.mark()
    world.deployment("c", 1)
    assert broken(watcher, mark, "three-revisions-scaled-up") == []  # a is held for its scale-down delay
    world.status(scaleDown=None)
    world.scale("c", 2)
    found = broken(watcher, mark, "three-revisions-scaled-up")
    assert found and "3 revisions" in found[0].detail


def _progress(attempt: int, started: str) -> dict[str, Any]:
    return {"attempt": attempt, "startedAt": "2026-01-01T00:00:00Z", "stepStartedAt": started, "planReplicas": 2}


def test_steps_going_back_restarting_or_passing_a_pause_without_a_promote_are_reported(
        watcher: InvariantWatcher, namespace: str) -> None:
    world = Playing(namespace, "steps", {"canary": {"steps": [{"setWeight": 20}, {"pause": {}}, {"setWeight": 60}, {"pause": {}}]}})
    first, second = [i for i, step in enumerate(world.plan.steps) if isinstance(step, Pause)]  # 2 and 5 (scale steps between)
    common = {"canaryRevision": "c", "stableRevision": "s", "currentStepHash": world.plan.hash, "rolloutAttempts": 1}
    world.status(**common, currentStepIndex=0, rollout=_progress(1, "2026-01-01T00:00:00Z"))
    watcher.settle()
    mark = watcher.mark()
    world.status(**common, currentStepIndex=first + 1, rollout=_progress(1, "2026-01-01T00:00:05Z"))  # past the pause
    found = broken(watcher, mark, "step-order")
    assert found and f"step {first} (pause until promoted) passed without a promote" in found[0].detail

    mark = watcher.mark()
    world.status(**common, currentStepIndex=second, rollout=_progress(1, "2026-01-01T00:00:06Z"),
                 handledCommand={"id": "p1", "name": "promote"})  # scale steps and on to the next pause: fine
    world.status(**common, currentStepIndex=second, rollout=_progress(1, "2026-01-01T00:00:09Z"))  # the pause restarted
    world.status(**common, currentStepIndex=first, rollout=_progress(1, "2026-01-01T00:00:10Z"))  # back
    details = [v.detail for v in broken(watcher, mark, "step-order")]
    assert len(details) == 2 and "restarted" in details[0] and f"went back {second} -> {first}" in details[1], details

    mark = watcher.mark()
    world.status(**{**common, "rolloutAttempts": 2}, currentStepIndex=0, rollout=_progress(2, "2026-01-01T00:00:11Z"))
    world.status(**{**common, "rolloutAttempts": 2}, currentStepIndex=len(world.plan.steps) - 1,
                 rollout=_progress(2, "2026-01-01T00:00:12Z"), handledCommand={"id": "p2", "name": "promoteFull"})
    assert broken(watcher, mark, "step-order") == []  # a new attempt (retry) starts over; promote --full skips the rest


def test_replies_that_are_not_2xx_during_an_action_are_reported(watcher: InvariantWatcher) -> None:
    mark = watcher.mark()
    watcher.replies("ns", "web", "promote", [Reply(200), Reply(200)])
    assert watcher.since(mark) == []
    watcher.replies("ns", "web", "abort", [Reply(200), Reply(503), Reply(0)])
    assert [v.detail for v in watcher.since(mark)] == ["2 replies not 2xx during abort: {0: 1, 503: 1}"]
