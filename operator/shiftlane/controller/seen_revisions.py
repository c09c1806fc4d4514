"""What a reconcile reads of each revision, as last delivered, so that an event changing none of it
reconciles nothing. Most Deployment and ReplicaSet events during a rollout are the controller-manager's
own bookkeeping (updatedReplicas, fullyLabeledReplicas, conditions, annotations), which no step waits on;
and once a step has acted on a ReplicaSet's fresh pod counts, the Deployment's status copying the same
counts a moment later is nothing new either."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from shiftlane.kube.replica_sets import ReplicaSetView, revision_counts


def digest(view: dict[str, Any]) -> bytes:
    """16 bytes standing for a slim view (about 1 KiB as dicts), kept for every revision Deployment.

    A collision would make one changed event look unchanged. It cannot make a wrong write: the digest
    decides only whether to reconcile, never what to write, and each reconcile reads the whole state
    afresh; at worst a step waits for the Rollout's next event or timer. At 128 bits that chance is
    2^-128 per event, and no one can steer a Deployment's fields onto one (BLAKE2b resists collisions).
    """
    canonical = json.dumps(view, sort_keys=True, separators=(",", ":"))
    return hashlib.blake2b(canonical.encode(), digest_size=16).digest()


def revision_reads(deployment: dict[str, Any], replica_sets: Iterable[ReplicaSetView]) -> dict[str, Any]:
    """A slim revision Deployment as a reconcile sees it: pod counts as observe_revision picks them
    (its ReplicaSet's or its own status), and no resourceVersion (every write changes that)."""
    meta = {k: v for k, v in deployment["metadata"].items() if k != "resourceVersion"}
    return {**deployment, "metadata": meta, "status": asdict(revision_counts(deployment, replica_sets))}


@dataclass
class SeenRevisions:
    # (namespace, Deployment) -> the digest of revision_reads; one entry per live revision Deployment.
    _seen: dict[tuple[str, str], bytes] = field(default_factory=dict)

    def changed(self, namespace: str, deployment: dict[str, Any], replica_sets: Iterable[ReplicaSetView]) -> bool:
        """Whether a reconcile would read anything new of this slim revision Deployment; remembers it."""
        key = (namespace, deployment["metadata"]["name"])
        seen = digest(revision_reads(deployment, replica_sets))
        if self._seen.get(key) == seen:
            return False
        self._seen[key] = seen
        return True

    def forget(self, namespace: str, name: str) -> None:
        self._seen.pop((namespace, name), None)

    def __len__(self) -> int:
        return len(self._seen)
