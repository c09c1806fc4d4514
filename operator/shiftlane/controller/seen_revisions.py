"""What a reconcile reads of each revision Deployment and ReplicaSet, as last delivered, so that an event
changing none of it reconciles nothing: most of their events during a rollout are the controller-manager's
own bookkeeping (updatedReplicas, fullyLabeledReplicas, conditions, annotations), which no step waits on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

from shiftlane.kube.replica_sets import ReplicaSetView, slim_replica_set
from shiftlane.kube.revisions import slim_deployment

View = TypeVar("View")


@dataclass
class Seen(Generic[View]):
    # What a reconcile reads of one object, its resourceVersion left out (every write changes that).
    reads: Callable[[dict[str, Any]], View]
    # (namespace, name) -> that view; one entry per live object.
    _seen: dict[tuple[str, str], View] = field(default_factory=dict)

    def changed(self, namespace: str, body: dict[str, Any], deleted: bool) -> bool:
        key = (namespace, body["metadata"]["name"])
        if deleted:
            self._seen.pop(key, None)
            return True
        view = self.reads(body)
        if self._seen.get(key) == view:
            return False
        self._seen[key] = view
        return True

    def __len__(self) -> int:
        return len(self._seen)


def deployment_reads(body: dict[str, Any]) -> dict[str, Any]:
    slim = slim_deployment(body)
    slim["metadata"].pop("resourceVersion")
    return slim


def replica_set_reads(body: dict[str, Any]) -> ReplicaSetView:
    # Its resourceVersion only decides whether its counts are newer than its Deployment's. A change of
    # that alone, with its counts as seen, can only make counts usable that the Deployment's next status
    # (which the controller-manager writes after any ReplicaSet change) carries anyway.
    return replace(slim_replica_set(body), resource_version=0)
