"""`kubectl shiftlane` against a real API server (the one in $KUBECONFIG; `hack/cluster.sh up` makes one).

Commands must land in the status subresource with a fresh id and leave the spec, and so the
generation a GitOps tool compares, untouched; `set image` is the user's own spec change.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CRD_FILE = REPO / "crds" / "rollouts.shiftlane.io.yaml"
CRD_NAME = "rollouts.shiftlane.io"

pytestmark = pytest.mark.skipif(
    not os.environ.get("KUBECONFIG"),
    reason="KUBECONFIG is not set: these tests need an API server (run `hack/cluster.sh up` and export KUBECONFIG)",
)


def kubectl(*args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["kubectl", *args], input=stdin, capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr}")
    return result


def plugin(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "kubectl-shiftlane"), *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def crd() -> None:
    ready = kubectl("get", "--raw", "/readyz", "--request-timeout=10s", check=False)
    assert ready.returncode == 0, f"API server in KUBECONFIG={os.environ['KUBECONFIG']} is not ready: {ready.stderr}"
    kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=shiftlane-tests", "-f", str(CRD_FILE))
    kubectl("wait", "--for=condition=Established", f"crd/{CRD_NAME}", "--timeout=60s")
    # Established can precede discovery by a moment: wait until kubectl can resolve the resource.
    deadline = time.monotonic() + 30
    while kubectl("get", CRD_NAME, "-A", "-o", "name", check=False).returncode != 0:
        assert time.monotonic() < deadline, "rollouts.shiftlane.io never became usable"
        time.sleep(0.5)


@pytest.fixture(scope="module")
def namespace(crd: None):
    name = f"shiftlane-plugin-{uuid.uuid4().hex[:8]}"
    kubectl("create", "namespace", name)
    yield name
    kubectl("delete", "namespace", name, "--wait=false", check=False)


def manifest(name: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "shiftlane.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "example/app:1"}, {"name": "proxy", "image": "example/proxy:1"}]},
            },
            "strategy": {"canary": {"steps": [{"setWeight": 20}, {"pause": {}}, {"setWeight": 60}]}},
        },
    }


@pytest.fixture
def rollout(namespace: str) -> str:
    name = f"web-{uuid.uuid4().hex[:6]}"
    kubectl("apply", "--server-side", "--field-manager=shiftlane-tests", "-f", "-", stdin=yaml.safe_dump(manifest(name, namespace)))
    return name


def fetch(name: str, namespace: str) -> dict[str, Any]:
    return json.loads(kubectl("get", CRD_NAME, name, "-n", namespace, "-o", "json").stdout)


COMMANDS = [
    (["promote"], "promote"),
    (["promote", "--full"], "promoteFull"),
    (["abort"], "abort"),
    (["retry"], "retry"),
    (["pause"], "pause"),
    (["resume"], "resume"),
    (["undo"], "undo"),
]


def test_commands_land_in_status_with_fresh_ids_and_leave_spec_alone(rollout: str, namespace: str) -> None:
    before = fetch(rollout, namespace)
    seen: set[str] = set()
    for words, name in COMMANDS:
        result = plugin(words[0], rollout, *words[1:], "-n", namespace)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"rollout {namespace}/{rollout}: ")
        assert "requested" in result.stdout
        after = fetch(rollout, namespace)
        command = after["status"]["command"]
        assert command["name"] == name
        assert command["id"] not in seen
        seen.add(command["id"])
        assert "revision" not in command
        assert after["metadata"]["generation"] == before["metadata"]["generation"]
        assert after["spec"] == before["spec"]
    assert len(seen) == len(COMMANDS)


def test_undo_to_revision(rollout: str, namespace: str) -> None:
    result = plugin("undo", rollout, "--to-revision", "abc123", "-n", namespace)
    assert result.returncode == 0, result.stderr
    command = fetch(rollout, namespace)["status"]["command"]
    assert command["name"] == "undo" and command["revision"] == "abc123"


def test_set_image_changes_the_spec(rollout: str, namespace: str) -> None:
    before = fetch(rollout, namespace)
    result = plugin("set", "image", rollout, "proxy=example/proxy:2", "-n", namespace)
    assert result.returncode == 0, result.stderr
    after = fetch(rollout, namespace)
    containers = after["spec"]["template"]["spec"]["containers"]
    assert [c["image"] for c in containers] == ["example/app:1", "example/proxy:2"]
    assert after["metadata"]["generation"] == before["metadata"]["generation"] + 1

    result = plugin("set", "image", rollout, "nope=x:1", "-n", namespace)
    assert result.returncode == 2
    assert "unknown container nope" in result.stderr and "Traceback" not in result.stderr
    assert fetch(rollout, namespace)["metadata"]["generation"] == after["metadata"]["generation"]


def test_get_renders(rollout: str, namespace: str) -> None:
    plugin("pause", rollout, "-n", namespace)
    result = plugin("get", rollout, "-n", namespace)
    assert result.returncode == 0, result.stderr
    assert f"Name:        {namespace}/{rollout}" in result.stdout
    assert "Strategy:    canary" in result.stdout
    assert "Command:     pause requested, not yet handled" in result.stdout or "Phase:" in result.stdout
    assert "1  setWeight 20%" in result.stdout and "2  pause until promoted" in result.stdout


def test_plan_from_the_cluster(rollout: str, namespace: str) -> None:
    result = plugin("plan", rollout, "-n", namespace)
    assert result.returncode == 0, result.stderr
    assert f"Rollout {namespace}/{rollout}: strategy canary, 3 replicas" in result.stdout
    result = subprocess.run([str(BIN / "shiftlane"), "plan", rollout, "-n", namespace], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "pause until promoted" in result.stdout


def test_as_a_kubectl_plugin(rollout: str, namespace: str) -> None:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(["kubectl", "shiftlane", "get", rollout, "-n", namespace], capture_output=True, text=True,
                            timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    assert f"{namespace}/{rollout}" in result.stdout


def test_missing_rollout_is_a_clear_error(namespace: str) -> None:
    for words in (["promote", "missing"], ["get", "missing"], ["set", "image", "missing", "app=x:1"]):
        result = plugin(*words, "-n", namespace)
        assert result.returncode == 1, (words, result.stdout, result.stderr)
        assert result.stderr.strip() == f'error: rollout "missing" not found in namespace "{namespace}"'


def test_watch_renders_on_each_change(rollout: str, namespace: str) -> None:
    proc = subprocess.Popen([str(BIN / "kubectl-shiftlane"), "get", rollout, "-n", namespace, "--watch"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()  # type: ignore[union-attr]

    def wait_for(text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if text in lines.get(timeout=0.5):
                    return
            except queue.Empty:
                if proc.poll() is not None:
                    raise AssertionError(f"watch exited {proc.returncode}: {proc.stderr.read()}")  # type: ignore[union-attr]
        raise AssertionError(f"no {text!r} within {timeout}s")

    try:
        wait_for(f"Name:        {namespace}/{rollout}")
        assert plugin("abort", rollout, "-n", namespace).returncode == 0
        wait_for("Command:     abort requested, not yet handled")
        assert plugin("set", "image", rollout, "app=example/app:7", "-n", namespace).returncode == 0
        wait_for("app=example/app:7")
        kubectl("delete", CRD_NAME, rollout, "-n", namespace)
        wait_for(f"rollout {namespace}/{rollout} deleted")
        assert proc.wait(timeout=30) == 1
        assert "\033[" not in proc.stderr.read()  # type: ignore[union-attr]
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=10)


# --- get, status, list, version, convert against the API server (no operator: status written by hand) ---


def patch_status(name: str, namespace: str, status: dict[str, Any]) -> None:
    kubectl("patch", CRD_NAME, name, "-n", namespace, "--subresource=status", "--type=merge",
            "-p", json.dumps({"status": status}))


def test_get_lists_pods_by_revision_and_events_in_event_time_order(rollout: str, namespace: str) -> None:
    uid = fetch(rollout, namespace)["metadata"]["uid"]
    revision = "abc1234567"
    labels = {"shiftlane.io/rollout": rollout, "shiftlane.io/revision": revision}
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": f"{rollout}-{revision}", "namespace": namespace, "labels": labels},
        "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "app", "image": "example/app:1"}]}}},
    }
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump(deployment))
    patch_status(rollout, namespace, {"phase": "Healthy", "stableRevision": revision,
                                      "revisions": [{"name": revision, "replicas": 2, "readyReplicas": 2, "weight": 100}]})
    # Created in this order, named so that the API lists them in another: only event time orders them.
    for name, reason, second in (("a-late", "Third", 3), ("b-early", "First", 1), ("c-middle", "Second", 2)):
        event = {"apiVersion": "v1", "kind": "Event", "type": "Normal", "reason": reason, "message": f"{reason} thing",
                 "metadata": {"name": f"{rollout}.{name}", "namespace": namespace},
                 "involvedObject": {"apiVersion": "shiftlane.io/v1alpha1", "kind": "Rollout", "name": rollout,
                                    "namespace": namespace, "uid": uid},
                 "eventTime": f"2026-01-01T00:00:0{second}.000000Z", "reportingComponent": "shiftlane",
                 "reportingInstance": "test", "action": "Test", "firstTimestamp": None, "lastTimestamp": None}
        kubectl("create", "-f", "-", stdin=yaml.safe_dump(event))

    def pods_ready() -> list[list[str]]:
        out = plugin("get", rollout, "-n", namespace)
        assert out.returncode == 0, out.stderr
        return [line.split() for line in out.stdout.splitlines() if line.startswith(f"  {revision}  {rollout}-")]

    deadline = time.monotonic() + 60
    while len([p for p in pods_ready() if p[2] == "yes"]) < 2:
        assert time.monotonic() < deadline, "the Deployment's pods never showed as ready"
        time.sleep(1)
    text = plugin("get", rollout, "-n", namespace).stdout
    assert f"  {revision}  stable  2         2      100%    app=example/app:1" in text
    assert text.index("First thing") < text.index("Second thing") < text.index("Third thing")


def test_status_exit_codes(rollout: str, namespace: str) -> None:
    # No operator has looked at this Rollout: the status says nothing about its generation.
    result = plugin("status", rollout, "-n", namespace, "--timeout", "2s")
    assert result.returncode == 3
    assert "waiting for the operator to observe generation 1" in result.stderr
    generation = fetch(rollout, namespace)["metadata"]["generation"]
    patch_status(rollout, namespace, {"phase": "Degraded", "observedGeneration": generation, "message": "deadline"})
    result = plugin("status", rollout, "-n", namespace, "--timeout", "10s")
    assert result.returncode == 1 and result.stderr == f"error: rollout {namespace}/{rollout} is Degraded: deadline\n"
    patch_status(rollout, namespace, {"phase": "Healthy", "message": ""})
    result = plugin("status", rollout, "-n", namespace, "--timeout", "10s")
    assert result.returncode == 0 and result.stdout.rstrip().endswith(f"rollout {namespace}/{rollout}: Healthy")


def test_status_sees_the_change_it_waits_for(rollout: str, namespace: str) -> None:
    generation = fetch(rollout, namespace)["metadata"]["generation"]
    patch_status(rollout, namespace, {"phase": "Progressing", "observedGeneration": generation})
    proc = subprocess.Popen([str(BIN / "kubectl-shiftlane"), "status", rollout, "-n", namespace, "--timeout", "60s"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(2)
        assert proc.poll() is None  # still waiting
        patch_status(rollout, namespace, {"phase": "Healthy"})
        assert proc.wait(timeout=30) == 0
        assert proc.stdout.read().splitlines()[-1].endswith(f"rollout {namespace}/{rollout}: Healthy")  # type: ignore[union-attr]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_list_and_version(rollout: str, namespace: str) -> None:
    result = plugin("list", "-n", namespace)
    assert result.returncode == 0, result.stderr
    assert any(line.split()[:2] == [rollout, "canary"] for line in result.stdout.splitlines())
    result = plugin("list", "-A")
    assert any(line.split()[:2] == [namespace, rollout] for line in result.stdout.splitlines())
    result = plugin("version")
    assert result.returncode == 0 and result.stdout.startswith("Client:   kubectl-shiftlane ")


FIXTURES = REPO / "tests" / "unit" / "convert_fixtures"


@pytest.mark.parametrize("files", [
    ["deployment.yaml"], ["deployment-recreate.yaml"], ["argo-canary-istio.yaml"], ["argo-bluegreen.yaml"],
    ["argo-gateway-workloadref.yaml"], ["flagger-canary.yaml", "podinfo-deployment.yaml"], ["flagger-ab.yaml"],
    ["flagger-stepweights-gateway.yaml"], ["flagger-bluegreen.yaml"], ["flagger-mirror.yaml"],
])
def test_what_convert_prints_the_api_server_accepts(crd: None, namespace: str, files: list[str]) -> None:
    argv = [arg for f in files for arg in ("-f", str(FIXTURES / f))]
    result = plugin("convert", *argv)
    assert result.returncode == 0, result.stderr
    for doc in yaml.safe_load_all(result.stdout):
        doc["metadata"]["namespace"] = namespace
        applied = kubectl("apply", "--dry-run=server", "--validate=strict", "-f", "-", stdin=yaml.safe_dump(doc), check=False)
        assert applied.returncode == 0, (files, applied.stderr)


def test_lint_agrees_with_the_api_server_on_a_typo(crd: None, namespace: str, tmp_path: Path) -> None:
    bad = manifest("typo", namespace)
    bad["spec"]["strategy"] = {"rollingBatches": {"batchSize": 1, "pauseBetwen": "30s"}}
    path = tmp_path / "typo.yaml"
    path.write_text(yaml.safe_dump(bad))
    result = plugin("lint", "-f", str(path))
    assert result.returncode == 2
    assert "spec.strategy.rollingBatches.pauseBetwen: unknown field 'pauseBetwen'; did you mean 'pauseBetween'?" in result.stderr
    applied = kubectl("apply", "--dry-run=server", "--validate=strict", "-f", str(path), check=False)
    assert applied.returncode != 0 and "pauseBetwen" in applied.stderr
