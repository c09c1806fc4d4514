"""Prometheus collectors: what the operator is doing, per Rollout and overall."""

from __future__ import annotations

import json
import platform
from importlib.metadata import PackageNotFoundError, version

from prometheus_client import Counter, Gauge, Histogram, Info

from shiftlane.api.status import AnalysisPhase, Phase, RolloutStatus

ROLLOUT_INFO = Gauge(
    "shiftlane_rollout_info", "One series per Rollout with its strategy and revisions",
    ["namespace", "rollout", "strategy", "stable_revision", "canary_revision"],
)
ROLLOUT_PHASE = Gauge("shiftlane_rollout_phase", "1 for the Rollout's current phase", ["namespace", "rollout", "phase"])
ROLLOUT_STEP = Gauge("shiftlane_rollout_step", "Index of the current step, -1 when no rollout runs", ["namespace", "rollout"])
TRAFFIC_WEIGHT = Gauge("shiftlane_rollout_traffic_weight", "Traffic percent per role", ["namespace", "rollout", "role"])
ROLLOUT_DURATION = Histogram(
    "shiftlane_rollout_duration_seconds", "Time from a rollout's start to its end", ["strategy", "result"],
    buckets=(10, 30, 60, 120, 300, 600, 1200, 3600, 7200),
)
ROLLOUTS_TOTAL = Counter("shiftlane_rollouts_total", "Rollouts ended, by strategy and result", ["strategy", "result"])
RECONCILE_DURATION = Histogram("shiftlane_reconcile_duration_seconds", "Time of one reconcile")
RECONCILE_ERRORS = Counter("shiftlane_reconcile_errors_total", "Reconciles that raised", ["reason"])
ROUTER_UPDATES = Counter(
    "shiftlane_router_updates_total",
    "Router object writes by outcome: written, unchanged, conflict_retried, refused, missing",
    ["router", "outcome"],
)

ANALYSIS_METRIC_PHASE = Gauge(
    "shiftlane_analysis_metric_phase", "1 for the phase of each metric of the Rollout's latest analysis run",
    ["namespace", "rollout", "metric", "phase"],
)
ANALYSIS_METRIC_VALUE = Gauge(
    "shiftlane_analysis_metric_value", "The last value a metric measured, when it is a number (or a list of one)",
    ["namespace", "rollout", "metric"],
)
BUILD = Info("shiftlane_build", "The running operator's version (shiftlane_build_info)")
LEADER = Gauge("shiftlane_leader", "1 while this replica acts (holds the leader Lease, or runs without election), 0 on a standby")

_ENDINGS = {"RolloutCompleted": "completed", "RolloutAborted": "aborted", "RolloutSuperseded": "superseded"}


# The info series of each Rollout, to replace it when its revisions change.
_info_labels: dict[tuple[str, str], tuple[str, ...]] = {}
# The analysis metrics each Rollout has series for ("template/metric"), to remove them when they go.
_analysis_metrics: dict[tuple[str, str], set[str]] = {}


def record(namespace: str, name: str, status: RolloutStatus, events: list[str], started_at: float | None, now: float) -> None:
    labels = (namespace, name, status.strategy or "", status.stable_revision or "", status.canary_revision or "")
    old = _info_labels.get((namespace, name))
    if old != labels:
        if old:
            ROLLOUT_INFO.remove(*old)
        ROLLOUT_INFO.labels(*labels).set(1)
        _info_labels[(namespace, name)] = labels
    for phase in Phase:
        ROLLOUT_PHASE.labels(namespace, name, phase.value).set(1 if status.phase is phase else 0)
    ROLLOUT_STEP.labels(namespace, name).set(-1 if status.current_step_index is None else status.current_step_index)
    TRAFFIC_WEIGHT.labels(namespace, name, "canary").set(status.canary_weight)
    TRAFFIC_WEIGHT.labels(namespace, name, "stable").set(status.stable_weight)
    _record_analysis(namespace, name, status)
    for reason in events:
        result = _ENDINGS.get(reason)
        if result and status.strategy:
            ROLLOUTS_TOTAL.labels(status.strategy, result).inc()
            if started_at is not None:
                ROLLOUT_DURATION.labels(status.strategy, result).observe(max(0.0, now - started_at))


def _record_analysis(namespace: str, name: str, status: RolloutStatus) -> None:
    """Each metric as its latest run shows it (runs are oldest first in status)."""
    latest = {f"{m.template}/{m.name}": m for run in status.analysis_runs for m in run.metrics}
    for gone in _analysis_metrics.get((namespace, name), set()) - set(latest):
        _remove_analysis_metric(namespace, name, gone)
    _analysis_metrics[(namespace, name)] = set(latest)
    for metric, state in latest.items():
        for phase in AnalysisPhase:
            ANALYSIS_METRIC_PHASE.labels(namespace, name, metric, phase.value).set(1 if state.phase is phase else 0)
        value = _number(state.measurements[-1].value) if state.measurements else None
        if value is not None:
            ANALYSIS_METRIC_VALUE.labels(namespace, name, metric).set(value)


def _number(text: str | None) -> float | None:
    try:
        value = json.loads(text) if text is not None else None
    except ValueError:
        return None
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _remove_analysis_metric(namespace: str, name: str, metric: str) -> None:
    for phase in AnalysisPhase:
        _remove(ANALYSIS_METRIC_PHASE, namespace, name, metric, phase.value)
    _remove(ANALYSIS_METRIC_VALUE, namespace, name, metric)


def _remove(gauge: Gauge, *labels: str) -> None:
    try:
        gauge.remove(*labels)
    except KeyError:
        pass  # never set (a value that was not a number)


def forget(namespace: str, name: str) -> None:
    old = _info_labels.pop((namespace, name), None)
    if old:
        ROLLOUT_INFO.remove(*old)
    for phase in Phase:
        ROLLOUT_PHASE.remove(namespace, name, phase.value)
    ROLLOUT_STEP.remove(namespace, name)
    for role in ("canary", "stable"):
        TRAFFIC_WEIGHT.remove(namespace, name, role)
    for metric in _analysis_metrics.pop((namespace, name), set()):
        _remove_analysis_metric(namespace, name, metric)


def record_build_info() -> None:
    try:
        shiftlane_version = version("shiftlane")
    except PackageNotFoundError:  # run from a source tree that was never installed
        shiftlane_version = "unknown"
    BUILD.info({"version": shiftlane_version, "python": platform.python_version()})
