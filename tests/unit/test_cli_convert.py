"""`kubectl shiftlane convert`: a table of example manifests (tests/unit/convert_fixtures, written for these
tests) and the Shiftlane Rollout each becomes; every Rollout printed passes `lint`, and what could not
carry over is named on stderr by the source's field path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from shiftlane.cli.main import main as shiftlane_main
from shiftlane.cli.planning import check_rollout
from shiftlane.cli.plugin import main

FIXTURES = Path(__file__).parent / "convert_fixtures"


def convert(capsys: pytest.CaptureFixture[str], *files: str, extra: tuple[str, ...] = ()) -> tuple[int, list[dict[str, Any]], str]:
    argv = ["convert"] + [arg for f in files for arg in ("-f", str(FIXTURES / f))] + list(extra)
    code = main(argv)
    captured = capsys.readouterr()
    return code, [d for d in yaml.safe_load_all(captured.out) if d], captured.err


def at(obj: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        obj = obj[int(part)] if isinstance(obj, list) else obj[part]
    return obj


# (files, {path in the Rollout: value}, notes that must be on stderr)
CASES = [
    (["deployment.yaml"],
     {"metadata.name": "frontend", "metadata.namespace": "shop", "spec.replicas": 6, "spec.minReadySeconds": 5,
      "spec.progressDeadlineSeconds": 300, "spec.selector": {"matchLabels": {"app": "frontend"}},
      "spec.strategy": {"rolling": {"maxSurge": 2, "maxUnavailable": 0}},
      "spec.template.metadata": {"labels": {"app": "frontend", "tier": "web"}},
      "spec.template.spec.containers.0.resources": {"requests": {"cpu": "100m"}}},
     ["Deployment frontend: spec.selector.matchExpressions: not supported"]),
    (["deployment-recreate.yaml"], {"spec.strategy": {"recreate": {}}, "metadata": {"name": "batch"}}, []),
    (["argo-canary-istio.yaml"],
     {"metadata.labels": {"team": "payments"}, "spec.revisionHistoryLimit": 3, "spec.abortScaleDownDelaySeconds": 45,
      "spec.strategy.canary.steps": [
          {"setWeight": 10}, {"pause": {"duration": "60s"}}, {"setWeight": 30}, {"pause": {"duration": "90s"}},
          {"analysis": {"templates": [{"name": "success-rate"}]}}, {"setWeight": 60}, {"pause": {"duration": "1h30m"}},
          {"pause": {}}],
      "spec.strategy.canary.trafficRouting": {"istio": {
          "virtualService": {"name": "checkout-vs", "routes": ["primary"]},
          "destinationRule": {"name": "checkout-dr", "canarySubsetName": "canary", "stableSubsetName": "stable"}}}},
     ["spec.strategy.canary.canaryService:", "spec.strategy.canary.steps[4].analysis.args:",
      "spec.strategy.canary.steps[7].experiment: experiments are not supported: step left out"]),
    (["argo-bluegreen.yaml"],
     {"spec.strategy": {"blueGreen": {"autoPromotionEnabled": False, "scaleDownDelaySeconds": 60,
                                      "prePromotionAnalysis": {"templates": [{"name": "smoke"}]},
                                      "postPromotionAnalysis": {"templates": [{"name": "success-rate"}]}}}},
     ["spec.strategy.blueGreen.activeService:", "spec.strategy.blueGreen.autoPromotionSeconds: ignored",
      "postPromotionAnalysis.templates[0].clusterScope"]),
    (["argo-gateway-workloadref.yaml"],
     {"metadata": {"name": "api", "namespace": "prod"}, "spec.replicas": 4,
      "spec.template.spec.containers": [{"name": "api", "image": "api:7", "ports": [{"containerPort": 9000}]}],
      "spec.template.metadata.annotations": {"team": "core"},
      "spec.strategy.canary": {"steps": [{"setCanaryScale": {"replicas": 1}}, {"setWeight": 25}, {"pause": {"duration": "5m"}}],
                               "trafficRouting": {"gatewayAPI": {"httpRoute": "api-route"}}}},
     ["spec.workloadRef.scaleDown:", "steps[2].setHeaderRoute: header routes are the abTesting strategy's"]),
    (["flagger-canary.yaml", "podinfo-deployment.yaml"],
     {"metadata": {"name": "podinfo", "namespace": "test"}, "spec.replicas": 2, "spec.progressDeadlineSeconds": 60,
      "spec.template.spec.containers.0.image": "ghcr.io/stefanprodan/podinfo:6.0.0",
      "spec.strategy.canary.steps": [step for w in (10, 20, 30) for step in (
          {"setWeight": w}, {"pause": {"duration": "30s"}}, {"analysis": {"templates": [{"name": "error-rate"}]}})],
      "spec.strategy.canary.trafficRouting": {"istio": {"virtualService": {"name": "podinfo"}}}},
     ["spec.analysis.metrics[0]: built-in metric request-success-rate", "spec.analysis.webhooks:", "spec.autoscalerRef:",
      "spec.analysis.metrics[1]: write an AnalysisTemplate error-rate"]),
    (["flagger-ab.yaml"],
     {"spec.strategy": {"abTesting": {"match": [{"headers": [{"name": "x-canary", "exact": "insider"}]}], "duration": "600s",
                                      "trafficRouting": {"nginx": {"ingress": "shopfront"}}}},
      "spec.template.spec.containers.0.image": "replace-me.invalid/image-of-shopfront"},
     ["spec.targetRef: Deployment shopfront is not among the input files"]),
    (["flagger-stepweights-gateway.yaml"],
     {"spec.strategy.canary.steps": [step for w in (1, 5, 25, 50) for step in ({"setWeight": w}, {"pause": {"duration": "2m"}})],
      "spec.strategy.canary.trafficRouting": {"gatewayAPI": {"httpRoute": "catalog"}}},
     ["spec.service.gatewayRefs:"]),
    (["flagger-bluegreen.yaml"],
     {"spec.strategy": {"blueGreen": {"autoPromotionSeconds": 120, "prePromotionAnalysis": {"templates": [{"name": "latency"}]}}}},
     ["spec.provider: kubernetes is not a Shiftlane router"]),
    (["flagger-mirror.yaml"],
     {"spec.strategy": {"shadow": {"mirrorPercent": 50, "duration": "300s",
                                   "trafficRouting": {"istio": {"virtualService": {"name": "search"}}}}}},
     []),
]


@pytest.mark.parametrize("files, expected, notes", CASES, ids=["+".join(c[0]) for c in CASES])
def test_convert(capsys: pytest.CaptureFixture[str], tmp_path: Path, files: list[str], expected: dict[str, Any],
                 notes: list[str]) -> None:
    code, rollouts, err = convert(capsys, *files)
    assert code == 0, err
    assert len(rollouts) == 1  # a Deployment a Canary or workloadRef names is read, not converted alone
    (rollout,) = rollouts
    assert rollout["apiVersion"] == "shiftlane.io/v1alpha1" and rollout["kind"] == "Rollout"
    for path, value in expected.items():
        assert at(rollout, path) == value, path
    for note in notes:
        assert any(note in line for line in err.splitlines() if line.startswith("note: ")), (note, err)
    assert not any(line.startswith("error:") for line in err.splitlines())
    # What convert prints is what lint accepts.
    assert check_rollout(rollout).problems == []
    out = tmp_path / "rollout.yaml"
    out.write_text(yaml.safe_dump(rollout))
    assert shiftlane_main(["lint", "-f", str(out)]) == 0
    assert "&id" not in yaml.safe_dump(rollout)


def test_a_rollout_that_would_not_apply_is_an_error_not_output(capsys: pytest.CaptureFixture[str]) -> None:
    code, rollouts, err = convert(capsys, "argo-decreasing.yaml")
    assert code == 1 and rollouts == []
    assert "error: Rollout.argoproj.io odd: the converted Rollout is not valid:" in err
    assert "spec.strategy.canary.steps[1].setWeight: 20 after 50" in err


def test_several_objects_in_several_files(capsys: pytest.CaptureFixture[str]) -> None:
    code, rollouts, _ = convert(capsys, "deployment.yaml", "argo-bluegreen.yaml", "flagger-mirror.yaml")
    assert code == 0
    assert [r["metadata"]["name"] for r in rollouts] == ["web", "search", "frontend"]


def test_name_option(capsys: pytest.CaptureFixture[str]) -> None:
    code, rollouts, _ = convert(capsys, "deployment.yaml", extra=("--name", "frontend-rollout"))
    assert code == 0 and rollouts[0]["metadata"]["name"] == "frontend-rollout"
    code, _, err = convert(capsys, "deployment.yaml", "argo-bluegreen.yaml", extra=("--name", "x"))
    assert code == 2 and "--name needs exactly one object" in err


def test_nothing_to_convert_and_missing_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    other = tmp_path / "svc.yaml"
    other.write_text("apiVersion: v1\nkind: Service\nmetadata: {name: x}\n")
    assert main(["convert", "-f", str(other)]) == 2
    assert "no Deployment, Argo Rollouts Rollout or Flagger Canary found" in capsys.readouterr().err
    assert main(["convert", "-f", str(tmp_path / "missing.yaml")]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'missing.yaml'}: no such file\n"


@pytest.mark.parametrize("duration, expected", [
    (30, "30s"), ("45", "45s"), (1.5, "1.5s"), ("1m30s", "1m30s"), ("1h", "1h"), ("250ms", "250ms"), ("1500us", "1.5ms"),
])
def test_argo_pause_durations(duration: Any, expected: str) -> None:
    from shiftlane.cli.convert.common import Conversion, duration as convert_duration

    assert convert_duration(duration, Conversion(""), "p") == expected


def test_an_unreadable_duration_is_noted_and_left_out() -> None:
    from shiftlane.cli.convert.common import Conversion, duration as convert_duration

    conversion = Conversion("x")
    assert convert_duration("soon", conversion, "spec.steps[1].pause.duration") is None
    assert conversion.notes == ["spec.steps[1].pause.duration: duration 'soon' cannot be read: left out"]
