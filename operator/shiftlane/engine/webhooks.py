"""Where the gating webhooks sit in a compiled plan: they become steps, so `plan` shows them too."""

from __future__ import annotations

from dataclasses import replace

from shiftlane.api.spec import Webhook
from shiftlane.engine.steps import AwaitWebhook, Plan, Role, Scale, SetHeaderRoute, SetMirror, SetWeight, Step, TrafficMode


def with_webhooks(plan: Plan, webhooks: list[Webhook]) -> Plan:
    """confirmRollout before anything changes, preRollout before the canary first gets traffic,
    confirmPromotion before the promotion (where promote --full lands too)."""
    by_type: dict[str, tuple[str, ...]] = {}
    for hook in webhooks:
        by_type[hook.type] = by_type.get(hook.type, ()) + (hook.name,)
    # Inserted last to first, so each index still points where it was computed.
    for kind, index in sorted(
        (
            ("confirmPromotion", plan.full_promotion_index),
            ("preRollout", _first_traffic_index(plan)),
            ("confirmRollout", 0),
        ),
        key=lambda pair: -pair[1],
    ):
        if kind in by_type:
            plan = _insert(plan, index, AwaitWebhook(kind, by_type[kind]))
    return plan


def _first_traffic_index(plan: Plan) -> int:
    """The first step that lets users reach the new revision."""
    for index, step in enumerate(plan.steps):
        if plan.mode is TrafficMode.SHARE and isinstance(step, Scale) and step.role is Role.CANARY and step.replicas:
            return index
        if isinstance(step, SetWeight | SetMirror) and step.percent or isinstance(step, SetHeaderRoute) and step.matches:
            return index
    return 0


def _insert(plan: Plan, index: int, step: Step) -> Plan:
    origin = plan.origins[index] if index < len(plan.origins) else (plan.origins[-1] if plan.origins else 0)
    return replace(
        plan,
        steps=plan.steps[:index] + (step,) + plan.steps[index:],
        origins=plan.origins[:index] + (origin,) + plan.origins[index:],
        full_promotion_index=plan.full_promotion_index + (plan.full_promotion_index > index),
        background_from=plan.background_from + (plan.background_from > index),
    )
