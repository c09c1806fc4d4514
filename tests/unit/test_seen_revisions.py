"""A revision Deployment's event reconciles its Rollout only when something a reconcile reads changed:
the controller-manager's bookkeeping alone (observedGeneration, updatedReplicas, conditions) wakes
nothing, and a deleted Deployment is forgotten."""

from __future__ import annotations

import asyncio
import copy

import pytest

from shiftlane.controller import handlers
from shiftlane.controller.seen_revisions import SeenRevisions
from shiftlane.kube.labels import REVISION_LABEL, ROLLOUT_LABEL


def deployment(version: int, replicas: int = 2, ready: int = 2, **status) -> dict:
    labels = {ROLLOUT_LABEL: "web", REVISION_LABEL: "abc"}
    return {
        "metadata": {"name": "web-abc", "namespace": "shop", "resourceVersion": str(version), "labels": labels},
        "spec": {"replicas": replicas},
        "status": {"replicas": replicas, "readyReplicas": ready, "availableReplicas": ready, **status},
    }


def test_only_events_that_change_what_a_reconcile_reads_reconcile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handlers.state, "seen_revisions", SeenRevisions())
    reconciled: list = []

    async def reconcile(key, _kwargs) -> None:
        reconciled.append(key)

    monkeypatch.setattr(handlers, "_reconcile", reconcile)
    bookkeeping = deployment(2, observedGeneration=3, updatedReplicas=2, conditions=[{"type": "Available", "status": "True"}])
    events = [
        (None, deployment(1)),  # first seen (kopf's initial listing): reconciles
        ("MODIFIED", bookkeeping),  # the controller-manager's own fields only
        ("MODIFIED", deployment(3, ready=1)),  # a pod stopped being ready
        ("MODIFIED", deployment(4, replicas=1, ready=1)),  # scaled
        ("MODIFIED", deployment(5, replicas=1, ready=1)),  # nothing read changed
        ("DELETED", deployment(6, replicas=1, ready=1)),
    ]
    for kind, body in events:
        asyncio.run(handlers.revision_changed(body=copy.deepcopy(body), namespace="shop", labels=body["metadata"]["labels"], type=kind))
    assert len(reconciled) == 4
    assert len(handlers.state.seen_revisions) == 0  # forgotten with the Deployment
