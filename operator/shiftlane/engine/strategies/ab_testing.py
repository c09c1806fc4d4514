from shiftlane.api.durations import seconds_of
from shiftlane.api.spec import AbTesting
from shiftlane.engine.steps import Pause, Plan, Role, Scale, SetHeaderRoute, TrafficMode
from shiftlane.engine.strategies.common import PlanBuilder, analysis_steps, promotion_tail


def compile_ab_testing(config: AbTesting, replicas: int) -> Plan:
    """Only requests that match reach the canary, for a duration (or until promoted), then promote."""
    plan = PlanBuilder(replicas, TrafficMode.ROUTER)
    plan.add(0, Scale(Role.CANARY, min(replicas, config.canary_replicas)), SetHeaderRoute(tuple(config.match)))
    if config.duration or not config.analysis:
        plan.add(1, Pause(seconds_of(config.duration)))
    plan.add(2, *analysis_steps(config.analysis))
    plan.mark_full_promotion()
    plan.add(3, SetHeaderRoute(()), *promotion_tail(replicas, TrafficMode.ROUTER, config.scale_down_delay_seconds))
    return plan.build()
