from shiftlane.api.durations import seconds_of
from shiftlane.api.spec import Elastic
from shiftlane.engine.replicas import elastic_counts
from shiftlane.engine.steps import Pause, Plan, TrafficMode
from shiftlane.engine.strategies.common import PlanBuilder, analysis_steps, promotion_tail, shift_replicas


def compile_elastic(config: Elastic, replicas: int) -> Plan:
    """Steps are shares of the current replica count, so they follow an autoscaler that changes it:
    the plan is recompiled on every reconcile and a new count resumes at the same step."""
    plan = PlanBuilder(replicas, TrafficMode.SHARE)
    counts = elastic_counts(replicas, config.step_percent)
    for origin, count in enumerate(counts):
        plan.add(origin, *shift_replicas(count, replicas - count))
        if config.pause_between:
            plan.add(origin, Pause(seconds_of(config.pause_between)))
        plan.add(origin, *analysis_steps(config.analysis))
    plan.mark_full_promotion()
    plan.add(len(counts), *promotion_tail(replicas, TrafficMode.SHARE))
    return plan.build()
