"""`status.step`: the strategy's step the rollout is at, as `kubectl get rollouts` shows it (2/5)."""

from __future__ import annotations

import pytest

from shiftlane.api.status import Phase
from tests.unit.world import World, manifest

GATEWAY = {"gatewayAPI": {"httpRoute": "web"}}


def rolled_to_pause(strategy: dict) -> World:
    world = World(manifest(strategy), routers=frozenset({"gatewayAPI"}))
    assert world.run().status.phase is Phase.HEALTHY
    assert world.status.step is None  # no rollout, no step
    world.set_image("app:2")
    world.run()
    return world


@pytest.mark.parametrize(
    ("strategy", "step"),
    [
        # four user steps and the promotion: the timed pause is the user's 2nd
        ({"canary": {"steps": [{"setWeight": 25}, {"pause": {"duration": "30s"}}, {"setWeight": 50}, {"pause": {}}]}}, "2/5"),
        ({"canary": {"steps": [{"setWeight": 25}, {"pause": {}}, {"setWeight": 50}]}}, "2/4"),
        # with a router each setWeight compiles to two steps; still one user step each
        ({"canary": {"steps": [{"setWeight": 25}, {"setWeight": 50}, {"pause": {}}], "trafficRouting": GATEWAY}}, "3/4"),
        # a step that changes nothing compiles to nothing, and still counts as the user wrote it
        ({"canary": {"steps": [{"setWeight": 25}, {"setWeight": 25}, {"pause": {}}]}}, "3/4"),
        # scale, pause until promoted, switch, finish (no analysis: those stages do not exist)
        ({"blueGreen": {"autoPromotionEnabled": False}}, "2/4"),
        # batches of 1, 2 and 3 new pods, then the last batch with the promotion
        ({"rollingBatches": {"batchSize": 1, "pauseBetween": "1m"}}, "1/4"),
    ],
    ids=["canary-timed-pause", "canary-first-pause", "canary-router", "canary-no-op-step", "blue-green", "batches"],
)
def test_step_is_the_users_step_not_the_compiled_index(strategy: dict, step: str) -> None:
    world = rolled_to_pause(strategy)
    assert world.status.phase is Phase.PAUSED, world.status.message
    assert world.status.step == step
    assert world.status.current_step_index is not None


def test_step_follows_the_rollout_through_abort_and_retry() -> None:
    world = rolled_to_pause({"canary": {"steps": [{"setWeight": 25}, {"pause": {"duration": "30s"}}, {"setWeight": 50}, {"pause": {}}]}})
    world.now += 31
    world.run()
    assert world.status.step == "4/5" and world.status.phase is Phase.PAUSED
    world.send("abort")
    world.run()
    assert world.status.phase is Phase.ABORTED
    assert world.status.step == "4/5"  # an abort keeps showing where it stood
    world.send("retry")
    world.step()
    assert world.status.step == "1/5"
    world.run()
    assert world.status.step == "2/5" and world.status.phase is Phase.PAUSED


def test_step_clears_when_the_rollout_ends() -> None:
    world = rolled_to_pause({"canary": {"steps": [{"setWeight": 25}, {"pause": {}}]}})
    assert world.status.step == "2/3"
    world.send("promote")
    decision = world.run()
    assert decision.status.phase is Phase.HEALTHY
    assert decision.status.step is None
