from shiftlane.api.spec import RollingBatches
from shiftlane.engine.steps import Pause, Plan, Step, TrafficMode
from shiftlane.engine.strategies.common import analysis_steps, promotion_tail, resolve, seconds_of, shift_replicas


def compile_rolling_batches(config: RollingBatches, replicas: int) -> Plan:
    batch = max(1, resolve(config.batch_size, replicas, round_up=True))
    steps: list[Step] = []
    for canary in range(batch, replicas, batch):
        steps += shift_replicas(canary, replicas)
        if config.pause_between:
            steps.append(Pause(seconds_of(config.pause_between)))
        steps += analysis_steps(config.analysis)
    tail = promotion_tail(replicas, TrafficMode.SHARE)
    return Plan(tuple(steps + tail), TrafficMode.SHARE, full_promotion_index=len(steps))
