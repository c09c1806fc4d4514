"""The CLI's text: `shiftlane plan`, `shiftlane crd`, entry points. (`get`: test_cli_view.py.)"""

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
from shiftlane.cli.render import render_plan
from shiftlane.cli.view import render_rollout
from shiftlane.engine.plan import compile_plan
from shiftlane.registry.settings import RegistrySettings
from shiftlane.traffic import ROUTERS
from tests.unit.world import World, manifest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
GATEWAY = {"gatewayAPI": {"httpRoute": "web"}}
CANARY = {"canary": {"steps": [{"setWeight": 25}, {"pause": {}}, {"setWeight": 50}]}}


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
    assert "spec.selector: required with template" in capsys.readouterr().err


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
                         "leader_elect": False, "registry": RegistrySettings(), "routers": ROUTERS}
    argv = ["run", "--namespace", "x", "--namespace=y", "--metrics-port=9090", "--health-port", "9091", "--verbose", "--leader-elect",
            "--router", "istio", "--router=nginx"]
    assert shiftlane_main(argv) == 0
    assert calls[-1] == {"namespaces": ["x", "y"], "metrics_port": 9090, "health_port": 9091, "verbose": True,
                         "leader_elect": True, "registry": RegistrySettings(), "routers": frozenset({"istio", "nginx"})}
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
    env = {"PATH": "/nonexistent", "KUBECTL": "kubectl"}
    result = subprocess.run([str(BIN / "shiftlane"), "plan", "/nonexistent.yaml"], capture_output=True, text=True, timeout=60, env=env)
    # A path can never be a Rollout's name: the error is about the file, and no cluster is asked.
    assert result.returncode == 2
    assert result.stderr == "error: /nonexistent.yaml: no such file\n"
    result = subprocess.run([str(BIN / "shiftlane"), "plan", "web"], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 1  # a name: looked up through kubectl, which is not on PATH
    assert "kubectl" in result.stderr and "Traceback" not in result.stderr


def test_manifest_helper_is_not_mutated() -> None:
    raw = manifest(CANARY)
    before = copy.deepcopy(raw)
    render_rollout(rollout_object(raw))
    assert raw == before
