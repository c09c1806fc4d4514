from shiftlane.api.durations import seconds_of
from shiftlane.api.spec import Shadow
from shiftlane.engine.steps import Pause, Plan, Role, Scale, SetMirror, TrafficMode
from shiftlane.engine.strategies.common import PlanBuilder, analysis_steps, promotion_tail


def compile_shadow(config: Shadow, replicas: int) -> Plan:
    """The canary sees a mirrored copy of live requests; its answers are dropped; then promote."""
    plan = PlanBuilder(replicas, TrafficMode.ROUTER)
    plan.add(0, Scale(Role.CANARY, min(replicas, config.canary_replicas)), SetMirror(config.mirror_percent))
    if config.duration or not config.analysis:
        plan.add(1, Pause(seconds_of(config.duration)))
    plan.add(2, *analysis_steps(config.analysis))
    plan.mark_full_promotion()
    plan.add(3, SetMirror(0), *promotion_tail(replicas, TrafficMode.ROUTER, config.scale_down_delay_seconds))
    return plan.build()
