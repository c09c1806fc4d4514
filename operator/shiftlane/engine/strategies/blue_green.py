from shiftlane.api.spec import BlueGreen
from shiftlane.engine.steps import Finish, Pause, Plan, Role, Scale, SetWeight, TrafficMode
from shiftlane.engine.strategies.common import PlanBuilder, analysis_steps


def compile_blue_green(config: BlueGreen, replicas: int) -> Plan:
    plan = PlanBuilder(replicas, TrafficMode.SWITCH)
    plan.add(0, Scale(Role.CANARY, replicas))
    plan.add(1, *analysis_steps(config.pre_promotion_analysis))
    if not config.auto_promotion_enabled:
        plan.add(2, Pause(None))
    elif config.auto_promotion_seconds:
        plan.add(2, Pause(config.auto_promotion_seconds))
    plan.mark_full_promotion()
    plan.add(3, SetWeight(100))
    plan.add(4, *analysis_steps(config.post_promotion_analysis))
    plan.add(5, Finish(config.scale_down_delay_seconds))
    return plan.build()
