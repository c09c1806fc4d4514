"""Prometheus collectors: what the operator is doing, per Rollout and overall."""

from __future__ import annotations

import json
import platform
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, Info
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from shiftlane.api.status import AnalysisPhase, Phase, RolloutStatus

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

BUILD = Info("shiftlane_build", "The running operator's version (shiftlane_build_info)")
LEADER = Gauge("shiftlane_leader", "1 while this replica acts (holds the leader Lease, or runs without election), 0 on a standby")

_ENDINGS = {"RolloutCompleted": "completed", "RolloutAborted": "aborted", "RolloutSuperseded": "superseded"}


@dataclass(frozen=True, slots=True)
class AnalysisSeries:
    metric: str  # "template/metric"
    phase: AnalysisPhase
    value: float | None  # the last measurement, when it is a number


@dataclass(frozen=True, slots=True)
class RolloutSeries:
    """What one Rollout's series show, as of its last reconcile."""

    strategy: str
    stable_revision: str
    canary_revision: str
    phase: Phase
    step: int
    canary_weight: float
    stable_weight: float
    analysis: tuple[AnalysisSeries, ...]


class RolloutCollector(Collector):
    """The per-Rollout series, built at scrape time from one small record per Rollout: a Gauge child per
    label set (a dozen per Rollout, each with its own lock) held 7 MiB at 1,000 Rollouts."""

    def __init__(self) -> None:
        self.rollouts: dict[tuple[str, str], RolloutSeries] = {}

    def describe(self) -> list[Metric]:
        return list(self._families())

    def collect(self) -> Iterator[Metric]:
        info, phase, step, weight, metric_phase, metric_value = families = self._families()
        for (namespace, name), series in list(self.rollouts.items()):
            info.add_metric([namespace, name, series.strategy, series.stable_revision, series.canary_revision], 1)
            for each in Phase:
                phase.add_metric([namespace, name, each.value], 1 if series.phase is each else 0)
            step.add_metric([namespace, name], series.step)
            weight.add_metric([namespace, name, "canary"], series.canary_weight)
            weight.add_metric([namespace, name, "stable"], series.stable_weight)
            for analysis in series.analysis:
                for each in AnalysisPhase:
                    metric_phase.add_metric([namespace, name, analysis.metric, each.value], 1 if analysis.phase is each else 0)
                if analysis.value is not None:
                    metric_value.add_metric([namespace, name, analysis.metric], analysis.value)
        yield from families

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, ...]:
        return (
            GaugeMetricFamily("shiftlane_rollout_info", "One series per Rollout with its strategy and revisions",
                              labels=["namespace", "rollout", "strategy", "stable_revision", "canary_revision"]),
            GaugeMetricFamily("shiftlane_rollout_phase", "1 for the Rollout's current phase", labels=["namespace", "rollout", "phase"]),
            GaugeMetricFamily("shiftlane_rollout_step", "Index of the current step, -1 when no rollout runs", labels=["namespace", "rollout"]),
            GaugeMetricFamily("shiftlane_rollout_traffic_weight", "Traffic percent per role", labels=["namespace", "rollout", "role"]),
            GaugeMetricFamily("shiftlane_analysis_metric_phase", "1 for the phase of each metric of the Rollout's latest analysis run",
                              labels=["namespace", "rollout", "metric", "phase"]),
            GaugeMetricFamily("shiftlane_analysis_metric_value", "The last value a metric measured, when it is a number (or a list of one)",
                              labels=["namespace", "rollout", "metric"]),
        )


ROLLOUTS = RolloutCollector()
REGISTRY.register(ROLLOUTS)


def record(namespace: str, name: str, status: RolloutStatus, events: list[str], started_at: float | None, now: float) -> None:
    # Each metric as its latest run shows it (runs are oldest first in status).
    latest = {f"{m.template}/{m.name}": m for run in status.analysis_runs for m in run.metrics}
    ROLLOUTS.rollouts[(namespace, name)] = RolloutSeries(
        strategy=status.strategy or "", stable_revision=status.stable_revision or "", canary_revision=status.canary_revision or "",
        phase=status.phase, step=-1 if status.current_step_index is None else status.current_step_index,
        canary_weight=status.canary_weight, stable_weight=status.stable_weight,
        analysis=tuple(
            AnalysisSeries(metric, state.phase, _number(state.measurements[-1].value) if state.measurements else None)
            for metric, state in latest.items()
        ),
    )
    for reason in events:
        result = _ENDINGS.get(reason)
        if result and status.strategy:
            ROLLOUTS_TOTAL.labels(status.strategy, result).inc()
            if started_at is not None:
                ROLLOUT_DURATION.labels(status.strategy, result).observe(max(0.0, now - started_at))


def _number(text: str | None) -> float | None:
    try:
        value = json.loads(text) if text is not None else None
    except ValueError:
        return None
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def forget(namespace: str, name: str) -> None:
    ROLLOUTS.rollouts.pop((namespace, name), None)


def record_build_info() -> None:
    try:
        shiftlane_version = version("shiftlane")
    except PackageNotFoundError:  # run from a source tree that was never installed
        shiftlane_version = "unknown"
    BUILD.info({"version": shiftlane_version, "python": platform.python_version()})
