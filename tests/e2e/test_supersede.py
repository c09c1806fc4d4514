"""A newer template mid-rollout supersedes the running one: never three revisions serving at once."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import IMAGE_V2, DeploymentWatch, Namespace, rollout_manifest

pytestmark = pytest.mark.e2e


def test_new_image_mid_rollout_replaces_the_canary(ns: Namespace) -> None:
    ns.apply(rollout_manifest("twice", {"canary": {"steps": [{"setWeight": 50}, {"pause": {}}]}}, replicas=4))
    stable = ns.wait_phase("twice", "Healthy", 30)["stableRevision"]
    with DeploymentWatch(ns.name, "twice") as watch:
        watch.wait_started()
        ns.set_image("twice", IMAGE_V2)
        first = ns.wait_new_revision("twice", stable)
        ns.wait_phase("twice", "Paused", 30, currentStepIndex=2)
        ns.set_image("twice", IMAGE_V2 + "-hotfix")
        second = ns.wait_new_revision("twice", stable, first)  # not the stable one, still there
        assert second != stable
        ns.wait_phase("twice", "Paused", 30, currentStepIndex=2)
        ns.wait_replicas("twice", {stable: 2, first: 0, second: 2})
        for state in watch.states():
            # the superseded canary is told to go before the newest one is given any replicas
            both = first in state and second in state and state[first]["replicas"] > 0 and state[second]["replicas"] > 0
            assert not both, state
    assert ns.events("twice", "RolloutSuperseded")
    ns.plugin("promote", "twice")
    status = ns.wait_phase("twice", "Healthy", 30)
    assert status["stableRevision"] == second
