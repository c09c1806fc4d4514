"""A revision Deployment's event reconciles its Rollout only when something a reconcile reads changed:
the controller-manager's bookkeeping alone (observedGeneration, updatedReplicas, conditions) wakes
nothing, and a deleted Deployment is forgotten."""

from __future__ import annotations

import asyncio
import copy

import pytest

from shiftlane.controller import handlers
from shiftlane.controller.seen_revisions import SeenRevisions
from shiftlane.kube.labels import FIELD_MANAGER, REVISION_LABEL, REVISION_NUMBER, ROLLOUT_LABEL


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


def managed_by(manager: str, *fields: str) -> dict:
    return {"manager": manager, "operation": "Update", "fieldsV1": {"f:spec": {f"f:{name}": {} for name in fields}}}


@pytest.mark.parametrize(("path", "value", "reconciles"), [
    (("metadata", "labels", REVISION_LABEL), "abd", True),
    (("metadata", "annotations", REVISION_NUMBER), "4", True),
    (("metadata", "managedFields"), [managed_by("kubectl-scale", "replicas")], True),  # replicas set by hand
    (("metadata", "managedFields"), [managed_by("kubectl-edit", "template")], True),  # the template edited
    (("spec", "replicas"), 3, True),
    (("status", "replicas"), 3, True),  # a surge pod
    (("status", "readyReplicas"), 1, True),
    (("status", "availableReplicas"), 1, True),
    (("metadata", "managedFields"), [managed_by(FIELD_MANAGER, "replicas", "template")], False),  # our own writes
    (("metadata", "annotations", "deployment.kubernetes.io/revision"), "2", False),
    (("status", "observedGeneration"), 7, False),
    (("status", "updatedReplicas"), 2, False),
    (("status", "conditions"), [{"type": "Progressing", "status": "True"}], False),
])
def test_a_change_reconciles_exactly_when_it_is_something_a_reconcile_reads(path: tuple[str, ...], value, reconciles: bool) -> None:
    seen = SeenRevisions()
    before = deployment(1)
    before["metadata"]["annotations"] = {REVISION_NUMBER: "3"}
    assert seen.changed("shop", before, deleted=False)
    after = copy.deepcopy(before)
    after["metadata"]["resourceVersion"] = "2"
    *parents, last = path
    node = after
    for name in parents:
        node = node[name]
    node[last] = value
    assert seen.changed("shop", after, deleted=False) is reconciles
    assert not seen.changed("shop", copy.deepcopy(after), deleted=False)  # the same again: nothing new


def test_deployments_of_the_same_name_in_two_namespaces_are_told_apart() -> None:
    seen = SeenRevisions()
    assert seen.changed("shop", deployment(1), deleted=False)
    assert seen.changed("blog", deployment(1), deleted=False)
    assert not seen.changed("shop", deployment(2), deleted=False)
    assert seen.changed("blog", deployment(3, ready=1), deleted=False)
    assert len(seen) == 2
