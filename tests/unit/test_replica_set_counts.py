"""A revision's pod counts come from its ReplicaSet only when that is unambiguously the fresher view of
the Deployment's pods; otherwise from the Deployment's status, as before ReplicaSets were watched."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shiftlane.kube.labels import REVISION_LABEL, REVISION_NUMBER, ROLLOUT_LABEL
from shiftlane.kube.replica_sets import PodCounts, ReplicaSetView, revision_counts, slim_replica_set
from shiftlane.kube.revisions import observe_revision, slim_deployment

UID, OLD_UID, OTHER_UID = "uid-web-abc", "uid-web-abc-before", "uid-web-def"


def deployment(spec: int = 4, counts: tuple[int, int, int] = (4, 2, 1), version: int = 100, uid: str = UID) -> dict[str, Any]:
    """A revision Deployment as the watch delivers it (slimmed as the index keeps it)."""
    replicas, ready, available = counts
    return slim_deployment({
        "metadata": {
            "name": "web-abc", "uid": uid, "resourceVersion": str(version),
            "labels": {ROLLOUT_LABEL: "web", REVISION_LABEL: "abc"}, "annotations": {REVISION_NUMBER: "2"},
        },
        "spec": {"replicas": spec},
        "status": {"replicas": replicas, "readyReplicas": ready, "availableReplicas": available, "observedGeneration": 3},
    })


def replica_set(
    spec: int = 4, counts: tuple[int, int, int] = (4, 4, 3), version: int = 101, generation: int = 2,
    observed: int | None = None, owner: str | None = UID, deleting: bool = False,
) -> ReplicaSetView:
    """A ReplicaSet as the API server sends it, through the same slimming the index uses."""
    replicas, ready, available = counts
    meta: dict[str, Any] = {
        "name": "web-abc-7d9f", "generation": generation, "resourceVersion": str(version),
        "labels": {ROLLOUT_LABEL: "web", REVISION_LABEL: "abc", "pod-template-hash": "7d9f"},
    }
    if owner is not None:
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web-abc", "uid": owner, "controller": True}]
    if deleting:
        meta["deletionTimestamp"] = "2026-11-28T10:00:00Z"
    return slim_replica_set({
        "metadata": meta,
        "spec": {"replicas": spec, "minReadySeconds": 10},
        "status": {
            "replicas": replicas, "readyReplicas": ready, "availableReplicas": available, "fullyLabeledReplicas": replicas,
            "observedGeneration": generation if observed is None else observed,
        },
    })


DEPLOYMENT_COUNTS = PodCounts(4, 2, 1)
RS_COUNTS = PodCounts(4, 4, 3)

CASES = [
    # (why, deployment, its ReplicaSets in the index, the counts used)
    ("one caught-up ReplicaSet, written after the Deployment: its counts, a hop sooner",
     deployment(), [replica_set()], RS_COUNTS),
    ("its status not yet computed for its current spec (observedGeneration behind)",
     deployment(), [replica_set(observed=1)], DEPLOYMENT_COUNTS),
    ("scale-up not carried over yet: the ReplicaSet is still told 4 while the Deployment is told 6",
     deployment(spec=6), [replica_set(spec=4)], DEPLOYMENT_COUNTS),
    ("scale-down not carried over yet: the ReplicaSet still shows the old size",
     deployment(spec=2), [replica_set(spec=4)], DEPLOYMENT_COUNTS),
    ("scale-down carried over: the pods it is deleting still show in replicas, so nothing looks settled at 2",
     deployment(spec=2, counts=(4, 4, 4)), [replica_set(spec=2, counts=(3, 3, 3), generation=3)], PodCounts(3, 3, 3)),
    ("scale-up carried over: only the pods it has made so far",
     deployment(spec=6, counts=(4, 4, 4)), [replica_set(spec=6, counts=(6, 5, 4), generation=3)], PodCounts(6, 5, 4)),
    ("drifted template: a second ReplicaSet of the same Deployment; the Deployment sums both",
     deployment(), [replica_set(), replica_set(counts=(1, 0, 0), version=102)], DEPLOYMENT_COUNTS),
    ("a sibling ReplicaSet being deleted still has pods the Deployment counts",
     deployment(), [replica_set(), replica_set(counts=(2, 2, 2), version=102, deleting=True)], DEPLOYMENT_COUNTS),
    ("the only ReplicaSet is being deleted",
     deployment(), [replica_set(deleting=True)], DEPLOYMENT_COUNTS),
    ("the ReplicaSet was deleted: none left in the index",
     deployment(), [], DEPLOYMENT_COUNTS),
    ("Deployment deleted and made again: the old one's ReplicaSet (still being collected) is not its own",
     deployment(), [replica_set(owner=OLD_UID)], DEPLOYMENT_COUNTS),
    ("Deployment made again: its own new ReplicaSet counts, the old one's is ignored",
     deployment(), [replica_set(owner=OLD_UID, counts=(4, 4, 4)), replica_set(counts=(2, 1, 0), version=103)], PodCounts(2, 1, 0)),
    ("another revision's ReplicaSet in the same Rollout is not this revision's",
     deployment(), [replica_set(owner=OTHER_UID, counts=(9, 9, 9)), replica_set()], RS_COUNTS),
    ("a ReplicaSet without a controlling Deployment",
     deployment(), [replica_set(owner=None)], DEPLOYMENT_COUNTS),
    ("the ReplicaSet watch lags: the Deployment was written after it, so it may know of a pod gone unready",
     deployment(version=105), [replica_set(version=101)], DEPLOYMENT_COUNTS),
    ("scaled 4 -> 2 -> 4: an old ReplicaSet state whose scale only looks current",
     deployment(spec=4, version=110), [replica_set(spec=4, version=104)], DEPLOYMENT_COUNTS),
    ("minReadySeconds: ready but not yet available pods are not counted available",
     deployment(counts=(4, 1, 0)), [replica_set(counts=(4, 4, 1))], PodCounts(4, 4, 1)),
    ("a resourceVersion that is not a number reads as 0: never fresher",
     deployment(), [replace(replica_set(), resource_version=0)], DEPLOYMENT_COUNTS),
]


@pytest.mark.parametrize(("deployment_view", "replica_sets", "used"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_counts_used(deployment_view: dict[str, Any], replica_sets: list[ReplicaSetView], used: PodCounts) -> None:
    assert revision_counts(deployment_view, replica_sets) == used
    observed = observe_revision(deployment_view, replica_sets)
    assert (observed.replicas, observed.ready, observed.available) == (used.replicas, used.ready, used.available)
    assert observed.spec_replicas == deployment_view["spec"]["replicas"]  # the scale asked is always the Deployment's


def test_a_deployment_without_uid_never_takes_counts_from_a_replica_set() -> None:
    # Our own create's answer always has one; a slim view from elsewhere may not.
    view = deployment()
    view["metadata"]["uid"] = None
    assert revision_counts(view, [replica_set(owner=None)]) == DEPLOYMENT_COUNTS


# --- property: a simulated controller-manager ---------------------------------------------------------------


@dataclass(frozen=True)
class RsState:
    version: int
    generation: int
    observed: int
    spec: int
    counts: PodCounts


@dataclass(frozen=True)
class DeploymentState:
    version: int
    spec: int
    counts: PodCounts
    source: int  # the version of the ReplicaSet state its status was computed from


@dataclass
class History:
    """Every state each object passed through, versions drawn from one counter as etcd does."""

    rs: list[RsState] = field(default_factory=list)
    deployments: list[DeploymentState] = field(default_factory=list)
    version: int = 1

    def tick(self) -> int:
        self.version += 1
        return self.version


counts = st.integers(0, 6).flatmap(
    lambda replicas: st.integers(0, replicas).flatmap(
        lambda ready: st.integers(0, ready).map(lambda available: PodCounts(replicas, ready, available))))


@st.composite
def histories(draw: st.DrawFn) -> History:
    """Shiftlane scales the Deployment; the controller-manager carries the scale to the ReplicaSet, whose
    status follows its pods; the Deployment's status is copied, late, from a ReplicaSet state it has seen."""
    h = History()
    h.deployments.append(DeploymentState(h.tick(), 4, PodCounts(0, 0, 0), 0))
    h.rs.append(RsState(h.tick(), 1, 1, 4, PodCounts(0, 0, 0)))
    for action in draw(st.lists(st.sampled_from(["scale", "carry", "pods", "copy"]), max_size=25)):
        rs, dep = h.rs[-1], h.deployments[-1]
        if action == "scale":
            h.deployments.append(replace(dep, version=h.tick(), spec=draw(st.integers(0, 6))))
        elif action == "carry" and rs.spec != dep.spec:
            h.rs.append(replace(rs, version=h.tick(), generation=rs.generation + 1, spec=dep.spec))
        elif action == "pods":
            h.rs.append(replace(rs, version=h.tick(), observed=rs.generation, counts=draw(counts)))
        elif action == "copy":
            # The controller-manager's informer sees ReplicaSet states in order, some time after they happen.
            seen = [s for s in h.rs if s.version >= dep.source]
            source = draw(st.sampled_from(seen))
            h.deployments.append(replace(dep, version=h.tick(), counts=source.counts, source=source.version))
    return h


def as_deployment(state: DeploymentState) -> dict[str, Any]:
    c = state.counts
    return deployment(spec=state.spec, counts=(c.replicas, c.ready, c.available), version=state.version)


def as_replica_set(state: RsState, **changes: Any) -> ReplicaSetView:
    c = state.counts
    fields = {"spec": state.spec, "counts": (c.replicas, c.ready, c.available), "version": state.version,
              "generation": state.generation, "observed": state.observed}
    return replica_set(**{**fields, **changes})


@settings(max_examples=400, deadline=None)
@given(histories(), st.data())
def test_counts_are_never_staler_than_the_deployments_and_fall_back_when_ambiguous(history: History, data: st.DataObject) -> None:
    # Each watch delivers some past state of its object, independently of the other.
    rs = data.draw(st.sampled_from(history.rs))
    dep = data.draw(st.sampled_from(history.deployments))
    used = revision_counts(as_deployment(dep), [as_replica_set(rs)])
    assert used in (rs.counts, dep.counts)
    if used != dep.counts:
        # Taken from the ReplicaSet: a state no older than the one the Deployment's counts came from,
        # computed for the scale the Deployment asks now. So no pod is counted ready or available that
        # the freshest of the two views does not count.
        assert rs.version >= dep.source
        assert rs.spec == dep.spec and rs.observed == rs.generation
        freshest = max([rs, *(s for s in history.rs if s.version == dep.source)], key=lambda s: s.version)
        assert (used.ready, used.available) == (freshest.counts.ready, freshest.counts.available)
    if rs.version > dep.version and rs.spec == dep.spec and rs.observed == rs.generation:
        assert used == rs.counts  # the hop is skipped whenever it safely can be

    # Whatever the states, a second ReplicaSet of the Deployment, one on its way out, or one of another
    # owner leaves the Deployment's own counts.
    sibling = as_replica_set(rs, counts=(6, 6, 6), version=rs.version + 1)
    for ambiguous in ([as_replica_set(rs), sibling], [as_replica_set(rs, deleting=True)], [as_replica_set(rs, owner=OLD_UID)]):
        assert revision_counts(as_deployment(dep), ambiguous) == dep.counts
