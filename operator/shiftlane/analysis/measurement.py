"""One measurement of a metric, and what a provider needs to take it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from kubernetes_asyncio import client


class Phase(StrEnum):
    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    INCONCLUSIVE = "Inconclusive"
    ERROR = "Error"
    RUNNING = "Running"


@dataclass(frozen=True)
class Measurement:
    value: Any = None  # JSON-like value bound to `result` in conditions (float, list, dict, str, bool, None)
    query: str | None = None  # what was asked, after argument substitution (shown in status)
    error: str | None = None  # provider error: counts toward consecutiveErrorLimit, never success
    pending: bool = False  # the provider has not finished (a Job still running): ask again later
    phase: Phase | None = None  # set when the provider decides itself (job: SUCCESSFUL / FAILED)


@dataclass(frozen=True)
class ProviderContext:
    namespace: str  # the Rollout's namespace (Secrets and Jobs live there)
    run_name: str  # DNS-1123 name unique to this run + metric + measurement (the Job's name)
    owner: dict[str, Any] | None  # ownerReference for objects the provider creates (the Job)
    api: client.ApiClient | None  # for Secrets and Jobs
    timeout: float = 10.0  # seconds, when the provider spec gives none


class ProviderError(Exception):
    """A measurement that could not be taken; its message goes to status and Events as written."""
