"""A Rollout as `kubectl shiftlane get` shows it: phase, traffic, each revision with its images and
pods, the user's steps with the current one marked, analysis runs and events. Pure: the caller
fetches; with `now` unset the text leaves out what only ticks (ages, a pause's time left), which is
how `--watch` tells a change a user would see from the passing of time."""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from shiftlane.api.spec import RolloutSpec
from shiftlane.api.status import RolloutStatus, RouterStatus
from shiftlane.cli.analysis_view import analysis_lines
from shiftlane.cli.clock import ago
from shiftlane.cli.events import EventLine, event_rows
from shiftlane.cli.problems import format_problems, format_validation_error, spec_problems
from shiftlane.cli.progress import Progress, StageState, progress
from shiftlane.cli.render import plan_for, table
from shiftlane.cli.workload import Workload
from shiftlane.engine.plan import CompileError
from shiftlane.engine.steps import Plan


@dataclass(frozen=True)
class Scene:
    """A Rollout and what the cluster holds for it; `workload` / `events` are None when not fetched."""

    rollout: dict[str, Any]
    workload: Workload | None = None
    events: list[EventLine] | None = None
    routers: Set[str] | None = None
    events_error: str | None = None


@dataclass(frozen=True)
class ReadRollout:
    """The Rollout's spec and status as models, with what could not be read."""

    name: str
    status: RolloutStatus
    spec: RolloutSpec | None
    problems: str  # why the spec cannot be compiled ("" when it can)
    status_problems: str = ""

    def plan(self, routers: Set[str] | None) -> Plan | str:
        if self.spec is None or self.problems:
            return f"cannot compile: {self.problems}"
        try:
            return plan_for(self.spec, self.status.step_count, routers)
        except CompileError as error:
            return f"cannot compile: {error}"

    def progress(self, routers: Set[str] | None, now: datetime | None = None) -> Progress | str:
        plan = self.plan(routers)
        if isinstance(plan, str):
            return plan
        assert self.spec is not None
        return progress(self.spec, plan, self.status, now)


def read_rollout(rollout: dict[str, Any]) -> ReadRollout:
    meta = rollout.get("metadata") or {}
    name = f"{meta['namespace']}/{meta.get('name', '?')}" if meta.get("namespace") else str(meta.get("name", "?"))
    status_problems = ""
    try:
        status = RolloutStatus.model_validate(rollout.get("status") or {})
    except ValidationError as error:
        status_problems = format_validation_error(error, "status")
        status = RolloutStatus()
    try:
        spec: RolloutSpec | None = RolloutSpec.model_validate(rollout.get("spec") or {})
        problems = format_problems(spec_problems(spec)).strip()
    except ValidationError as error:
        spec, problems = None, "invalid spec:\n" + format_validation_error(error)
    return ReadRollout(name, status, spec, problems, status_problems)


# --- pieces --------------------------------------------------------------------------------------


def _traffic(status: RolloutStatus) -> str:
    parts = [f"stable {status.stable_weight}%"]
    if status.canary_revision:
        parts.append(f"canary {status.canary_weight}%")
    text = " / ".join(parts)
    if status.mirror_percent:
        text += f", mirror {status.mirror_percent}% to canary"
    if status.header_route:
        text += ", header route to canary"
    return text


def _router(router: RouterStatus) -> list[str]:
    """What the router's objects held when last read back, which may lag the Traffic line (the weights decided)."""
    held = [
        f"canary {router.canary_weight}%",
        "header route active" if router.header_route else "no header route",
        f"mirror {router.mirror_percent}%" if router.mirror_percent else "no mirror",
    ]
    return [f"Router:      {router.name}, read back: {', '.join(held)}"] + [f"  {obj}" for obj in router.objects]


def _role(status: RolloutStatus, revision: str) -> str:
    if revision == status.stable_revision:
        return "stable"
    if revision == status.canary_revision:
        return "aborted" if status.aborted else "canary"
    return "old" if revision == status.scale_down_revision else "-"


def _images(workload: Workload | None, revision: str | None) -> str:
    images = workload.images.get(revision or "") if workload else None
    return ", ".join(images) if images else "?"


def _serving(status: RolloutStatus, workload: Workload | None) -> list[str]:
    """After an abort, the question is which image serves: stable's, and the aborted one gets nothing."""
    if not status.aborted or not status.stable_revision:
        return []
    line = f"Serving:     {status.stable_revision} (stable): {_images(workload, status.stable_revision)}"
    if status.canary_revision:
        line += f"; aborted {status.canary_revision} ({_images(workload, status.canary_revision)}) gets "
        line += "no traffic" if status.canary_weight == 0 else f"{status.canary_weight}% until the router is back"
    return [line]


def _revisions(status: RolloutStatus, workload: Workload | None, now: datetime | None) -> list[str]:
    names = [rev.name for rev in status.revisions]
    lines: list[str] = []
    if status.revisions:
        lines.append("Revisions:")
        rows = [["REVISION", "ROLE", "REPLICAS", "READY", "WEIGHT", "IMAGES"]]
        rows += [[rev.name, _role(status, rev.name), str(rev.replicas), str(rev.ready_replicas), f"{rev.weight}%",
                  _images(workload, rev.name) if workload else "-"] for rev in status.revisions]
        lines += table(rows)
    if workload is None:
        return lines
    if workload.error:
        return lines + [f"Pods:        cannot be listed: {workload.error}"]
    pods = [(rev, pod) for rev in names + sorted(set(workload.pods) - set(names)) for pod in workload.pods.get(rev, ())]
    if pods:
        lines.append("Pods:")
        rows = [["REVISION", "POD", "READY", "STATUS", "RESTARTS"] + (["AGE"] if now else [])]
        for rev, pod in pods:
            state = "Terminating" if pod.terminating else pod.phase
            age = [ago(pod.created, now) if pod.created else "-"] if now else []
            rows.append([rev, pod.name, "yes" if pod.ready else "no", state, str(pod.restarts)] + age)
        lines += table(rows)
    return lines


def _steps(read: ReadRollout, scene: Scene, now: datetime | None) -> list[str]:
    shown = read.progress(scene.routers, now)
    if isinstance(shown, str):
        return ["Steps:", f"  {shown}"]
    lines = [f"Steps ({shown.position}):" if shown.in_progress else "Steps:"]
    for stage in shown.stages:
        mark = f"{stage.state.value} " if shown.in_progress else ""
        detail = f"  ({stage.detail})" if stage.detail else ""
        skipped = "  (skipped by promote)" if stage.state is StageState.SKIPPED else ""
        lines.append(f"  {mark}{stage.number}  {stage.text}{skipped}{detail}")
    plan = read.plan(scene.routers)
    if isinstance(plan, Plan) and plan.note:
        lines.append(f"  note: {plan.note}")
    return lines


# --- the whole view ------------------------------------------------------------------------------


def render_rollout(scene: Scene | dict[str, Any], routers: Set[str] | None = None, now: datetime | None = None) -> str:
    if isinstance(scene, dict):
        scene = Scene(scene, routers=routers)
    read = read_rollout(scene.rollout)
    status, spec = read.status, read.spec
    meta = scene.rollout.get("metadata") or {}
    lines = [f"Name:        {read.name}"]
    if read.status_problems:
        lines.append("Status:      unreadable\n" + read.status_problems)
    strategy = status.strategy or (spec.strategy.name if spec is not None and not read.problems else "?")
    phase = status.phase.value + (" (aborted)" if status.aborted and status.phase.value != "Aborted" else "")
    lines += [f"Strategy:    {strategy}", f"Phase:       {phase}", f"Message:     {status.message or '-'}"]
    generation, observed = meta.get("generation"), status.observed_generation
    if generation is not None:
        lag = "" if observed == generation else " (not yet observed)" if observed is None else f" (observed {observed})"
        lines.append(f"Generation:  {generation}{lag}")
    if spec is not None and spec.template is not None:
        lines.append(f"Images:      {', '.join(f'{c.name}={c.image}' for c in spec.template.spec.containers)}")
    if spec is not None and spec.workload_ref is not None:
        lines.append(f"Workload:    Deployment {spec.workload_ref.name} (scaleDown: {spec.workload_ref.scale_down})")
    lines += [f"Stable:      {status.stable_revision or '-'}", f"Canary:      {status.canary_revision or '-'}"]
    lines += _serving(status, scene.workload)
    lines += [
        f"Replicas:    {status.ready_replicas}/{status.replicas} ready" + (f", {spec.replicas} desired" if spec else ""),
        f"Traffic:     {_traffic(status)}",
    ]
    if status.router is not None:
        lines += _router(status.router)
    if status.paused_by_user:
        lines.append("Paused:      by user (kubectl shiftlane resume)")
    if status.command is not None and status.command.id != status.handled_command_id:
        lines.append(f"Command:     {status.command.name} requested, not yet handled")
    lines += _revisions(status, scene.workload, now)
    if status.images:
        lines.append("Image digests:")
        lines += table([["CONTAINER", "TAG", "DIGEST"]] + [[i.container, i.tag or "-", i.digest] for i in status.images])
    if status.conditions:
        lines.append("Conditions:")
        rows = [["TYPE", "STATUS", "REASON", "MESSAGE"]]
        lines += table(rows + [[c.type, c.status, c.reason or "-", c.message or ""] for c in status.conditions])
    lines += _steps(read, scene, now)
    if status.analysis_runs:
        lines += ["Analysis runs:"] + analysis_lines(status.analysis_runs)
    if scene.events:
        lines += ["Events:"] + table(event_rows(scene.events, now))
    elif scene.events_error:
        lines.append(f"Events:      cannot be listed: {scene.events_error}")
    return "\n".join(lines) + "\n"
