from shiftlane.api.spec import AbTesting
from shiftlane.engine.steps import Pause, Plan, Role, Scale, SetHeaderRoute, Step, TrafficMode
from shiftlane.engine.strategies.common import analysis_steps, promotion_tail, seconds_of


def compile_ab_testing(config: AbTesting, replicas: int) -> Plan:
    """Only requests that match reach the canary, for a duration (or until promoted), then promote."""
    steps: list[Step] = [
        Scale(Role.CANARY, min(replicas, config.canary_replicas)),
        SetHeaderRoute(tuple(config.match)),
    ]
    if config.duration or not config.analysis:
        steps.append(Pause(seconds_of(config.duration)))
    steps += analysis_steps(config.analysis)
    full = len(steps)
    steps += [SetHeaderRoute(()), *promotion_tail(replicas, TrafficMode.ROUTER)]
    return Plan(tuple(steps), TrafficMode.ROUTER, full_promotion_index=full)
