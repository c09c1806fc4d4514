"""What Argo CD and Flux see of a live Rollout, and Argo CD's actions steering it: the Lua from
docs/argocd/ runs on the object as the API server serves it, and an action's status change is
patched through the status subresource as Argo CD patches it."""

from __future__ import annotations

import json
import time

import pytest

from tests.e2e.helpers import GROUP_RESOURCE, IMAGE_V2, Namespace, rollout_manifest
from tests.harness.argocd import ArgoCdLua
from tests.harness.kstatus import KStatus, compute

pytestmark = pytest.mark.e2e


def run_action(ns: Namespace, argocd: ArgoCdLua, name: str, action: str) -> None:
    live = ns.rollout(name)
    changed = argocd.action(action, live, int(time.time()))
    assert changed["spec"] == live["spec"]  # nothing Git owns
    ns.kubectl("patch", GROUP_RESOURCE, name, "--subresource=status", "--type=merge",
               "-p", json.dumps({"status": {"command": changed["status"]["command"]}}))


def test_argocd_and_kstatus_follow_a_rollout_steered_by_argocd_actions(ns: Namespace) -> None:
    argocd = ArgoCdLua()
    name = "gitops"
    ns.apply(rollout_manifest(name, {"canary": {"steps": [{"setWeight": 25}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}]}},
                              replicas=4))
    ns.wait_phase(name, "Healthy", 30)
    assert argocd.health(ns.rollout(name)).status == "Healthy"
    assert compute(ns.rollout(name)).status is KStatus.CURRENT

    ns.set_image(name, IMAGE_V2)
    ns.wait_phase(name, "Paused", 30, step="2/5")
    live = ns.rollout(name)
    assert argocd.health(live).status == "Suspended"
    assert compute(live).status is KStatus.IN_PROGRESS
    assert argocd.enabled_actions(live) == {"promote", "promote-full", "abort", "pause"}
    # kubectl get: desired, current, ready, the user's step (not the compiled index), weight, phase
    row = ns.kubectl("get", GROUP_RESOURCE, name, "--no-headers").stdout.split()
    assert row[1:7] == ["4", "4", "4", "2/5", "25", "Paused"], row  # 1 canary and 3 stable pods

    run_action(ns, argocd, name, "promote")
    ns.wait_phase(name, "Paused", 30, step="4/5")
    run_action(ns, argocd, name, "abort")
    ns.wait_phase(name, "Aborted", 30)
    live = ns.rollout(name)
    assert argocd.health(live).status == "Degraded"
    assert compute(live).status is KStatus.FAILED
    run_action(ns, argocd, name, "retry")
    ns.wait_phase(name, "Paused", 30, step="2/5")
    run_action(ns, argocd, name, "promote-full")
    ns.wait_phase(name, "Healthy", 30)
    live = ns.rollout(name)
    assert argocd.health(live).status == "Healthy"
    assert compute(live).status is KStatus.CURRENT
    printed = ns.kubectl("get", GROUP_RESOURCE, name).stdout.split("\n")[0].split()
    assert printed == ["NAME", "DESIRED", "CURRENT", "READY", "STEP", "WEIGHT", "PHASE", "AGE"]
