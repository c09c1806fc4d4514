from shiftlane.api.spec import Immutable
from shiftlane.engine.steps import Finish, Plan, Role, Scale, SetWeight, TrafficMode
from shiftlane.engine.strategies.common import analysis_steps


def compile_immutable(config: Immutable, replicas: int) -> Plan:
    """A full new revision beside the old; traffic switches only once all of it is ready."""
    steps = (
        Scale(Role.CANARY, replicas),
        *analysis_steps(config.analysis),
        SetWeight(100),
        Finish(config.scale_down_delay_seconds),
    )
    return Plan(steps, TrafficMode.SWITCH, full_promotion_index=len(steps) - 2)
