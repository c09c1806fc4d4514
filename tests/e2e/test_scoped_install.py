"""A namespaced install (`watchNamespaces`): the operator acts in the namespaces it was given and
cannot touch any other, because the chart grants it Roles only there."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from tests.e2e.conftest import CHART, Operator, chart_service_account, helm, write_token_kubeconfig
from tests.e2e.helpers import Namespace, kubectl, rollout_manifest

pytestmark = pytest.mark.e2e

RELEASE = "shiftlane-scoped"
RELEASE_NAMESPACE = "shiftlane-scoped"


def can(sa: str, verb: str, resource: str, namespace: str, *extra: str) -> bool:
    answer = kubectl("auth", "can-i", verb, resource, "-n", namespace, *extra,
                     f"--as=system:serviceaccount:{RELEASE_NAMESPACE}:{sa}", check=False).stdout.strip()
    return answer == "yes"


def test_scoped_operator_reaches_only_its_namespaces(crd: None, operator: Operator, tmp_path: Path) -> None:
    operator.stop()  # the session's cluster-wide operator would act in every namespace
    suffix = uuid.uuid4().hex[:5]
    granted, other = Namespace(f"e2e-granted-{suffix}"), Namespace(f"e2e-other-{suffix}")
    for ns in (granted, other):
        kubectl("create", "namespace", ns.name)
    scoped = None
    try:
        helm("upgrade", "--install", RELEASE, str(CHART), "-n", RELEASE_NAMESPACE, "--create-namespace",
             "--set", "crds.install=false", "--set", "replicaCount=0", "--set", f"watchNamespaces[0]={granted.name}", "--wait", "--timeout", "120s")
        sa = chart_service_account(RELEASE, RELEASE_NAMESPACE)

        assert can(sa, "patch", "deployments", granted.name)
        assert can(sa, "patch", "rollouts.shiftlane.io", granted.name, "--subresource=status")
        assert not can(sa, "patch", "rollouts.shiftlane.io", granted.name)  # the spec is Git's
        assert not can(sa, "patch", "deployments", other.name)
        assert not can(sa, "list", "rollouts.shiftlane.io", other.name)
        assert not can(sa, "get", "secrets", granted.name)
        assert not can(sa, "create", "namespaces", granted.name)

        kubeconfig = write_token_kubeconfig(sa, RELEASE_NAMESPACE, tmp_path / "kubeconfig")
        denied = kubectl("get", "deployments", "-n", other.name, kubeconfig=kubeconfig, check=False)
        assert denied.returncode != 0 and "forbidden" in denied.stderr.lower()

        scoped = Operator(kubeconfig, tmp_path / "operator.log", namespaces=[granted.name])
        scoped.start()
        for ns in (granted, other):
            ns.apply(rollout_manifest("web", {"recreate": {}}, replicas=2))
        granted.wait_phase("web", "Healthy", 30)
        time.sleep(2)  # the operator had every chance to act on the other namespace too
        assert "phase" not in (other.rollout("web").get("status") or {})  # only the CRD's default
        assert other.deployments("web") == {}
    finally:
        if scoped:
            scoped.stop()
        operator.start()
        helm("uninstall", RELEASE, "-n", RELEASE_NAMESPACE, "--wait", "--timeout", "60s", check=False)
        for ns in (granted, other, Namespace(RELEASE_NAMESPACE)):
            kubectl("delete", "namespace", ns.name, "--wait=false", check=False)
