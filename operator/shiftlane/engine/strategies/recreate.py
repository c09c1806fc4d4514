from shiftlane.api.spec import Recreate
from shiftlane.engine.steps import Finish, Plan, Role, Scale, TrafficMode
from shiftlane.engine.strategies.common import PlanBuilder


def compile_recreate(config: Recreate, replicas: int) -> Plan:
    """Old to zero (every old pod gone, terminating ones too), then the new one to full size."""
    plan = PlanBuilder(replicas, TrafficMode.SHARE)
    plan.mark_full_promotion()
    plan.add(0, Scale(Role.STABLE, 0), Scale(Role.CANARY, replicas), Finish(0))
    return plan.build()
