"""The CLI's text: `kubectl shiftlane get` rendering, `shiftlane plan`, `shiftlane crd`, entry points."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from shiftlane.api.spec import RolloutSpec
from shiftlane.cli.main import main as shiftlane_main
from shiftlane.cli.render import CURRENT, DONE, render_plan, render_rollout
from shiftlane.engine.plan import compile_plan
from shiftlane.traffic import ROUTERS
from tests.unit.world import World, manifest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
GATEWAY = {"gatewayAPI": {"httpRoute": "web"}}


def rollout_object(spec: dict[str, Any], status: dict[str, Any] | None = None, generation: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": "shiftlane.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "web", "namespace": "shop", "generation": generation},
        "spec": spec,
        "status": status or {},
    }


def step_rows(text: str) -> list[str]:
    lines = text.splitlines()
    return lines[lines.index("Steps:") + 1 :]


def marks(text: str) -> dict[int, str]:
    """step index -> its marker ('' when plain)."""
    out = {}
    for row in step_rows(text):
        parts = row.split()
        if not parts or not (parts[0].isdigit() or parts[1].isdigit()):
            continue
        if parts[0].isdigit():
            out[int(parts[0])] = ""
        else:
            out[int(parts[1])] = parts[0]
    return out


# --- get: a Rollout driven by the real interpreter -------------------------------------------

CANARY = {"canary": {"steps": [{"setWeight": 25}, {"pause": {}}, {"setWeight": 50}]}}


def deployed_world(strategy: dict[str, Any], routers: frozenset[str] = frozenset()) -> World:
    world = World(manifest(strategy, replicas=4), routers=routers)
    world.run()
    return world


def as_object(world: World) -> dict[str, Any]:
    status = world.status.model_dump(by_alias=True, mode="json", exclude_none=True)
    return rollout_object(world.raw, status, generation=world.generation)


def test_in_progress_canary_marks_the_pause_as_current() -> None:
    world = deployed_world(CANARY)
    world.set_image("app:2")
    world.run()
    assert world.status.current_step_index is not None
    text = render_rollout(as_object(world))
    current = world.status.current_step_index
    plan = compile_plan(world.spec)
    assert plan.steps[current].describe() == "pause until promoted"  # the world waits at the manual pause

    got = marks(text)
    assert got == {i: (DONE if i < current else CURRENT if i == current else "") for i in range(len(plan.steps))}
    assert f"{CURRENT}  {current}  pause until promoted" in text
    assert "Phase:       Paused" in text
    assert f"Canary:      {world.status.canary_revision}" in text
    assert f"Stable:      {world.status.stable_revision}" in text
    assert "Revisions:" in text and "canary" in text and "Conditions:" in text
    assert "Images:      web=app:2" in text


def test_in_progress_canary_after_promote_moves_the_marker() -> None:
    world = deployed_world(CANARY)
    world.set_image("app:2")
    world.run()
    before = world.status.current_step_index
    world.send("promote")
    world.run()
    # Pods are ready at once in the world, so promote runs the rest of the plan to the end.
    assert world.status.current_step_index is None
    text = render_rollout(as_object(world))
    assert set(marks(text).values()) == {""}
    assert before is not None


def test_router_plan_when_asked_for() -> None:
    strategy = {"canary": {"steps": [{"setWeight": 25}, {"pause": {}}], "trafficRouting": GATEWAY}}
    world = deployed_world(strategy, routers=frozenset({"gatewayAPI"}))
    world.set_image("app:2")
    world.run()
    index = world.status.current_step_index
    text = render_rollout(as_object(world), routers=frozenset({"gatewayAPI"}))
    assert "set canary weight 25%" in text
    assert "note:" not in text
    assert f"{CURRENT}  {index}  pause until promoted" in text
    # Without being told, the plugin shows the plan as `shiftlane plan` does; a canary's steps line up either way.
    text = render_rollout(as_object(world))
    assert f"{CURRENT}  {index}  pause until promoted" in text


def test_step_count_in_status_picks_the_matching_compilation() -> None:
    from shiftlane.cli.render import plan_for

    spec = RolloutSpec.model_validate(manifest({"canary": {"steps": [{"setCanaryScale": {"replicas": 1}}, {"setWeight": 50}],
                                                           "trafficRouting": GATEWAY}}))
    share, router = compile_plan(spec), compile_plan(spec, frozenset({"gatewayAPI"}))
    assert len(share.steps) != len(router.steps)
    assert plan_for(spec, len(router.steps)) == router
    assert plan_for(spec, len(share.steps)) == share
    assert plan_for(spec, None) == share


def test_aborted_rollout() -> None:
    world = deployed_world(CANARY)
    world.set_image("app:2")
    world.run()
    index = world.status.current_step_index
    world.send("abort")
    world.run()
    assert world.status.aborted
    text = render_rollout(as_object(world))
    assert "Phase:       Aborted" in text
    assert "retry" in text  # the status message says what to do next
    got = marks(text)
    assert got[index] == "✖"
    assert all(got[i] == DONE for i in range(index))
    assert CURRENT not in text
    assert "canary 0%" in text and "stable 100%" in text


def test_healthy_rollout_shows_all_steps_plain() -> None:
    world = deployed_world(CANARY)
    text = render_rollout(as_object(world))
    assert "Phase:       Healthy" in text
    assert "Canary:      -" in text
    assert "Traffic:     stable 100%" in text
    rows = marks(text)
    assert rows and set(rows.values()) == {""}
    assert CURRENT not in text and DONE not in text
    assert "Ready" in text and "True" in text


def test_hand_written_status_with_weights_mirror_header_and_pending_command() -> None:
    spec = manifest({"shadow": {"mirrorPercent": 20, "duration": "1m", "trafficRouting": GATEWAY}})
    status = {
        "phase": "Progressing",
        "message": "step 2/7: waiting",
        "strategy": "shadow",
        "currentStepIndex": 2,
        "stepCount": 7,
        "stableRevision": "aaa111",
        "canaryRevision": "bbb222",
        "canaryWeight": 0,
        "stableWeight": 100,
        "mirrorPercent": 20,
        "headerRoute": True,
        "revisions": [
            {"name": "aaa111", "replicas": 4, "readyReplicas": 4, "weight": 100},
            {"name": "bbb222", "replicas": 1, "readyReplicas": 0, "weight": 0},
        ],
        "conditions": [{"type": "Ready", "status": "False", "reason": "Progressing", "message": "step 2/7",
                            "lastTransitionTime": "2026-11-27T08:00:00Z"}],
        "command": {"name": "pause", "id": "abc"},
        "handledCommand": {"id": "old", "name": "promote"},
        "pausedByUser": False,
    }
    text = render_rollout(rollout_object(spec, status, generation=3))
    assert "Name:        shop/web" in text
    assert "Strategy:    shadow" in text
    assert "mirror 20% to canary" in text and "header route to canary" in text
    assert "Command:     pause requested, not yet handled" in text
    assert "Generation:  3 (not yet observed)" in text
    revision_rows = [line.split() for line in text.splitlines() if line.strip().startswith(("aaa111", "bbb222"))]
    assert ["aaa111", "stable", "4", "4", "100%"] in revision_rows
    assert ["bbb222", "canary", "1", "0", "0%"] in revision_rows
    # shadow compiles only with its router, and the status' step count agrees with that plan
    assert marks(text)[2] == CURRENT


ROUTED = manifest({"abTesting": {"match": [{"headers": [{"name": "x-beta", "exact": "1"}]}], "trafficRouting": GATEWAY}})


def test_router_objects_and_what_they_hold_are_shown() -> None:
    status = {
        "phase": "Progressing", "strategy": "abTesting", "stableRevision": "aaa111", "canaryRevision": "bbb222",
        "canaryWeight": 30, "stableWeight": 70,
        "router": {"name": "gatewayAPI", "objects": ["HTTPRoute shop/web", "GRPCRoute shop/web-grpc"],
                   "canaryWeight": 20, "headerRoute": True, "mirrorPercent": 5},
    }
    lines = render_rollout(rollout_object(ROUTED, status)).splitlines()
    at = lines.index("Router:      gatewayAPI, read back: canary 20%, header route active, mirror 5%")
    assert lines[at + 1 : at + 3] == ["  HTTPRoute shop/web", "  GRPCRoute shop/web-grpc"]
    # The decided weights stay on their own line: a route that lags the decision is visible as such.
    assert "Traffic:     stable 70% / canary 30%" in lines

    status["router"] = {"name": "gatewayAPI", "objects": ["HTTPRoute shop/web"]}
    text = render_rollout(rollout_object(ROUTED, status))
    assert "Router:      gatewayAPI, read back: canary 0%, no header route, no mirror" in text


def test_a_rollout_without_router_or_digests_shows_neither() -> None:
    text = render_rollout(rollout_object(manifest({"recreate": {}}), {"phase": "Healthy", "stableRevision": "aaa111"}))
    assert "Router:" not in text and "Image digests:" not in text


def test_image_digests_of_the_new_revision_are_shown() -> None:
    digest = "sha256:" + "ab" * 32
    status = {"phase": "Progressing", "stableRevision": "aaa111", "canaryRevision": "bbb222",
              "images": [{"container": "web", "tag": "1.4.3", "digest": digest},
                         {"container": "sidecar", "digest": "sha256:" + "cd" * 32}]}
    lines = render_rollout(rollout_object(ROUTED, status)).splitlines()
    at = lines.index("Image digests:")
    assert [row.split() for row in lines[at + 1 : at + 4]] == [
        ["CONTAINER", "TAG", "DIGEST"], ["web", "1.4.3", digest], ["sidecar", "-", "sha256:" + "cd" * 32],
    ]


def test_rollout_with_invalid_spec_still_renders_status() -> None:
    spec = manifest({"canary": {"steps": [{"setWeight": 500}]}})
    text = render_rollout(rollout_object(spec, {"phase": "Degraded", "message": "bad"}))
    assert "Phase:       Degraded" in text
    assert "spec.strategy.canary.steps[0].setWeight" in text


def test_rollout_without_status() -> None:
    text = render_rollout(rollout_object(manifest({"recreate": {}}), None))
    assert "Phase:       Pending" in text
    assert "scale stable to 0" in text


# --- plan ------------------------------------------------------------------------------------


def plan_text(strategy: dict[str, Any], routers: frozenset[str] = frozenset()) -> str:
    spec = RolloutSpec.model_validate(manifest(strategy, replicas=4))
    return render_plan(compile_plan(spec, routers), name="shop/web", spec=spec)


def test_plan_canary_without_router_shifts_pods_and_notes_it() -> None:
    strategy = {"canary": {"steps": [{"setWeight": 25}, {"pause": {"duration": "2m"}}], "trafficRouting": GATEWAY}}
    text = plan_text(strategy)
    assert text.splitlines()[0] == "Rollout shop/web: strategy canary, 4 replicas"
    assert "Traffic mode: share" in text
    assert step_rows(text)[:3] == ["  0  scale canary to 1", "  1  scale stable to 3", "  2  pause 120s"]
    assert "promote --full jumps to step 3" in text
    assert "Note: trafficRouting.gatewayAPI is not driven yet" in text


def test_plan_canary_with_router_sets_weights() -> None:
    strategy = {"canary": {"steps": [{"setWeight": 25}, {"pause": {}}], "trafficRouting": GATEWAY}}
    text = plan_text(strategy, frozenset({"gatewayAPI"}))
    assert "Traffic mode: router" in text
    assert "  1  set canary weight 25%" in text
    assert "  2  pause until promoted" in text
    assert "Note:" not in text


def test_plan_blue_green_waits_for_promotion_and_switches() -> None:
    text = plan_text({"blueGreen": {"autoPromotionEnabled": False, "scaleDownDelaySeconds": 30}})
    rows = step_rows(text)
    assert rows[0] == "  0  scale canary to 4"
    assert rows[1] == "  1  pause until promoted"
    assert rows[2].startswith("  2  set canary weight 100%")
    assert "promote canary to stable, scale old down after 30s" in text
    assert "Traffic mode: switch" in text
    assert "promote --full jumps to step 2" in text


def test_plan_recreate_and_rolling_batches() -> None:
    assert "scale stable to 0" in plan_text({"recreate": {}})
    text = plan_text({"rollingBatches": {"batchSize": 2, "pauseBetween": "30s"}})
    assert "pause 30s" in text


# --- `shiftlane` commands --------------------------------------------------------------------


def write(tmp_path: Path, docs: list[dict[str, Any]]) -> Path:
    path = tmp_path / "rollout.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    return path


def test_shiftlane_crd_matches_the_committed_crd(capsys: pytest.CaptureFixture[str]) -> None:
    assert shiftlane_main(["crd"]) == 0
    out = capsys.readouterr().out
    committed = (REPO / "crds" / "rollouts.shiftlane.io.yaml").read_text()
    assert yaml.safe_load(out) == yaml.safe_load(committed)
    assert out.strip() == committed.strip()


def test_shiftlane_plan_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ok = rollout_object(manifest(CANARY))
    other = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}
    assert shiftlane_main(["plan", str(write(tmp_path, [other, ok]))]) == 0
    out = capsys.readouterr().out
    assert "Rollout shop/web: strategy canary, 4 replicas" in out
    assert "pause until promoted" in out


def test_shiftlane_plan_malformed_rollout_exits_2_naming_the_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = rollout_object(manifest({"canary": {"steps": [{"setWeight": 10}, {"setWeight": 150}]}}))
    assert shiftlane_main(["plan", str(write(tmp_path, [bad]))]) == 2
    err = capsys.readouterr().err
    assert "spec.strategy.canary.steps[1].setWeight" in err
    assert "less than or equal to 100" in err


def test_shiftlane_plan_missing_required_field_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = manifest({"recreate": {}})
    del raw["selector"]
    assert shiftlane_main(["plan", str(write(tmp_path, [rollout_object(raw)]))]) == 2
    assert "spec.selector: Field required" in capsys.readouterr().err


def test_shiftlane_plan_ab_testing_without_routing_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = manifest({"abTesting": {"match": [{"headers": [{"name": "x-beta", "exact": "1"}]}]}})
    assert shiftlane_main(["plan", str(write(tmp_path, [rollout_object(raw)]))]) == 2
    assert "spec.strategy.abTesting.trafficRouting" in capsys.readouterr().err


def test_shiftlane_plan_compile_error_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = manifest({"abTesting": {"match": [{"headers": [{"name": "x-beta", "exact": "1"}]}], "trafficRouting": GATEWAY}})
    path = str(write(tmp_path, [rollout_object(raw)]))
    assert shiftlane_main(["plan", path, "--router", "istio"]) == 1  # as if only Istio were driven
    assert "cannot compile: abTesting needs a traffic router" in capsys.readouterr().err
    assert shiftlane_main(["plan", path]) == 0  # by default, every router the operator drives
    assert "route matching requests to canary" in capsys.readouterr().out


def test_shiftlane_plan_no_rollout_in_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, [{"kind": "ConfigMap"}])
    assert shiftlane_main(["plan", str(path)]) == 2
    assert "no Rollout found" in capsys.readouterr().err


def test_shiftlane_plan_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO(yaml.safe_dump(rollout_object(manifest({"recreate": {}})))))
    assert shiftlane_main(["plan", "-"]) == 0
    assert "strategy recreate" in capsys.readouterr().out


def test_shiftlane_run_passes_options(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    calls: list[dict[str, Any]] = []
    fake = types.ModuleType("shiftlane.controller.run")
    fake.run_operator = lambda **kwargs: calls.append(kwargs)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "shiftlane.controller.run", fake)

    monkeypatch.setenv("SHIFTLANE_WATCH_NAMESPACES", "a, b,,")
    monkeypatch.delenv("SHIFTLANE_ROUTERS", raising=False)
    assert shiftlane_main(["run"]) == 0
    assert calls[-1] == {"namespaces": ["a", "b"], "metrics_port": 8080, "health_port": 8081, "verbose": False,
                         "leader_elect": False, "routers": ROUTERS}
    argv = ["run", "--namespace", "x", "--namespace=y", "--metrics-port=9090", "--health-port", "9091", "--verbose", "--leader-elect",
            "--router", "istio", "--router=nginx"]
    assert shiftlane_main(argv) == 0
    assert calls[-1] == {"namespaces": ["x", "y"], "metrics_port": 9090, "health_port": 9091, "verbose": True,
                         "leader_elect": True, "routers": frozenset({"istio", "nginx"})}
    monkeypatch.setenv("SHIFTLANE_WATCH_NAMESPACES", "")
    monkeypatch.setenv("SHIFTLANE_ROUTERS", "gatewayAPI, traefik")
    assert shiftlane_main(["run"]) == 0
    assert calls[-1]["namespaces"] == []
    assert calls[-1]["routers"] == frozenset({"gatewayAPI", "traefik"})
    monkeypatch.setenv("SHIFTLANE_ROUTERS", "")  # the chart with every router off
    assert shiftlane_main(["run"]) == 0
    assert calls[-1]["routers"] == frozenset()
    monkeypatch.setenv("SHIFTLANE_ROUTERS", "gateway")
    with pytest.raises(SystemExit, match="unknown routers gateway"):
        shiftlane_main(["run"])


@pytest.mark.parametrize("script", ["shiftlane", "kubectl-shiftlane"])
def test_console_entry_points(script: str) -> None:
    result = subprocess.run([str(BIN / script), "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout


def test_console_entry_point_bad_args_exit_2() -> None:
    result = subprocess.run([str(BIN / "kubectl-shiftlane"), "promote"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    result = subprocess.run([str(BIN / "shiftlane"), "plan", "/nonexistent.yaml"], capture_output=True, text=True, timeout=60,
                            env={"PATH": "/nonexistent", "KUBECTL": "kubectl"})
    assert result.returncode == 1  # not a file, so a Rollout name: kubectl is not on PATH
    assert "kubectl" in result.stderr and "Traceback" not in result.stderr


def test_manifest_helper_is_not_mutated() -> None:
    raw = manifest(CANARY)
    before = copy.deepcopy(raw)
    render_rollout(rollout_object(raw))
    assert raw == before
