"""Prometheus collectors for registry calls, pull tokens and the candidate revision's scan findings."""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Gauge, Histogram

from shiftlane.registry.results import AuthorizationToken
from shiftlane.registry.findings import ScanFindings, Severity

REQUESTS = Counter(
    "shiftlane_registry_requests_total", "Registry API calls by API and outcome", ["api", "outcome"]
)
REQUEST_DURATION = Histogram(
    "shiftlane_registry_request_duration_seconds", "Time of one registry API call, retries included", ["api"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
TOKEN_EXPIRY = Gauge(
    "shiftlane_registry_pull_token_expiry_timestamp_seconds",
    "Unix time at which the pull token kept for a registry expires", ["namespace", "registry"],
)
FINDINGS = Gauge(
    "shiftlane_registry_image_findings",
    "Scan findings of the candidate revision's images by severity", ["namespace", "rollout", "severity"],
)


class Call:
    """The outcome label of one call in flight; ``ok`` unless the caller says otherwise."""

    outcome = "ok"


@contextmanager
def measured(api: str) -> Iterator[Call]:
    call = Call()
    started = time.monotonic()
    try:
        yield call
    except BaseException:
        call.outcome = "error"
        raise
    finally:
        REQUEST_DURATION.labels(api).observe(time.monotonic() - started)
        REQUESTS.labels(api, call.outcome).inc()


def record_tokens(namespace: str, tokens: Iterable[AuthorizationToken]) -> None:
    for token in tokens:
        TOKEN_EXPIRY.labels(namespace, token.registry).set(token.expires_at.timestamp())


def record_findings(namespace: str, rollout: str, scans: Iterable[ScanFindings]) -> None:
    """The candidate revision's findings over all its images, every severity present (0 when none)."""
    counts = Tally(finding.severity for scan in scans for finding in scan.findings)
    for severity in Severity:
        FINDINGS.labels(namespace, rollout, severity.value).set(counts[severity])


def forget_findings(namespace: str, rollout: str) -> None:
    for severity in Severity:
        FINDINGS.remove(namespace, rollout, severity.value)
