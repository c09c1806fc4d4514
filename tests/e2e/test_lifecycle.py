"""What happens around a rollout: manual commands, the progress deadline, deletion, an operator crash,
generic health checks (`kubectl wait`), and the limits of the chart's RBAC."""

from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import RELEASE_NAMESPACE, Operator
from tests.e2e.helpers import (
    GROUP_RESOURCE,
    IMAGE_V2,
    NEVER_READY_IMAGE,
    NEVER_READY,
    ROLLOUT_LABEL,
    DeploymentWatch,
    Namespace,
    condition,
    kubectl,
    rollout_manifest,
    wait_for,
)

pytestmark = pytest.mark.e2e

REPLICAS = 4


def healthy_rollout(ns: Namespace, name: str, steps: list[dict], **spec) -> str:
    ns.apply(rollout_manifest(name, {"canary": {"steps": steps}}, replicas=REPLICAS, **spec))
    stable = ns.wait_phase(name, "Healthy", 30)["stableRevision"]
    ns.wait_replicas(name, {stable: REPLICAS})
    return stable


def start_rollout(ns: Namespace, name: str, old: str, image: str = IMAGE_V2) -> str:
    ns.set_image(name, image)
    return ns.wait_new_revision(name, old)


def test_abort_restores_stable_and_retry_resumes(ns: Namespace) -> None:
    name = "abort"
    old = healthy_rollout(ns, name, [{"setWeight": 50}, {"pause": {}}])
    new = start_rollout(ns, name, old)
    ns.wait_phase(name, "Paused", 30, currentStepIndex=2)
    ns.wait_replicas(name, {new: 2, old: 2}, timeout=5)

    ns.plugin("abort", name)
    status = ns.wait_phase(name, "Aborted", 15)
    ns.wait_replicas(name, {old: REPLICAS, new: 0}, timeout=20)
    status = ns.wait_status(name, lambda s: s["stableWeight"] == 100 and s["canaryWeight"] == 0, 10, "all traffic on stable")
    assert status["phase"] == "Aborted"
    assert (status["stableRevision"], status["canaryRevision"]) == (old, new)
    assert condition(status, "Stalled")["status"] == "True"
    assert condition(status, "Ready")["status"] == "False"
    assert ns.events(name, "RolloutAborted")

    ns.plugin("retry", name)
    status = ns.wait_phase(name, "Paused", 30, currentStepIndex=2)
    assert status["canaryRevision"] == new
    assert condition(status, "Stalled")["status"] == "False"
    ns.wait_replicas(name, {new: 2, old: 2}, timeout=10)
    assert ns.events(name, "RolloutRetried")

    ns.plugin("promote", name)
    ns.wait_phase(name, "Healthy", 30, stableRevision=new)
    ns.wait_replicas(name, {new: REPLICAS, old: 0})


def test_promote_and_promote_full(ns: Namespace) -> None:
    name = "promote"
    steps = [{"setWeight": 25}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}, {"setWeight": 75}, {"pause": {}}]
    old = healthy_rollout(ns, name, steps)
    with DeploymentWatch(ns.name, name) as watch:
        watch.wait_started()
        new = start_rollout(ns, name, old)
        ns.wait_phase(name, "Paused", 30, currentStepIndex=2)
        assert ns.replicas(name) == {new: 1, old: 3}

        ns.plugin("promote", name)  # one step: on to setWeight 50 and the next pause
        status = ns.wait_phase(name, "Paused", 20, currentStepIndex=5)
        assert ns.replicas(name) == {new: 2, old: 2}
        assert status["canaryWeight"] == 50
        assert ns.events(name, "Promoted")

        ns.plugin("promote", name, "--full")  # the rest at once: setWeight 75 and its pause never happen
        ns.wait_phase(name, "Healthy", 30, stableRevision=new)
        ns.wait_replicas(name, {new: REPLICAS, old: 0})
        time.sleep(0.5)
    assert watch.values(new) == [1, 2, 4]
    assert watch.values(old) == [4, 3, 2, 0]


def test_progress_deadline_aborts(ns: Namespace) -> None:
    name = "deadline"
    deadline = 5
    old = healthy_rollout(ns, name, [{"setWeight": 50}, {"pause": {}}],
                          progressDeadlineSeconds=deadline, progressDeadlineAbort=True)
    changed = time.monotonic()
    ns.json_patch(name, [
        {"op": "add", "path": "/spec/template/metadata/annotations", "value": {NEVER_READY: "true"}},
        {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": NEVER_READY_IMAGE},
    ])
    new = ns.wait_new_revision(name, old)
    status = ns.wait_status(name, lambda s: s["phase"] in ("Degraded", "Aborted"), deadline + 15, "Degraded or Aborted")
    assert time.monotonic() - changed >= deadline - 1, "the deadline fired early"
    status = ns.wait_phase(name, "Aborted", 10)
    assert condition(status, "Stalled")["status"] == "True"
    # The new revision never became ready: scaled to zero, the stable serves at full size.
    deps = ns.wait_replicas(name, {new: 0, old: REPLICAS}, timeout=15)
    assert deps[old]["ready"] == REPLICAS
    status = ns.wait_status(name, lambda s: s["stableWeight"] == 100, 10, "all traffic on stable")
    assert status["stableRevision"] == old
    events = ns.events(name, "ProgressDeadlineExceeded")
    assert events and events[0]["type"] == "Warning"
    assert ns.events(name, "RolloutAborted")


def test_delete_removes_owned_objects(ns: Namespace) -> None:
    name = "deleted"
    old = healthy_rollout(ns, name, [{"setWeight": 50}, {"pause": {}}])
    new = start_rollout(ns, name, old)
    ns.wait_phase(name, "Paused", 30, currentStepIndex=2)
    uid = ns.rollout(name)["metadata"]["uid"]
    owned = ns.json("get", "deployments,services", "-l", f"{ROLLOUT_LABEL}={name}")["items"]
    assert {o["metadata"]["name"] for o in owned} == {
        f"{name}-{old}", f"{name}-{new}", name, f"{name}-stable", f"{name}-canary"
    }
    for obj in owned:
        refs = obj["metadata"]["ownerReferences"]
        assert [(r["kind"], r["uid"], r.get("controller")) for r in refs] == [("Rollout", uid, True)], obj["metadata"]

    ns.kubectl("delete", GROUP_RESOURCE, name, "--wait=true", "--timeout=30s")

    def gone() -> bool:
        left = ns.json("get", "deployments,services,replicasets", "-l", f"{ROLLOUT_LABEL}={name}")["items"]
        pods = ns.json("get", "pods", "-l", f"app={name}")["items"]
        return not left and not pods

    wait_for(gone, 60, "the garbage collector to remove the Rollout's Deployments, Services and pods")


def test_operator_killed_mid_rollout_resumes(ns: Namespace, operator: Operator) -> None:
    name = "crash"
    old = healthy_rollout(ns, name, [{"setWeight": 50}, {"pause": {}}, {"setWeight": 75}, {"pause": {"duration": "1s"}}])
    new = start_rollout(ns, name, old)
    ns.wait_phase(name, "Paused", 30, currentStepIndex=2)
    time.sleep(0.5)  # let the last status write land
    before = ns.rollout(name)
    try:
        operator.kill()
        assert ns.status(name) == before["status"]
        operator.start()
        time.sleep(2)  # the restarted operator lists everything and reconciles it
        after = ns.rollout(name)
        # Idle is idle: resuming from status recomputes the same state and writes nothing.
        assert after["status"] == before["status"]
        assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
        assert ns.replicas(name) == {new: 2, old: 2}
    finally:
        if operator.proc is None:
            operator.start()

    ns.plugin("promote", name)
    status = ns.wait_phase(name, "Healthy", 30, stableRevision=new)
    assert status["strategy"] == "canary"
    ns.wait_replicas(name, {new: REPLICAS, old: 0})
    assert condition(status, "Ready")["status"] == "True"


def test_kubectl_wait_for_ready(ns: Namespace) -> None:
    name = "waited"
    ns.apply(rollout_manifest(name, {"canary": {"steps": [{"setWeight": 50}, {"pause": {}}]}}, replicas=REPLICAS))
    ns.kubectl("wait", "--for=condition=Ready", f"rollout/{name}", "--timeout=30s", timeout=40)
    old = ns.status(name)["stableRevision"]

    start_rollout(ns, name, old)
    # Mid-rollout the Rollout is not Ready; kubectl wait sees that too.
    ns.kubectl("wait", "--for=condition=Ready=false", f"rollout/{name}", "--timeout=30s", timeout=40)
    ns.kubectl("wait", "--for=condition=Reconciling", f"rollout/{name}", "--timeout=30s", timeout=40)
    ns.plugin("promote", name, "--full")
    ns.kubectl("wait", "--for=condition=Ready", f"rollout/{name}", "--timeout=30s", timeout=40)
    status = ns.status(name)
    assert status["phase"] == "Healthy" and status["stableRevision"] != old
    assert ns.kubectl("wait", "--for=jsonpath={.status.phase}=Healthy", f"rollout/{name}", "--timeout=5s").returncode == 0


def test_operator_rbac_has_no_secrets(release: str, token_kubeconfig: str) -> None:
    who = f"system:serviceaccount:{RELEASE_NAMESPACE}:{release}"
    for args in (["get", "secrets"], ["list", "secrets", "--all-namespaces"], ["get", "configmaps"]):
        result = kubectl("auth", "can-i", *args, f"--as={who}", check=False)
        assert result.stdout.strip() == "no", f"{who} can {' '.join(args)}: {result.stdout}{result.stderr}"
    # What it does need, it has.
    # (the status subresource by --subresource: `rollouts.shiftlane.io/status` would name a Rollout "status")
    for args in (["patch", "deployments"], ["patch", GROUP_RESOURCE, "--subresource=status"], ["create", "services"],
                 ["create", "events"], ["watch", GROUP_RESOURCE]):
        result = kubectl("auth", "can-i", *args, f"--as={who}", "-n", "default", check=False)
        assert result.stdout.strip() == "yes", f"{who} cannot {' '.join(args)}: {result.stdout}{result.stderr}"

    denied = kubectl("get", "secrets", "-A", kubeconfig=token_kubeconfig, check=False)
    assert denied.returncode != 0
    assert "Forbidden" in denied.stderr or "forbidden" in denied.stderr, denied.stderr
    # The same credentials do reach the API: the refusal is RBAC, not a broken kubeconfig.
    kubectl("get", GROUP_RESOURCE, "-A", kubeconfig=token_kubeconfig)
