"""What a reconcile reads of each revision Deployment, as last delivered, so that an event changing none
of it reconciles nothing: most of a Deployment's events during a rollout are the controller-manager's
own bookkeeping (observedGeneration, updatedReplicas, conditions), which no step waits on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shiftlane.kube.revisions import slim_deployment


@dataclass
class SeenRevisions:
    # (namespace, Deployment) -> its slim view without resourceVersion; one entry per live Deployment.
    _seen: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def changed(self, namespace: str, body: dict[str, Any], deleted: bool) -> bool:
        slim = slim_deployment(body)
        key = (namespace, slim["metadata"]["name"])
        if deleted:
            self._seen.pop(key, None)
            return True
        view = {**slim, "metadata": {k: v for k, v in slim["metadata"].items() if k != "resourceVersion"}}
        if self._seen.get(key) == view:
            return False
        self._seen[key] = view
        return True

    def __len__(self) -> int:
        return len(self._seen)
