from datetime import UTC, datetime, timedelta

import pytest

from shiftlane.api.image_policy import ImagePolicy, ScanPolicy
from shiftlane.registry.findings import Finding, ScanFindings, ScanStatus, Severity
from shiftlane.registry.policy import Allowed, Blocked, BlockReason, ImageFacts, PinnedImage, Waiting, evaluate
from shiftlane.registry.references import parse_image

ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
DIGEST = "sha256:" + "cd" * 32
START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def facts(image: str = f"{ECR}/checkout:1.4.2", container: str = "app", **kwargs) -> ImageFacts:
    return ImageFacts(parse_image(container, image), DIGEST, **kwargs)


def scan(*findings: tuple[str, str], status: ScanStatus = ScanStatus.COMPLETE) -> ScanFindings:
    return ScanFindings(status, tuple(Finding(cve, Severity(sev)) for cve, sev in findings))


def judge(policy: ImagePolicy, *image_facts: ImageFacts, waited: float = 0):
    return evaluate(policy, image_facts, now=START + timedelta(seconds=waited), checking_since=START)


def test_defaults_pin_every_image_to_its_digest() -> None:
    verdict = judge(ImagePolicy(), facts(), facts("ghcr.io/org/side:2", container="side"))
    assert verdict == Allowed((
        PinnedImage("app", f"{ECR}/checkout@{DIGEST}", "1.4.2", DIGEST),
        PinnedImage("side", f"ghcr.io/org/side@{DIGEST}", "2", DIGEST),
    ))
    assert verdict.by_container() == {"app": f"{ECR}/checkout@{DIGEST}", "side": f"ghcr.io/org/side@{DIGEST}"}


def test_without_pinning_the_image_runs_as_written() -> None:
    verdict = judge(ImagePolicy(pin_digest=False), facts("nginx:1"))
    assert verdict.by_container() == {"app": "nginx:1"}


def test_a_regional_replica_is_pulled_instead_of_the_source() -> None:
    replica = parse_image("app", "123456789012.dkr.ecr.us-east-1.amazonaws.com/checkout:1.4.2")
    assert judge(ImagePolicy(), facts(pull_from=replica)).by_container() == {
        "app": f"123456789012.dkr.ecr.us-east-1.amazonaws.com/checkout@{DIGEST}"}
    assert judge(ImagePolicy(pin_digest=False), facts(pull_from=replica)).by_container() == {
        "app": "123456789012.dkr.ecr.us-east-1.amazonaws.com/checkout:1.4.2"}


@pytest.mark.parametrize(("image", "policy", "blocked"), [
    ("nginx", ImagePolicy(), True),  # no tag reads as latest
    ("nginx:latest", ImagePolicy(), True),
    (f"nginx@{DIGEST}", ImagePolicy(), False),
    ("nginx:dev", ImagePolicy(deny_tags=["dev", "latest"]), True),
    ("nginx:latest", ImagePolicy(deny_tags=[]), False),
])
def test_denied_tags(image, policy, blocked) -> None:
    verdict = judge(policy, facts(image))
    assert isinstance(verdict, Blocked) == blocked
    if blocked:
        assert verdict.reason is BlockReason.DENIED_TAG and "denyTags" in verdict.message


@pytest.mark.parametrize(("image", "immutable", "blocked"), [
    (f"{ECR}/checkout:1", True, False),
    (f"{ECR}/checkout:1", False, True),
    ("ghcr.io/org/app:1", None, True),  # cannot be checked outside ECR
    (f"ghcr.io/org/app@{DIGEST}", None, False),  # a digest never moves
])
def test_immutable_tags(image, immutable, blocked) -> None:
    verdict = judge(ImagePolicy(require_immutable_tags=True), facts(image, tag_immutable=immutable))
    assert isinstance(verdict, Blocked) == blocked
    if blocked:
        assert verdict.reason is BlockReason.MUTABLE_TAG


HIGH_GATE = ImagePolicy(scan=ScanPolicy(max_severity="HIGH"))


@pytest.mark.parametrize(("findings", "policy", "verdict"), [
    (scan(), HIGH_GATE, Allowed),
    (scan(("CVE-1", "MEDIUM"), ("CVE-2", "LOW")), HIGH_GATE, Allowed),
    (scan(("CVE-1", "HIGH")), HIGH_GATE, Blocked),
    (scan(("CVE-1", "CRITICAL")), HIGH_GATE, Blocked),
    (scan(("CVE-1", "CRITICAL")), ImagePolicy(scan=ScanPolicy(max_severity="HIGH", allow_list=["CVE-1"])), Allowed),
    (scan(("CVE-1", "UNDEFINED"), ("CVE-2", "UNTRIAGED")), ImagePolicy(scan=ScanPolicy(max_severity="INFORMATIONAL")), Allowed),
    (scan(("CVE-1", "CRITICAL")), ImagePolicy(scan=ScanPolicy()), Allowed),  # no threshold: findings only reported
    (scan(("CVE-1", "CRITICAL"), status=ScanStatus.ACTIVE), HIGH_GATE, Blocked),  # enhanced scanning
    (scan(status=ScanStatus.MISSING), HIGH_GATE, Allowed),
    (scan(status=ScanStatus.MISSING), ImagePolicy(scan=ScanPolicy(require_scan=True)), Blocked),
    (scan(status=ScanStatus.FAILED), ImagePolicy(scan=ScanPolicy(require_scan=True)), Blocked),
    (scan(status=ScanStatus.UNSUPPORTED), ImagePolicy(scan=ScanPolicy(require_scan=True)), Blocked),
    (None, ImagePolicy(scan=ScanPolicy(require_scan=True)), Blocked),  # not ECR: nothing scans it
    (None, HIGH_GATE, Allowed),
])
def test_scan_gate(findings, policy, verdict) -> None:
    assert isinstance(judge(policy, facts(scan=findings)), verdict)


def test_a_blocked_image_names_counts_by_severity_and_the_worst_cves() -> None:
    findings = scan(("CVE-2024-0003", "HIGH"), ("CVE-2024-0001", "CRITICAL"), ("CVE-2024-0002", "HIGH"),
                    ("CVE-2024-0009", "CRITICAL"), ("CVE-2024-0004", "MEDIUM"), ("CVE-2024-0005", "HIGH"),
                    ("CVE-2024-0006", "HIGH"), ("CVE-2024-0007", "HIGH"), ("CVE-2024-0008", "HIGH"))
    policy = ImagePolicy(scan=ScanPolicy(max_severity="HIGH", allow_list=["CVE-2024-0009"]))
    verdict = judge(policy, facts(), facts(container="side", scan=findings))
    assert verdict.reason is BlockReason.VULNERABLE and verdict.container == "side"
    assert verdict.counts == ((Severity.CRITICAL, 1), (Severity.HIGH, 6))
    assert verdict.worst == ("CVE-2024-0001", "CVE-2024-0002", "CVE-2024-0003", "CVE-2024-0005", "CVE-2024-0006")
    assert "1 CRITICAL, 6 HIGH" in verdict.message and "checkout:1.4.2" in verdict.message
    assert "CVE-2024-0009" not in verdict.message


def test_a_running_scan_is_waited_for_until_wait_for_then_blocks() -> None:
    policy = ImagePolicy(scan=ScanPolicy(max_severity="HIGH", wait_for="2m"))
    running = facts(scan=scan(status=ScanStatus.IN_PROGRESS))
    early = judge(policy, running, waited=10)
    assert isinstance(early, Waiting) and early.retry_after == 15 and "IN_PROGRESS" in early.message
    assert judge(policy, running, waited=110).retry_after == 10
    late = judge(policy, facts(scan=scan(status=ScanStatus.PENDING)), waited=120)
    assert isinstance(late, Blocked) and late.reason is BlockReason.SCAN_TIMEOUT and "2m" in late.message


def test_a_block_on_one_image_wins_over_a_wait_on_another() -> None:
    policy = ImagePolicy(scan=ScanPolicy(max_severity="HIGH"))
    verdict = judge(policy, facts(scan=scan(status=ScanStatus.IN_PROGRESS)),
                    facts(container="side", scan=scan(("CVE-1", "CRITICAL"))))
    assert isinstance(verdict, Blocked) and verdict.container == "side"
