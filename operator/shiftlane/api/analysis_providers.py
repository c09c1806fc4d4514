"""Where an analysis metric's measurements come from: Prometheus, CloudWatch, a web endpoint or a Job.

Text fields may hold ``{{args.NAME}}``, replaced when a measurement is taken (analysis/arguments.py).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from shiftlane.api.spec import Container, Duration, Model, ObjectMeta, one_of, rule

# An address written out, or one that starts with an argument holding it.
URL_PATTERN = r"^(https?://|\{\{ *args\.).+"
Url = Annotated[str, Field(min_length=1, max_length=2048, pattern=URL_PATTERN)]
Name = Annotated[str, Field(min_length=1, max_length=253)]
Text = Annotated[str, Field(max_length=16384)]


class SecretKeySelector(Model):
    """One key of a Secret in the Rollout's namespace."""

    name: Name
    key: Name


# --- prometheus ---------------------------------------------------------------------------------


class BasicAuth(Model):
    """Username and password from one Secret (keys as in a kubernetes.io/basic-auth Secret)."""

    secret_name: Name
    username_key: Name = "username"
    password_key: Name = "password"


class SigV4(Model):
    """Requests signed for Amazon Managed Service for Prometheus with the default credential chain."""

    region: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    service: Annotated[str, Field(min_length=1, max_length=64)] = "aps"


PROMETHEUS_AUTH = ["bearerToken", "basic", "sigv4"]


class PrometheusAuthentication(Model):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [rule(one_of(PROMETHEUS_AUTH), "set exactly one of " + ", ".join(PROMETHEUS_AUTH))]
        }
    )
    bearer_token: SecretKeySelector | None = None
    basic: BasicAuth | None = None
    sigv4: SigV4 | None = None


class Tls(Model):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                rule("!(has(self.insecureSkipVerify) && self.insecureSkipVerify && has(self.ca))",
                     "ca has no use with insecureSkipVerify: the certificate is not checked")
            ]
        }
    )
    insecure_skip_verify: bool = False
    # PEM certificates of the authorities that sign the server's certificate, besides the system's.
    ca: SecretKeySelector | None = None


class PrometheusRange(Model):
    """A range query ending now: window back from now, a point every step (default: window / 60, at least 1s)."""

    window: Duration
    step: Duration | None = None


class Prometheus(Model):
    address: Url
    query: Annotated[Text, Field(min_length=1)]
    range: PrometheusRange | None = None
    timeout: Duration | None = None
    authentication: PrometheusAuthentication | None = None
    tls: Tls | None = None


# --- cloudWatch ---------------------------------------------------------------------------------


class Dimension(Model):
    name: Annotated[str, Field(min_length=1, max_length=255)]
    value: Annotated[str, Field(min_length=1, max_length=1024)]


class CloudWatchMetric(Model):
    namespace: Annotated[str, Field(min_length=1, max_length=255)]
    metric_name: Annotated[str, Field(min_length=1, max_length=255)]
    dimensions: list[Dimension] = Field(default_factory=list, max_length=30)


class MetricStat(Model):
    metric: CloudWatchMetric
    stat: Annotated[str, Field(min_length=1, max_length=64)]
    # Seconds per data point; the provider's period when unset.
    period: Annotated[int, Field(ge=1)] | None = None
    unit: Annotated[str, Field(min_length=1, max_length=32)] | None = None


class MetricDataQuery(Model):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [rule(one_of(["expression", "metricStat"]), "set exactly one of expression, metricStat")]
        }
    )
    # GetMetricData's rule for an Id: a lower-case letter first, then letters, digits and '_'.
    id: Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[a-z][a-zA-Z0-9_]*$")]
    expression: Annotated[str, Field(min_length=1, max_length=2048)] | None = None
    metric_stat: MetricStat | None = None
    label: Annotated[str, Field(max_length=255)] | None = None
    # As in GetMetricData, a query returns data unless it says false; exactly one may (the result).
    return_data: bool | None = None
    period: Annotated[int, Field(ge=1)] | None = None


class CloudWatch(Model):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                rule(
                    "self.metricDataQueries.filter(q, !has(q.returnData) || q.returnData).size() == 1",
                    "exactly one of metricDataQueries returns data (the others set returnData: false): its values are the result",
                    "FieldValueInvalid",
                    ".metricDataQueries",
                )
            ]
        }
    )
    # The operator's region (default credential chain) when unset.
    region: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    # Data points from `window` ago until now, one per `period` for metric stats that give none.
    window: Duration = "5m"
    period: Annotated[int, Field(ge=1)] = 300
    metric_data_queries: list[MetricDataQuery] = Field(min_length=1, max_length=500)
    timeout: Duration | None = None


# --- web ----------------------------------------------------------------------------------------


class HeaderValueSource(Model):
    secret_key_ref: SecretKeySelector


class WebHeader(Model):
    model_config = ConfigDict(
        json_schema_extra={"x-kubernetes-validations": [rule(one_of(["value", "valueFrom"]), "set exactly one of value, valueFrom")]}
    )
    name: Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")]
    value: Annotated[str, Field(max_length=8192)] | None = None
    value_from: HeaderValueSource | None = None


class Web(Model):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                rule("!has(self.body) || (has(self.method) && self.method == 'POST')", "body needs method: POST",
                     "FieldValueInvalid", ".body")
            ]
        }
    )
    url: Url
    method: Literal["GET", "POST"] = "GET"
    headers: list[WebHeader] = Field(default_factory=list, max_length=32)
    body: Text | None = None
    # An RFC 9535 JSONPath into the JSON response; the whole document when unset.
    json_path: Annotated[str, Field(min_length=1, max_length=1024)] = "$"
    timeout: Duration | None = None
    tls: Tls | None = None


# --- job ----------------------------------------------------------------------------------------


class JobPodSpec(Model):
    model_config = ConfigDict(extra="allow", json_schema_extra={"x-kubernetes-preserve-unknown-fields": True})
    # A check needs few containers; the bound keeps the image rule's CEL cost (per metric, per
    # container) within the API server's budget.
    containers: list[Container] = Field(
        min_length=1,
        max_length=8,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    # Declared so the schema refuses what the Job API refuses: a Job's pods never restart forever.
    restart_policy: Literal["Never", "OnFailure"]


class JobPodTemplate(Model):
    metadata: ObjectMeta = ObjectMeta()
    spec: JobPodSpec


class JobSpec(Model):
    """A batch/v1 JobSpec: the fields below are checked, the rest go to the Job as written."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"x-kubernetes-preserve-unknown-fields": True})
    template: JobPodTemplate
    backoff_limit: Annotated[int, Field(ge=0)] | None = None


class Job(Model):
    """A Job per measurement: successful when it completes, failed when it fails."""

    metadata: ObjectMeta = ObjectMeta()
    spec: JobSpec


# --- the provider of a metric -------------------------------------------------------------------

PROVIDERS = ["prometheus", "cloudWatch", "web", "job"]


class MetricProvider(Model):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [rule(one_of(PROVIDERS), "set exactly one provider: " + ", ".join(PROVIDERS))]
        }
    )
    prometheus: Prometheus | None = None
    cloud_watch: CloudWatch | None = Field(None, alias="cloudWatch")
    web: Web | None = None
    job: Job | None = None

    @property
    def config(self) -> Prometheus | CloudWatch | Web | Job:
        """The one provider that is set."""
        return next(c for c in (self.prometheus, self.cloud_watch, self.web, self.job) if c is not None)
