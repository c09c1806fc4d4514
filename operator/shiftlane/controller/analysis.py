"""The analysis runner: checks the templates a Rollout names, measures the runs the engine asked for,
and keeps each run's measurements in the Rollout's status (so a restart resumes, never restarts, a run).

Every measurement is awaited with its provider's timeout; none blocks the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from kubernetes_asyncio import client
from pydantic import BaseModel, ValidationError

from shiftlane.analysis.arguments import MissingArgument
from shiftlane.analysis.condition import InvalidCondition, assess, compile_condition
from shiftlane.analysis.measurement import Measurement, ProviderContext
from shiftlane.analysis.providers import measure as measure_with_provider
from shiftlane.analysis.run import Outcome, due, give_up, new_run, record, settle
from shiftlane.api.analysis import AnalysisTemplateSpec, Metric
from shiftlane.api.spec import Analysis, RolloutSpec
from shiftlane.api.status import ANALYSIS_RUNS_KEPT, AnalysisPhase, AnalysisRunStatus, RolloutStatus
from shiftlane.engine.model import AnalysisRequest, Event, Verdict
from shiftlane.engine.plan import CompileError, compile_plan
from shiftlane.engine.steps import RunAnalysis, TemplateName
from shiftlane.kube.labels import service_name

# A provider that has not finished (a Job still running) is asked again this much later.
PENDING_POLL_SECONDS = 2.0

_VERDICTS = {
    AnalysisPhase.RUNNING: Verdict.RUNNING,
    AnalysisPhase.SUCCESSFUL: Verdict.SUCCESSFUL,
    AnalysisPhase.INCONCLUSIVE: Verdict.INCONCLUSIVE,
    AnalysisPhase.FAILED: Verdict.FAILED,
    AnalysisPhase.ERROR: Verdict.FAILED,  # a provider that keeps failing never lets a rollout through
}

# (template reference, the Rollout's namespace) -> the template object, or None when there is none.
TemplateLookup = Callable[[TemplateName, str], Mapping[str, Any] | None]
Measure = Callable[..., Any]


@dataclass(frozen=True)
class Template:
    """A template as checked: its spec, or why it cannot be used."""

    name: str
    spec: AnalysisTemplateSpec | None
    error: str | None = None


def check_template(body: Mapping[str, Any]) -> Template:
    """Validate a template object and compile each of its conditions."""
    kind = body.get("kind", "AnalysisTemplate")
    name = f"{kind} {body['metadata']['name']}"
    try:
        spec = AnalysisTemplateSpec.model_validate(body.get("spec") or {})
    except ValidationError as error:
        return Template(name, None, f"{name} is invalid: {error.errors()[0]['msg']}")
    for metric in spec.metrics:
        for field_name in ("success_condition", "failure_condition"):
            expression = getattr(metric, field_name)
            if expression is None:
                continue
            try:
                compile_condition(expression)
            except InvalidCondition as error:
                alias = "successCondition" if field_name == "success_condition" else "failureCondition"
                return Template(name, None, f"{name}: metric {metric.name}: {alias} does not compile: {error}")
    return Template(name, spec)


def _declares_analysis(config: BaseModel) -> bool:
    """Whether a strategy's config (or one of its steps) names an analysis: most do not, and then no
    reconcile pays for compiling the plan here."""
    for name in type(config).model_fields:
        value = getattr(config, name)
        if isinstance(value, Analysis):
            return True
        if isinstance(value, list) and any(isinstance(item, BaseModel) and _declares_analysis(item) for item in value):
            return True
    return False


def analyses_of(spec: RolloutSpec) -> list[RunAnalysis]:
    """Every analysis the Rollout's strategy names, as compiled (steps and background)."""
    if not _declares_analysis(spec.strategy.config):
        return []
    try:
        plan = compile_plan(spec, frozenset({spec.strategy.traffic_routing.router}) if spec.strategy.traffic_routing else frozenset())
    except CompileError:
        return []
    found = [s for s in plan.steps if isinstance(s, RunAnalysis)]
    return found + ([plan.background] if plan.background else [])


def templates_named(spec: RolloutSpec) -> set[TemplateName]:
    """The templates a Rollout's strategy names (a change of one may unblock it)."""
    return {ref for analysis in analyses_of(spec) for ref in analysis.templates}


@dataclass
class AnalysisRunner:
    api: client.ApiClient | None
    measure: Measure = measure_with_provider
    _checked: dict[tuple[str, int], Template] = field(default_factory=dict)

    async def template(self, ref: TemplateName, namespace: str, lookup: TemplateLookup) -> Template:
        """The template checked once per generation (compiling a condition is a call to the CEL child process)."""
        body = lookup(ref, namespace)
        if body is None:
            where = "ClusterAnalysisTemplate " if ref.cluster_scope else f"AnalysisTemplate {namespace}/"
            return Template(ref.name, None, f"{where}{ref.name} not found")
        meta = body["metadata"]
        key = (meta.get("uid", ref.name), meta.get("generation", 0))
        if key not in self._checked:
            if len(self._checked) > 4096:  # templates edited many times: start the cache over
                self._checked.clear()
            self._checked[key] = await asyncio.to_thread(check_template, body)
        return self._checked[key]

    async def problem(self, namespace: str, spec: RolloutSpec, lookup: TemplateLookup) -> str | None:
        """Why an analysis the strategy names cannot run: a template missing, invalid, or an argument without a value."""
        for analysis in analyses_of(spec):
            given = dict(analysis.args)
            for ref in analysis.templates:
                template = await self.template(ref, namespace, lookup)
                if template.error:
                    return template.error
                unset = [a.name for a in template.spec.args if a.value is None and a.value_from is None and a.name not in given]
                if unset:
                    return f"{template.name}: argument {', '.join(unset)} has no value; give it in the Rollout's analysis args"
        return None

    async def measure_due(self, rollout: Mapping[str, Any], spec: RolloutSpec, status: RolloutStatus,
                          lookup: TemplateLookup, now: datetime) -> list[Event]:
        """Take every measurement that is due, at once, and record it in `status.analysis_runs`; an Event
        for each metric whose provider starts failing (once per run of errors, not per error)."""
        namespace = rollout["metadata"]["namespace"]
        work = []
        for run in status.analysis_runs:
            for metric_status in due(run, now):
                work.append(self._measure_one(rollout, spec, status, run, metric_status, lookup, namespace, now))
        if not work:
            return []
        await asyncio.gather(*work)
        events = []
        for run in status.analysis_runs:
            settle(run)
            for m in run.metrics:
                last = m.measurements[-1] if m.measurements else None
                if m.consecutive_errors == 1 and last is not None and last.phase is AnalysisPhase.ERROR and last.finished_at >= now:
                    events.append(Event("AnalysisMeasurementError", f"metric {m.template}/{m.name}: {last.message}", "Warning"))
        return events

    async def _measure_one(self, rollout, spec, status, run, metric_status, lookup, namespace, now) -> None:
        ref = next((r for a in analyses_of(spec) for r in a.templates if r.name == metric_status.template), None)
        template = await self.template(ref, namespace, lookup) if ref else None
        metric = _metric(template, metric_status.name)
        if metric is None:
            why = template.error if template and template.error else f"metric {metric_status.name} is no longer in {metric_status.template}"
            give_up(metric_status, why, now)
            return
        try:
            args = _arguments(rollout, status, template.spec, _given(spec, run.key, status))
            context = ProviderContext(
                namespace=namespace,
                run_name=_run_name(rollout["metadata"]["name"], run.key, metric.name, metric_status.count + metric_status.errors),
                owner=_owner(rollout),
                api=self.api,
            )
            measurement: Measurement = await self.measure(metric.provider, args, context)
        except MissingArgument as error:
            measurement = Measurement(error=f"argument {error} has no value")
        finished = datetime.now(timezone.utc)
        if measurement.pending:
            metric_status.next_measurement_at = now + timedelta(seconds=PENDING_POLL_SECONDS)
            return
        verdict = await asyncio.to_thread(assess, measurement, metric.success_condition, metric.failure_condition)
        record(metric_status, metric, Outcome(
            phase=AnalysisPhase(verdict.phase.value), started_at=now, finished_at=max(finished, now),
            value=_value_text(measurement.value), message=verdict.message, query=measurement.query,
        ))

    async def track(self, status: RolloutStatus, requests: Iterable[AnalysisRequest], namespace: str,
                    lookup: TemplateLookup, now: datetime) -> float | None:
        """Start the runs the engine asked for, pause the others, keep the newest few; seconds to the next measurement."""
        requested = {r.key: r for r in requests}
        known = {run.key for run in status.analysis_runs}
        for key, request in requested.items():
            if key in known:
                continue
            pairs = []
            for ref in request.analysis.templates:
                template = await self.template(ref, namespace, lookup)
                pairs += [(ref.name, m) for m in (template.spec.metrics if template.spec else [])]
            status.analysis_runs.append(new_run(key, [str(t) for t in request.analysis.templates], pairs, now))
        for run in status.analysis_runs:
            if run.key in requested:
                for m in run.metrics:
                    if m.phase is AnalysisPhase.RUNNING and m.next_measurement_at is None:
                        m.next_measurement_at = now  # asked for again: measure at once
            else:
                for m in run.metrics:
                    m.next_measurement_at = None  # no longer asked for: nothing more is measured
        # Oldest first out, but never a run still asked for.
        while len(status.analysis_runs) > ANALYSIS_RUNS_KEPT:
            victim = next((r for r in status.analysis_runs if r.key not in requested), status.analysis_runs[0])
            status.analysis_runs.remove(victim)
        upcoming = [m.next_measurement_at for r in status.analysis_runs for m in r.metrics if m.next_measurement_at]
        return max(0.0, (min(upcoming) - now).total_seconds()) if upcoming else None


def verdicts(status: RolloutStatus) -> dict[str, Verdict]:
    return {run.key: _VERDICTS[run.phase] for run in status.analysis_runs}


def _given(spec: RolloutSpec, key: str, status: RolloutStatus) -> dict[str, str]:
    """The args the Rollout gives, from whichever of its analyses names the run's templates."""
    run = next((r for r in status.analysis_runs if r.key == key), None)
    for analysis in analyses_of(spec):
        if run is not None and [str(t) for t in analysis.templates] == run.templates:
            return dict(analysis.args)
    return {}


def _metric(template: Template | None, name: str) -> Metric | None:
    if template is None or template.spec is None:
        return None
    return next((m for m in template.spec.metrics if m.name == name), None)


def _arguments(rollout: Mapping[str, Any], status: RolloutStatus, spec: AnalysisTemplateSpec, given: Mapping[str, str]) -> dict[str, str]:
    name, namespace = rollout["metadata"]["name"], rollout["metadata"]["namespace"]
    from_rollout = {
        "namespace": namespace,
        "name": name,
        "stableRevision": status.stable_revision or "",
        "canaryRevision": status.canary_revision or "",
        "stableService": service_name(name, "stable"),
        "canaryService": service_name(name, "canary"),
        "service": service_name(name, ""),
    }
    values: dict[str, str] = {}
    for arg in spec.args:
        if arg.name in given:
            values[arg.name] = given[arg.name]
        elif arg.value_from is not None:
            values[arg.name] = from_rollout[arg.value_from]
        elif arg.value is not None:
            values[arg.name] = arg.value
    return values


def _value_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return json.dumps(value, default=str, separators=(",", ":"))


def _run_name(rollout: str, key: str, metric: str, ordinal: int) -> str:
    """A DNS-1123 label unique to one measurement (a Job's name), stable across its polls."""
    digest = hashlib.sha256(f"{rollout}/{key}/{metric}/{ordinal}".encode()).hexdigest()[:10]
    return f"{rollout[:40]}-{metric[:11]}-{digest}".replace("--", "-")


def _owner(rollout: Mapping[str, Any]) -> dict[str, Any]:
    meta = rollout["metadata"]
    return {"apiVersion": rollout.get("apiVersion", "shiftlane.io/v1alpha1"), "kind": "Rollout",
            "name": meta["name"], "uid": meta["uid"], "controller": True, "blockOwnerDeletion": True}
