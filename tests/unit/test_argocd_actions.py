"""Argo CD's actions for Rollouts (docs/argocd/): which are offered in each phase, and that what each
writes is a command the operator acts on, exactly as `kubectl shiftlane` would."""

from __future__ import annotations

import pytest

from shiftlane.api.status import Command, Phase
from shiftlane.cli.plugin import ACTIONS as PLUGIN_ACTIONS
from tests.harness.argocd import ArgoCdLua
from tests.unit.phases import PHASES, as_stored, healthy
from tests.unit.world import World

ACTIONS = {"promote", "promote-full", "abort", "retry", "pause", "resume"}
# Argo CD action -> status.command.name (operator/shiftlane/cli/plugin.py writes the same names)
COMMANDS = {"promote": "promote", "promote-full": "promoteFull", "abort": "abort", "retry": "retry",
            "pause": "pause", "resume": "resume"}
NOW = 1_800_000_000

OFFERED = {
    "created": {"pause"},
    "first-deploy-waiting": {"pause"},
    "healthy": {"pause"},
    "template-not-yet-observed": {"pause"},
    "canary-paused": {"promote", "promote-full", "abort", "pause"},
    "paused-by-user": {"resume"},
    "degraded": {"pause"},  # a first deploy past its deadline: no rollout to promote
    "aborted": {"retry", "pause"},
    "stalled-invalid-spec": {"pause"},  # refused before the rollout starts: nothing to promote
}


@pytest.fixture(scope="module")
def argocd() -> ArgoCdLua:
    return ArgoCdLua()


def test_every_action_is_defined(argocd: ArgoCdLua) -> None:
    assert set(argocd.action_scripts) == ACTIONS
    assert set(OFFERED) == set(PHASES)
    # The same command names the CRD accepts and the kubectl plugin writes.
    assert set(COMMANDS.values()) <= set(Command.model_fields["name"].json_schema_extra["enum"])
    assert set(COMMANDS.values()) - {"promoteFull"} <= set(PLUGIN_ACTIONS.values())


@pytest.mark.parametrize("name", PHASES)
def test_actions_offered_in_each_phase(argocd: ArgoCdLua, name: str) -> None:
    assert argocd.enabled_actions(PHASES[name]()) == OFFERED[name]


def run_action(argocd: ArgoCdLua, world: World, action: str, now: int = NOW) -> Command:
    """Argo CD runs the action on the live object and patches the status it changed; the operator reads it."""
    obj = as_stored(world)
    if world.command is not None:
        obj["status"]["command"] = world.command.model_dump(mode="json", exclude_none=True)
    changed = argocd.action(action, obj, now)
    assert changed["spec"] == obj["spec"] and changed["metadata"] == obj["metadata"]  # nothing Git owns
    command = Command.model_validate(changed["status"]["command"])
    assert command.name == COMMANDS[action]
    world.command = command
    world.run()
    return command


def paused_canary(argocd: ArgoCdLua) -> World:
    world = healthy()
    world.set_image("app:2")
    world.run()
    assert world.status.phase is Phase.PAUSED and world.status.step == "2/4"
    return world


def test_promote_moves_past_the_pause(argocd: ArgoCdLua) -> None:
    world = paused_canary(argocd)
    run_action(argocd, world, "promote")
    assert world.status.phase is Phase.HEALTHY
    assert world.status.stable_revision == world.template_revision


def test_promote_full_skips_the_remaining_steps(argocd: ArgoCdLua) -> None:
    world = paused_canary(argocd)
    run_action(argocd, world, "promote-full")
    assert world.status.phase is Phase.HEALTHY
    assert "Promoted" in world.events()


def test_abort_then_retry(argocd: ArgoCdLua) -> None:
    world = paused_canary(argocd)
    run_action(argocd, world, "abort")
    assert world.status.phase is Phase.ABORTED
    assert argocd.enabled_actions(as_stored(world)) == {"retry", "pause"}
    run_action(argocd, world, "retry")
    assert world.status.phase is Phase.PAUSED and not world.status.aborted
    assert "RolloutRetried" in world.events()


def test_pause_and_resume(argocd: ArgoCdLua) -> None:
    world = healthy()
    run_action(argocd, world, "pause")
    assert world.status.paused_by_user
    world.set_image("app:2")
    world.run()
    assert world.status.canary_revision is None  # the new revision waits
    run_action(argocd, world, "resume")
    assert not world.status.paused_by_user
    assert world.status.canary_revision == world.template_revision


def test_each_action_gets_a_fresh_id_even_within_one_second(argocd: ArgoCdLua) -> None:
    """The operator acts on each id once: a second promote with the first's id would be ignored."""
    world = healthy({"canary": {"steps": [{"setWeight": 25}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}]}})
    world.set_image("app:2")
    world.run()
    first = run_action(argocd, world, "promote")
    assert world.status.step == "4/5"
    second = run_action(argocd, world, "promote")
    assert first.id != second.id
    assert world.status.phase is Phase.HEALTHY


def test_action_on_a_rollout_without_status(argocd: ArgoCdLua) -> None:
    obj = PHASES["created"]()
    del obj["status"]
    command = argocd.action("pause", obj, NOW)["status"]["command"]
    assert Command.model_validate(command).name == "pause"
