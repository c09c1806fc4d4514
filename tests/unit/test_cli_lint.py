"""`plan` / `lint` on input a user gets wrong: typos and unknown fields named with a suggestion, each
problem printed once in Shiftlane's words, a missing file reported as a file (never looked up in a cluster)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from shiftlane.cli.main import main as shiftlane_main
from shiftlane.cli.planning import check_rollout
from shiftlane.cli.plugin import main as plugin_main
from tests.unit.world import manifest


def rollout(spec: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"apiVersion": "shiftlane.io/v1alpha1", "kind": "Rollout", "metadata": {"name": "web"}, "spec": spec, **top}


def with_(path: str, value: Any, strategy: dict[str, Any] | None = None) -> dict[str, Any]:
    """A valid spec with one more key at a dotted path."""
    spec = manifest(strategy or {"rollingBatches": {"batchSize": 1}})
    *parents, leaf = path.split(".")
    node: Any = spec
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[leaf] = value
    return spec


# (spec, the problem line expected)
MISTAKES = [
    (with_("strategy.rollingBatches.pauseBetwen", "30s"),
     "spec.strategy.rollingBatches.pauseBetwen: unknown field 'pauseBetwen'; did you mean 'pauseBetween'?"),
    (with_("replica", 3), "spec.replica: unknown field 'replica'; did you mean 'replicas'?"),
    (with_("strategy.rollingBatches.pause_between", "30s"),
     "spec.strategy.rollingBatches.pause_between: unknown field 'pause_between'; did you mean 'pauseBetween'?"),
    (with_("strategy.canary.steps.0.setweight", 20, {"canary": {"steps": [{"pause": {}}]}}),
     "spec.strategy.canary.steps[0].setweight: unknown field 'setweight'; did you mean 'setWeight'?"),
    (with_("strategy.canary.trafficRouting", {"gatewayApi": {"httpRoute": "web"}}, {"canary": {"steps": [{"setWeight": 5}]}}),
     "spec.strategy.canary.trafficRouting.gatewayApi: unknown field 'gatewayApi'; did you mean 'gatewayAPI'?"),
    (with_("template.metadata.lables", {"a": "b"}),
     "spec.template.metadata.lables: unknown field 'lables'; did you mean 'labels'?"),
    (with_("frobnicate", True), "spec.frobnicate: unknown field 'frobnicate'"),
    (with_("strategy.rollingBatches.pauseBetween", "5 min"),
     "spec.strategy.rollingBatches.pauseBetween: must be a duration such as 30s, 5m or 1h30m (got '5 min')"),
    (with_("strategy.rollingBatches.batchSize", 1.5),
     "spec.strategy.rollingBatches.batchSize: must be a whole number or a string such as 25% (got 1.5)"),
    (with_("strategy.recreate", {}), "spec.strategy: exactly one strategy must be set: recreate, rollingBatches"),
    (with_("strategy", {}), "spec.strategy: exactly one strategy must be set: none is"),
]


@pytest.mark.parametrize("spec, line", MISTAKES, ids=[line.split(":")[0] for _, line in MISTAKES])
def test_each_mistake_is_named_once_with_its_path(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  spec: dict[str, Any], line: str) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(rollout(spec)))
    for command in (["lint", "-f", str(path)], ["plan", "-f", str(path)], ["plan", str(path)]):
        assert shiftlane_main(command) == 2, command
        err = capsys.readouterr().err
        assert err.splitlines() == ["error: rollout web: invalid:", f"  {line}"], command
    assert plugin_main(["lint", "-f", str(path)]) == 2
    assert capsys.readouterr().err.splitlines()[1] == f"  {line}"


def test_container_and_pod_fields_are_the_users_own() -> None:
    spec = manifest({"recreate": {}})
    spec["template"]["spec"]["containers"][0] |= {"ports": [{"containerPort": 80}], "resources": {"limits": {"cpu": "1"}}}
    spec["template"]["spec"]["nodeSelector"] = {"disk": "ssd"}
    assert check_rollout(rollout(spec)).problems == []


def test_top_level_typo_is_named() -> None:
    obj = rollout(manifest({"recreate": {}}))
    obj["sepc"] = obj.pop("spec")
    lines = [str(p) for p in check_rollout(obj).problems]
    assert "sepc: unknown field 'sepc'; did you mean 'spec'?" in lines


def test_several_problems_all_listed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = with_("strategy.rollingBatches.pauseBetwen", "30s")
    spec["replicas"] = -1
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(rollout(spec)))
    assert shiftlane_main(["lint", str(path)]) == 2
    err = capsys.readouterr().err
    assert "pauseBetwen" in err and "spec.replicas: Input should be greater than or equal to 0 (got -1)" in err
    assert len(err.splitlines()) == 3


def test_bad_name_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    obj = rollout(manifest({"recreate": {}}))
    obj["metadata"]["name"] = "Web_1"
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(obj))
    assert shiftlane_main(["lint", str(path)]) == 2
    assert "metadata.name: must be a DNS-1035 label" in capsys.readouterr().err


def test_lint_ok_says_what_it_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = rollout(manifest({"canary": {"steps": [{"setWeight": 20}, {"pause": {}}]}}))
    other = copy.deepcopy(good)
    other["metadata"] = {"name": "api", "namespace": "shop"}
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump_all([good, {"kind": "Service", "metadata": {"name": "x"}}, other]))
    assert shiftlane_main(["lint", "-f", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("rollout web: ok (canary, ") and out[1].startswith("rollout shop/api: ok (canary, ")


def test_one_bad_rollout_among_good_ones_fails_the_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = rollout(manifest({"recreate": {}}))
    bad = rollout(with_("replica", 2))
    bad["metadata"]["name"] = "bad"
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(good))
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(bad))
    assert shiftlane_main(["lint", "-f", str(tmp_path / "a.yaml"), "-f", str(tmp_path / "b.yaml")]) == 2
    captured = capsys.readouterr()
    assert "rollout web: ok" in captured.out and "error: rollout bad: invalid:" in captured.err


@pytest.mark.parametrize("argv", [
    ["shiftlane", "plan", "missing.yaml"],
    ["shiftlane", "plan", "-f", "missing"],
    ["shiftlane", "lint", "./missing"],
    ["kubectl-shiftlane", "plan", "-f", "missing.yaml"],
    ["kubectl-shiftlane", "lint", "-f", "missing.yaml"],
])
def test_a_missing_file_is_an_error_about_the_file(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                                   tmp_path: Path, argv: list[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KUBECTL", "/nonexistent/kubectl")  # any cluster lookup would fail differently
    main = shiftlane_main if argv[0] == "shiftlane" else plugin_main
    assert main(argv[1:]) == 2
    err = capsys.readouterr().err
    name = argv[-1]
    assert err == f"error: {name}: no such file\n"


def test_a_directory_and_invalid_yaml_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert shiftlane_main(["lint", "-f", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path}: is a directory, not a file\n"
    bad = tmp_path / "bad.yaml"
    bad.write_text("spec: [unclosed\n")
    assert shiftlane_main(["lint", "-f", str(bad)]) == 2
    assert capsys.readouterr().err.startswith(f"error: {bad}: not valid YAML")


def test_name_and_file_together_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(rollout(manifest({"recreate": {}}))))
    assert shiftlane_main(["plan", "web", "-f", str(path)]) == 2
    assert "not both" in capsys.readouterr().err
    assert shiftlane_main(["plan"]) == 2
    assert "name a Rollout, or give a file with -f FILE" in capsys.readouterr().err
