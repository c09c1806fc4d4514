"""Adoption arithmetic: how many pods the Deployment named by spec.workloadRef keeps while the Rollout's
revisions take over its work (tests/unit/test_adoption.py: a table, and a property that ready
capacity never drops below what is wanted)."""

from __future__ import annotations

from dataclasses import dataclass

from shiftlane.api.spec import RolloutSpec
from shiftlane.api.status import WorkloadStatus
from shiftlane.engine.model import Adoption, Event, Observation


def workload_replicas(scale_down: str, spec_replicas: int, wanted: int, available: int) -> int | None:
    """The adopted Deployment's replicas when the Rollout wants `wanted` pods and its revisions have
    `available` of them; None leaves the Deployment alone.

    never: untouched. onSuccess: all it runs until the revisions are whole, then none.
    progressively: what the revisions cannot serve yet. Never more than it runs now: adoption only
    shrinks it, and a Deployment scales an unready pod down before a ready one, so its ready pods
    that the revisions still need stay.
    """
    if scale_down == "never":
        return None
    if scale_down == "onSuccess":
        short = spec_replicas if available < wanted else 0
    else:
        short = max(0, wanted - available)
    return max(0, min(spec_replicas, short))


@dataclass(frozen=True)
class Outcome:
    adoption: Adoption
    status: WorkloadStatus
    events: tuple[Event, ...]


def serving(spec: RolloutSpec, previous: WorkloadStatus | None, observation: Observation) -> bool:
    """Whether the adopted Deployment may still get requests: it runs (or is told to run) pods, and has
    not been seen without any since the Rollout took over."""
    workload = observation.workload
    if spec.workload_ref is None or workload is None:
        return False
    if previous is not None and previous.name == workload.name and previous.adopted:
        return False
    return workload.replicas > 0 or workload.spec_replicas > 0


def adopt(spec: RolloutSpec, previous: WorkloadStatus | None, observation: Observation) -> Outcome | None:
    """The adopted Deployment's replicas, its status, and an Event for each change."""
    ref, workload = spec.workload_ref, observation.workload
    if ref is None or workload is None:
        return None
    still_serving = serving(spec, previous, observation)
    available = sum(o.available for o in observation.revisions.values())
    replicas = workload_replicas(ref.scale_down, workload.spec_replicas, spec.replicas, available)
    if not still_serving and replicas is not None:
        replicas = 0  # adopted: a count set again later (say, by a GitOps sync) goes back to zero
    events = []
    if replicas is not None and replicas < workload.spec_replicas:
        events.append(Event("WorkloadScaledDown", f"Deployment {workload.name}: {workload.spec_replicas} -> {replicas} replicas"
                            f" ({available} of {spec.replicas} pods of the Rollout available)"))
    was_adopted = previous is not None and previous.name == workload.name and previous.adopted
    if not still_serving and not was_adopted:
        events.append(Event("WorkloadAdopted", f"Deployment {workload.name} runs no pod: the Rollout's revisions serve alone"))
    status = WorkloadStatus(name=workload.name, replicas=workload.spec_replicas, ready_replicas=workload.ready,
                            adopted=not still_serving)
    return Outcome(Adoption(replicas, still_serving), status, tuple(events))
