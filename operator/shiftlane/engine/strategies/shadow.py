from shiftlane.api.spec import Shadow
from shiftlane.engine.steps import Pause, Plan, Role, Scale, SetMirror, Step, TrafficMode
from shiftlane.engine.strategies.common import analysis_steps, promotion_tail, seconds_of


def compile_shadow(config: Shadow, replicas: int) -> Plan:
    """The canary sees a mirrored copy of live requests; its answers are dropped; then promote."""
    steps: list[Step] = [
        Scale(Role.CANARY, min(replicas, config.canary_replicas)),
        SetMirror(config.mirror_percent),
    ]
    if config.duration or not config.analysis:
        steps.append(Pause(seconds_of(config.duration)))
    steps += analysis_steps(config.analysis)
    full = len(steps)
    steps += [SetMirror(0), *promotion_tail(replicas, TrafficMode.ROUTER)]
    return Plan(tuple(steps), TrafficMode.ROUTER, full_promotion_index=full)
