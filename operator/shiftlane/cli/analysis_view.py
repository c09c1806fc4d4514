"""`status.analysisRuns` as `kubectl shiftlane get` shows it: each run's phase, and per metric its last values."""

from __future__ import annotations

from shiftlane.api.status import AnalysisRunStatus, MeasurementStatus


def _value(measurement: MeasurementStatus) -> str:
    if measurement.value is None:
        return measurement.message or measurement.phase.value
    return measurement.value


def analysis_lines(runs: list[AnalysisRunStatus], last: int = 3) -> list[str]:
    lines = []
    for run in runs:
        head = f"  {run.key}  {', '.join(run.templates) or '-'}: {run.phase.value}"
        lines.append(head + (f" ({run.message})" if run.message else ""))
        for metric in run.metrics:
            values = ", ".join(_value(m) for m in metric.measurements[-last:]) or "no measurement yet"
            tally = f"{metric.successful} ok, {metric.failed} failed, {metric.inconclusive} inconclusive, {metric.errors} errors"
            lines.append(f"    {metric.template}/{metric.name}: {metric.phase.value}; last: {values}  ({tally})")
    return lines
