from shiftlane.api.spec import BlueGreen
from shiftlane.engine.steps import Finish, Pause, Plan, Role, Scale, SetWeight, Step, TrafficMode
from shiftlane.engine.strategies.common import analysis_steps


def compile_blue_green(config: BlueGreen, replicas: int) -> Plan:
    steps: list[Step] = [Scale(Role.CANARY, replicas), *analysis_steps(config.pre_promotion_analysis)]
    if not config.auto_promotion_enabled:
        steps.append(Pause(None))
    elif config.auto_promotion_seconds:
        steps.append(Pause(config.auto_promotion_seconds))
    full = len(steps)
    steps += [SetWeight(100), *analysis_steps(config.post_promotion_analysis), Finish(config.scale_down_delay_seconds)]
    return Plan(tuple(steps), TrafficMode.SWITCH, full_promotion_index=full)
