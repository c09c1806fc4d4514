"""The scale subresource: `kubectl scale` (or an HPA) resizes the Rollout, during a rollout too."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import GROUP_RESOURCE, IMAGE_V2, Namespace, rollout_manifest

pytestmark = pytest.mark.e2e


def test_kubectl_scale_resizes_stable_and_keeps_the_canary_share(ns: Namespace) -> None:
    ns.apply(rollout_manifest("sized", {"canary": {"steps": [{"setWeight": 50}, {"pause": {}}]}}, replicas=2))
    stable = ns.wait_phase("sized", "Healthy", 30)["stableRevision"]

    ns.kubectl("scale", f"{GROUP_RESOURCE}/sized", "--replicas=4")
    ns.wait_replicas("sized", {stable: 4})
    scale = ns.json("get", f"{GROUP_RESOURCE}/sized", "--subresource=scale")
    assert scale["spec"]["replicas"] == 4
    ns.wait_status("sized", lambda s: s["replicas"] == 4 and s["selector"] == "app=sized", 15, "status.replicas 4")

    ns.set_image("sized", IMAGE_V2)
    canary = ns.wait_new_revision("sized", stable)
    ns.wait_phase("sized", "Paused", 30, currentStepIndex=2)
    ns.wait_replicas("sized", {stable: 2, canary: 2})
    ns.kubectl("scale", f"{GROUP_RESOURCE}/sized", "--replicas=8")
    ns.wait_replicas("sized", {stable: 4, canary: 4})
    assert ns.status("sized")["canaryWeight"] == 50
