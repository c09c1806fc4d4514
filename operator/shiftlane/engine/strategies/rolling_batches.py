from shiftlane.api.durations import seconds_of
from shiftlane.api.spec import RollingBatches
from shiftlane.engine.replicas import batch_counts, resolve
from shiftlane.engine.steps import Pause, Plan, TrafficMode
from shiftlane.engine.strategies.common import PlanBuilder, analysis_steps, promotion_tail, shift_replicas


def compile_rolling_batches(config: RollingBatches, replicas: int) -> Plan:
    plan = PlanBuilder(replicas, TrafficMode.SHARE)
    counts = batch_counts(replicas, max(1, resolve(config.batch_size, replicas, round_up=True)))
    for origin, count in enumerate(counts):
        plan.add(origin, *shift_replicas(count, replicas - count))
        if config.pause_between:
            plan.add(origin, Pause(seconds_of(config.pause_between)))
        plan.add(origin, *analysis_steps(config.analysis))
    plan.mark_full_promotion()
    plan.add(len(counts), *promotion_tail(replicas, TrafficMode.SHARE))
    return plan.build()
