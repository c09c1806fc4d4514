from shiftlane.api.spec import Immutable
from shiftlane.engine.steps import Finish, Plan, Role, Scale, SetWeight, TrafficMode
from shiftlane.engine.strategies.common import PlanBuilder, analysis_steps


def compile_immutable(config: Immutable, replicas: int) -> Plan:
    """A full new revision beside the old; traffic switches only once all of it is ready."""
    plan = PlanBuilder(replicas, TrafficMode.SWITCH)
    plan.add(0, Scale(Role.CANARY, replicas))
    plan.add(1, *analysis_steps(config.analysis))
    plan.mark_full_promotion()
    plan.add(2, SetWeight(100), Finish(config.scale_down_delay_seconds))
    return plan.build()
