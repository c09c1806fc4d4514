"""The ECR adapter against moto in server mode: a real HTTP endpoint on loopback, boto3 pointed at it by
AWS_ENDPOINT_URL. botocore's Stubber stands in only for scan shapes moto cannot produce."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import aiohttp
import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber
from prometheus_client import REGISTRY

from shiftlane.api.image_policy import ImagePolicy, ScanPolicy
from shiftlane.engine.model import Event, ImageGate
from shiftlane.registry.ecr import Ecr, Unprotected, default_config
from shiftlane.registry.findings import ScanStatus, Severity
from shiftlane.registry.gate import ImageGatekeeper
from shiftlane.registry.inspect import ImageProblem, inspect_images
from shiftlane.registry.oci import OciRegistry
from shiftlane.registry.pinning import pinned_template
from shiftlane.registry.policy import Allowed, Blocked, evaluate
from shiftlane.registry.pull_secret import observe_pull_secret, pull_secret_manifest
from shiftlane.registry.references import parse_image
from shiftlane.registry.results import Digest, Problem, RegistryError
from shiftlane.registry.stable_tag import StableTagger
from tests.harness.ecr import free_port, push

ACCOUNT = "123456789012"  # moto's account
HOST = f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com"
REPLICA_HOST = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"
ONE_TRY = default_config().merge(Config(retries={"mode": "adaptive", "max_attempts": 1}))


def ecr(region: str = "eu-west-1", config: Config | None = None) -> Ecr:
    return Ecr(boto3.Session(region_name=region), config)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_tag_resolves_to_its_digest_and_a_missing_tag_names_repository_and_tag(aws) -> None:
    digest = push(aws(), "checkout", "1.4.2")
    adapter = ecr()
    assert await adapter.resolve_digest(parse_image("app", f"{HOST}/checkout:1.4.2")) == Digest(
        digest, "application/vnd.docker.distribution.manifest.v2+json")
    # A reference by digest resolves to itself once the digest is known to exist.
    assert (await adapter.resolve_digest(parse_image("app", f"{HOST}/checkout@{digest}"))).value == digest

    before = sample("shiftlane_registry_requests_total", api="ecr:DescribeImages", outcome="not_found")
    missing = await adapter.resolve_digest(parse_image("app", f"{HOST}/checkout:9.9.9"))
    assert isinstance(missing, RegistryError) and missing.problem is Problem.NOT_FOUND
    assert f"{HOST}/checkout:9.9.9" in missing.message
    assert sample("shiftlane_registry_requests_total", api="ecr:DescribeImages", outcome="not_found") == before + 1
    no_repo = await adapter.resolve_digest(parse_image("app", f"{HOST}/nothing:1"))
    assert no_repo.problem is Problem.NOT_FOUND and "nothing" in no_repo.message


async def test_tag_mutability_is_read_from_the_repository(aws) -> None:
    push(aws(), "mutable", "1")
    push(aws(), "immutable", "1", mutability="IMMUTABLE")
    adapter = ecr()
    assert await adapter.tag_immutable(parse_image("app", f"{HOST}/mutable:1")) is False
    assert await adapter.tag_immutable(parse_image("app", f"{HOST}/immutable:1")) is True


async def test_an_authorization_token_becomes_a_pull_secret(aws) -> None:
    token = await ecr().authorization(parse_image("app", f"{HOST}/checkout:1"))
    assert (token.registry, token.username, token.password) == (HOST, "AWS", f"{ACCOUNT}-auth-token")
    assert token.expires_at.tzinfo is not None
    observed = observe_pull_secret(pull_secret_manifest("shop", [token]))
    assert observed.registries == {HOST} and observed.expires_at == token.expires_at


async def test_a_removed_digest_is_reported_missing(aws) -> None:
    client = aws()
    old = push(client, "checkout", "1.0", layer="a")
    push(client, "checkout", "1.1", layer="b")
    ref = parse_image("app", f"{HOST}/checkout:1.1")
    assert await ecr().digest_exists(ref, old) is True
    client.batch_delete_image(repositoryName="checkout", imageIds=[{"imageDigest": old}])
    assert await ecr().digest_exists(ref, old) is False


async def test_the_regional_replica_is_used_once_it_holds_the_digest(aws) -> None:
    source = aws("eu-west-1")
    digest = push(source, "team/checkout", "2")
    ref = parse_image("app", f"{HOST}/team/checkout:2")
    in_us = ecr("us-east-1")
    assert await in_us.regional_replica(ref, digest) is None  # no replication configured
    source.put_replication_configuration(replicationConfiguration={"rules": [{
        "destinations": [{"region": "us-east-1", "registryId": ACCOUNT}],
        "repositoryFilters": [{"filter": "team/", "filterType": "PREFIX_MATCH"}],
    }]})
    assert await in_us.regional_replica(ref, digest) is None  # replication has not copied it yet
    assert push(aws("us-east-1"), "team/checkout", "2") == digest
    replica = await in_us.regional_replica(ref, digest)
    assert (replica.registry, replica.repository, replica.ecr.region) == (REPLICA_HOST, "team/checkout", "us-east-1")
    assert await ecr("eu-west-1").regional_replica(ref, digest) is None  # already in the operator's region
    other = parse_image("app", f"{HOST}/other:2")
    push(source, "other", "2")
    push(aws("us-east-1"), "other", "2")
    assert await in_us.regional_replica(other, digest) is None  # the filter does not copy it


async def test_protect_stable_tags_the_digest_and_untags_it_without_deleting_the_image(aws) -> None:
    client = aws()
    stable = push(client, "checkout", "1.0", layer="a")
    ref = parse_image("app", f"{HOST}/checkout:1.0")
    adapter = ecr()
    assert await adapter.protect(ref, stable, "shiftlane-stable-checkout") is None
    assert await adapter.protect(ref, stable, "shiftlane-stable-checkout") is None  # again: nothing changes

    def tags() -> set[str]:
        return set(client.describe_images(repositoryName="checkout", imageIds=[{"imageDigest": stable}])["imageDetails"][0]["imageTags"])

    assert tags() == {"1.0", "shiftlane-stable-checkout"}
    assert await adapter.unprotect(ref, stable, "shiftlane-stable-checkout") is Unprotected.REMOVED
    assert tags() == {"1.0"}
    assert await adapter.unprotect(ref, stable, "shiftlane-stable-checkout") is Unprotected.ABSENT

    # When the protective tag is the image's last, removing it would delete the image: it stays.
    await adapter.protect(ref, stable, "shiftlane-stable-checkout")
    push(client, "checkout", "1.0", layer="b")  # 1.0 moves to another image
    assert await adapter.unprotect(ref, stable, "shiftlane-stable-checkout") is Unprotected.KEPT_LAST_TAG
    assert await adapter.digest_exists(ref, stable) is True
    gone = await adapter.protect(ref, "sha256:" + "9" * 64, "shiftlane-stable-checkout")
    assert gone.problem is Problem.NOT_FOUND


async def test_basic_scan_findings_and_a_missing_scan(aws) -> None:
    client = aws()
    digest = push(client, "checkout", "1")
    ref = parse_image("app", f"{HOST}/checkout:1")
    assert (await ecr().scan_findings(ref, digest)).status is ScanStatus.MISSING
    client.start_image_scan(repositoryName="checkout", imageId={"imageDigest": digest})
    scan = await ecr().scan_findings(ref, digest)
    assert scan.status is ScanStatus.COMPLETE
    assert [(f.id, f.severity) for f in scan.findings] == [("CVE-9999-9999", Severity.HIGH)]


async def test_an_unreachable_ecr_is_a_typed_result(moto_endpoint, monkeypatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    answer = await ecr(config=ONE_TRY).resolve_digest(parse_image("app", f"{HOST}/checkout:1"))
    assert isinstance(answer, RegistryError) and answer.problem is Problem.UNREACHABLE


# --- shapes moto cannot produce -------------------------------------------------------------------

ENHANCED_PAGE_1 = {
    "imageScanStatus": {"status": "ACTIVE", "description": "Continuous scan is selected"},
    "imageScanFindings": {
        "enhancedFindings": [
            {"severity": "CRITICAL", "status": "ACTIVE", "title": "CVE-2024-3094 - xz",
             "packageVulnerabilityDetails": {"vulnerabilityId": "CVE-2024-3094", "source": "NVD"}},
            {"severity": "HIGH", "status": "SUPPRESSED", "title": "CVE-2023-0001 - old",
             "packageVulnerabilityDetails": {"vulnerabilityId": "CVE-2023-0001", "source": "NVD"}},
        ],
        "findingSeverityCounts": {"CRITICAL": 1, "HIGH": 1},
    },
    "nextToken": "page-2",
}
ENHANCED_PAGE_2 = {
    "imageScanFindings": {"enhancedFindings": [
        {"severity": "UNTRIAGED", "status": "ACTIVE", "title": "GHSA-xxxx",
         "packageVulnerabilityDetails": {"vulnerabilityId": "GHSA-xxxx-yyyy", "source": "GITHUB"}},
    ]},
}
DIGEST = "sha256:" + "e" * 64
REF = parse_image("app", f"{HOST}/checkout:1")


def stubbed(config: Config | None = None) -> tuple[Ecr, Stubber]:
    adapter = Ecr(boto3.Session(region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"), config)
    stubber = Stubber(adapter.client(REF))
    stubber.activate()
    return adapter, stubber


async def test_enhanced_findings_over_pages_carry_cve_ids_and_skip_suppressed_ones() -> None:
    adapter, stubber = stubbed()
    expected = {"registryId": ACCOUNT, "repositoryName": "checkout", "imageId": {"imageDigest": DIGEST}}
    stubber.add_response("describe_image_scan_findings", ENHANCED_PAGE_1, expected)
    stubber.add_response("describe_image_scan_findings", ENHANCED_PAGE_2, {**expected, "nextToken": "page-2"})
    scan = await adapter.scan_findings(REF, DIGEST)
    assert scan.status is ScanStatus.ACTIVE
    assert [(f.id, f.severity) for f in scan.findings] == [("CVE-2024-3094", Severity.CRITICAL), ("GHSA-xxxx-yyyy", Severity.UNTRIAGED)]
    stubber.assert_no_pending_responses()


async def test_a_scan_in_progress_is_asked_again_and_a_complete_one_is_cached() -> None:
    adapter, stubber = stubbed()
    stubber.add_response("describe_image_scan_findings", {"imageScanStatus": {"status": "IN_PROGRESS"}})
    stubber.add_response("describe_image_scan_findings", {
        "imageScanStatus": {"status": "COMPLETE"},
        "imageScanFindings": {"findings": [{"name": "CVE-2024-1", "severity": "MEDIUM"}]},
    })
    assert (await adapter.scan_findings(REF, DIGEST)).status is ScanStatus.IN_PROGRESS
    done = await adapter.scan_findings(REF, DIGEST)
    assert done.status is ScanStatus.COMPLETE and done.findings[0].id == "CVE-2024-1"
    # No response is queued any more: a third call would fail if it reached ECR.
    assert await adapter.scan_findings(REF, DIGEST) == done
    stubber.assert_no_pending_responses()


async def test_throttling_backs_off_without_calling_again() -> None:
    adapter, stubber = stubbed(ONE_TRY)
    stubber.add_client_error("describe_images", service_error_code="ThrottlingException", http_status_code=400)
    first = await adapter.resolve_digest(REF)
    assert first.problem is Problem.THROTTLED and first.retry_after >= 5
    second = await adapter.resolve_digest(REF)
    assert second.problem is Problem.THROTTLED and 0 < second.retry_after <= first.retry_after
    stubber.assert_no_pending_responses()


# --- the whole check for one template ----------------------------------------------------------


async def test_a_template_with_a_vulnerable_image_is_blocked_until_the_cve_is_allow_listed(aws) -> None:
    client = aws()
    app = push(client, "checkout", "1.4.2", layer="a")
    migrate = push(client, "migrate", "7", layer="b", mutability="IMMUTABLE")
    client.start_image_scan(repositoryName="checkout", imageId={"imageDigest": app})  # moto reports one HIGH CVE
    template = {"spec": {"initContainers": [{"name": "migrate", "image": f"{HOST}/migrate:7"}],
                         "containers": [{"name": "app", "image": f"{HOST}/checkout:1.4.2"}]}}
    now = datetime.now(UTC)
    async with aiohttp.ClientSession() as session:
        oci, adapter = OciRegistry(session), ecr()
        gated = ImagePolicy(scan=ScanPolicy(max_severity="HIGH"))
        facts = await inspect_images(template, gated, adapter, oci)
        blocked = evaluate(gated, facts, now=now, checking_since=now)
        assert isinstance(blocked, Blocked) and blocked.container == "app" and "CVE-9999-9999" in blocked.message

        allowed_policy = ImagePolicy(scan=ScanPolicy(max_severity="HIGH", allow_list=["CVE-9999-9999"]))
        allowed = evaluate(allowed_policy, await inspect_images(template, allowed_policy, adapter, oci), now=now, checking_since=now)
        assert isinstance(allowed, Allowed)
        pinned = pinned_template(template, allowed.by_container())
        assert pinned["spec"]["containers"][0]["image"] == f"{HOST}/checkout@{app}"
        assert pinned["spec"]["initContainers"][0]["image"] == f"{HOST}/migrate@{migrate}"

        template["spec"]["containers"][0]["image"] = f"{HOST}/checkout:1.5.0"
        missing = await inspect_images(template, gated, adapter, oci)
        assert isinstance(missing, ImageProblem) and missing.problem is Problem.NOT_FOUND
        assert missing.container == "app" and f"{HOST}/checkout:1.5.0" in missing.message
        template["spec"]["containers"][0]["image"] = f"{HOST}/Checkout:1"
        malformed = await inspect_images(template, gated, adapter, oci)
        assert malformed.problem is None and "container 'app'" in malformed.message


async def test_protect_stable_moves_the_tag_in_a_repository_with_immutable_tags(aws) -> None:
    client = aws()
    old = push(client, "locked", "1.0", layer="a", mutability="IMMUTABLE")
    new = push(client, "locked", "1.1", layer="b")
    adapter = ecr()
    ref = parse_image("app", f"{HOST}/locked:1.0")
    assert await adapter.protect(ref, old, "shiftlane-stable-checkout") is None
    # PutImage cannot move an immutable tag: it comes off the old digest (which keeps 1.0) first.
    assert await adapter.protect(ref, new, "shiftlane-stable-checkout") is None
    details = {d["imageDigest"]: set(d.get("imageTags", [])) for d in client.describe_images(repositoryName="locked")["imageDetails"]}
    assert details == {old: {"1.0"}, new: {"1.1", "shiftlane-stable-checkout"}}


# --- the gate: the whole check for one template ------------------------------------------------


async def test_the_gate_pins_to_the_regional_replica_and_hands_over_the_scans(aws, monkeypatch) -> None:
    source, replica_region = aws("eu-west-1"), aws("us-east-1")
    digest = push(source, "team/checkout", "2")
    source.start_image_scan(repositoryName="team/checkout", imageId={"imageDigest": digest})
    source.put_replication_configuration(replicationConfiguration={"rules": [{
        "destinations": [{"region": "us-east-1", "registryId": ACCOUNT}],
        "repositoryFilters": [{"filter": "team/", "filterType": "PREFIX_MATCH"}],
    }]})
    push(replica_region, "team/checkout", "2")  # replication has copied it
    template = {"spec": {"containers": [{"name": "app", "image": f"{HOST}/team/checkout:2"}]}}
    now = datetime.now(UTC)
    async with aiohttp.ClientSession() as session:
        # The operator runs in us-east-1; the policy comes from the operator-wide default.
        gate = ImageGatekeeper(ecr("us-east-1"), OciRegistry(session),
                               default_policy={"preferRegionalReplica": True, "scan": {"maxSeverity": "CRITICAL"}})
        policy = gate.policy_for(None)
        verdict = await gate.judge(template, policy, now=now, since=now)
        assert verdict.check.gate is ImageGate.ALLOWED
        assert verdict.pins == {"app": f"{REPLICA_HOST}/team/checkout@{digest}"}
        assert [f.id for scan in verdict.scans for f in scan.findings] == ["CVE-9999-9999"]
        # Without pinning the replica is still pulled from, by the tag.
        unpinned = await gate.judge(template, gate.policy_for(ImagePolicy(pin_digest=False)), now=now, since=now)
        assert unpinned.pins == {"app": f"{REPLICA_HOST}/team/checkout:2"}
        # The operator in the image's own region pulls from the source.
        home = ImageGatekeeper(ecr("eu-west-1"), OciRegistry(session), default_policy={"preferRegionalReplica": True})
        assert (await home.judge(template, home.policy_for(None), now=now, since=now)).pins == {"app": f"{HOST}/team/checkout@{digest}"}


async def test_an_unreachable_registry_waits_and_names_the_container(moto_endpoint, monkeypatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    template = {"spec": {"containers": [{"name": "app", "image": f"{HOST}/checkout:1"}]}}
    now = datetime.now(UTC)
    async with aiohttp.ClientSession() as session:
        gate = ImageGatekeeper(ecr(config=ONE_TRY), OciRegistry(session))
        verdict = await gate.judge(template, ImagePolicy(), now=now, since=now)
    assert verdict.check.gate is ImageGate.WAITING and verdict.pins == {}
    assert "container 'app'" in verdict.check.message and "unreachable" in verdict.check.message


# --- protectStable over a rollout's revisions ----------------------------------------------------


async def test_the_stable_tag_follows_the_stable_revision_and_leaves_with_its_history(aws) -> None:
    client = aws()
    first = push(client, "checkout", "1", layer="a")
    second = push(client, "checkout", "2", layer="b")
    sidecar = push(client, "sidecar", "1", layer="c")
    templates = {
        "r1": {"spec": {"containers": [{"name": "app", "image": f"{HOST}/checkout@{first}"},
                                       {"name": "side", "image": f"{HOST}/sidecar@{sidecar}"}]}},
        "r2": {"spec": {"containers": [{"name": "app", "image": f"{HOST}/checkout@{second}"}]}},
        # Same image as r2, another env: the digest is shared with the stable revision.
        "r3": {"spec": {"containers": [{"name": "app", "image": f"{HOST}/checkout@{second}", "env": [{"name": "X", "value": "1"}]}]}},
    }
    events: list[Event] = []

    async def template_of(key, revision):
        return templates.get(revision)

    tagger = StableTagger(ecr(), template_of, lambda _, event: events.append(event))
    key, rollout = ("shop", "checkout"), {"metadata": {"name": "checkout"}}

    def tagged(repository: str) -> dict[str, set[str]]:
        return {d["imageDigest"]: set(d.get("imageTags", [])) for d in client.describe_images(repositoryName=repository)["imageDetails"]
                if "shiftlane-stable-checkout" in d.get("imageTags", [])}

    async def settled() -> None:
        while tagger._tasks:
            await asyncio.gather(*tagger._tasks)

    tagger.follow(key, rollout, "r1")
    tagger.follow(key, rollout, "r1")  # once per stable revision
    await settled()
    assert set(tagged("checkout")) == {first} and set(tagged("sidecar")) == {sidecar}
    assert [e.reason for e in events] == ["StableImageProtected"]

    tagger.follow(key, rollout, "r2")  # promoted: the tag moves in checkout, stays on the sidecar
    await settled()
    assert set(tagged("checkout")) == {second} and set(tagged("sidecar")) == {sidecar}
    await tagger.leaving(key, rollout, "r2", "r1")  # r1 leaves history: its sidecar tag goes
    await tagger.leaving(key, rollout, "r2", "r3")  # r3 shares the stable digest: its tag stays
    await settled()
    assert set(tagged("checkout")) == {second} and tagged("sidecar") == {}
    assert await ecr().digest_exists(parse_image("side", f"{HOST}/sidecar:1"), sidecar)  # untagged, never deleted

    # A tag that cannot be written is an Event, and asked again only after the wait it names.
    tagger.follow(key, rollout, "r-gone")
    templates["r-gone"] = {"spec": {"containers": [{"name": "app", "image": f"{HOST}/checkout@sha256:{'9' * 64}"}]}}
    await settled()
    tagger.follow(key, rollout, "r-gone")
    await settled()
    failures = [e for e in events if e.reason == "StableImageTagFailed"]
    assert len(failures) == 1 and failures[0].type == "Warning" and "does not exist" in failures[0].message
