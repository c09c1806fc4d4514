"""A revision Deployment's or ReplicaSet's event reconciles its Rollout only when something a reconcile
reads of the revision changed: the controller-manager's bookkeeping alone (updatedReplicas,
fullyLabeledReplicas, conditions, annotations) wakes nothing, nor does a Deployment's status copying
counts its ReplicaSet already showed; a deleted Deployment is forgotten."""

from __future__ import annotations

import asyncio
import copy

import pytest

from shiftlane.controller import handlers
from shiftlane.controller.seen_revisions import SeenRevisions
from shiftlane.kube.labels import FIELD_MANAGER, REVISION_LABEL, REVISION_NUMBER, ROLLOUT_LABEL
from shiftlane.kube.replica_sets import slim_replica_set
from shiftlane.kube.revisions import slim_deployment

LABELS = {ROLLOUT_LABEL: "web", REVISION_LABEL: "abc"}


def deployment(version: int, replicas: int = 2, ready: int = 2, uid: str = "u1", **status) -> dict:
    return {
        "metadata": {"name": "web-abc", "namespace": "shop", "uid": uid, "resourceVersion": str(version), "labels": dict(LABELS)},
        "spec": {"replicas": replicas},
        "status": {"replicas": replicas, "readyReplicas": ready, "availableReplicas": ready, **status},
    }


def replica_set(version: int, generation: int = 1, observed: int = 1, replicas: int = 2, ready: int = 2, owner: str = "u1", **extra) -> dict:
    reference = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web-abc", "uid": owner, "controller": True}
    return {
        "metadata": {
            "name": f"web-abc-{owner}", "namespace": "shop", "resourceVersion": str(version), "generation": generation,
            "labels": {**LABELS, "pod-template-hash": "7d9f"}, "ownerReferences": [reference],
            "annotations": extra.pop("annotations", {}),
        },
        "spec": {"replicas": replicas},
        "status": {"replicas": replicas, "readyReplicas": ready, "availableReplicas": ready, "observedGeneration": observed, **extra},
    }


class Watches:
    """The two watches as kopf delivers them: an event updates its index first, then runs its handler."""

    def __init__(self) -> None:
        self.deployments: dict[str, dict] = {}
        self.replica_sets: dict[str, dict] = {}

    def deliver(self, kind: str | None, body: dict) -> None:
        store = self.replica_sets if "ownerReferences" in body["metadata"] else self.deployments
        name = body["metadata"]["name"]
        if kind == "DELETED":
            store.pop(name, None)
        else:
            store[name] = body
        indexes = {
            "shiftlane_revisions": {("shop", "web"): [slim_deployment(d) for d in self.deployments.values()]},
            "shiftlane_replica_sets": {("shop", "web"): [slim_replica_set(r) for r in self.replica_sets.values()]},
        }
        handler = handlers.replica_set_changed if store is self.replica_sets else handlers.revision_changed
        asyncio.run(handler(body=copy.deepcopy(body), namespace="shop", name=name, labels=body["metadata"]["labels"], type=kind, **indexes))


@pytest.fixture
def reconciled(monkeypatch: pytest.MonkeyPatch) -> list:
    monkeypatch.setattr(handlers.state, "seen_revisions", SeenRevisions())
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
    watches = Watches()
    for kind, body in events:
        watches.deliver(kind, body)
    assert reconciled == [("shop", "web")] * 4
    assert len(handlers.state.seen_revisions) == 0  # forgotten with the Deployment


def test_a_step_wakes_once_on_fresh_replica_set_counts_not_again_when_the_deployment_copies_them(reconciled: list) -> None:
    timeline = [
        (deployment(10, replicas=3, ready=2), 1),  # first seen
        (replica_set(11, generation=2, observed=2, replicas=3, ready=2), 0),  # usable, but the same counts
        (replica_set(12, generation=2, observed=2, replicas=3, ready=3), 1),  # a pod ready: the step can go on
        (deployment(13, replicas=3, ready=3), 0),  # the controller-manager copies it: nothing new
        (deployment(14, replicas=3, ready=3, updatedReplicas=3), 0),  # bookkeeping
        (replica_set(15, generation=2, observed=2, replicas=3, ready=3, fullyLabeledReplicas=3), 0),  # ditto
        (replica_set(16, generation=3, observed=2, replicas=4, ready=3), 0),  # told a new scale: not usable yet
        (deployment(17, replicas=4, ready=3), 1),  # its Deployment scaled
        (replica_set(18, generation=3, observed=3, replicas=4, ready=3), 0),  # caught up, counts as before
        (replica_set(19, generation=3, observed=3, replicas=4, ready=4), 1),  # the new pod ready
        (replica_set(20, replicas=2, ready=2, owner="u0"), 0),  # a ReplicaSet another Deployment owned
    ]
    watches = Watches()
    wakes = []
    for body, _ in timeline:
        before = len(reconciled)
        watches.deliver("MODIFIED", body)
        wakes.append(len(reconciled) - before)
    assert wakes == [expected for _, expected in timeline]


def test_a_pod_going_unready_on_the_replica_set_wakes_the_rollout_before_its_deployment_shows_it(reconciled: list) -> None:
    watches = Watches()
    watches.deliver(None, deployment(1, ready=2))
    watches.deliver(None, replica_set(2, ready=1))
    assert len(reconciled) == 2


def test_a_deployment_made_again_under_its_name_reconciles(reconciled: list) -> None:
    # Its new uid decides which ReplicaSets are its own, even when its counts look the same.
    watches = Watches()
    watches.deliver("MODIFIED", deployment(1, uid="u1"))
    watches.deliver("MODIFIED", deployment(2, uid="u2"))
    assert len(reconciled) == 2


def managed_by(manager: str, *fields: str) -> dict:
    return {"manager": manager, "operation": "Update", "fieldsV1": {"f:spec": {f"f:{name}": {} for name in fields}}}


@pytest.mark.parametrize(("path", "value", "reconciles"), [
    (("metadata", "labels", REVISION_LABEL), "abd", True),
    (("metadata", "annotations", REVISION_NUMBER), "4", True),
    (("metadata", "uid"), "u9", True),
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
    assert seen.changed("shop", slim_deployment(before), [])
    after = copy.deepcopy(before)
    after["metadata"]["resourceVersion"] = "2"
    *parents, last = path
    node = after
    for name in parents:
        node = node[name]
    node[last] = value
    assert seen.changed("shop", slim_deployment(after), []) is reconciles
    assert not seen.changed("shop", slim_deployment(copy.deepcopy(after)), [])  # the same again: nothing new


def test_deployments_of_the_same_name_in_two_namespaces_are_told_apart() -> None:
    seen = SeenRevisions()
    assert seen.changed("shop", slim_deployment(deployment(1)), [])
    assert seen.changed("blog", slim_deployment(deployment(1)), [])
    assert not seen.changed("shop", slim_deployment(deployment(2)), [])
    assert seen.changed("blog", slim_deployment(deployment(3, ready=1)), [])
    assert len(seen) == 2
