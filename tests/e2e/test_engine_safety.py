"""Issue 6 on a real control plane: an undo survives an autoscaler write, and a blue/green abort moves
traffic first and keeps the new pods for abortScaleDownDelaySeconds."""

from __future__ import annotations

import time

import pytest

from tests.e2e.helpers import GROUP_RESOURCE, IMAGE_V2, REVISION_LABEL, DeploymentWatch, Namespace, rollout_manifest, wait_for

pytestmark = pytest.mark.e2e

REPLICAS = 4


def test_a_scale_write_during_an_undo_keeps_the_undo(ns: Namespace) -> None:
    name = "undo-scale"
    ns.apply(rollout_manifest(name, {"rolling": {"maxSurge": 1, "maxUnavailable": 0}}, replicas=REPLICAS))
    first = ns.wait_phase(name, "Healthy", 30)["stableRevision"]
    ns.set_image(name, IMAGE_V2)
    second = ns.wait_new_revision(name, first)
    ns.wait_phase(name, "Healthy", 60, stableRevision=second)

    ns.plugin("undo", name)
    ns.wait_phase(name, "Healthy", 60, stableRevision=first)
    ns.wait_replicas(name, {first: REPLICAS, second: 0})
    started = len(ns.events(name, "RolloutStarted"))

    # What an HPA does: a write through the scale subresource, a new generation, the same template.
    ns.kubectl("scale", f"{GROUP_RESOURCE}/{name}", "--replicas=6")
    ns.wait_replicas(name, {first: 6, second: 0})
    status = ns.wait_status(name, lambda s: s["observedGeneration"] == ns.rollout(name)["metadata"]["generation"], 15,
                            "the scale write observed")
    time.sleep(2)  # long enough for a wrongly ended undo to start rolling the second revision out again
    status = ns.status(name)
    assert status["stableRevision"] == first and "canaryRevision" not in status
    assert status["undo"]["revision"] == first
    assert ns.replicas(name) == {first: 6, second: 0}
    assert len(ns.events(name, "RolloutStarted")) == started


def test_a_blue_green_abort_moves_traffic_first_and_keeps_pods_for_the_abort_delay(ns: Namespace) -> None:
    name = "bg-abort"
    delay = 6
    ns.apply(rollout_manifest(name, {"blueGreen": {"autoPromotionEnabled": False}}, replicas=REPLICAS,
                              abortScaleDownDelaySeconds=delay))
    old = ns.wait_phase(name, "Healthy", 30)["stableRevision"]
    ns.set_image(name, IMAGE_V2)
    new = ns.wait_new_revision(name, old)
    ns.wait_phase(name, "Paused", 30)
    ns.wait_replicas(name, {new: REPLICAS, old: REPLICAS})

    with DeploymentWatch(ns.name, name) as watch:
        watch.wait_started()
        ns.plugin("abort", name)
        wait_for(lambda: ns.selector(name)[REVISION_LABEL] == old, 10, "the Service back on the stable revision")
        switched = time.monotonic()
        assert ns.replicas(name)[new] == REPLICAS, "the new pods went in the same breath as the traffic"
        ns.wait_phase(name, "Aborted", 10)
        ns.wait_replicas(name, {old: REPLICAS, new: 0}, timeout=delay + 15)
        gone = time.monotonic()
    assert gone - switched >= delay - 1.5, f"new pods went {gone - switched:.1f}s after traffic left, before the {delay}s delay"
    assert watch.values(old) == [REPLICAS], "the stable revision never lost capacity"
