"""A revision's ReplicaSet: what it shows, and when its pod counts stand for the revision's.

The controller-manager writes a Deployment's status from its ReplicaSets' some time after they change
(about 190 ms on a busy control plane); reading the ReplicaSet removes that hop from each step.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from shiftlane.kube.labels import controller_uid, resource_version


@dataclass(frozen=True, slots=True)
class PodCounts:
    """A revision's pods as one source counts them."""

    replicas: int  # pods that exist and are not being deleted, ready or not
    ready: int
    available: int  # ready for at least minReadySeconds


@dataclass(frozen=True, slots=True)
class ReplicaSetView:
    """What a reconcile reads of a ReplicaSet of a revision Deployment (thousands are held: keep it small)."""

    owner_uid: str | None  # the controlling Deployment's uid
    resource_version: int
    generation: int
    observed_generation: int  # the generation its status was computed for
    spec_replicas: int
    counts: PodCounts
    deleting: bool  # has a deletionTimestamp: on its way out, its pods may still count


def slim_replica_set(replica_set: dict[str, Any]) -> ReplicaSetView:
    meta, spec, status = replica_set["metadata"], replica_set.get("spec") or {}, replica_set.get("status") or {}
    return ReplicaSetView(
        owner_uid=controller_uid(meta),
        resource_version=resource_version(replica_set),
        generation=meta.get("generation", 0),
        observed_generation=status.get("observedGeneration", 0),
        spec_replicas=spec.get("replicas", 0),
        counts=status_counts(replica_set),
        deleting=bool(meta.get("deletionTimestamp")),
    )


def status_counts(body: dict[str, Any]) -> PodCounts:
    """The counts a Deployment's or a ReplicaSet's own status shows."""
    status = body.get("status") or {}
    return PodCounts(status.get("replicas", 0), status.get("readyReplicas", 0), status.get("availableReplicas", 0))


def revision_counts(deployment: dict[str, Any], replica_sets: Iterable[ReplicaSetView]) -> PodCounts:
    """A revision's pod counts: its ReplicaSet's when they are unambiguously a fresher view of the same
    pods than the Deployment's status, else the Deployment's (as before ReplicaSets were watched).

    `deployment` is the slim revision Deployment; `replica_sets` may hold any of the Rollout's.
    The ReplicaSet's counts are used only when all of these hold:

    1. Exactly one ReplicaSet is controlled by this Deployment (ownerReference uid), and it is not being
       deleted. The Deployment's counts are the sum over all of its ReplicaSets, so only then are the
       two counts of the same pods. A drifted template (a second ReplicaSet appears; revision
       Deployments keep no history, so the old one goes once scaled down) or a ReplicaSet being deleted
       (its pods still count while they go) falls back until one is left. A Deployment deleted and made
       again under its name has a new uid: the old one's ReplicaSets, still being collected, are not
       its own. A ReplicaSet deleted leaves none (or a new one not yet caught up): fallback.
    2. Its status.observedGeneration equals its metadata.generation: its counts were computed for its
       current spec, not for the scale before.
    3. Its spec.replicas equals the Deployment's spec.replicas: the controller-manager has carried the
       Deployment's current scale over to it. Until then, after a scale-up the ReplicaSet has not begun
       to make the new pods, and after a scale-down it would show the old size (a scale-down still
       shows the pods it is deleting in status.replicas, so "settled at the lower count" waits).
    4. Its resourceVersion is greater than the Deployment's. Whatever the controller-manager wrote
       into a Deployment's status it had read from its ReplicaSets before that write, so a ReplicaSet
       written after the Deployment's last write is at least as new as anything the Deployment's
       counts came from. The two watches are separate streams, and the ReplicaSet's can lag: without
       this, a stale ReplicaSet still showing a pod ready that the Deployment already counts as not
       ready would over-count. It also rules out an older ReplicaSet state whose scale only looks like
       the Deployment's current one (scaled 4 -> 2 -> 4). resourceVersions are compared as the
       integers an etcd-backed API server issues (one etcd revision counter for all objects); one that
       is not a number reads as 0 and so falls back.

    availableReplicas: the ReplicaSet counts a pod available after its own minReadySeconds, which the
    controller-manager copies from the Deployment (Shiftlane never changes it on a revision), and a
    Deployment's availableReplicas is the sum of its ReplicaSets' anyway: available means the same in
    both. Whichever source is used, ready and available are never more than the newer of the two
    views shows, so no step advances on pods that the freshest view does not count.
    """
    uid = deployment["metadata"].get("uid")
    own = [rs for rs in replica_sets if uid is not None and rs.owner_uid == uid]
    if len(own) == 1:
        rs = own[0]
        if (
            not rs.deleting
            and rs.observed_generation == rs.generation
            and rs.spec_replicas == (deployment.get("spec") or {}).get("replicas", 0)
            and rs.resource_version > resource_version(deployment)
        ):
            return rs.counts
    return status_counts(deployment)
