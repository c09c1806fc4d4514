from shiftlane.api.spec import Rolling
from shiftlane.engine.steps import Finish, Plan, Role, Scale, Step, TrafficMode
from shiftlane.engine.strategies.common import resolve


def compile_rolling(config: Rolling, replicas: int) -> Plan:
    """Deployment-style: never more than replicas+surge pods, never fewer than replicas-unavailable available."""
    surge = resolve(config.max_surge, replicas, round_up=True)
    unavailable = resolve(config.max_unavailable, replicas, round_up=False)
    if surge == 0 and unavailable == 0:
        surge = 1  # as a Deployment does when both round to zero
    steps: list[Step] = []
    canary, stable = 0, replicas
    while canary < replicas or stable > 0:
        grown = min(replicas, replicas + surge - stable)
        if grown > canary:
            canary = grown
            steps.append(Scale(Role.CANARY, canary))
        shrunk = 0 if canary == replicas else min(stable, max(0, replicas - unavailable - canary))
        if shrunk < stable:
            stable = shrunk
            steps.append(Scale(Role.STABLE, stable))
    steps.append(Finish(0))
    return Plan(tuple(steps), TrafficMode.SHARE, full_promotion_index=0)
