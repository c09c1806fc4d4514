"""A Rollout the operator has not seen yet, as the API server serves it: Flux (kstatus) and Argo CD (the
Lua health check in docs/argocd/) must read it as in progress, not as done."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import yaml

from tests.harness.argocd import ArgoCdLua
from tests.harness.kstatus import KStatus, compute
from tests.unit.world import manifest

ROOT = Path(__file__).resolve().parents[2]


def kubectl(*args: str, stdin: str | None = None) -> str:
    return subprocess.run(["kubectl", *args], input=stdin, check=True, capture_output=True, text=True).stdout


def test_a_new_rollout_reads_in_progress_until_the_operator_writes() -> None:
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(ROOT / "crds"))
    kubectl("wait", "--for=condition=Established", "crd/rollouts.shiftlane.io", "--timeout=60s")
    namespace = f"gitops-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", namespace)
    try:
        rollout = {"apiVersion": "shiftlane.io/v1alpha1", "kind": "Rollout",
                   "metadata": {"name": "web", "namespace": namespace}, "spec": manifest({"recreate": {}})}
        kubectl("apply", "-f", "-", stdin=yaml.safe_dump(rollout))
        stored = json.loads(kubectl("get", "rollouts.shiftlane.io", "web", "-n", namespace, "-o", "json"))
        assert stored["status"] == {"observedGeneration": 0}
        assert compute(stored).status is KStatus.IN_PROGRESS
        assert ArgoCdLua().health(stored).status == "Progressing"
    finally:
        kubectl("delete", "namespace", namespace, "--wait=false")
