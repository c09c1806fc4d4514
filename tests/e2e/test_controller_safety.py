"""What the operator must never do to a cluster, and how it shows what it cannot do: Services
someone else made, writes the API server refuses, templates it would refuse, pods still
terminating, and nothing of kopf's own left on a Rollout."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.e2e.helpers import (
    IMAGE_V2,
    ROLLOUT_LABEL,
    Namespace,
    PodWatch,
    condition,
    kubectl,
    rollout_manifest,
    wait_for,
)

pytestmark = pytest.mark.e2e

TERMINATION_DELAY = "shiftlane.io/test-termination-delay"


def stalled_naming(ns: Namespace, name: str, text: str, timeout: float = 30) -> dict[str, Any]:
    def ok(status: dict[str, Any]) -> bool:
        stalled = condition(status, "Stalled")
        return stalled.get("status") == "True" and text in stalled.get("message", "")

    return ns.wait_status(name, ok, timeout, f"Stalled naming {text!r}")


def warnings_naming(ns: Namespace, name: str, text: str) -> list[dict[str, Any]]:
    return [e for e in ns.events(name) if e["type"] == "Warning" and text in e.get("message", "")]


def healthy(ns: Namespace, name: str, manifest: dict[str, Any]) -> str:
    ns.apply(manifest)
    stable = ns.wait_phase(name, "Healthy", 30)["stableRevision"]
    ns.wait_replicas(name, {stable: manifest["spec"]["replicas"]})
    return stable


def test_a_rollout_carries_no_kopf_annotation_and_no_finalizer(ns: Namespace) -> None:
    name = "plain"
    stable = healthy(ns, name, rollout_manifest(name, {"canary": {"steps": [{"setWeight": 50}, {"pause": {}}]}}))
    ns.set_image(name, IMAGE_V2)
    ns.wait_new_revision(name, stable)
    ns.wait_phase(name, "Paused", 30)
    meta = ns.rollout(name)["metadata"]
    assert not meta.get("finalizers")
    # kubectl apply keeps its own copy; nothing else (kopf's diff-base would embed the whole pod template).
    assert set(meta.get("annotations") or {}) <= {"kubectl.kubernetes.io/last-applied-configuration"}


def test_a_deleted_or_edited_service_is_repaired_at_once(ns: Namespace) -> None:
    name = "repair"
    healthy(ns, name, rollout_manifest(name, {"canary": {"steps": [{"setWeight": 50}, {"pause": {}}]}}))
    wanted = ns.selector(name)
    ns.kubectl("delete", "service", name)
    wait_for(lambda: ns.selector(name) == wanted, 5, f"Service {name} to be recreated")

    ns.kubectl("patch", "service", name, "--type=merge", "-p", json.dumps({"spec": {"selector": {"app": "elsewhere"}}}))
    wait_for(lambda: ns.selector(name) == wanted, 5, f"Service {name}'s selector to be repaired")


def test_a_service_someone_else_made_is_left_untouched_and_the_rollout_stalls_naming_it(ns: Namespace) -> None:
    name = "taken"
    theirs = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
              "spec": {"selector": {"app": "legacy"}, "ports": [{"port": 80, "targetPort": 9090}]}}
    before = json.loads(ns.kubectl("create", "-o", "json", "-f", "-", stdin=json.dumps(theirs)).stdout)
    ns.apply(rollout_manifest(name, {"recreate": {}}, replicas=2))
    stalled_naming(ns, name, f"Service {ns.name}/{name}")
    wait_for(lambda: warnings_naming(ns, name, f"Service {ns.name}/{name}"), 10, "a Warning Event naming the Service")

    after = ns.json("get", "service", name)
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert not after["metadata"].get("ownerReferences")

    # Once the name is free the Rollout goes on by itself: the Service watch sees the deletion.
    ns.kubectl("delete", "service", name)
    status = ns.wait_phase(name, "Healthy", 30)
    assert condition(status, "Stalled")["status"] == "False"
    assert ns.selector(name).get(ROLLOUT_LABEL) == name


def _refuse_rollout_services(namespace: str) -> tuple[str, str]:
    """A ValidatingAdmissionPolicy, bound to this namespace only, that refuses Services made for Rollouts."""
    policy = f"refuse-services-{namespace}"[:63]
    message = f"services for rollouts are frozen in {namespace}"
    manifests = [
        {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy", "metadata": {"name": policy},
         "spec": {"failurePolicy": "Fail",
                  "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                                                          "operations": ["CREATE", "UPDATE"], "resources": ["services"]}]},
                  "validations": [{"expression": f"!has(object.metadata.labels) || !('{ROLLOUT_LABEL}' in object.metadata.labels)",
                                   "message": message}]}},
        {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding", "metadata": {"name": policy},
         "spec": {"policyName": policy, "validationActions": ["Deny"],
                  "matchResources": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}}},
    ]
    kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": manifests}))
    probe = json.dumps({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "probe", "labels": {ROLLOUT_LABEL: "probe"}},
                        "spec": {"ports": [{"port": 80}]}})
    # The policy takes effect a moment after it is stored.
    wait_for(lambda: message in kubectl("-n", namespace, "create", "--dry-run=server", "-f", "-", stdin=probe, check=False).stderr,
             20, "the admission policy to refuse Services")
    return policy, message


def test_a_write_the_api_server_refuses_shows_as_a_condition_and_one_event(ns: Namespace) -> None:
    name = "refused"
    policy, message = _refuse_rollout_services(ns.name)
    try:
        ns.apply(rollout_manifest(name, {"recreate": {}}, replicas=2))
        stalled_naming(ns, name, message)
        wait_for(lambda: warnings_naming(ns, name, message), 10, "a Warning Event with the API server's message")
        time.sleep(12)  # two more retries (5 s, then 10 s): each refused again, none repeats the Event
        assert len(warnings_naming(ns, name, message)) == 1
    finally:
        kubectl("delete", "validatingadmissionpolicybinding,validatingadmissionpolicy", policy, "--ignore-not-found")
    status = ns.wait_phase(name, "Healthy", 45)  # the next retry (20 s after the last) succeeds
    assert condition(status, "Stalled")["status"] == "False"


def test_a_malformed_first_template_stalls_naming_the_field_and_creates_nothing(ns: Namespace) -> None:
    name = "malformed"
    manifest = rollout_manifest(name, {"recreate": {}}, replicas=2)
    manifest["spec"]["template"]["spec"]["containers"][0]["ports"].append({"name": "http", "containerPort": 8081})
    ns.apply(manifest)
    stalled_naming(ns, name, "ports[1].name")
    wait_for(lambda: warnings_naming(ns, name, "ports[1].name"), 10, "a Warning Event naming the field")
    assert ns.deployments(name) == {} and ns.services(name) == {}


def test_a_malformed_update_stalls_naming_the_field_while_stable_keeps_serving(ns: Namespace) -> None:
    name = "bad-update"
    stable = healthy(ns, name, rollout_manifest(name, {"canary": {"steps": [{"setWeight": 50}, {"pause": {}}]}}))
    selectors = {svc: ns.selector(svc) for svc in ns.services(name)}
    ns.json_patch(name, [{"op": "add", "path": "/spec/template/spec/containers/0/ports/0/containerPort", "value": "http"}])
    stalled_naming(ns, name, "containerPort")
    time.sleep(2)  # a wrong write would have happened by now
    assert set(ns.deployments(name)) == {stable}
    ns.wait_replicas(name, {stable: 4}, timeout=1)
    assert {svc: ns.selector(svc) for svc in ns.services(name)} == selectors


def test_recreate_starts_new_pods_only_when_no_old_pod_exists(ns: Namespace) -> None:
    name = "recreate"
    manifest = rollout_manifest(name, {"recreate": {}}, replicas=2)
    # Old pods stay Terminating 4 s after deletion, as with a grace period on a real node.
    manifest["spec"]["template"]["metadata"]["annotations"] = {TERMINATION_DELAY: "4s"}
    old = healthy(ns, name, manifest)
    watch = PodWatch(ns.name, name)
    try:
        wait_for(lambda: watch.events, 10, "the pod watch to list the old pods")
        ns.set_image(name, IMAGE_V2)
        new = ns.wait_new_revision(name, old)
        ns.wait_phase(name, "Healthy", 45, stableRevision=new)
    finally:
        watch.stop()
    states = watch.states()
    assert any(terminating for state in states for revision, terminating in state.values() if revision == old), \
        "old pods went at once: the delayed termination did not apply"
    mixed = [state for state in states if {revision for revision, _ in state.values()} == {old, new}]
    assert not mixed, f"new pods ran while old ones still existed: {mixed[0]}"
