"""A revision Deployment's or ReplicaSet's event reconciles its Rollout only when something a reconcile
reads changed: the controller-manager's bookkeeping alone (updatedReplicas, fullyLabeledReplicas,
conditions, annotations) wakes nothing, and a deleted object is forgotten."""

from __future__ import annotations

import asyncio
import copy

import pytest

from shiftlane.controller import handlers
from shiftlane.controller.seen_revisions import Seen, deployment_reads, replica_set_reads
from shiftlane.kube.labels import REVISION_LABEL, ROLLOUT_LABEL


def deployment(version: int, replicas: int = 2, ready: int = 2, **status) -> dict:
    labels = {ROLLOUT_LABEL: "web", REVISION_LABEL: "abc"}
    return {
        "metadata": {"name": "web-abc", "namespace": "shop", "resourceVersion": str(version), "labels": labels},
        "spec": {"replicas": replicas},
        "status": {"replicas": replicas, "readyReplicas": ready, "availableReplicas": ready, **status},
    }


@pytest.fixture
def reconciled(monkeypatch: pytest.MonkeyPatch) -> list:
    monkeypatch.setattr(handlers.state, "seen_revisions", Seen(deployment_reads))
    monkeypatch.setattr(handlers.state, "seen_replica_sets", Seen(replica_set_reads))
    keys: list = []

    async def reconcile(key, _kwargs) -> None:
        keys.append(key)

    monkeypatch.setattr(handlers, "_reconcile", reconcile)
    return keys


def test_only_deployment_events_that_change_what_a_reconcile_reads_reconcile(reconciled: list) -> None:
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
    assert reconciled == [("shop", "web")] * 4
    assert len(handlers.state.seen_revisions) == 0  # forgotten with the Deployment


def replica_set(version: int, generation: int = 1, observed: int = 1, replicas: int = 2, ready: int = 2, **extra) -> dict:
    labels = {ROLLOUT_LABEL: "web", REVISION_LABEL: "abc", "pod-template-hash": "7d9f"}
    owner = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web-abc", "uid": "u1", "controller": True}
    return {
        "metadata": {
            "name": "web-abc-7d9f", "namespace": "shop", "resourceVersion": str(version), "generation": generation,
            "labels": labels, "ownerReferences": [owner], "annotations": extra.pop("annotations", {}),
        },
        "spec": {"replicas": replicas},
        "status": {"replicas": replicas, "readyReplicas": ready, "availableReplicas": ready, "observedGeneration": observed, **extra},
    }


def test_only_replica_set_events_that_change_what_a_reconcile_reads_reconcile(reconciled: list) -> None:
    events = [
        (None, replica_set(1)),  # first seen: reconciles
        ("MODIFIED", replica_set(2, fullyLabeledReplicas=2, conditions=[])),  # bookkeeping only
        ("MODIFIED", replica_set(3, annotations={"deployment.kubernetes.io/desired-replicas": "2"})),  # ditto
        ("MODIFIED", replica_set(4, generation=2, replicas=3)),  # told a new scale: counts no longer usable
        ("MODIFIED", replica_set(5, generation=2, observed=2, replicas=3)),  # its status caught up
        ("MODIFIED", replica_set(6, generation=2, observed=2, replicas=3, ready=3)),  # a pod became ready
        ("MODIFIED", replica_set(7, generation=2, observed=2, replicas=3, ready=3)),  # nothing read changed
        ("DELETED", replica_set(8, generation=2, observed=2, replicas=3, ready=3)),
    ]
    for kind, body in events:
        asyncio.run(handlers.replica_set_changed(body=copy.deepcopy(body), namespace="shop", labels=body["metadata"]["labels"], type=kind))
    assert reconciled == [("shop", "web")] * 5
    assert len(handlers.state.seen_replica_sets) == 0  # forgotten with the ReplicaSet


def test_a_deployment_made_again_under_its_name_reconciles(reconciled: list) -> None:
    # Its new uid decides which ReplicaSets are its own, even when its counts look the same.
    first, again = deployment(1), deployment(2)
    first["metadata"]["uid"], again["metadata"]["uid"] = "u1", "u2"
    for body in (first, again):
        asyncio.run(handlers.revision_changed(body=body, namespace="shop", labels=body["metadata"]["labels"], type="MODIFIED"))
    assert len(reconciled) == 2
