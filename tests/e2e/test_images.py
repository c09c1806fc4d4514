"""ECR-aware rollouts on a real control plane, with ECR played by moto's server on loopback: the tag is
pinned to its digest in the revision while the Rollout keeps the tag, a stable image removed from
the registry is flagged (a rollback would fail), a vulnerable image is held back until its CVE is
allow-listed, a missing tag stalls naming repository and tag, the stable digest carries a protective
tag, and (with --ecr-pull-secrets) each namespace gets a pull Secret its revisions name."""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path

import boto3
import pytest

from shiftlane.api.revision import revision_of
from tests.e2e.conftest import (
    CHART, ECR_CREDENTIALS, RELEASE, RELEASE_NAMESPACE, Operator, chart_service_account, helm, write_token_kubeconfig,
)
from tests.e2e.helpers import Namespace, condition, kubectl, rollout_manifest, wait_for
from tests.e2e.test_metrics import samples
from tests.harness.ecr import push

pytestmark = pytest.mark.e2e

HOST = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
CVE = "CVE-9999-9999"  # the HIGH finding moto's basic scan reports
SECRET, EXPIRES = "shiftlane-ecr-pull", "shiftlane.io/token-expires-at"


def client(endpoint: str):
    return boto3.client("ecr", endpoint_url=endpoint, region_name="eu-west-1",
                        aws_access_key_id=ECR_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=ECR_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])


def test_ecr_tags_are_pinned_and_a_vulnerable_image_waits_for_its_allow_list(ns: Namespace, ecr_endpoint: str,
                                                                             operator: Operator) -> None:
    ecr = client(ecr_endpoint)
    repository = f"checkout-{ns.name[-5:]}"
    first = push(ecr, repository, "1", layer="a")
    name = "ecr"
    manifest = rollout_manifest(name, {"canary": {"steps": [{"setWeight": 50}]}}, replicas=2,
                                image=f"{HOST}/{repository}:1", imagePolicy={"scan": {"maxSeverity": "HIGH"}})
    ns.apply(manifest)
    status = ns.wait_phase(name, "Healthy", 40)
    stable = status["stableRevision"]
    deployment = ns.json("get", "deployment", f"{name}-{stable}")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == f"{HOST}/{repository}@{first}"
    assert ns.rollout(name)["spec"]["template"]["spec"]["containers"][0]["image"] == f"{HOST}/{repository}:1"  # no drift
    assert status["images"] == [{"container": "app", "tag": "1", "digest": first}]

    # A lifecycle policy removes the stable image: the next rollout says a rollback could not pull it.
    ecr.batch_delete_image(repositoryName=repository, imageIds=[{"imageDigest": first}])

    # Version 2 has a HIGH finding: it stays off the cluster, stable serves on.
    second = push(ecr, repository, "2", layer="b")
    ecr.start_image_scan(repositoryName=repository, imageId={"imageDigest": second})
    ns.set_image(name, f"{HOST}/{repository}:2")
    status = ns.wait_status(name, lambda s: condition(s, "Stalled").get("reason") == "ImageVulnerable", 30, "Stalled: ImageVulnerable")
    assert CVE in condition(status, "Stalled")["message"]
    assert set(ns.deployments(name)) == {stable}
    findings = {dict(labels)["severity"]: value for (metric, labels), value in samples(operator).items()
                if metric == "shiftlane_registry_image_findings" and dict(labels)["namespace"] == ns.name}
    assert findings["HIGH"] == 1 and findings["CRITICAL"] == 0  # the candidate revision's scan
    assert ns.events(name, "ImageVulnerable")
    rollback = condition(status, "RollbackImageAvailable")
    assert rollback["status"] == "False" and rollback["reason"] == "RollbackImageMissing"
    assert first in rollback["message"] and ns.events(name, "RollbackImageMissing")

    # The team accepts the finding: the rollout goes on, pinned to version 2's digest.
    ns.json_patch(name, [{"op": "add", "path": "/spec/imagePolicy/scan/allowList", "value": [CVE]}])
    status = ns.wait_phase(name, "Healthy", 60)
    new = status["stableRevision"]
    assert new != stable
    assert ns.json("get", "deployment", f"{name}-{new}")["spec"]["template"]["spec"]["containers"][0]["image"] == \
        f"{HOST}/{repository}@{second}"

    # A tag that does not exist stalls naming repository and tag; nothing is scaled.
    ns.set_image(name, f"{HOST}/{repository}:3")
    status = ns.wait_status(name, lambda s: condition(s, "Stalled").get("reason") == "ImageNotFound", 30, "Stalled: ImageNotFound")
    assert f"{repository}:3" in condition(status, "Stalled")["message"]
    assert set(ns.deployments(name)) <= {stable, new} and ns.replicas(name)[new] == 2


def tagged(ecr, repository: str, tag: str) -> set[str]:
    """The digests in ``repository`` that carry ``tag``."""
    return {d["imageDigest"] for d in ecr.describe_images(repositoryName=repository)["imageDetails"] if tag in d.get("imageTags", [])}


def test_the_stable_digest_carries_a_protective_tag_until_its_revision_leaves_history(ns: Namespace, ecr_endpoint: str) -> None:
    ecr = client(ecr_endpoint)
    app, tools = f"app-{ns.name[-5:]}", f"tools-{ns.name[-5:]}"
    first = push(ecr, app, "1", layer="a")
    second, third = push(ecr, tools, "2", layer="b"), push(ecr, tools, "3", layer="c")
    name, tag = "guarded", "shiftlane-stable-guarded"
    ns.apply(rollout_manifest(name, {"canary": {"steps": [{"setWeight": 50}]}}, replicas=2, image=f"{HOST}/{app}:1",
                              imagePolicy={"protectStable": True}, revisionHistoryLimit=1))
    ns.wait_phase(name, "Healthy", 40)
    wait_for(lambda: tagged(ecr, app, tag) == {first}, 15, "the first stable digest tagged")
    assert ns.events(name, "StableImageProtected")

    # The image moves to another repository: the new stable is tagged there; the old one keeps its tag
    # while its revision is in history (an undo could go back to it).
    ns.set_image(name, f"{HOST}/{tools}:2")
    ns.wait_status(name, lambda s: s.get("phase") == "Healthy" and s["images"][0]["digest"] == second, 60, "2 stable")
    wait_for(lambda: tagged(ecr, tools, tag) == {second}, 15, "the second stable digest tagged")
    assert tagged(ecr, app, tag) == {first}

    # One more: the first revision leaves history (revisionHistoryLimit 1) and its digest loses the tag.
    ns.set_image(name, f"{HOST}/{tools}:3")
    ns.wait_status(name, lambda s: s.get("phase") == "Healthy" and s["images"][0]["digest"] == third, 60, "3 stable")
    wait_for(lambda: tagged(ecr, tools, tag) == {third} and tagged(ecr, app, tag) == set(), 15, "the tag moved and removed")
    assert {d["imageDigest"] for d in ecr.describe_images(repositoryName=app)["imageDetails"]} == {first}  # never deleted


def test_a_pull_secret_is_kept_per_namespace_and_named_by_revisions_without_changing_their_hash(
        crd: None, operator: Operator, ecr_endpoint: str, tmp_path: Path) -> None:
    operator.stop()  # the session's operator keeps no pull Secrets; this one runs with the chart's RBAC for them
    ns = Namespace(f"e2e-pull-secret-{uuid.uuid4().hex[:5]}")
    kubectl("create", "namespace", ns.name)
    keeper = None
    try:
        helm("upgrade", "--install", RELEASE, str(CHART), "-n", RELEASE_NAMESPACE, "--create-namespace", "--set", "crds.install=false",
             "--set", "replicaCount=0", "--set", "ecr.pullSecrets.enabled=true", "--wait", "--timeout", "120s")
        kubeconfig = write_token_kubeconfig(chart_service_account(RELEASE, RELEASE_NAMESPACE), RELEASE_NAMESPACE,
                                            tmp_path / "kubeconfig")
        keeper = Operator(kubeconfig, tmp_path / "operator.log",
                          extra_args=("--ecr-pull-secrets", "--ecr-pull-secret-check-interval=1s", "--verbose"),
                          extra_env={"AWS_ENDPOINT_URL": ecr_endpoint, **ECR_CREDENTIALS})
        keeper.start()
        ecr = client(ecr_endpoint)
        repository = f"pulled-{ns.name[-5:]}"
        digest = push(ecr, repository, "1")
        manifest = rollout_manifest("pulled", {"canary": {"steps": [{"setWeight": 50}]}}, replicas=2,
                                    image=f"{HOST}/{repository}:1", imagePolicy={})
        ns.apply(manifest)
        status = ns.wait_phase("pulled", "Healthy", 40)
        revision = status["stableRevision"]
        assert revision == revision_of(ns.rollout("pulled")["spec"]["template"])  # named by the spec's template
        pod = ns.json("get", "deployment", f"pulled-{revision}")["spec"]["template"]["spec"]
        assert pod["imagePullSecrets"] == [{"name": SECRET}]
        assert pod["containers"][0]["image"] == f"{HOST}/{repository}@{digest}"

        secret = ns.json("get", "secret", SECRET)
        assert secret["type"] == "kubernetes.io/dockerconfigjson"
        auths = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))["auths"]
        assert set(auths) == {HOST}
        expires = secret["metadata"]["annotations"][EXPIRES]
        gauge = ("shiftlane_registry_pull_token_expiry_timestamp_seconds", frozenset({"namespace": ns.name, "registry": HOST}.items()))
        assert samples(keeper).get(gauge) is not None

        # Its recorded expiry shortened: rewritten at once with what ECR says.
        ns.kubectl("annotate", "secret", SECRET, f"{EXPIRES}=2026-01-01T00:00:00+00:00", "--overwrite")
        wait_for(lambda: ns.json("get", "secret", SECRET)["metadata"]["annotations"][EXPIRES] == expires, 15,
                 "the Secret refreshed")
        # Deleted: written again.
        ns.kubectl("delete", "secret", SECRET)
        wait_for(lambda: ns.kubectl("get", "secret", SECRET, check=False).returncode == 0, 15, "the Secret written again")

        # The token is in the Secret's data only: not in the operator's debug log, events or status.
        token = base64.b64decode(auths[HOST]["auth"]).decode().partition(":")[2]
        assert token and token not in keeper.tail(100_000)
        assert token not in json.dumps(ns.json("get", "events")) and token not in json.dumps(ns.rollout("pulled"))
        assert '"code":403' not in keeper.tail(100_000)  # the chart's RBAC covers every call
    finally:
        if keeper:
            keeper.stop()
        try:
            helm("upgrade", "--install", RELEASE, str(CHART), "-n", RELEASE_NAMESPACE, "--create-namespace", "--set", "crds.install=false",
                 "--set", "replicaCount=0", "--wait", "--timeout", "120s")
        finally:
            operator.start()  # the tests after this one need it, whatever happened here
        kubectl("delete", "namespace", ns.name, "--wait=false", check=False)
