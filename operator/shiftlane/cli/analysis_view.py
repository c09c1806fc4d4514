"""`status.analysisRuns` as `kubectl shiftlane get` shows it: each run's phase, and per metric its
last values. Read leniently (every field optional): the view must never fail on a status written by
an older or newer operator."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, ValidationError

from shiftlane.api.spec import Model


class _Lenient(Model):
    model_config = ConfigDict(extra="ignore", frozen=True)


class MeasurementView(_Lenient):
    phase: str = "?"
    value: Any = None
    message: str | None = None


class MetricView(_Lenient):
    name: str = "?"
    phase: str = "?"
    count: int = 0
    successful: int = 0
    failed: int = 0
    inconclusive: int = 0
    errors: int = 0
    measurements: list[MeasurementView] = Field(default_factory=list)


class AnalysisRunView(_Lenient):
    key: str = ""
    kind: str = "step"
    templates: list[str] = Field(default_factory=list)
    phase: str = "?"
    message: str | None = None
    metrics: list[MetricView] = Field(default_factory=list)


def analysis_runs(raw_status: dict[str, Any]) -> list[AnalysisRunView]:
    runs = []
    for raw in raw_status.get("analysisRuns") or []:
        try:
            runs.append(AnalysisRunView.model_validate(raw))
        except ValidationError:
            runs.append(AnalysisRunView(key=str((raw or {}).get("key", "?")) if isinstance(raw, dict) else "?",
                                        message="unreadable"))
    return runs


def _value(measurement: MeasurementView) -> str:
    if measurement.value is None:
        return measurement.message or measurement.phase
    return str(measurement.value)


def analysis_lines(runs: list[AnalysisRunView], last: int = 3) -> list[str]:
    lines = []
    for run in runs:
        what = ", ".join(run.templates) or "-"
        head = f"  {run.key or '-'}  {run.kind}  {what}: {run.phase}"
        lines.append(head + (f" ({run.message})" if run.message else ""))
        for metric in run.metrics:
            values = ", ".join(_value(m) for m in metric.measurements[-last:]) or "no measurement yet"
            tally = f"{metric.successful} ok, {metric.failed} failed, {metric.inconclusive} inconclusive, {metric.errors} errors"
            lines.append(f"    {metric.name}: {metric.phase}; last: {values}  ({tally})")
    return lines
