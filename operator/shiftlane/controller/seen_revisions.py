"""What a reconcile reads of each revision Deployment, as last delivered, so that an event changing none
of it reconciles nothing: most of a Deployment's events during a rollout are the controller-manager's
own bookkeeping (observedGeneration, updatedReplicas, conditions), which no step waits on."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from shiftlane.kube.revisions import slim_deployment


def digest(view: dict[str, Any]) -> bytes:
    """16 bytes standing for a slim view (about 1 KiB as dicts), kept for every revision Deployment.

    A collision would make one changed event look unchanged. It cannot make a wrong write: the digest
    decides only whether to reconcile, never what to write, and each reconcile reads the whole state
    afresh; at worst a step waits for the Rollout's next event or timer. At 128 bits that chance is
    2^-128 per event, and no one can steer a Deployment's fields onto one (BLAKE2b resists collisions).
    """
    canonical = json.dumps(view, sort_keys=True, separators=(",", ":"))
    return hashlib.blake2b(canonical.encode(), digest_size=16).digest()


@dataclass
class SeenRevisions:
    # (namespace, Deployment) -> the digest of its slim view without resourceVersion; one per live Deployment.
    _seen: dict[tuple[str, str], bytes] = field(default_factory=dict)

    def changed(self, namespace: str, body: dict[str, Any], deleted: bool) -> bool:
        slim = slim_deployment(body)
        key = (namespace, slim["metadata"]["name"])
        if deleted:
            self._seen.pop(key, None)
            return True
        seen = digest({**slim, "metadata": {k: v for k, v in slim["metadata"].items() if k != "resourceVersion"}})
        if self._seen.get(key) == seen:
            return False
        self._seen[key] = seen
        return True

    def __len__(self) -> int:
        return len(self._seen)
