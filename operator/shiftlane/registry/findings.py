"""An image's vulnerability scan as ECR reports it, basic or enhanced, in one typed shape."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    UNTRIAGED = "UNTRIAGED"
    UNDEFINED = "UNDEFINED"
    INFORMATIONAL = "INFORMATIONAL"
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"

    @property
    def rank(self) -> int:
        # UNTRIAGED and UNDEFINED (no severity assigned yet) rank lowest: they never pass a threshold.
        return list(Severity).index(self)

    @classmethod
    def parse(cls, value: str | None) -> Severity:
        try:
            return cls((value or "UNDEFINED").upper())
        except ValueError:
            return cls.UNDEFINED


class ScanStatus(StrEnum):
    MISSING = "MISSING"  # no scan exists for the image
    PENDING = "PENDING"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETE = "COMPLETE"
    ACTIVE = "ACTIVE"  # enhanced scanning: results present, and rescanned as new CVEs appear
    FAILED = "FAILED"
    UNSUPPORTED = "UNSUPPORTED"  # UNSUPPORTED_IMAGE, SCAN_ELIGIBILITY_EXPIRED, FINDINGS_UNAVAILABLE, ...

    @property
    def running(self) -> bool:
        return self in (ScanStatus.PENDING, ScanStatus.IN_PROGRESS)

    @property
    def has_results(self) -> bool:
        return self in (ScanStatus.COMPLETE, ScanStatus.ACTIVE)

    @classmethod
    def parse(cls, value: str | None) -> ScanStatus:
        try:
            return cls(value or "PENDING")
        except ValueError:
            return cls.UNSUPPORTED


@dataclass(frozen=True)
class Finding:
    id: str  # the CVE (or other advisory) id
    severity: Severity


@dataclass(frozen=True)
class ScanFindings:
    status: ScanStatus
    findings: tuple[Finding, ...] = ()
    description: str = ""

    def with_page(self, page: dict[str, Any]) -> ScanFindings:
        """This scan with one more DescribeImageScanFindings page read in."""
        scan = page.get("imageScanStatus") or {}
        body = page.get("imageScanFindings") or {}
        basic = [Finding(f.get("name", "?"), Severity.parse(f.get("severity"))) for f in body.get("findings") or []]
        enhanced = [
            Finding(
                (f.get("packageVulnerabilityDetails") or {}).get("vulnerabilityId") or f.get("title") or "?",
                Severity.parse(f.get("severity")),
            )
            for f in body.get("enhancedFindings") or []
            # Suppressed and closed findings are what the security team already dealt with.
            if f.get("status", "ACTIVE") == "ACTIVE"
        ]
        return ScanFindings(
            # Later pages may leave the status out.
            status=ScanStatus.parse(scan["status"]) if scan.get("status") else self.status,
            findings=self.findings + tuple(basic) + tuple(enhanced),
            description=scan.get("description") or self.description,
        )
