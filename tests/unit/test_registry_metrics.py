from datetime import UTC, datetime

from prometheus_client import REGISTRY

from shiftlane.registry import metrics
from shiftlane.registry.findings import Finding, ScanFindings, ScanStatus, Severity
from shiftlane.registry.results import AuthorizationToken


def sample(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def test_findings_of_all_images_are_summed_by_severity_and_forgotten() -> None:
    scans = [ScanFindings(ScanStatus.COMPLETE, (Finding("CVE-1", Severity.CRITICAL), Finding("CVE-2", Severity.LOW))),
             ScanFindings(ScanStatus.ACTIVE, (Finding("CVE-3", Severity.CRITICAL),))]
    metrics.record_findings("shop", "web", scans)
    assert sample("shiftlane_registry_image_findings", namespace="shop", rollout="web", severity="CRITICAL") == 2
    assert sample("shiftlane_registry_image_findings", namespace="shop", rollout="web", severity="HIGH") == 0
    metrics.forget_findings("shop", "web")
    assert sample("shiftlane_registry_image_findings", namespace="shop", rollout="web", severity="CRITICAL") is None


def test_token_expiry_is_exported_per_registry() -> None:
    expires = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)
    metrics.record_tokens("shop", [AuthorizationToken("1.dkr.ecr.eu-west-1.amazonaws.com", "AWS", "x", expires)])
    assert sample("shiftlane_registry_pull_token_expiry_timestamp_seconds", namespace="shop",
                  registry="1.dkr.ecr.eu-west-1.amazonaws.com") == expires.timestamp()
