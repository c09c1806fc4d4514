"""Text for humans: a compiled plan, and the tables both views use. Pure functions of plain data, no I/O."""

from __future__ import annotations

from collections.abc import Set

from shiftlane.api.spec import RolloutSpec
from shiftlane.engine.plan import CompileError, compile_plan
from shiftlane.engine.steps import Plan, TrafficMode


_MODE_TEXT = {
    TrafficMode.SHARE: "share (traffic follows the share of ready pods)",
    TrafficMode.SWITCH: "switch (all traffic moves to the new revision at once)",
    TrafficMode.ROUTER: "router (the traffic router holds the weights)",
}


# --- plans -----------------------------------------------------------------------------------


def table(rows: list[list[str]], indent: str = "  ") -> list[str]:
    if not rows:
        return []
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    out = []
    for row in rows:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])] + [row[-1]]
        out.append((indent + "  ".join(cells)).rstrip())
    return out


def step_lines(plan: Plan) -> list[str]:
    """The compiled steps, numbered from 0 as status.currentStepIndex counts them."""
    rows = []
    for index, step in enumerate(plan.steps):
        full = "  ← promote --full jumps here" if index == plan.full_promotion_index else ""
        rows.append([str(index), step.describe() + full])
    return table(rows)


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
