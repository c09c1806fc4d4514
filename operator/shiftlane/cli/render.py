"""Text for humans: a Rollout's state and its compiled plan. Pure functions of plain data, no I/O."""

from __future__ import annotations

from collections.abc import Set
from typing import Any

from pydantic import ValidationError

from shiftlane.api.spec import RolloutSpec
from shiftlane.api.status import RolloutStatus, RouterStatus
from shiftlane.cli.problems import format_validation_error, spec_problem
from shiftlane.engine.plan import CompileError, compile_plan
from shiftlane.engine.steps import Plan, TrafficMode

DONE = "✔"
CURRENT = "▶"
ABORTED = "✖"

_MODE_TEXT = {
    TrafficMode.SHARE: "share (traffic follows the share of ready pods)",
    TrafficMode.SWITCH: "switch (all traffic moves to the new revision at once)",
    TrafficMode.ROUTER: "router (the traffic router holds the weights)",
}


# --- plans -----------------------------------------------------------------------------------


def _table(rows: list[list[str]], indent: str = "  ") -> list[str]:
    if not rows:
        return []
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    out = []
    for row in rows:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])] + [row[-1]]
        out.append((indent + "  ".join(cells)).rstrip())
    return out


def step_lines(plan: Plan, current: int | None = None, aborted: bool = False) -> list[str]:
    """The steps, numbered from 0 as status.currentStepIndex counts them; `current` marks progress."""
    rows = []
    for index, step in enumerate(plan.steps):
        if current is None:
            mark = " "
        elif index < current:
            mark = DONE
        elif index == current:
            mark = ABORTED if aborted else CURRENT
        else:
            mark = " "
        full = "  ← promote --full jumps here" if index == plan.full_promotion_index else ""
        rows.append(([mark] if current is not None else []) + [str(index), step.describe() + full])
    return _table(rows)


def render_plan(plan: Plan, name: str | None = None, spec: RolloutSpec | None = None) -> str:
    lines = []
    if name or spec:
        head = f"Rollout {name}" if name else "Rollout"
        if spec is not None:
            head += f": strategy {spec.strategy.name}, {spec.replicas} replicas"
        lines.append(head)
    lines.append(f"Traffic mode: {_MODE_TEXT.get(plan.mode, plan.mode.value)}")
    lines.append("Steps:")
    lines += step_lines(plan)
    if plan.full_promotion_index < len(plan.steps):
        lines.append(f"promote --full jumps to step {plan.full_promotion_index}")
    if plan.note:
        lines.append(f"Note: {plan.note}")
    return "\n".join(lines) + "\n"


def plan_for(spec: RolloutSpec, step_count: int | None = None, routers: Set[str] | None = None) -> Plan:
    """The plan the operator walks. Which routers the operator drives is not in the Rollout, so when the
    status says how many steps it has, pick the compilation that agrees with it."""
    if routers is not None:
        return compile_plan(spec, routers=frozenset(routers))
    routing = spec.strategy.traffic_routing
    candidates = [frozenset()] + ([frozenset({routing.router})] if routing is not None else [])
    plans: list[Plan] = []
    error: CompileError | None = None
    for candidate in candidates:
        try:
            plans.append(compile_plan(spec, routers=candidate))
        except CompileError as exc:
            error = exc
    if not plans:
        assert error is not None
        raise error
    if step_count is not None:
        for plan in plans:
            if len(plan.steps) == step_count:
                return plan
    return plans[0]


# --- a Rollout -------------------------------------------------------------------------------


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
    lines = [f"Router:      {router.name}, read back: {', '.join(held)}"]
    lines += [f"  {obj}" for obj in router.objects]
    return lines


def render_rollout(rollout: dict[str, Any], routers: Set[str] | None = None) -> str:
    meta = rollout.get("metadata") or {}
    name = meta.get("name", "?")
    namespace = meta.get("namespace")
    lines = [f"Name:        {namespace + '/' if namespace else ''}{name}"]

    raw_status = rollout.get("status") or {}
    try:
        status = RolloutStatus.model_validate(raw_status)
    except ValidationError as error:
        lines.append("Status:      unreadable\n" + format_validation_error(error, "status"))
        status = RolloutStatus()

    spec: RolloutSpec | None = None
    spec_error = ""
    try:
        spec = RolloutSpec.model_validate(rollout.get("spec") or {})
        spec_error = spec_problem(spec) or ""
    except ValidationError as error:
        spec_error = "invalid spec:\n" + format_validation_error(error)

    strategy = status.strategy or (spec.strategy.name if spec is not None and not spec_error else "?")
    generation = meta.get("generation")
    observed = status.observed_generation
    lines += [
        f"Strategy:    {strategy}",
        f"Phase:       {status.phase.value}" + (" (aborted)" if status.aborted and status.phase.value != "Aborted" else ""),
        f"Message:     {status.message or '-'}",
    ]
    if generation is not None:
        lag = "" if observed == generation else " (not yet observed)" if observed is None else f" (observed {observed})"
        lines.append(f"Generation:  {generation}{lag}")
    if spec is not None:
        images = ", ".join(f"{c.name}={c.image}" for c in spec.template.spec.containers)
        lines.append(f"Images:      {images}")
    lines += [
        f"Stable:      {status.stable_revision or '-'}",
        f"Canary:      {status.canary_revision or '-'}",
        f"Replicas:    {status.ready_replicas}/{status.replicas} ready"
        + (f", {spec.replicas} desired" if spec is not None else ""),
        f"Traffic:     {_traffic(status)}",
    ]
    if status.router is not None:
        lines += _router(status.router)
    if status.paused_by_user:
        lines.append("Paused:      by user (kubectl shiftlane resume)")
    if status.command is not None and status.command.id != status.handled_command_id:
        lines.append(f"Command:     {status.command.name} requested, not yet handled")

    if status.revisions:
        lines.append("Revisions:")
        rows = [["REVISION", "ROLE", "REPLICAS", "READY", "WEIGHT"]]
        for rev in status.revisions:
            role = (
                "stable" if rev.name == status.stable_revision
                else "canary" if rev.name == status.canary_revision
                else "old" if rev.name == status.scale_down_revision
                else ""
            )
            rows.append([rev.name, role or "-", str(rev.replicas), str(rev.ready_replicas), f"{rev.weight}%"])
        lines += _table(rows)

    if status.images:
        lines.append("Image digests:")
        rows = [["CONTAINER", "TAG", "DIGEST"]] + [[i.container, i.tag or "-", i.digest] for i in status.images]
        lines += _table(rows)

    if status.conditions:
        lines.append("Conditions:")
        rows = [["TYPE", "STATUS", "REASON", "MESSAGE"]]
        rows += [[c.type, c.status, c.reason or "-", c.message or ""] for c in status.conditions]
        lines += _table(rows)

    lines.append("Steps:")
    if spec is None or spec_error:
        lines.append(f"  cannot compile: {spec_error}")
    else:
        try:
            plan = plan_for(spec, status.step_count, routers)
        except CompileError as error:
            lines.append(f"  cannot compile: {error}")
        else:
            in_progress = status.current_step_index is not None and status.canary_revision is not None
            current = status.current_step_index if in_progress else None
            lines += step_lines(plan, current, aborted=status.aborted)
            if plan.note:
                lines.append(f"  note: {plan.note}")
    return "\n".join(lines) + "\n"
