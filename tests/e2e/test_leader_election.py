"""With the chart's RBAC, `--leader-elect` takes the Lease in the release namespace and keeps renewing it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import RELEASE_NAMESPACE, Operator
from tests.e2e.helpers import kubectl, kubectl_json, wait_for

pytestmark = pytest.mark.e2e


def lease() -> dict:
    return kubectl_json("get", "lease", "shiftlane-leader", "-n", RELEASE_NAMESPACE)["spec"]


def test_leader_takes_and_renews_the_lease(token_kubeconfig: str, tmp_path: Path) -> None:
    kubectl("delete", "lease", "shiftlane-leader", "-n", RELEASE_NAMESPACE, "--ignore-not-found")
    elected = Operator(
        token_kubeconfig, tmp_path / "elected.log", namespaces=[RELEASE_NAMESPACE], extra_args=("--leader-elect",),
        extra_env={"POD_NAMESPACE": RELEASE_NAMESPACE, "POD_NAME": "e2e-elected"},
    )
    elected.start()
    try:
        first = wait_for(lambda: kubectl("get", "lease", "shiftlane-leader", "-n", RELEASE_NAMESPACE, check=False).returncode == 0
                         and lease(), 15, "the Lease to be created")
        assert first["holderIdentity"] == "e2e-elected"
        wait_for(lambda: lease()["renewTime"] != first["renewTime"], 15, "the leader to renew its Lease")
        assert "403" not in elected.tail(200)

        standby = Operator(
            token_kubeconfig, tmp_path / "standby.log", namespaces=[RELEASE_NAMESPACE], extra_args=("--leader-elect",),
            extra_env={"POD_NAMESPACE": RELEASE_NAMESPACE, "POD_NAME": "e2e-standby"},
        )
        standby.start()  # returns once /healthz answers: a standby stays alive for its liveness probe
        try:
            assert lease()["holderIdentity"] == "e2e-elected"
            assert "Activity 'configure'" not in standby.tail(200)  # kopf has not started on the standby
        finally:
            standby.stop()
    finally:
        elected.stop()
