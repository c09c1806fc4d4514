"""Every strategy from first deploy through an image change to Healthy on the new revision."""

from __future__ import annotations

import pytest

from shiftlane.api.status import Phase
from tests.unit.world import World, manifest

GATEWAY = {"gatewayAPI": {"httpRoute": "web"}}
STRATEGIES = {
    "recreate": {"recreate": {}},
    "rolling": {"rolling": {"maxSurge": 1, "maxUnavailable": 0}},
    "rollingBatches": {"rollingBatches": {"batchSize": 2}},
    "blueGreen": {"blueGreen": {"scaleDownDelaySeconds": 0}},
    "immutable": {"immutable": {"scaleDownDelaySeconds": 0}},
    "canary": {"canary": {"steps": [{"setWeight": 25}, {"setWeight": 50}]}},
    "abTesting": {"abTesting": {"match": [{"headers": [{"name": "x-beta", "exact": "1"}]}], "duration": "1m",
                                "trafficRouting": GATEWAY, "scaleDownDelaySeconds": 0}},
    "shadow": {"shadow": {"mirrorPercent": 20, "duration": "1m", "trafficRouting": GATEWAY, "scaleDownDelaySeconds": 0}},
    "elastic": {"elastic": {"stepPercent": 50}},
}


def deployed(strategy: dict, replicas: int = 4) -> World:
    world = World(manifest(strategy, replicas), routers=frozenset({"gatewayAPI"}))
    decision = world.run()
    assert decision.status.phase is Phase.HEALTHY
    return world


@pytest.mark.parametrize("name", STRATEGIES)
def test_strategy_reaches_healthy_on_new_revision(name: str) -> None:
    world = deployed(STRATEGIES[name])
    old = world.status.stable_revision
    world.set_image("app:2")
    new = world.template_revision
    decision = world.run()
    if decision.status.phase is Phase.PAUSED:  # timed pauses in abTesting and shadow
        world.now += 61
        decision = world.run()
    assert decision.status.phase is Phase.HEALTHY, decision.status.message
    assert decision.status.stable_revision == new
    assert decision.status.canary_revision is None
    assert decision.replicas[new] == 4
    assert decision.replicas[old] == 0
    assert decision.status.conditions[0].type == "Ready" and decision.status.conditions[0].status == "True"
    assert "RolloutCompleted" in world.events()


ROUTED = {
    "canary": {"canary": {"steps": [{"setWeight": 50}], "trafficRouting": GATEWAY}},
    "abTesting": {"abTesting": {"match": [{"headers": [{"name": "x-beta", "exact": "1"}]}], "trafficRouting": GATEWAY}},
    "shadow": {"shadow": {"mirrorPercent": 20, "trafficRouting": GATEWAY}},
}


@pytest.mark.parametrize("name", ROUTED)
def test_with_a_router_the_previous_stable_keeps_its_pods_30s_after_a_promote(name: str) -> None:
    """Found by the invariant watcher: a shadow promote through Traefik answered 502 when the old
    stable's pods went the moment the route object held the switch, before the gateway applied it."""
    world = deployed(ROUTED[name])
    old = world.status.stable_revision
    world.set_image("app:2")
    decision = world.run()
    if decision.status.phase is Phase.PAUSED:  # until promoted (abTesting and shadow without a duration)
        world.send("promote")
        decision = world.run()
    assert decision.status.phase is Phase.HEALTHY and decision.status.stable_revision != old
    promoted = world.now
    assert decision.replicas[old] == 4
    world.now = promoted + 29
    assert world.run().replicas[old] == 4
    world.now = promoted + 31
    assert world.run().replicas[old] == 0


def test_without_a_router_the_promote_has_already_moved_the_pods() -> None:
    world = deployed({"canary": {"steps": [{"setWeight": 50}]}})
    old = world.status.stable_revision
    world.set_image("app:2")
    decision = world.run()
    assert decision.status.phase is Phase.HEALTHY and decision.replicas[old] == 0


def test_first_deploy_is_progressing_until_pods_are_ready() -> None:
    world = World(manifest(STRATEGIES["canary"]))
    world.never_ready.add(world.template_revision)
    decision = world.run()
    assert decision.status.phase is Phase.PROGRESSING
    assert decision.replicas == {world.template_revision: 4}
    reconciling = decision.status.condition("Reconciling")
    assert reconciling is not None and reconciling.status == "True"


def test_recreate_scales_old_to_zero_before_new_exists() -> None:
    world = deployed(STRATEGIES["recreate"])
    old = world.status.stable_revision
    world.set_image("app:2")
    first = world.decide()
    assert first.replicas[old] == 0
    assert first.replicas[world.template_revision] == 0


def test_rolling_never_exceeds_surge_nor_drops_below_unavailable() -> None:
    world = deployed({"rolling": {"maxSurge": 1, "maxUnavailable": 1}}, replicas=5)
    world.set_image("app:2")
    for _ in range(30):
        decision = world.step()
        total = sum(decision.replicas.values())
        assert total <= 6
        available = sum(r.available for r in world.revisions.values())
        assert available >= 4
        if decision.status.phase is Phase.HEALTHY:
            break
    assert world.status.stable_revision == world.template_revision


def test_blue_green_switches_main_service_at_once_and_keeps_old_for_delay() -> None:
    world = deployed({"blueGreen": {"scaleDownDelaySeconds": 30, "autoPromotionEnabled": False}})
    old = world.status.stable_revision
    world.set_image("app:2")
    new = world.template_revision
    decision = world.run()
    assert decision.status.phase is Phase.PAUSED
    assert decision.services == {"": old, "stable": old, "canary": new}
    assert decision.replicas == {old: 4, new: 4}
    world.send("promote")
    decision = world.run()
    assert decision.services[""] == new
    assert decision.status.phase is Phase.HEALTHY
    assert decision.replicas[old] == 4  # kept for instant rollback
    assert decision.requeue_after == pytest.approx(30)
    world.now += 31
    decision = world.run()
    assert decision.replicas[old] == 0


def test_canary_without_router_weights_follow_ready_pods() -> None:
    world = deployed({"canary": {"steps": [{"setWeight": 25}, {"pause": {}}]}})
    world.set_image("app:2")
    decision = world.run()
    assert decision.status.phase is Phase.PAUSED
    assert decision.status.canary_weight == 25
    assert decision.status.stable_weight == 75
    assert decision.services[""] is None  # main Service selects every revision


def test_ab_testing_routes_headers_only_while_testing() -> None:
    world = deployed(STRATEGIES["abTesting"])
    world.set_image("app:2")
    decision = world.run()
    assert decision.status.phase is Phase.PAUSED
    assert decision.traffic.header_route and decision.traffic.header_route[0].headers[0].name == "x-beta"
    assert decision.status.canary_weight == 0
    world.now += 61
    decision = world.run()
    assert decision.traffic.header_route == ()


def test_shadow_mirrors_without_weight() -> None:
    world = deployed(STRATEGIES["shadow"])
    world.set_image("app:2")
    decision = world.run()
    assert decision.traffic.mirror_percent == 20
    assert decision.status.mirror_percent == 20
    assert decision.status.canary_weight == 0


def test_elastic_follows_replica_changes_mid_rollout() -> None:
    world = deployed({"elastic": {"stepPercent": 50, "pauseBetween": "1m"}}, replicas=4)
    world.set_image("app:2")
    decision = world.run()
    assert decision.replicas[world.template_revision] == 2
    world.set_replicas(8)  # an HPA scaled the Rollout
    decision = world.run()
    new, old = world.template_revision, decision.status.stable_revision
    assert decision.replicas[new] == 4 and decision.replicas[old] == 4
