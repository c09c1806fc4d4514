"""Drift: who last set a field (managedFields), and what a Drifted Event says."""

from __future__ import annotations

import pytest

from shiftlane.api.status import RolloutStatus, RouterStatus
from shiftlane.controller import drift
from shiftlane.engine.model import RouterState
from shiftlane.kube.ownership import edited_by
from shiftlane.kube.revisions import TemplateRestore, slim_deployment
from shiftlane.kube.services import slim_service
from shiftlane.traffic.router import Wanted


def managed(manager: str, fields: dict, subresource: str = "") -> dict:
    entry = {"manager": manager, "operation": "Update", "fieldsType": "FieldsV1", "fieldsV1": fields}
    return {**entry, "subresource": subresource} if subresource else entry


CREATED = managed("shiftlane", {"f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {}}}}})


@pytest.mark.parametrize("entries, path, expected", [
    ([CREATED], ("spec", "replicas"), ()),
    ([CREATED, managed("kubectl", {"f:spec": {"f:replicas": {}}}, subresource="scale")], ("spec", "replicas"), ("kubectl",)),
    ([CREATED, managed("kubectl-set", {"f:spec": {"f:template": {"f:spec": {}}}})], ("spec", "template"), ("kubectl-set",)),
    ([CREATED, managed("kubectl-set", {"f:spec": {"f:template": {"f:spec": {}}}})], ("spec", "replicas"), ()),
    ([CREATED, managed("kube-controller-manager", {"f:status": {"f:replicas": {}}}, subresource="status")], ("spec", "replicas"), ()),
    ([CREATED, managed("kubectl-label", {"f:metadata": {"f:labels": {}}})], ("spec",), ()),
    ([managed("a", {"f:spec": {"f:replicas": {}}}), managed("a", {"f:spec": {"f:replicas": {}}})], ("spec", "replicas"), ("a",)),
])
def test_edited_by_names_the_other_managers_holding_a_field(entries, path, expected) -> None:
    assert edited_by({"managedFields": entries}, *path) == expected


def deployment(*entries: dict) -> dict:
    return {"metadata": {"name": "web-abc", "resourceVersion": "7", "labels": {}, "managedFields": list(entries)},
            "spec": {"replicas": 4}, "status": {}}


def test_a_slim_revision_carries_who_else_set_its_replicas_or_template_and_nothing_when_only_shiftlane_did() -> None:
    assert "editedBy" not in slim_deployment(deployment(CREATED))
    scaled = slim_deployment(deployment(CREATED, managed("kubectl", {"f:spec": {"f:replicas": {}}}, subresource="scale")))
    assert scaled["editedBy"] == {"replicas": ["kubectl"]}
    assert drift.replicas("ns/web-abc", scaled, 7, 4).message == "Deployment ns/web-abc: spec.replicas was set to 7 by kubectl; restored to 4"
    assert drift.replicas("ns/web-abc", slim_deployment(deployment(CREATED)), 2, 4) is None  # our own earlier write


def service(*entries: dict) -> dict:
    return {"metadata": {"name": "web", "resourceVersion": "3", "labels": {"shiftlane.io/rollout": "web"}, "managedFields": list(entries)},
            "spec": {"selector": {"app": "web"}, "ports": []}}


def test_a_service_drifted_when_someone_else_set_its_selector_or_it_is_missing_after_it_existed() -> None:
    ours = slim_service(service(managed("shiftlane", {"f:spec": {"f:selector": {}}})))
    theirs = slim_service(service(managed("shiftlane", {"f:spec": {}}), managed("kubectl-patch", {"f:spec": {"f:selector": {"f:app": {}}}})))
    assert drift.service("ns/web", ours, expected=True) is None
    assert drift.service("ns/web", theirs, expected=True).message == "Service ns/web: selector or ports changed by kubectl-patch; restored"
    assert drift.service("ns/web", None, expected=True).message == "Service ns/web was missing; recreated"
    assert drift.service("ns/web", None, expected=False) is None  # a first rollout makes it


def status(canary_weight: int, router: bool = True) -> RolloutStatus:
    return RolloutStatus(canary_weight=canary_weight, router=RouterStatus(name="gatewayAPI") if router else None)


@pytest.mark.parametrize("previous, held, want, drifted", [
    (status(20), 20, 20, False),  # in place
    (status(20), 50, 20, True),  # changed by hand, the Decision the same
    (status(20), 20, 50, False),  # the next step: ours to write
    (status(20), 50, 50, False),  # someone wrote what we were about to
    (status(0, router=False), 50, 0, False),  # the first reconcile with a router
])
def test_a_route_drifted_only_when_it_holds_other_than_decided_and_the_decision_did_not_change(previous, held, want, drifted) -> None:
    found = drift.route(("HTTPRoute ns/web",), RouterState(held, False, 0), previous, Wanted(canary_weight=want))
    assert (found is not None) == drifted
    if drifted:
        assert found.message == f"HTTPRoute ns/web held canary weight {held} (decided {want}); restored"


def test_a_template_event_lists_the_changed_fields_and_counts_the_rest() -> None:
    created = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "app", "image": "a:1", "env": []}]}}
    edited = {"metadata": {"labels": {"app": "web", "x": "1"}},
              "spec": {"containers": [{"name": "app", "image": "a:2", "args": ["-v"]}], "hostNetwork": True, "dnsPolicy": "None"}}
    assert drift.changed_fields(created, edited) == [
        "spec.template.metadata.labels.x: (none) -> 1",
        "spec.template.spec.containers[0].args: (none) -> ['-v']",
        "spec.template.spec.containers[0].env: [] -> (none)",
        "spec.template.spec.containers[0].image: a:1 -> a:2",
        "spec.template.spec.dnsPolicy: (none) -> None",
        "spec.template.spec.hostNetwork: (none) -> True",
    ]
    event = drift.template("ns/web-abc", TemplateRestore(drifted=edited, restored=created, deployment={}), ["kubectl-edit"])
    assert event.reason == "Drifted" and event.type == "Warning"
    assert event.message.startswith("Deployment ns/web-abc: pod template changed by kubectl-edit (spec.template.metadata.labels.x")
    assert event.message.endswith("and 3 more); restored")

