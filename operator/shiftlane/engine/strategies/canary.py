from shiftlane.api.spec import Canary
from shiftlane.engine.steps import Pause, Plan, Role, Scale, SetWeight, Step, TrafficMode
from shiftlane.engine.strategies.common import analysis_steps, promotion_tail, seconds_of, share, shift_replicas


def compile_canary(config: Canary, replicas: int, mode: TrafficMode) -> Plan:
    """User steps in order. Without a router a weight is a share of pods, so it becomes replica counts."""
    steps: list[Step] = []
    weight = 0
    for step in config.steps:
        if step.set_weight is not None:
            weight = step.set_weight
            if mode is TrafficMode.SHARE:
                steps += shift_replicas(share(replicas, weight), replicas)
            else:
                steps += [Scale(Role.CANARY, share(replicas, weight)), SetWeight(weight)]
        elif step.set_canary_scale is not None:
            scale = step.set_canary_scale
            if scale.replicas is not None:
                count = min(replicas, scale.replicas)
            else:
                count = share(replicas, weight if scale.match_traffic_weight else scale.weight)
            steps += shift_replicas(count, replicas) if mode is TrafficMode.SHARE else [Scale(Role.CANARY, count)]
        elif step.pause is not None:
            steps.append(Pause(seconds_of(step.pause.duration)))
        else:
            steps += analysis_steps(step.analysis)
    tail = promotion_tail(replicas, mode)
    return Plan(tuple(steps + tail), mode, full_promotion_index=len(steps))
