"""Traffic steps through a router: done when the route reads back the state, stalled when it cannot."""

from __future__ import annotations

from shiftlane.api.status import Phase
from shiftlane.engine.model import RouterState
from tests.unit.world import World, manifest

GATEWAY = {"gatewayAPI": {"httpRoute": "web"}}
CANARY = {"canary": {"steps": [{"setWeight": 20}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}], "trafficRouting": GATEWAY}}
AB = {"abTesting": {"match": [{"headers": [{"name": "x-beta", "exact": "1"}]}], "trafficRouting": GATEWAY}}


def rolling_out(strategy: dict, **extra) -> World:
    world = World(manifest(strategy, **extra), routers=frozenset({"gatewayAPI"}))
    assert world.run().status.phase is Phase.HEALTHY
    world.set_image("app:2")
    return world


def test_a_weight_step_waits_until_the_route_reads_back_the_weight() -> None:
    world = rolling_out(CANARY)
    decision = world.step()  # canary scaled; the route not written yet
    decision = world.decide()
    assert decision.traffic.weights[world.template_revision] == 20
    world.router = RouterState(canary_weight=0, header_route=False, mirror_percent=0)  # the write is not seen yet
    decision = world.decide()
    assert decision.status.phase is Phase.PROGRESSING and "reads 0" in decision.status.message
    world.router = RouterState(canary_weight=20, header_route=False, mirror_percent=0, objects=("HTTPRoute default/web",))
    decision = world.decide()
    assert decision.status.phase is Phase.PAUSED
    router = decision.status.router  # status shows what the route reads, for `kubectl shiftlane get`
    assert (router.name, router.objects, router.canary_weight) == ("gatewayAPI", ["HTTPRoute default/web"], 20)


def test_a_missing_route_stalls_naming_it_and_fixing_it_resumes_without_restart() -> None:
    world = rolling_out(CANARY)
    world.run()
    index = world.status.current_step_index
    world.router = RouterState(0, False, 0, problems=("HTTPRoute default/web not found",))
    decision = world.decide()
    stalled = decision.status.condition("Stalled")
    assert stalled.status == "True" and stalled.reason == "RouterNotReady" and "HTTPRoute default/web" in stalled.message
    assert decision.replicas == {n: r.spec_replicas for n, r in world.revisions.items()}
    world.router = RouterState(20, False, 0)
    decision = world.decide()
    assert decision.status.current_step_index == index and decision.status.phase is Phase.PAUSED
    assert "PlanChanged" not in world.events() and world.events().count("RolloutStarted") == 1


def test_abort_keeps_canary_pods_while_the_route_still_matches_requests_to_it() -> None:
    world = rolling_out(AB, abortScaleDownDelaySeconds=0)
    decision = world.run()
    canary = world.template_revision
    assert decision.traffic.header_route
    world.send("abort")
    decision = world.step()  # the route is told to drop the match...
    assert not decision.traffic.header_route
    world.router = RouterState(0, True, 0)  # ...but still reads it back
    world.command = None
    world.now += 5
    assert world.decide().replicas[canary] == 1
    world.router = RouterState(0, False, 0)
    assert world.decide().replicas[canary] == 0
