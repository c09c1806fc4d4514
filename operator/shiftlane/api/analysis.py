"""AnalysisTemplate and ClusterAnalysisTemplate: the metrics an analysis measures and how they are judged.

A Rollout names templates in its strategy (`analysis: {templates: [{name: ...}]}`); the analysis runner
measures each metric on its interval and judges each measurement with the metric's CEL conditions over
`result`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from shiftlane.api.analysis_providers import MetricProvider
from shiftlane.api.spec import Duration, Model, rule
from shiftlane.api.status import Condition

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
CONDITION_MAX_LENGTH = 1024


class TemplateArgument(Model):
    """An argument the metrics' text fields use as `{{args.NAME}}`."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [rule("!(has(self.value) && has(self.valueFrom))", "set value or valueFrom, not both")]
        }
    )
    name: Annotated[str, Field(min_length=1, max_length=63, pattern=r"^[A-Za-z_][A-Za-z0-9_-]*$")]
    """Its name, as `{{args.NAME}}` uses it."""
    value: Annotated[str, Field(max_length=4096)] | None = None
    """A default; the Rollout's args override it."""
    value_from: Literal["namespace", "name", "stableRevision", "canaryRevision", "stableService", "canaryService", "service"] | None = None
    """Taken from the Rollout being analysed; a revision is its pod-template hash."""


class Metric(Model):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                rule("!has(self.count) || self.count <= 1 || has(self.interval)",
                     "a metric measured more than once needs an interval", "FieldValueRequired", ".interval"),
            ]
        }
    )
    name: Annotated[str, Field(min_length=1, max_length=63, pattern=DNS_LABEL)]
    """The metric's name, unique in the template."""
    interval: Duration | None = None
    """Time between measurements; without it the metric is measured once (unless count says more)."""
    initial_delay: Duration | None = None
    """Time before the first measurement, from when the analysis starts."""
    count: Annotated[int, Field(ge=1, le=10000)] | None = None
    """Successful or failed measurements to take (inconclusive ones and errors come on top, within their limits); unset with an interval: until the analysis is no longer needed."""
    success_condition: Annotated[str, Field(min_length=1, max_length=CONDITION_MAX_LENGTH)] | None = None
    """CEL over `result` (the provider's value) that makes a measurement successful; see README, Analysis."""
    failure_condition: Annotated[str, Field(min_length=1, max_length=CONDITION_MAX_LENGTH)] | None = None
    """CEL over `result` that makes a measurement failed (checked first)."""
    failure_limit: Annotated[int, Field(ge=0, le=10000)] = 0
    """The metric fails when more measurements than this fail (0: the first failure fails it)."""
    inconclusive_limit: Annotated[int, Field(ge=0, le=10000)] = 0
    """Inconclusive measurements (no data, or neither condition true) tolerated before the analysis pauses as inconclusive."""
    consecutive_error_limit: Annotated[int, Field(ge=0, le=10000)] = 4
    """Provider errors in a row tolerated before the metric ends in Error (which aborts like a failure)."""
    provider: MetricProvider
    """Where the value comes from: exactly one of prometheus, cloudWatch, web, job."""


class AnalysisTemplateSpec(Model):
    args: list[TemplateArgument] = Field(
        default_factory=list, max_length=32,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    """Arguments the metrics' text fields use as `{{args.NAME}}`."""
    metrics: list[Metric] = Field(
        min_length=1, max_length=16,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    """What is measured; every metric must succeed."""


class AnalysisTemplateStatus(Model):
    """The operator's check of the template: `Valid` is False, naming the metric, when a condition does not compile."""

    model_config = ConfigDict(frozen=False)
    observed_generation: int | None = None
    conditions: list[Condition] = Field(
        default_factory=list,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
