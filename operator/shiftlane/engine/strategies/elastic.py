from shiftlane.api.spec import Elastic
from shiftlane.engine.steps import Pause, Plan, Step, TrafficMode
from shiftlane.engine.strategies.common import analysis_steps, promotion_tail, seconds_of, share, shift_replicas


def compile_elastic(config: Elastic, replicas: int) -> Plan:
    """Steps are shares of the current replica count, so they follow an autoscaler that changes it.

    The plan is recompiled on every reconcile, so a new count from the scale subresource moves
    the current step's targets at once.
    """
    steps: list[Step] = []
    for percent in range(config.step_percent, 100, config.step_percent):
        steps += shift_replicas(share(replicas, percent), replicas)
        if config.pause_between:
            steps.append(Pause(seconds_of(config.pause_between)))
        steps += analysis_steps(config.analysis)
    tail = promotion_tail(replicas, TrafficMode.SHARE)
    return Plan(tuple(steps + tail), TrafficMode.SHARE, full_promotion_index=len(steps))
