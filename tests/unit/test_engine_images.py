"""The registry's verdict on a new revision's images, as the engine acts on it."""

from __future__ import annotations

from dataclasses import replace

from shiftlane.api.status import Phase
from shiftlane.engine.interpret import interpret
from shiftlane.engine.model import ImageCheck, ImageDigest, ImageGate
from tests.unit.world import World, manifest

CANARY = {"canary": {"steps": [{"setWeight": 25}, {"pause": {}}]}}
DIGEST = "sha256:" + "ab" * 32


def updated() -> World:
    world = World(manifest(CANARY))
    assert world.run().status.phase is Phase.HEALTHY
    world.set_image("app:2")
    return world


def test_a_blocked_image_stalls_with_the_findings_and_scales_nothing() -> None:
    world = updated()
    stable = world.status.stable_revision
    check = ImageCheck(ImageGate.BLOCKED, "ImageVulnerable", "app: 1 CRITICAL (CVE-2026-0001)")
    decision = interpret(world.spec, world.status, replace(world.observe(), image_check=check), world.now)
    assert decision.replicas == {stable: 4}
    stalled = decision.status.condition("Stalled")
    assert (stalled.status, stalled.reason) == ("True", "ImageVulnerable") and "CVE-2026-0001" in stalled.message
    assert [e.reason for e in decision.events] == ["ImageVulnerable"]


def test_a_scan_in_progress_waits_and_asks_to_be_woken() -> None:
    world = updated()
    check = ImageCheck(ImageGate.WAITING, message="scan IN_PROGRESS", retry_after=15)
    decision = interpret(world.spec, world.status, replace(world.observe(), image_check=check), world.now)
    assert decision.replicas == {world.status.stable_revision: 4}
    assert decision.status.phase is Phase.PROGRESSING and "scan IN_PROGRESS" in decision.status.message
    assert decision.requeue_after == 15


def test_allowed_images_are_recorded_with_tag_and_digest() -> None:
    world = updated()
    check = ImageCheck(ImageGate.ALLOWED, images=(ImageDigest("web", "2", DIGEST),))
    decision = interpret(world.spec, world.status, replace(world.observe(), image_check=check), world.now)
    assert decision.replicas[world.template_revision] == 1
    assert [(i.container, i.tag, i.digest) for i in decision.status.images] == [("web", "2", DIGEST)]


def test_a_missing_rollback_image_is_a_condition_and_one_event() -> None:
    world = updated()
    observation = replace(world.observe(), rollback_image_missing="app:1 (sha256:…) is gone from its repository")
    first = interpret(world.spec, world.status, observation, world.now)
    condition = first.status.condition("RollbackImageAvailable")
    assert (condition.status, condition.reason) == ("False", "RollbackImageMissing")
    assert "RollbackImageMissing" in [e.reason for e in first.events]
    again = interpret(world.spec, first.status, observation, world.now + 1)
    assert "RollbackImageMissing" not in [e.reason for e in again.events]
