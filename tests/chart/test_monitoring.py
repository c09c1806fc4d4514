"""The chart's Grafana dashboard and Prometheus alerts, checked with the real helm and Prometheus's promtool
(Debian's `prometheus` package, installed by hack/install-test-deps.sh): the rules are valid, fire when
they should and not before, and every query names a metric the operator exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

import shiftlane.metrics  # noqa: F401  (registers the operator's collectors)
import shiftlane.registry.metrics  # noqa: F401
from tests.chart.test_chart import helm, of_kind, one, render  # noqa: F401  (helm: the fixture)

# Added by the analysis work (issue 8): one series per metric and phase, 1 for the current phase.
ANALYSIS_METRICS = {"shiftlane_analysis_metric_phase", "shiftlane_analysis_metric_value"}
MONITORING = {"grafanaDashboard": {"enabled": True}, "prometheusRule": {"enabled": True}}


@pytest.fixture(scope="session")
def promtool() -> str:
    found = shutil.which("promtool")
    if not found:
        pytest.fail("promtool not found: run hack/install-test-deps.sh (Debian's prometheus package)")
    return found


def exported_metrics() -> set[str]:
    """Every sample name the operator's collectors can export (counters' _total, histograms' _bucket, ...)."""
    names = set()
    for family in REGISTRY.collect():
        if not family.name.startswith("shiftlane_"):
            continue
        kind = family.type
        names.add(family.name)
        names |= {f"{family.name}{suffix}" for suffix in {
            "counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created"),
            "info": ("_info",), "gauge": (), "summary": ("_sum", "_count")}.get(kind, ())}
    return names | ANALYSIS_METRICS


def metric_names(expr: str) -> set[str]:
    return set(re.findall(r"\bshiftlane_[a-z_]+", expr))


def rules_file(docs: list[dict[str, Any]], path: Path) -> Path:
    rule = one(docs, "PrometheusRule")
    path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    return path


def run(promtool: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool, *args], capture_output=True, text=True, timeout=60, cwd=cwd)


# --------------------------------------------------------------------------- rules


def test_monitoring_objects_only_when_enabled(helm: str, tmp_path: Path) -> None:
    docs = render(helm, tmp_path)
    assert not of_kind(docs, "PrometheusRule")
    assert not [d for d in of_kind(docs, "ConfigMap") if d["metadata"]["name"].endswith("-dashboard")]


def test_rules_pass_promtool_check(helm: str, promtool: str, tmp_path: Path) -> None:
    path = rules_file(render(helm, tmp_path, MONITORING), tmp_path / "rules.yaml")
    result = run(promtool, "check", "rules", str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 5 rules found" in result.stdout


def test_rules_name_only_exported_metrics(helm: str, tmp_path: Path) -> None:
    rule = one(render(helm, tmp_path, MONITORING), "PrometheusRule")
    used = {name for group in rule["spec"]["groups"] for r in group["rules"] for name in metric_names(r["expr"])}
    assert used and used <= exported_metrics(), used - exported_metrics()


def test_rule_namespace_labels_and_thresholds(helm: str, tmp_path: Path) -> None:
    values = {"prometheusRule": {"enabled": True, "namespace": "monitoring", "labels": {"release": "prom"},
                                 "degradedFor": "15m", "reconcileErrorRate": 0.5}}
    rule = one(render(helm, tmp_path, values), "PrometheusRule")
    assert rule["metadata"]["namespace"] == "monitoring"
    assert rule["metadata"]["labels"]["release"] == "prom"
    by_name = {r["alert"]: r for group in rule["spec"]["groups"] for r in group["rules"]}
    assert by_name["ShiftlaneRolloutDegraded"]["for"] == "15m"
    assert by_name["ShiftlaneReconcileErrors"]["expr"].endswith("> 0.5")


def _alert(name: str, at: str, *firing: dict[str, str]) -> dict[str, Any]:
    """At `at`, alert `name` fires exactly for these label sets (none: silent)."""
    return {"eval_time": at, "alertname": name, "exp_alerts": [{"exp_labels": labels} for labels in firing]}


def _with_annotations(check: dict[str, Any], rules: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """promtool compares annotations too: the rule's, with its $labels filled in as Prometheus does."""
    annotations = rules[check["alertname"]]["annotations"]

    def fill(text: str, labels: dict[str, str]) -> str:
        return re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m.group(1)], text)

    alerts = [{**a, "exp_annotations": {k: fill(v, a["exp_labels"]) for k, v in annotations.items()}} for a in check["exp_alerts"]]
    return {**check, "exp_alerts": alerts}


# (input series, alert checks): each alert silent before its `for`, firing after, silent where it must not fire.
ALERT_CASES = [
    ([("shiftlane_rollout_phase{namespace='shop', rollout='web', phase='Degraded'}", "0 0 1x20"),
      ("shiftlane_rollout_phase{namespace='shop', rollout='api', phase='Aborted'}", "1x20"),
      ("shiftlane_rollout_phase{namespace='shop', rollout='ok', phase='Degraded'}", "0x20")],
     [_alert("ShiftlaneRolloutDegraded", "4m"),
      _alert("ShiftlaneRolloutDegraded", "6m",  # web has been Degraded for 4m only
             {"severity": "warning", "namespace": "shop", "rollout": "api", "phase": "Aborted"}),
      _alert("ShiftlaneRolloutDegraded", "8m",
             {"severity": "warning", "namespace": "shop", "rollout": "api", "phase": "Aborted"},
             {"severity": "warning", "namespace": "shop", "rollout": "web", "phase": "Degraded"})]),
    ([("shiftlane_rollout_phase{namespace='shop', rollout='stuck', phase='Progressing'}", "1x70"),
      ("shiftlane_rollout_phase{namespace='shop', rollout='paused', phase='Paused'}", "1x70")],
     [_alert("ShiftlaneRolloutStuck", "59m"),
      _alert("ShiftlaneRolloutStuck", "61m", {"severity": "warning", "namespace": "shop", "rollout": "stuck"})]),
    ([("shiftlane_analysis_metric_phase{namespace='shop', rollout='web', metric='success-rate', phase='Failed'}", "0 1"),
      ("shiftlane_analysis_metric_phase{namespace='shop', rollout='web', metric='success-rate', phase='Successful'}", "1 0")],
     [_alert("ShiftlaneAnalysisFailed", "0m"),
      _alert("ShiftlaneAnalysisFailed", "1m", {"severity": "warning", "namespace": "shop", "rollout": "web", "metric": "success-rate"})]),
    ([("shiftlane_reconcile_errors_total{reason='ApiException'}", "0+60x30"),  # 1 error per second
      ("shiftlane_reconcile_errors_total{reason='TimeoutError'}", "0+1x30")],  # 1 per minute: under the rate
     [_alert("ShiftlaneReconcileErrors", "9m"),
      _alert("ShiftlaneReconcileErrors", "25m", {"severity": "warning", "reason": "ApiException"})]),
    ([("shiftlane_leader{pod='a'}", "1x5 0x10"), ("shiftlane_leader{pod='b'}", "0x15")],
     [_alert("ShiftlaneNoLeader", "5m"),
      _alert("ShiftlaneNoLeader", "14m", {"severity": "critical"})]),
    ([("shiftlane_rollout_step{namespace='shop', rollout='web'}", "1x10")],  # the operator's series, but no leader gauge
     [_alert("ShiftlaneNoLeader", "6m", {"severity": "critical"})]),
]


def test_alerts_fire_when_they_should(helm: str, promtool: str, tmp_path: Path) -> None:
    docs = render(helm, tmp_path, MONITORING)
    rules_file(docs, tmp_path / "rules.yaml")
    rules = {r["alert"]: r for group in one(docs, "PrometheusRule")["spec"]["groups"] for r in group["rules"]}
    tests = [{"interval": "1m", "input_series": [{"series": s.replace("'", '"'), "values": v} for s, v in series],
              "alert_rule_test": [_with_annotations(check, rules) for check in checks]} for series, checks in ALERT_CASES]
    (tmp_path / "alerts_test.yaml").write_text(yaml.safe_dump({"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": tests}))
    result = run(promtool, "test", "rules", "alerts_test.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


# --------------------------------------------------------------------------- dashboard


def dashboard(docs: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    config_map = one([d for d in of_kind(docs, "ConfigMap") if d["metadata"]["name"].endswith("-dashboard")], "ConfigMap")
    return config_map, json.loads(config_map["data"]["shiftlane-rollouts.json"])


def test_dashboard_config_map_for_the_grafana_sidecar(helm: str, tmp_path: Path) -> None:
    config_map, board = dashboard(render(helm, tmp_path, MONITORING))
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config_map["metadata"]["namespace"] == "shiftlane-system"
    assert board["uid"] == "shiftlane-rollouts" and board["panels"]
    config_map, _ = dashboard(render(helm, tmp_path, {"grafanaDashboard": {"enabled": True, "namespace": "grafana",
                                                                            "labels": {"dashboards": "team"}}}))
    assert config_map["metadata"]["namespace"] == "grafana" and config_map["metadata"]["labels"]["dashboards"] == "team"


def test_dashboard_queries_are_valid_promql_on_exported_metrics(helm: str, promtool: str, tmp_path: Path) -> None:
    _, board = dashboard(render(helm, tmp_path, MONITORING))
    exprs = [t["expr"] for panel in board["panels"] for t in panel["targets"]]
    exprs += [v["query"]["query"] for v in board["templating"]["list"] if v["type"] == "query"]
    used = {name for expr in exprs for name in metric_names(expr)}
    assert used <= exported_metrics(), used - exported_metrics()
    assert {"shiftlane_rollout_phase", "shiftlane_reconcile_errors_total", "shiftlane_leader"} <= used
    # promtool parses each query as a recording rule; Grafana's variables become regexes that match all.
    queries = [e.replace("$namespace", ".*").replace("$rollout", ".*") for e in exprs if not e.startswith("label_values(")]
    record = {"groups": [{"name": "dashboard", "rules": [{"record": f"dashboard:q{i}", "expr": q} for i, q in enumerate(queries)]}]}
    (tmp_path / "dashboard.yaml").write_text(yaml.safe_dump(record))
    result = run(promtool, "check", "rules", "dashboard.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    for panel in board["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["description"], panel["title"]
