from shiftlane.api.spec import Recreate
from shiftlane.engine.steps import Finish, Plan, Role, Scale, TrafficMode


def compile_recreate(config: Recreate, replicas: int) -> Plan:
    steps = (Scale(Role.STABLE, 0), Scale(Role.CANARY, replicas), Finish(0))
    return Plan(steps, TrafficMode.SHARE, full_promotion_index=0)
