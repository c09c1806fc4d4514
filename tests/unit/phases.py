"""A Rollout as the API server shows it in each phase, produced by the real interpreter (tests/unit/world.py),
so the GitOps health checks are judged on statuses the operator writes, not on hand-written ones."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shiftlane.api.status import Phase
from shiftlane.kube.rollouts import status_document
from tests.unit.world import World, manifest

CANARY = {"canary": {"steps": [{"setWeight": 25}, {"pause": {}}, {"setWeight": 50}]}}


def as_stored(world: World, status: dict[str, Any] | None = None) -> dict[str, Any]:
    """The Rollout object a client reads: spec, generation, and the status as the operator patches it."""
    return {
        "apiVersion": "shiftlane.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "web", "namespace": "shop", "generation": world.generation},
        "spec": world.raw,
        "status": status_document(world.status) if status is None else status,
    }


def healthy(strategy: dict[str, Any] = CANARY) -> World:
    world = World(manifest(strategy))
    assert world.run().status.phase is Phase.HEALTHY
    return world


def created() -> dict[str, Any]:
    # Before the operator's first write, the CRD's default status is all there is.
    return as_stored(World(manifest(CANARY)), {"observedGeneration": 0})


def new_image(world: World) -> World:
    world.set_image("app:2")
    world.run()
    return world


def never_ready_first_deploy(waited: float) -> dict[str, Any]:
    world = World(manifest(CANARY))
    world.never_ready.add(world.template_revision)
    world.run()
    world.now += waited
    world.run()
    return as_stored(world)


def first_deploy_waiting() -> dict[str, Any]:
    return never_ready_first_deploy(0)


def degraded() -> dict[str, Any]:
    return never_ready_first_deploy(601)  # past progressDeadlineSeconds


def steady() -> dict[str, Any]:
    return as_stored(healthy())


def template_not_yet_observed() -> dict[str, Any]:
    world = healthy()
    world.set_image("app:2")  # the spec changed; the operator has not reconciled it yet
    return as_stored(world)


def canary_paused() -> dict[str, Any]:
    return as_stored(new_image(healthy()))


def paused_by_user() -> dict[str, Any]:
    world = healthy()
    world.send("pause")
    world.run()
    return as_stored(new_image(world))  # the new revision waits: the rollout is paused


def aborted() -> dict[str, Any]:
    world = new_image(healthy())
    world.send("abort")
    world.run()
    return as_stored(world)


def stalled_invalid_spec() -> dict[str, Any]:
    # abTesting on a router this operator build does not drive: InvalidSpec, the stable revision serves.
    return as_stored(new_image(healthy({"abTesting": {"match": [{"headers": [{"name": "x", "exact": "1"}]}],
                                                      "trafficRouting": {"gatewayAPI": {"httpRoute": "web"}}}})))


# name -> the Rollout as stored; the phase each one shows is checked by the tests.
PHASES: dict[str, Callable[[], dict[str, Any]]] = {
    "created": created,
    "first-deploy-waiting": first_deploy_waiting,
    "healthy": steady,
    "template-not-yet-observed": template_not_yet_observed,
    "canary-paused": canary_paused,
    "paused-by-user": paused_by_user,
    "degraded": degraded,
    "aborted": aborted,
    "stalled-invalid-spec": stalled_invalid_spec,
}
