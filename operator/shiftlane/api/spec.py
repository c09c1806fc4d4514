"""The Rollout spec as pydantic models: the single source of the CRD schema and of the engine's input.

CEL rules ride along in ``json_schema_extra`` under ``x-kubernetes-validations`` so that the API server
rejects a malformed Rollout at apply time, naming the field.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic.alias_generators import to_camel

DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"

Duration = Annotated[
    str,
    Field(pattern=DURATION_PATTERN, description="A duration such as 30s, 5m or 1h30m."),
]
# An absolute count or a percentage of spec.replicas, as Deployments take them.
IntOrPercent = Annotated[
    int | str,
    WithJsonSchema(
        {
            "x-kubernetes-int-or-string": True,
            "x-kubernetes-validations": [
                {
                    "rule": "type(self) == int ? self >= 0 : self.matches('^[0-9]+%$')",
                    "message": "must be a non-negative integer or a percentage such as 25%",
                }
            ],
        }
    ),
]
Percent = Annotated[int, Field(ge=0, le=100)]
# A Service port by number or name, as an Ingress backend takes it.
ServicePort = Annotated[
    int | str,
    WithJsonSchema(
        {
            "x-kubernetes-int-or-string": True,
            "x-kubernetes-validations": [
                {
                    "rule": "type(self) == int ? self >= 1 && self <= 65535 : self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",
                    "message": "must be a port number from 1 to 65535 or a port name",
                }
            ],
        }
    ),
]
# A label value as the API server checks it: a Deployment or Service with any other value is refused.
LabelValue = Annotated[str, Field(max_length=63, pattern=r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")]
# A label key: an optional DNS-subdomain prefix and '/', then a name of at most 63 characters.
LABEL_KEY = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
INT32_MAX = 2**31 - 1
DEFAULT_MIN_READY_SECONDS = 0
DEFAULT_PROGRESS_DEADLINE_SECONDS = 600
# The longest name the operator derives from a Rollout's is its revision Deployment's, `<name>-<10 hex>`
# (kube/labels.py). At 52 that name is a DNS-1035 label of at most 63 characters, as Kubernetes advises for
# Deployments (their ReplicaSets and pods are named from it), and so are the Services `<name>`,
# `<name>-stable` and `<name>-canary`.
MAX_NAME_LENGTH = 63 - len("-") - 10


def rule(expression: str, message: str, reason: str | None = None, field_path: str | None = None) -> dict[str, str]:
    """One CEL validation rule for ``x-kubernetes-validations``; ``field_path`` (e.g. ``.steps``) names the
    field the error is reported on when it is not the object that carries the rule."""
    entry = {"rule": expression, "message": message}
    if reason:
        entry["reason"] = reason
    if field_path:
        entry["fieldPath"] = field_path
    return entry


def one_of(keys: list[str]) -> str:
    """A CEL expression true when exactly one of ``keys`` is set on ``self``."""
    return "[" + ", ".join(f"has(self.{k})" for k in keys) + "].filter(x, x).size() == 1"


# A label map as the API server checks it (values are checked by LabelValue).
LABEL_MAP = {
    "maxProperties": 64,
    "x-kubernetes-validations": [
        rule(f"self.all(k, k.matches('{LABEL_KEY}'))", "label keys must be qualified names such as app or example.com/tier")
    ],
}


class Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)


# --- pod template -------------------------------------------------------------------------------


class LabelSelectorRequirement(Model):
    key: str
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: list[str] = []


class LabelSelector(Model):
    match_labels: dict[str, LabelValue] = Field(default_factory=dict, json_schema_extra=LABEL_MAP)
    match_expressions: list[LabelSelectorRequirement] = Field(default_factory=list, max_length=32)


class ObjectMeta(Model):
    labels: dict[str, LabelValue] = Field(default_factory=dict, json_schema_extra=LABEL_MAP)
    annotations: dict[str, str] = Field(default_factory=dict, json_schema_extra={"maxProperties": 128})


class Container(Model):
    """The fields of a container the operator reads; the rest is kept as written."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"x-kubernetes-preserve-unknown-fields": True})
    name: Annotated[str, Field(min_length=1, max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    image: Annotated[str, Field(min_length=1, max_length=1024)]


class PodSpec(Model):
    model_config = ConfigDict(extra="allow", json_schema_extra={"x-kubernetes-preserve-unknown-fields": True})
    containers: list[Container] = Field(
        min_length=1,
        max_length=64,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    # Declared so the schema can refuse what a Deployment refuses: its pods always restart.
    restart_policy: Literal["Always"] | None = None


class PodTemplate(Model):
    metadata: ObjectMeta = ObjectMeta()
    spec: PodSpec


# --- traffic routing ----------------------------------------------------------------------------


class GatewayApiRouting(Model):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                rule(
                    "has(self.httpRoute) || (has(self.httpRoutes) && size(self.httpRoutes) > 0)"
                    " || (has(self.grpcRoutes) && size(self.grpcRoutes) > 0)",
                    "gatewayAPI needs at least one of httpRoute, httpRoutes, grpcRoutes",
                )
            ]
        }
    )
    http_route: Annotated[str, Field(min_length=1)] | None = None
    http_routes: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list, max_length=16)
    grpc_routes: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list, max_length=16)
    # Rule names (HTTPRouteRule.name) whose backends carry the weights; all rules when empty.
    rules: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list, max_length=16)

    @property
    def http_route_names(self) -> list[str]:
        return ([self.http_route] if self.http_route else []) + [n for n in self.http_routes if n != self.http_route]


class IstioVirtualService(Model):
    name: Annotated[str, Field(min_length=1)]
    routes: list[str] = Field(default_factory=list, max_length=32)


class IstioDestinationRule(Model):
    """Weights by subset: the operator points each named subset at its revision's pods."""

    name: Annotated[str, Field(min_length=1)]
    stable_subset_name: Annotated[str, Field(min_length=1)] = "stable"
    canary_subset_name: Annotated[str, Field(min_length=1)] = "canary"


class IstioRouting(Model):
    virtual_service: IstioVirtualService
    destination_rule: IstioDestinationRule | None = None


class IngressRouting(Model):
    ingress: Annotated[str, Field(min_length=1)]


class NginxRouting(IngressRouting):
    # ingress-nginx's --annotations-prefix.
    annotation_prefix: Annotated[str, Field(min_length=1)] = "nginx.ingress.kubernetes.io"


class AlbRouting(IngressRouting):
    # The `<rollout>-stable` / `<rollout>-canary` Service port the target groups forward to.
    service_port: ServicePort = 80
    annotation_prefix: Annotated[str, Field(min_length=1)] = "alb.ingress.kubernetes.io"


class TraefikRouting(Model):
    traefik_service: Annotated[str, Field(min_length=1)]


TRAFFIC_ROUTERS = ["gatewayAPI", "istio", "traefik", "nginx", "alb"]
# Which routers can route by request headers, and which can mirror a share of requests.
HEADER_ROUTERS = ["gatewayAPI", "istio", "nginx", "alb"]
MIRROR_ROUTERS = ["gatewayAPI", "istio", "traefik"]


class TrafficRouting(Model):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                rule(one_of(TRAFFIC_ROUTERS), "exactly one of " + ", ".join(TRAFFIC_ROUTERS) + " must be set")
            ]
        }
    )
    gateway_api: GatewayApiRouting | None = Field(None, alias="gatewayAPI")
    istio: IstioRouting | None = None
    traefik: TraefikRouting | None = None
    nginx: NginxRouting | None = None
    alb: AlbRouting | None = None

    @property
    def router(self) -> str:
        return next(name for name in TRAFFIC_ROUTERS if getattr(self, _field(name)) is not None)


def _field(alias: str) -> str:
    return {"gatewayAPI": "gateway_api"}.get(alias, alias)


# --- analysis -----------------------------------------------------------------------------------


class AnalysisTemplateRef(Model):
    name: Annotated[str, Field(min_length=1, max_length=253)]
    # A ClusterAnalysisTemplate rather than an AnalysisTemplate in the Rollout's namespace.
    cluster_scope: bool = False


class AnalysisArgument(Model):
    """A value for one of the templates' args, overriding the template's own value."""

    name: Annotated[str, Field(min_length=1, max_length=63)]
    value: Annotated[str, Field(max_length=4096)]


class Analysis(Model):
    templates: list[AnalysisTemplateRef] = Field(min_length=1, max_length=16)
    args: list[AnalysisArgument] = Field(default_factory=list, max_length=32)


class BackgroundAnalysis(Analysis):
    """Runs beside the canary's steps from `startingStep` until promotion; a failure aborts at any point."""

    starting_step: Annotated[int, Field(ge=0, le=63)] = 0


class Webhook(Model):
    """An HTTP call at a point of the rollout (see README, Webhooks): the confirm and pre-rollout hooks gate
    the rollout on a 2xx answer; the others notify."""

    name: Annotated[str, Field(min_length=1, max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    type: Literal["confirmRollout", "preRollout", "confirmPromotion", "postRollout", "rollback", "event"]
    url: Annotated[str, Field(max_length=2048, pattern=r"^https?://[^\s]+$")]
    timeout: Duration = "10s"
    # Calls made before a preRollout hook fails the rollout, or a notification is given up.
    retries: Annotated[int, Field(ge=0, le=20)] = 3
    metadata: dict[str, str] = Field(default_factory=dict)
    # event hooks only: post a Slack-compatible {"text": ...} payload instead of Shiftlane's JSON.
    slack: bool = False


# --- strategies ---------------------------------------------------------------------------------


class Recreate(Model):
    pass


class Rolling(Model):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                rule(
                    "!(has(self.maxSurge) && has(self.maxUnavailable)"
                    " && (type(self.maxSurge) == int ? self.maxSurge == 0 : self.maxSurge.matches('^0+%$'))"
                    " && (type(self.maxUnavailable) == int ? self.maxUnavailable == 0 : self.maxUnavailable.matches('^0+%$')))",
                    "maxSurge and maxUnavailable cannot both be zero",
                )
            ]
        }
    )
    max_surge: IntOrPercent = "25%"
    max_unavailable: IntOrPercent = "25%"


class RollingBatches(Model):
    batch_size: IntOrPercent = Field(
        json_schema_extra={
            "x-kubernetes-validations": [
                rule(
                    "type(self) == int ? self > 0 : (self.matches('^[0-9]{1,3}%$') && int(self.replace('%', '')) > 0"
                    " && int(self.replace('%', '')) <= 100)",
                    "batchSize must be a count greater than 0 or a percentage from 1% to 100%",
                )
            ]
        }
    )
    pause_between: Duration | None = None
    analysis: Analysis | None = None


class BlueGreen(Model):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                rule(
                    "!(has(self.autoPromotionSeconds) && has(self.autoPromotionEnabled) && !self.autoPromotionEnabled)",
                    "autoPromotionSeconds cannot be set when autoPromotionEnabled is false",
                )
            ]
        }
    )
    auto_promotion_enabled: bool = True
    auto_promotion_seconds: Annotated[int, Field(ge=0)] | None = None
    scale_down_delay_seconds: Annotated[int, Field(ge=0)] = 30
    pre_promotion_analysis: Analysis | None = None
    post_promotion_analysis: Analysis | None = None


class Immutable(Model):
    analysis: Analysis | None = None
    scale_down_delay_seconds: Annotated[int, Field(ge=0)] = 30


class PauseStep(Model):
    duration: Duration | None = None


class CanaryScale(Model):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                rule(one_of(["replicas", "weight", "matchTrafficWeight"]),
                     "exactly one of replicas, weight, matchTrafficWeight must be set")
            ]
        }
    )
    replicas: Annotated[int, Field(ge=0)] | None = None
    weight: Percent | None = None
    match_traffic_weight: bool | None = None


CANARY_STEP_KINDS = ["setWeight", "setCanaryScale", "pause", "analysis"]


class CanaryStep(Model):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                rule(one_of(CANARY_STEP_KINDS), "each step sets exactly one of setWeight, setCanaryScale, pause, analysis")
            ]
        }
    )
    set_weight: Percent | None = None
    set_canary_scale: CanaryScale | None = None
    pause: PauseStep | None = None
    analysis: Analysis | None = None


class Canary(Model):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                rule(
                    "self.steps.filter(s, has(s.setWeight)).map(s, s.setWeight).isSorted()",
                    "setWeight values must not decrease from one step to the next",
                    "FieldValueInvalid",
                    ".steps",
                ),
                rule(
                    "!has(self.analysis) || !has(self.analysis.startingStep) || self.analysis.startingStep < size(self.steps)",
                    "analysis.startingStep must name one of the steps (counted from 0)",
                    "FieldValueInvalid",
                    ".analysis.startingStep",
                ),
            ]
        }
    )
    steps: list[CanaryStep] = Field(min_length=1, max_length=64)
    # Analysis in the background from a step on: a failure aborts whatever step is current.
    analysis: BackgroundAnalysis | None = None
    traffic_routing: TrafficRouting | None = None
    # With a router only (without one, traffic follows the pods as they shift). After a promote the
    # previous stable keeps its pods this long: a router's data plane (an ingress controller, Envoy, a
    # load balancer's targets) sends to pod IPs and learns of the switch seconds after the route holds it.
    scale_down_delay_seconds: Annotated[int, Field(ge=0)] = 30


class HeaderMatch(Model):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [rule(one_of(["exact", "prefix", "regex"]), "set exactly one of exact, prefix, regex")]
        }
    )
    name: Annotated[str, Field(min_length=1, max_length=256)]
    exact: str | None = None
    prefix: str | None = None
    regex: str | None = None


class RequestMatch(Model):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                rule(
                    "has(self.headers) || has(self.cookies) || has(self.queryParams)",
                    "a match needs at least one of headers, cookies, queryParams",
                )
            ]
        }
    )
    headers: list[HeaderMatch] | None = Field(None, max_length=16)
    cookies: list[HeaderMatch] | None = Field(None, max_length=16)
    query_params: list[HeaderMatch] | None = Field(None, max_length=16)


class AbTesting(Model):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                rule(
                    "has(self.trafficRouting)",
                    "abTesting needs trafficRouting with a router that matches requests: " + ", ".join(HEADER_ROUTERS),
                    "FieldValueRequired",
                ),
                rule(
                    "!has(self.trafficRouting) || " + " || ".join(f"has(self.trafficRouting.{r})" for r in HEADER_ROUTERS),
                    "abTesting needs a router that matches requests: " + ", ".join(HEADER_ROUTERS),
                    None,
                    ".trafficRouting",
                ),
                # What each router can express, so a match it cannot is refused here, not mid-rollout.
                rule(
                    "!has(self.trafficRouting) || has(self.trafficRouting.alb)"
                    " || self.match.all(m, !has(m.cookies) || size(m.cookies) <= 1)",
                    "a match tests at most one cookie: gatewayAPI, istio and nginx read it from the Cookie header",
                    None,
                    ".match",
                ),
                rule(
                    "!has(self.trafficRouting) || !has(self.trafficRouting.alb) || self.match.all(m,"
                    " (!has(m.headers) || m.headers.all(h, !has(h.regex)))"
                    " && (!has(m.cookies) || m.cookies.all(h, !has(h.regex)))"
                    " && (!has(m.queryParams) || m.queryParams.all(h, !has(h.regex))))",
                    "an ALB matches by exact value or prefix, not by regex",
                    None,
                    ".match",
                ),
                rule(
                    "!has(self.trafficRouting) || !has(self.trafficRouting.nginx) || (size(self.match) == 1"
                    " && self.match.all(m, (!has(m.headers) || size(m.headers) <= 1) && !has(m.queryParams)"
                    " && (!has(m.cookies) || m.cookies.all(c, has(c.exact) && c.exact == 'always'))))",
                    "ingress-nginx matches one header and one cookie (value `always`), in one match, and no query parameters",
                    None,
                    ".match",
                ),
            ]
        }
    )
    match: list[RequestMatch] = Field(min_length=1, max_length=16)
    duration: Duration | None = None
    canary_replicas: Annotated[int, Field(ge=1)] = 1
    # After a promote, the previous stable keeps its pods this long: a router's data plane (an ingress
    # controller, Envoy, a load balancer's targets) sends to pod IPs and learns of the switch seconds
    # after the route object holds it.
    scale_down_delay_seconds: Annotated[int, Field(ge=0)] = 30
    analysis: Analysis | None = None
    traffic_routing: TrafficRouting | None = None


class Shadow(Model):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                rule(
                    "has(self.trafficRouting)",
                    "shadow needs trafficRouting with a router that mirrors requests: " + ", ".join(MIRROR_ROUTERS),
                    "FieldValueRequired",
                ),
                rule(
                    "!has(self.trafficRouting) || " + " || ".join(f"has(self.trafficRouting.{r})" for r in MIRROR_ROUTERS),
                    "shadow needs a router that mirrors requests: " + ", ".join(MIRROR_ROUTERS),
                    None,
                    ".trafficRouting",
                ),
            ]
        }
    )
    mirror_percent: Annotated[int, Field(ge=1, le=100)] = 100
    duration: Duration | None = None
    canary_replicas: Annotated[int, Field(ge=1)] = 1
    # After a promote, the previous stable keeps its pods this long: a router's data plane (an ingress
    # controller, Envoy, a load balancer's targets) sends to pod IPs and learns of the switch seconds
    # after the route object holds it.
    scale_down_delay_seconds: Annotated[int, Field(ge=0)] = 30
    analysis: Analysis | None = None
    traffic_routing: TrafficRouting | None = None


class Elastic(Model):
    step_percent: Annotated[int, Field(ge=1, le=100)] = 25
    pause_between: Duration | None = None
    analysis: Analysis | None = None


STRATEGIES = ["recreate", "rolling", "rollingBatches", "blueGreen", "immutable", "canary", "abTesting", "shadow", "elastic"]


class Strategy(Model):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                rule(one_of(STRATEGIES), "exactly one strategy must be set: " + ", ".join(STRATEGIES))
            ]
        }
    )
    recreate: Recreate | None = None
    rolling: Rolling | None = None
    rolling_batches: RollingBatches | None = None
    blue_green: BlueGreen | None = Field(None, alias="blueGreen")
    immutable: Immutable | None = None
    canary: Canary | None = None
    ab_testing: AbTesting | None = Field(None, alias="abTesting")
    shadow: Shadow | None = None
    elastic: Elastic | None = None

    @property
    def name(self) -> str:
        return next(k for k in STRATEGIES if getattr(self, _strategy_field(k)) is not None)

    @property
    def config(self) -> Model:
        return getattr(self, _strategy_field(self.name))

    @property
    def traffic_routing(self) -> TrafficRouting | None:
        return getattr(self.config, "traffic_routing", None)


def _strategy_field(alias: str) -> str:
    return {"rollingBatches": "rolling_batches", "blueGreen": "blue_green", "abTesting": "ab_testing"}.get(alias, alias)


class RolloutSpec(Model):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                rule(
                    "!has(self.selector.matchLabels) || self.selector.matchLabels.all(k, has(self.template.metadata) && has(self.template.metadata.labels)"
                    " && k in self.template.metadata.labels && self.template.metadata.labels[k] == self.selector.matchLabels[k])",
                    "selector.matchLabels must match template.metadata.labels",
                    "FieldValueInvalid",
                    ".selector.matchLabels",
                ),
                rule(
                    f"(has(self.minReadySeconds) ? self.minReadySeconds : {DEFAULT_MIN_READY_SECONDS})"
                    f" < (has(self.progressDeadlineSeconds) ? self.progressDeadlineSeconds : {DEFAULT_PROGRESS_DEADLINE_SECONDS})",
                    "minReadySeconds must be less than progressDeadlineSeconds, as a Deployment requires",
                    "FieldValueInvalid",
                    ".minReadySeconds",
                ),
            ]
        }
    )
    replicas: Annotated[int, Field(ge=0, le=10000)] = 1
    selector: LabelSelector = Field(
        json_schema_extra={
            "x-kubernetes-validations": [
                rule("has(self.matchLabels) && size(self.matchLabels) > 0", "selector.matchLabels must name at least one label"),
                rule("self == oldSelf", "selector is immutable"),
                # The Services select pods by labels alone, so an expression would not be honoured.
                rule(
                    "!has(self.matchExpressions) || size(self.matchExpressions) == 0",
                    "matchExpressions is not supported: Shiftlane's Services select pods by labels; use matchLabels",
                    "FieldValueForbidden",
                    ".matchExpressions",
                ),
            ]
        }
    )
    template: PodTemplate
    min_ready_seconds: Annotated[int, Field(ge=0)] = DEFAULT_MIN_READY_SECONDS
    revision_history_limit: Annotated[int, Field(ge=0, le=100)] = 10
    # A Deployment holds it in an int32.
    progress_deadline_seconds: Annotated[int, Field(ge=1, le=INT32_MAX)] = DEFAULT_PROGRESS_DEADLINE_SECONDS
    progress_deadline_abort: bool = False
    # After an abort, traffic is back on stable first; the new revision's pods go this much later.
    abort_scale_down_delay_seconds: Annotated[int, Field(ge=0)] = 30
    paused: bool = False
    # Registry checks before a revision gets pods (tag to digest, scan gate, denied tags); unset: none.
    image_policy: ImagePolicy | None = None
    # A failed analysis returns traffic to stable and scales the new revision down; false freezes the
    # rollout where it is instead (for releases whose migrations cannot be undone).
    rollback_on_failure: bool = True
    webhooks: list[Webhook] = Field(
        default_factory=list,
        max_length=16,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    strategy: Strategy


# Rules on the whole Rollout (crd.py puts them at the schema's root): CEL sees metadata.name there only.
ROLLOUT_RULES = [
    rule(
        "self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",
        "must be a DNS-1035 label (lower-case letters, digits and '-', starting with a letter):"
        " it names the Rollout's Services",
        "FieldValueInvalid",
        ".metadata.name",
    ),
    rule(
        f"size(self.metadata.name) <= {MAX_NAME_LENGTH}",
        f"must be at most {MAX_NAME_LENGTH} characters: revision Deployments are named"
        " <name>-<10-character hash> and must stay valid DNS labels of at most 63 characters",
        "FieldValueInvalid",
        ".metadata.name",
    ),
]


# imagePolicy's models build on Model and Duration above, so they are imported once those exist.
from shiftlane.api.image_policy import ImagePolicy  # noqa: E402

RolloutSpec.model_rebuild()


def parse_spec(raw: dict[str, Any]) -> RolloutSpec:
    return RolloutSpec.model_validate(raw)
