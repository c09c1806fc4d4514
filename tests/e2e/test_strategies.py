"""Each strategy end to end: first revision Healthy, an image change, the steps seen on the API server
as they happen, and Healthy on the new revision with the old one scaled to zero.

With no traffic router driven yet, canary-like strategies move traffic by the share of ready pods
behind `<name>`; blueGreen and immutable switch the `<name>` Service's revision selector.
"""

from __future__ import annotations

import time

import pytest

from tests.e2e.helpers import IMAGE_V2, REVISION_LABEL, DeploymentWatch, Namespace, condition, rollout_manifest

pytestmark = pytest.mark.e2e

REPLICAS = 4
V2 = IMAGE_V2


def first_revision(ns: Namespace, name: str, strategy: dict, **spec) -> str:
    ns.apply(rollout_manifest(name, strategy, replicas=REPLICAS, **spec))
    status = ns.wait_phase(name, "Healthy", 30)
    stable = status["stableRevision"]
    assert status.get("canaryRevision") is None
    assert status["strategy"] == next(iter(strategy))
    deps = ns.wait_replicas(name, {stable: REPLICAS})
    assert list(deps) == [stable]
    assert set(ns.services(name)) == {name, f"{name}-stable", f"{name}-canary"}
    assert condition(status, "Ready")["status"] == "True"
    return stable


def finished(ns: Namespace, name: str, old: str, new: str, scale_down_delay: float = 0) -> dict:
    """Healthy on `new`: stable is new, no canary, new at full size, old at zero (after the delay)."""
    status = ns.wait_phase(name, "Healthy", 30, stableRevision=new)
    assert status.get("canaryRevision") is None
    assert status.get("currentStepIndex") is None
    ns.wait_replicas(name, {new: REPLICAS, old: 0}, timeout=scale_down_delay + 20)
    assert ns.selector(f"{name}-stable")[REVISION_LABEL] == new
    assert condition(status, "Ready")["status"] == "True"
    assert condition(status, "Stalled")["status"] == "False"
    assert ns.events(name, "RolloutCompleted"), "no RolloutCompleted Event"
    return status


def test_recreate(ns: Namespace) -> None:
    name = "recreate"
    old = first_revision(ns, name, {"recreate": {}})
    with DeploymentWatch(ns.name, name) as watch:
        watch.wait_started()
        ns.set_image(name, V2)
        new = ns.wait_new_revision(name, old)
        finished(ns, name, old, new)
        time.sleep(0.5)  # let the watch deliver the last events
    # Old to zero (no pod left) before the new revision is given any replica.
    assert watch.values(old) == [REPLICAS, 0]
    assert watch.values(new) == [0, REPLICAS]
    for state in watch.states():
        if state.get(new, {}).get("replicas", 0) > 0:
            assert state[old]["replicas"] == 0 and state[old]["status_replicas"] == 0, state
    # Traffic follows the pods: `<name>` selects every revision.
    assert REVISION_LABEL not in ns.selector(name)


def test_rolling(ns: Namespace) -> None:
    name = "rolling"
    old = first_revision(ns, name, {"rolling": {"maxSurge": 1, "maxUnavailable": 1}})
    with DeploymentWatch(ns.name, name) as watch:
        watch.wait_started()
        ns.set_image(name, V2)
        new = ns.wait_new_revision(name, old)
        finished(ns, name, old, new)
        time.sleep(0.5)
    # Deployment-style steps for 4 replicas, surge 1, unavailable 1.
    assert watch.values(new) == [1, 3, 4]
    assert watch.values(old) == [4, 2, 0]
    for state in watch.states():
        if new in state:
            assert state[new]["replicas"] + state[old]["replicas"] <= REPLICAS + 1, state
            assert state[new]["available"] + state[old]["available"] >= REPLICAS - 1, state


def test_rolling_batches(ns: Namespace) -> None:
    name = "batches"
    old = first_revision(ns, name, {"rollingBatches": {"batchSize": 2, "pauseBetween": "3s"}})
    ns.set_image(name, V2)
    new = ns.wait_new_revision(name, old)
    # Steps: canary 2, stable 2, pause 3s, canary 4, stable 0, finish.
    status = ns.wait_phase(name, "Paused", 15, currentStepIndex=2)
    assert status["stepCount"] == 6
    assert (status["stableRevision"], status["canaryRevision"]) == (old, new)
    ns.wait_replicas(name, {new: 2, old: 2}, timeout=2)
    assert status["canaryWeight"] == 50 and status["stableWeight"] == 50
    assert "paused until" in status["message"]
    finished(ns, name, old, new)


def test_blue_green(ns: Namespace) -> None:
    name = "bluegreen"
    delay = 3
    old = first_revision(ns, name, {"blueGreen": {"autoPromotionEnabled": False, "scaleDownDelaySeconds": delay}})
    assert ns.selector(name)[REVISION_LABEL] == old
    ns.set_image(name, V2)
    new = ns.wait_new_revision(name, old)
    # Steps: canary 4, pause until promoted, weight 100, finish.
    status = ns.wait_phase(name, "Paused", 30, currentStepIndex=1)
    assert "paused until promoted" in status["message"]
    ns.wait_replicas(name, {new: REPLICAS, old: REPLICAS}, timeout=5)
    assert ns.selector(name)[REVISION_LABEL] == old, "clients must stay on the old revision before promote"
    assert ns.selector(f"{name}-canary")[REVISION_LABEL] == new, "the preview Service selects the new revision"
    assert ns.selector(f"{name}-stable")[REVISION_LABEL] == old
    assert status["canaryWeight"] == 0 and status["stableWeight"] == 100

    ns.plugin("promote", name)
    status = ns.wait_phase(name, "Healthy", 20, stableRevision=new)
    promoted_at = time.monotonic()
    assert ns.selector(name)[REVISION_LABEL] == new
    # The old revision is kept at full size for scaleDownDelaySeconds, for an instant rollback.
    assert ns.replicas(name)[old] == REPLICAS
    finished(ns, name, old, new, scale_down_delay=delay)
    assert time.monotonic() - promoted_at >= delay - 1.5, "old revision scaled down before scaleDownDelaySeconds"


def test_immutable(ns: Namespace) -> None:
    name = "immutable"
    delay = 2
    old = first_revision(ns, name, {"immutable": {"scaleDownDelaySeconds": delay}})
    assert ns.selector(name)[REVISION_LABEL] == old
    with DeploymentWatch(ns.name, name) as watch:
        watch.wait_started()
        ns.set_image(name, V2)
        new = ns.wait_new_revision(name, old)
        ns.wait_phase(name, "Healthy", 30, stableRevision=new)
        assert ns.selector(name)[REVISION_LABEL] == new
        finished(ns, name, old, new, scale_down_delay=delay)
        time.sleep(0.5)
    # A complete new revision next to the old: the old shrinks only after every new pod is ready.
    assert watch.values(new) == [REPLICAS]
    assert watch.values(old) == [REPLICAS, 0]
    first_shrink = next(s for s in watch.states() if s[old]["replicas"] < REPLICAS)
    assert first_shrink[new]["ready"] == REPLICAS, first_shrink


def test_canary(ns: Namespace) -> None:
    name = "canary"
    steps = [{"setWeight": 25}, {"pause": {}}, {"setWeight": 75}, {"pause": {"duration": "2s"}}]
    old = first_revision(ns, name, {"canary": {"steps": steps}})
    ns.set_image(name, V2)
    new = ns.wait_new_revision(name, old)
    # Without a router, setWeight 25 of 4 pods is canary 1 / stable 3; then the indefinite pause (step 2).
    status = ns.wait_phase(name, "Paused", 30, currentStepIndex=2)
    assert status["stepCount"] == 9
    assert (status["stableRevision"], status["canaryRevision"]) == (old, new)
    assert status["canaryWeight"] == 25 and status["stableWeight"] == 75
    assert "paused until promoted" in status["message"]
    assert ns.replicas(name) == {new: 1, old: 3}
    assert REVISION_LABEL not in ns.selector(name), "with no router, `<name>` selects all revisions' ready pods"
    weights = {r["name"]: r["weight"] for r in status["revisions"]}
    assert weights == {old: 75, new: 25}

    ns.plugin("promote", name)
    status = ns.wait_phase(name, "Paused", 20, currentStepIndex=5)
    assert status["canaryWeight"] == 75
    assert ns.replicas(name) == {new: 3, old: 1}
    assert "paused until" in status["message"]
    finished(ns, name, old, new)


def test_elastic(ns: Namespace) -> None:
    name = "elastic"
    old = first_revision(ns, name, {"elastic": {"stepPercent": 50, "pauseBetween": "3s"}})
    ns.set_image(name, V2)
    new = ns.wait_new_revision(name, old)
    status = ns.wait_phase(name, "Paused", 15, currentStepIndex=2)
    assert status["stepCount"] == 6
    ns.wait_replicas(name, {new: 2, old: 2}, timeout=2)
    assert status["canaryWeight"] == 50
    finished(ns, name, old, new)


@pytest.mark.parametrize(
    ("strategy", "managed"),
    [
        ({"abTesting": {"match": [{"headers": [{"name": "x-canary", "exact": "yes"}]}],
                        "trafficRouting": {"gatewayAPI": {"httpRoute": "web"}}}}, "match rule"),
        ({"shadow": {"mirrorPercent": 50, "trafficRouting": {"gatewayAPI": {"httpRoute": "web"}}}}, "mirror"),
    ],
    ids=["abTesting", "shadow"],
)
def test_a_missing_route_stalls_naming_it_and_creating_it_resumes(ns: Namespace, strategy: dict, managed: str) -> None:
    name = "routed"
    old = first_revision(ns, name, strategy)
    ns.set_image(name, V2)
    status = ns.wait_status(name, lambda s: condition(s, "Stalled").get("status") == "True", 20, "Stalled=True")
    stalled = condition(status, "Stalled")
    assert stalled["reason"] == "RouterNotReady"
    assert f"HTTPRoute {ns.name}/web not found" in stalled["message"], stalled
    assert status["stableRevision"] == old and status.get("canaryRevision") is None
    # The stable keeps serving, untouched; no new revision is started.
    time.sleep(1)
    deps = ns.deployments(name)
    assert {rev: d["replicas"] for rev, d in deps.items()} == {old: REPLICAS}
    assert ns.selector(f"{name}-stable")[REVISION_LABEL] == old
    events = ns.events(name, "RouterNotReady")
    assert events and events[0]["type"] == "Warning" and "HTTPRoute" in events[0]["message"]

    # The route appears (a user's rule with a filter of its own): the rollout goes on without a restart.
    ns.apply({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "web"},
        "spec": {"parentRefs": [{"name": "gateway"}], "rules": [{
            "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
            "filters": [{"type": "RequestHeaderModifier", "requestHeaderModifier": {"set": [{"name": "x-team", "value": "shop"}]}}],
            "backendRefs": [{"name": f"{name}-stable", "port": 8080}, {"name": f"{name}-canary", "port": 8080, "weight": 0}],
        }]},
    })
    status = ns.wait_phase(name, "Paused", 30)
    new = status["canaryRevision"]
    assert new and new != old
    route = ns.json("get", "httproute", "web")
    rules = route["spec"]["rules"]
    user_rule = next(r for r in rules if not str(r.get("name", "")).startswith("shiftlane-"))
    assert user_rule["filters"][0]["type"] == "RequestHeaderModifier"  # the user's part is left as it was
    if managed == "match rule":
        ours = [r for r in rules if str(r.get("name", "")).startswith(f"shiftlane-{name}-match")]
        assert ours and ours[0]["matches"][0]["headers"][0] == {"type": "Exact", "name": "x-canary", "value": "yes"}
    else:
        mirrors = [f for r in rules for f in r.get("filters", []) if f["type"] == "RequestMirror"]
        assert mirrors and mirrors[0]["requestMirror"]["backendRef"]["name"] == f"{name}-canary"
    assert status["router"]["objects"] == [f"HTTPRoute {ns.name}/web"]

    ns.plugin("promote", name)
    ns.wait_phase(name, "Healthy", 60, stableRevision=new)
    rules = ns.json("get", "httproute", "web")["spec"]["rules"]
    assert not any(str(r.get("name", "")).startswith("shiftlane-") for r in rules)
    assert not any(f["type"] == "RequestMirror" for r in rules for f in r.get("filters", []))
