from shiftlane.api.durations import seconds_of
from shiftlane.api.spec import Canary
from shiftlane.engine.replicas import share
from shiftlane.engine.steps import Pause, Plan, Role, Scale, SetWeight, TrafficMode
from shiftlane.engine.strategies.common import (
    PlanBuilder,
    analysis_steps,
    promotion_tail,
    run_analysis,
    shift_replicas,
    shift_share,
)


def compile_canary(config: Canary, replicas: int, mode: TrafficMode, note: str = "") -> Plan:
    """User steps in order. Without a router a weight is a share of pods, so it becomes replica counts."""
    plan = PlanBuilder(replicas, mode)
    weight = 0
    for origin, step in enumerate(config.steps):
        if step.set_weight is not None:
            weight = step.set_weight
            if mode is TrafficMode.SHARE:
                plan.add(origin, *shift_share(replicas, weight))
            else:
                plan.add(origin, Scale(Role.CANARY, share(replicas, weight)), SetWeight(weight))
        elif step.set_canary_scale is not None:
            scale = step.set_canary_scale
            if scale.replicas is not None:
                count = min(replicas, scale.replicas)
            else:
                count = share(replicas, weight if scale.match_traffic_weight else scale.weight)
            if mode is TrafficMode.SHARE:
                # Both revisions serve until the promotion tail: the old keeps at least one pod.
                plan.add(origin, *shift_replicas(count, max(1, replicas - count) if replicas else 0))
            else:
                plan.add(origin, Scale(Role.CANARY, count))
        elif step.pause is not None:
            plan.add(origin, Pause(seconds_of(step.pause.duration)))
        else:
            plan.add(origin, *analysis_steps(step.analysis))
    plan.mark_full_promotion()
    delay = config.scale_down_delay_seconds if mode is TrafficMode.ROUTER else 0  # without a router, pods shift first
    plan.add(len(config.steps), *promotion_tail(replicas, mode, delay))
    background = run_analysis(config.analysis) if config.analysis else None
    return plan.build(note, background, config.analysis.starting_step if config.analysis else 0)
