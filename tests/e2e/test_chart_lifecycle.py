"""The chart on a real API server with the real helm: its CRD is taken over from a kubectl install, upgraded
with the chart, and kept (with every Rollout) when the release is uninstalled; the users' ClusterRoles
aggregate into the built-in view and edit roles, manual actions included."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import CHART, CRD_FILE, helm
from tests.e2e.helpers import GROUP_RESOURCE, Namespace, kubectl, kubectl_json, rollout_manifest, wait_for

pytestmark = pytest.mark.e2e

CRD = "crd/rollouts.shiftlane.io"
CRD_RELEASE = "shiftlane-crd"


def stored_crd() -> dict:
    return kubectl_json("get", CRD)


def chart_with_column(tmp_path: Path, column: str) -> Path:
    """A copy of the chart whose CRD has one more printer column: a new schema, as a new chart version brings."""
    chart = tmp_path / "chart"
    shutil.copytree(CHART, chart)
    path = chart / "files" / "crds" / "rollouts.shiftlane.io.yaml"
    document = yaml.safe_load(path.read_text())
    document["spec"]["versions"][0]["additionalPrinterColumns"].append(
        {"name": column, "type": "string", "jsonPath": ".status.message", "priority": 1})
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return chart


def columns() -> list[str]:
    return [c["name"] for c in stored_crd()["spec"]["versions"][0]["additionalPrinterColumns"]]


def test_the_crd_is_upgraded_with_the_chart_and_kept_on_uninstall(crd: None, tmp_path: Path) -> None:
    install = ["-n", CRD_RELEASE, "--create-namespace", "--set", "replicaCount=0", "--wait", "--timeout", "120s"]
    ns = Namespace(f"e2e-crd-kept-{uuid.uuid4().hex[:5]}")
    kubectl("create", "namespace", ns.name)
    try:
        # A CRD installed with kubectl first is taken over by the release (the README's way).
        helm("upgrade", "--install", CRD_RELEASE, str(CHART), "--take-ownership", "--force-conflicts", *install)
        meta = stored_crd()["metadata"]
        assert meta["annotations"]["helm.sh/resource-policy"] == "keep"
        assert meta["annotations"]["meta.helm.sh/release-name"] == CRD_RELEASE
        ns.apply(rollout_manifest("kept", {"recreate": {}}, replicas=1))

        # A chart whose CRD changed: `helm upgrade` applies the new schema (Helm never upgrades crds/).
        helm("upgrade", CRD_RELEASE, str(chart_with_column(tmp_path, "Lifecycle")), "--force-conflicts", *install)
        assert "Lifecycle" in columns()
        helm("upgrade", CRD_RELEASE, str(CHART), "--force-conflicts", *install)
        assert "Lifecycle" not in columns()

        helm("uninstall", CRD_RELEASE, "-n", CRD_RELEASE, "--wait", "--timeout", "60s")
        assert stored_crd()["metadata"]["name"] == "rollouts.shiftlane.io"
        assert ns.rollout("kept")["metadata"]["name"] == "kept"  # the Rollouts survive with it
    finally:
        helm("uninstall", CRD_RELEASE, "-n", CRD_RELEASE, "--wait", "--timeout", "60s", check=False)
        # Back to the session's CRD as the `crd` fixture applied it.
        kubectl("annotate", CRD, "helm.sh/resource-policy-", "meta.helm.sh/release-name-", "meta.helm.sh/release-namespace-",
                check=False)
        kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRD_FILE))
        for name in (ns.name, CRD_RELEASE):
            kubectl("delete", "namespace", name, "--wait=false", check=False)


def can(user: str, verb: str, resource: str, namespace: str, subresource: str = "") -> bool:
    args = ["auth", "can-i", verb, resource, "-n", namespace, f"--as={user}"]
    if subresource:
        args.append(f"--subresource={subresource}")
    return kubectl(*args, check=False).stdout.strip() == "yes"


def test_view_and_edit_users_get_rollouts_and_editors_the_manual_actions(release: str) -> None:
    ns = Namespace(f"e2e-user-roles-{uuid.uuid4().hex[:5]}")
    kubectl("create", "namespace", ns.name)
    try:
        kubectl("create", "rolebinding", "viewer", "--clusterrole=view", "--user=vera", "-n", ns.name)
        kubectl("create", "rolebinding", "editor", "--clusterrole=edit", "--user=eddie", "-n", ns.name)
        # The controller-manager aggregates the chart's roles into view and edit.
        wait_for(lambda: can("vera", "list", GROUP_RESOURCE, ns.name), 30, "view to include Rollouts")
        wait_for(lambda: can("eddie", "patch", GROUP_RESOURCE, ns.name, "status"), 30, "edit to include the manual actions")
        assert can("vera", "get", GROUP_RESOURCE, ns.name, "status")
        assert not can("vera", "patch", GROUP_RESOURCE, ns.name)
        assert not can("vera", "patch", GROUP_RESOURCE, ns.name, "status")  # a viewer cannot promote
        assert can("eddie", "create", GROUP_RESOURCE, ns.name)
        assert can("eddie", "patch", GROUP_RESOURCE, ns.name, "scale")  # kubectl scale
        assert not can("eddie", "patch", GROUP_RESOURCE, "default")  # only where edit is bound
    finally:
        kubectl("delete", "namespace", ns.name, "--wait=false", check=False)
