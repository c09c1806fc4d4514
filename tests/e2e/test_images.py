"""ECR-aware rollouts on a real control plane, with ECR played by moto's server on loopback: the tag is
pinned to its digest in the revision while the Rollout keeps the tag, a stable image removed from
the registry is flagged (a rollback would fail), a vulnerable image is held back until its CVE is
allow-listed, and a missing tag stalls naming repository and tag."""

from __future__ import annotations

import boto3
import pytest

from tests.e2e.conftest import ECR_CREDENTIALS
from tests.harness.ecr import push
from tests.e2e.helpers import Namespace, condition, rollout_manifest

pytestmark = pytest.mark.e2e

HOST = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
CVE = "CVE-9999-9999"  # the HIGH finding moto's basic scan reports


def test_ecr_tags_are_pinned_and_a_vulnerable_image_waits_for_its_allow_list(ns: Namespace, ecr_endpoint: str) -> None:
    ecr = boto3.client("ecr", endpoint_url=ecr_endpoint, region_name="eu-west-1",
                       aws_access_key_id=ECR_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                       aws_secret_access_key=ECR_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])
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
