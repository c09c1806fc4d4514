"""An analysis run's bookkeeping: when each metric is next measured, and what its measurements add up to.

Pure: the runner in the controller measures and hands each outcome to `record`. Everything lives in
the Rollout's status, so an operator restarted mid-analysis resumes the run where it was.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from shiftlane.api.analysis import Metric
from shiftlane.api.durations import seconds_of
from shiftlane.api.status import MEASUREMENTS_KEPT, AnalysisPhase, AnalysisRunStatus, MeasurementStatus, MetricStatus

VALUE_TEXT_MAX = 256  # a measured value as status shows it


@dataclass(frozen=True)
class Outcome:
    """One finished measurement, judged."""

    phase: AnalysisPhase
    started_at: datetime
    finished_at: datetime
    value: str | None = None
    message: str | None = None
    query: str | None = None


def new_run(key: str, templates: list[str], metrics: Iterable[tuple[str, Metric]], now: datetime) -> AnalysisRunStatus:
    """A run of every metric of `templates`, as (template name, metric) pairs; first measurements after their initial delay."""
    return AnalysisRunStatus(
        key=key,
        templates=templates,
        started_at=now,
        metrics=[
            MetricStatus(name=metric.name, template=template, next_measurement_at=now + _delta(metric.initial_delay))
            for template, metric in metrics
        ],
    )


def due(run: AnalysisRunStatus, now: datetime) -> list[MetricStatus]:
    """The metrics of a running run whose next measurement is due."""
    if run.phase is not AnalysisPhase.RUNNING:
        return []
    return [
        m for m in run.metrics
        if m.phase is AnalysisPhase.RUNNING and m.next_measurement_at is not None and m.next_measurement_at <= now
    ]


def planned_count(metric: Metric) -> int | None:
    """Decisive measurements a metric takes: `count`, else one without an interval, else no end (None)."""
    if metric.count is not None:
        return metric.count
    return 1 if metric.interval is None else None


def record(status: MetricStatus, metric: Metric, outcome: Outcome) -> None:
    """Add one measurement to a metric and decide the metric's phase by its limits."""
    status.measurements = [
        *status.measurements,
        MeasurementStatus(
            phase=outcome.phase,
            value=outcome.value[:VALUE_TEXT_MAX] if outcome.value is not None else None,
            message=outcome.message,
            started_at=outcome.started_at,
            finished_at=outcome.finished_at,
        ),
    ][-MEASUREMENTS_KEPT:]
    if outcome.query is not None:
        status.query = outcome.query
    if outcome.phase is AnalysisPhase.ERROR:
        status.errors += 1
        status.consecutive_errors += 1
    else:
        status.consecutive_errors = 0
        status.count += 1
        if outcome.phase is AnalysisPhase.SUCCESSFUL:
            status.successful += 1
        elif outcome.phase is AnalysisPhase.FAILED:
            status.failed += 1
        elif outcome.phase is AnalysisPhase.INCONCLUSIVE:
            status.inconclusive += 1
    status.phase = metric_phase(status, metric)
    running = status.phase is AnalysisPhase.RUNNING
    status.next_measurement_at = outcome.finished_at + _delta(metric.interval) if running else None


def give_up(status: MetricStatus, message: str, now: datetime) -> None:
    """The metric cannot be measured at all (its template or the metric itself is gone): it ends in Error."""
    status.measurements = [*status.measurements, MeasurementStatus(
        phase=AnalysisPhase.ERROR, message=message, started_at=now, finished_at=now)][-MEASUREMENTS_KEPT:]
    status.errors += 1
    status.consecutive_errors += 1
    status.phase = AnalysisPhase.ERROR
    status.next_measurement_at = None


def metric_phase(status: MetricStatus, metric: Metric) -> AnalysisPhase:
    if status.failed > metric.failure_limit:
        return AnalysisPhase.FAILED
    if status.consecutive_errors > metric.consecutive_error_limit:
        return AnalysisPhase.ERROR
    if status.inconclusive > metric.inconclusive_limit:
        return AnalysisPhase.INCONCLUSIVE
    # Only decisive measurements (successful or failed) count toward `count`: inconclusive ones and
    # errors are tolerated up to their limits but never add up to a success.
    planned = planned_count(metric)
    if planned is not None and status.successful + status.failed >= planned:
        # Failures within failureLimit are tolerated, but a metric that never once succeeded has failed.
        return AnalysisPhase.SUCCESSFUL if status.successful else AnalysisPhase.FAILED
    return AnalysisPhase.RUNNING


# The run takes its metrics' worst phase; a failure or an error ends it even while others still run.
_PRECEDENCE = [AnalysisPhase.FAILED, AnalysisPhase.ERROR, AnalysisPhase.RUNNING, AnalysisPhase.INCONCLUSIVE]


def settle(run: AnalysisRunStatus) -> None:
    """The run's phase and message from its metrics'."""
    if not run.metrics:  # nothing measured is never a success
        run.phase, run.message = AnalysisPhase.ERROR, "the templates hold no metric"
        return
    phases = {m.phase for m in run.metrics}
    run.phase = next((p for p in _PRECEDENCE if p in phases), AnalysisPhase.SUCCESSFUL)
    run.message = "; ".join(_account(m) for m in run.metrics if m.phase is run.phase and run.phase is not AnalysisPhase.RUNNING)
    if run.phase is not AnalysisPhase.RUNNING:
        for m in run.metrics:
            m.next_measurement_at = None  # the run is over: nothing more is measured


def _account(metric: MetricStatus) -> str:
    """What a user reads in an Event: which metric, what it measured, how often it failed."""
    last = metric.measurements[-1] if metric.measurements else None
    value = f", last value {last.value}" if last is not None and last.value is not None else ""
    detail = f" ({last.message})" if last is not None and last.message else ""
    counts = {
        AnalysisPhase.FAILED: f"{metric.failed} of {metric.count} measurements failed",
        AnalysisPhase.ERROR: f"{metric.consecutive_errors} errors in a row",
        AnalysisPhase.INCONCLUSIVE: f"{metric.inconclusive} of {metric.count} measurements inconclusive",
        AnalysisPhase.SUCCESSFUL: f"{metric.successful} of {metric.count} measurements successful",
    }[metric.phase]
    return f"metric {metric.template}/{metric.name}: {counts}{value}{detail}"


def _delta(duration: str | None) -> timedelta:
    return timedelta(seconds=seconds_of(duration) or 0)
