from shiftlane.api.spec import Rolling
from shiftlane.engine.replicas import resolve, rolling_counts
from shiftlane.engine.steps import Finish, Plan, Role, Scale, TrafficMode
from shiftlane.engine.strategies.common import PlanBuilder


def compile_rolling(config: Rolling, replicas: int) -> Plan:
    """Deployment-style: never more than replicas+surge pods, never fewer than replicas-unavailable available.

    A step's meaning is the share of new pods it reaches (in percent), so a new replica count
    resumes at the same share.
    """
    plan = PlanBuilder(replicas, TrafficMode.SHARE)
    plan.mark_full_promotion()  # nothing to skip: every step keeps capacity
    surge = resolve(config.max_surge, replicas, round_up=True)
    unavailable = resolve(config.max_unavailable, replicas, round_up=False)
    for new, old in rolling_counts(replicas, surge, unavailable):
        reached = (100 * new) // replicas
        plan.add(reached, Scale(Role.CANARY, new), Scale(Role.STABLE, old))
    plan.add(100, Finish(0))
    return plan.build()
