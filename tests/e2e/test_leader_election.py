"""With the chart's RBAC, `--leader-elect` takes the Lease in the release namespace and keeps renewing it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import RELEASE_NAMESPACE, Operator
from tests.e2e.helpers import kubectl, kubectl_json, wait_for
from tests.e2e.test_metrics import samples

pytestmark = pytest.mark.e2e


def leader_gauge(operator: Operator) -> float:
    return samples(operator)[("shiftlane_leader", frozenset())]


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
        standby.start()  # returns once /readyz answers 200: a standby that reads the Lease is ready
        try:
            assert lease()["holderIdentity"] == "e2e-elected"
            assert "Activity 'configure'" not in standby.tail(200)  # kopf has not started on the standby
            # Readiness and the leader gauge tell the two apart.
            assert elected.probe("/readyz") == (200, {"role": "leader", "ready": True, "reason": "leader"})
            status, body = standby.probe("/readyz")
            assert status == 200 and body["role"] == "standby"
            assert standby.probe("/healthz") == (200, {"role": "standby"})
            assert leader_gauge(elected) == 1 and leader_gauge(standby) == 0
        finally:
            standby.stop()
    finally:
        elected.stop()
