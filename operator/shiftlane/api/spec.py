"""The Rollout spec as pydantic models: the single source of the CRD schema and of the engine's input.

CEL rules ride along in ``json_schema_extra`` under ``x-kubernetes-validations`` so that the API server
rejects a malformed Rollout at apply time, naming the field.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, WithJsonSchema

from shiftlane.api.adoption import ServiceNames, WorkloadRef
from shiftlane.api.base import DURATION_PATTERN, Duration, Model, one_of, rule
from shiftlane.api.image_policy import ImagePolicy
from shiftlane.registry.references import IMAGE_REFERENCE_PATTERN

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


# A label map as the API server checks it (values are checked by LabelValue).
LABEL_MAP = {
    "maxProperties": 64,
    "x-kubernetes-validations": [
        rule(f"self.all(k, k.matches('{LABEL_KEY}'))", "label keys must be qualified names such as app or example.com/tier")
    ],
}


# --- pod template -------------------------------------------------------------------------------


class LabelSelectorRequirement(Model):
    key: str
    """The label key the requirement applies to."""
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    """In, NotIn, Exists or DoesNotExist."""
    values: list[str] = []
    """The values for In and NotIn."""


class LabelSelector(Model):
    match_labels: dict[str, LabelValue] = Field(default_factory=dict, json_schema_extra=LABEL_MAP)
    """Labels the pods carry; the Services select pods by these."""
    match_expressions: list[LabelSelectorRequirement] = Field(default_factory=list, max_length=32)
    """Not supported (refused): Shiftlane's Services select pods by labels only."""


class ObjectMeta(Model):
    labels: dict[str, LabelValue] = Field(default_factory=dict, json_schema_extra=LABEL_MAP)
    """Labels of the pods."""
    annotations: dict[str, str] = Field(default_factory=dict, json_schema_extra={"maxProperties": 128})
    """Annotations of the pods."""


# The image reference grammar the kubelet reads (registry.references), refused at apply time with the
# container named. A CEL raw string, so the pattern's backslashes stay as they are.
IMAGE_RULE = {
    "rule": f"self.image.matches(r'{IMAGE_REFERENCE_PATTERN}')",
    "messageExpression": "'container \\'' + self.name + '\\': image \\'' + self.image + '\\' is not a valid image reference"
                         " (registry/name[:tag][@sha256:digest], name in lowercase)'",
    "message": "image is not a valid image reference (registry/name[:tag][@sha256:digest], name in lowercase)",
    "fieldPath": ".image",
    "reason": "FieldValueInvalid",
}


class Container(Model):
    """The fields of a container the operator reads; the rest is kept as written."""

    model_config = ConfigDict(
        extra="allow", json_schema_extra={"x-kubernetes-preserve-unknown-fields": True, "x-kubernetes-validations": [IMAGE_RULE]}
    )
    name: Annotated[str, Field(min_length=1, max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    """The container's name."""
    # distribution's own limit on a name is 255; a tag adds 128 and a digest 135.
    image: Annotated[str, Field(min_length=1, max_length=1024)]
    """The container's image; changing it starts a rollout."""


_CONTAINER_LIST = {"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]}


class PodSpec(Model):
    model_config = ConfigDict(extra="allow", json_schema_extra={"x-kubernetes-preserve-unknown-fields": True})
    containers: list[Container] = Field(min_length=1, max_length=64, json_schema_extra=_CONTAINER_LIST)
    """The pod's containers, as in a Deployment; fields not listed here are kept as written."""
    init_containers: list[Container] | None = Field(default=None, max_length=64, json_schema_extra=_CONTAINER_LIST)
    """The pod's init containers; their images are checked like the containers'."""
    # Declared so the schema can refuse what a Deployment refuses: its pods always restart.
    restart_policy: Literal["Always"] | None = None
    """Always, as for every Deployment."""


class PodTemplate(Model):
    metadata: ObjectMeta = ObjectMeta()
    """Labels and annotations of the pods."""
    spec: PodSpec
    """The pod spec, as in a Deployment."""


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
    """An HTTPRoute in the Rollout's namespace."""
    http_routes: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list, max_length=16)
    """More HTTPRoutes in the Rollout's namespace."""
    grpc_routes: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list, max_length=16)
    """GRPCRoutes in the Rollout's namespace."""
    rules: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list, max_length=16)
    """Rule names (HTTPRouteRule.name) whose backends carry the weights; every rule when empty."""

    @property
    def http_route_names(self) -> list[str]:
        return ([self.http_route] if self.http_route else []) + [n for n in self.http_routes if n != self.http_route]


class IstioVirtualService(Model):
    name: Annotated[str, Field(min_length=1)]
    """The VirtualService in the Rollout's namespace."""
    routes: list[str] = Field(default_factory=list, max_length=32)
    """Names of its http routes that carry the weights; every route when empty."""


class IstioDestinationRule(Model):
    """Weights by subset: the operator points each named subset at its revision's pods."""

    name: Annotated[str, Field(min_length=1)]
    """The DestinationRule in the Rollout's namespace."""
    stable_subset_name: Annotated[str, Field(min_length=1)] = "stable"
    """The subset pointed at the stable revision."""
    canary_subset_name: Annotated[str, Field(min_length=1)] = "canary"
    """The subset pointed at the canary revision."""


class IstioRouting(Model):
    virtual_service: IstioVirtualService
    """The VirtualService whose routes carry the weights."""
    destination_rule: IstioDestinationRule | None = None
    """Route by subsets of this DestinationRule instead of the stable and canary Services."""


class IngressRouting(Model):
    ingress: Annotated[str, Field(min_length=1)]
    """The Ingress in the Rollout's namespace that routes to <rollout>-stable."""


class NginxRouting(IngressRouting):
    annotation_prefix: Annotated[str, Field(min_length=1)] = "nginx.ingress.kubernetes.io"
    """ingress-nginx's --annotations-prefix."""


class AlbRouting(IngressRouting):
    service_port: ServicePort = 80
    """The <rollout>-stable / <rollout>-canary Service port the target groups forward to."""
    annotation_prefix: Annotated[str, Field(min_length=1)] = "alb.ingress.kubernetes.io"
    """The AWS Load Balancer Controller's annotation prefix."""


class TraefikRouting(Model):
    traefik_service: Annotated[str, Field(min_length=1)]
    """The TraefikService in the Rollout's namespace."""


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
    """Gateway API HTTPRoutes or GRPCRoutes."""
    istio: IstioRouting | None = None
    """An Istio VirtualService (and optionally a DestinationRule)."""
    traefik: TraefikRouting | None = None
    """A Traefik TraefikService."""
    nginx: NginxRouting | None = None
    """An Ingress served by ingress-nginx; Shiftlane owns the Ingress <ingress>-canary."""
    alb: AlbRouting | None = None
    """An Ingress served by the AWS Load Balancer Controller."""

    @property
    def router(self) -> str:
        return next(name for name in TRAFFIC_ROUTERS if getattr(self, _field(name)) is not None)


def _field(alias: str) -> str:
    return {"gatewayAPI": "gateway_api"}.get(alias, alias)


# --- analysis -----------------------------------------------------------------------------------


class AnalysisTemplateRef(Model):
    name: Annotated[str, Field(min_length=1, max_length=253)]
    """The analysis template's name."""
    cluster_scope: bool = False
    """A ClusterAnalysisTemplate rather than an AnalysisTemplate in the Rollout's namespace."""


class AnalysisArgument(Model):
    """A value for one of the templates' args, overriding the template's own value."""

    name: Annotated[str, Field(min_length=1, max_length=63)]
    """The argument's name in the templates."""
    value: Annotated[str, Field(max_length=4096)]
    """Its value."""


class Analysis(Model):
    templates: list[AnalysisTemplateRef] = Field(min_length=1, max_length=16)
    """The analysis templates to run; all must pass."""
    args: list[AnalysisArgument] = Field(default_factory=list, max_length=32)
    """Values for the templates' args (`{{args.NAME}}`), overriding the templates' own."""


class BackgroundAnalysis(Analysis):
    """Runs beside the canary's steps from `startingStep` until the rollout completes; a failure aborts at any point."""

    starting_step: Annotated[int, Field(ge=0, le=63)] = 0
    """The step (counted from 0) from which the analysis runs."""


class Webhook(Model):
    """An HTTP call at a point of the rollout (see README, Webhooks): the confirm and pre-rollout hooks gate
    the rollout on a 2xx answer; the others notify."""

    name: Annotated[str, Field(min_length=1, max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    """The webhook's name, unique in the Rollout."""
    type: Literal["confirmRollout", "preRollout", "confirmPromotion", "postRollout", "rollback", "event"]
    """When it is called: confirmRollout, preRollout, confirmPromotion (gating); postRollout, rollback, event (notifying)."""
    url: Annotated[str, Field(max_length=2048, pattern=r"^https?://[^\s]+$")]
    """Where the JSON payload is POSTed."""
    timeout: Duration = "10s"
    """How long a call may take before it counts as a refusal."""
    retries: Annotated[int, Field(ge=0, le=20)] = 3
    """Refused calls before a preRollout hook fails the rollout, or a notification is given up."""
    metadata: dict[str, str] = Field(default_factory=dict)
    """Passed through in the payload."""
    slack: bool = False
    """event hooks only: post a Slack-compatible {"text": ...} payload instead of Shiftlane's JSON."""


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
    """Pods above replicas during the rollout (count or percent)."""
    max_unavailable: IntOrPercent = "25%"
    """Pods below replicas during the rollout (count or percent)."""


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
    """Pods replaced per batch (count or percent of replicas)."""
    pause_between: Duration | None = None
    """Pause after each batch (a duration such as 30s, 5m or 1h30m)."""
    analysis: Analysis | None = None
    """Analysis after each batch."""


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
    """Switch traffic once the new revision is ready; false waits for promote."""
    auto_promotion_seconds: Annotated[int, Field(ge=0)] | None = None
    """Wait this long after the new revision is ready before switching."""
    scale_down_delay_seconds: Annotated[int, Field(ge=0)] = 30
    """Seconds the old revision keeps its pods after the switch (instant rollback)."""
    pre_promotion_analysis: Analysis | None = None
    """Analysis before the switch."""
    post_promotion_analysis: Analysis | None = None
    """Analysis after the switch."""


class Immutable(Model):
    analysis: Analysis | None = None
    """Analysis before the switch."""
    scale_down_delay_seconds: Annotated[int, Field(ge=0)] = 30
    """Seconds the old revision keeps its pods after the switch."""


class PauseStep(Model):
    duration: Duration | None = None
    """How long to pause (such as 30s, 5m or 1h30m); unset waits for `kubectl shiftlane promote`."""


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
    """This many canary pods."""
    weight: Percent | None = None
    """This percent of replicas as canary pods."""
    match_traffic_weight: bool | None = None
    """As many canary pods as the current weight needs."""


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
    """Send this percent of traffic to the canary."""
    set_canary_scale: CanaryScale | None = None
    """Set the canary's pods apart from its weight."""
    pause: PauseStep | None = None
    """Pause for a duration, or until promoted."""
    analysis: Analysis | None = None
    """Run analysis; a failure aborts."""


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
    """The steps, in order; each sets exactly one of setWeight, setCanaryScale, pause, analysis."""
    analysis: BackgroundAnalysis | None = None
    """Analysis in the background from a step on: a failure aborts whatever step is current."""
    traffic_routing: TrafficRouting | None = None
    """The router that holds the weights; without one, traffic follows the share of ready pods."""
    scale_down_delay_seconds: Annotated[int, Field(ge=0)] = 30
    """After a promote the previous stable keeps its pods this long (with a router only): a router's data plane (an ingress controller, Envoy, a load balancer's targets) sends to pod IPs and learns of the switch seconds after the route object holds it."""


class HeaderMatch(Model):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [rule(one_of(["exact", "prefix", "regex"]), "set exactly one of exact, prefix, regex")]
        }
    )
    name: Annotated[str, Field(min_length=1, max_length=256)]
    """The header, cookie or query parameter name."""
    exact: str | None = None
    """Matches this exact value."""
    prefix: str | None = None
    """Matches values starting with this."""
    regex: str | None = None
    """Matches values matching this regular expression."""


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
    """Header matches; all must hold."""
    cookies: list[HeaderMatch] | None = Field(None, max_length=16)
    """Cookie matches; all must hold."""
    query_params: list[HeaderMatch] | None = Field(None, max_length=16)
    """Query parameter matches; all must hold."""


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
    """Requests matching any of these go to the new revision."""
    duration: Duration | None = None
    """How long the test runs (such as 30s, 5m or 1h30m); unset waits for promote."""
    canary_replicas: Annotated[int, Field(ge=1)] = 1
    """Pods of the new revision during the test."""
    scale_down_delay_seconds: Annotated[int, Field(ge=0)] = 30
    """After a promote the previous stable keeps its pods this long (with a router only): a router's data plane (an ingress controller, Envoy, a load balancer's targets) sends to pod IPs and learns of the switch seconds after the route object holds it."""
    analysis: Analysis | None = None
    """Analysis after the test."""
    traffic_routing: TrafficRouting | None = None
    """The router that matches requests."""


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
    """Percent of live requests mirrored to the new revision."""
    duration: Duration | None = None
    """How long mirroring runs (such as 30s, 5m or 1h30m); unset waits for promote."""
    canary_replicas: Annotated[int, Field(ge=1)] = 1
    """Pods of the new revision while mirroring."""
    scale_down_delay_seconds: Annotated[int, Field(ge=0)] = 30
    """After a promote the previous stable keeps its pods this long (with a router only): a router's data plane (an ingress controller, Envoy, a load balancer's targets) sends to pod IPs and learns of the switch seconds after the route object holds it."""
    analysis: Analysis | None = None
    """Analysis after mirroring."""
    traffic_routing: TrafficRouting | None = None
    """The router that mirrors requests."""


class Elastic(Model):
    step_percent: Annotated[int, Field(ge=1, le=100)] = 25
    """Share of the replica count moved per step."""
    pause_between: Duration | None = None
    """Pause after each step (a duration such as 30s, 5m or 1h30m)."""
    analysis: Analysis | None = None
    """Analysis after each step."""


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
    """Old revision to zero, then the new one to full size."""
    rolling: Rolling | None = None
    """New up and old down by maxSurge / maxUnavailable, as a Deployment does."""
    rolling_batches: RollingBatches | None = None
    """Replace a batch at a time, with a pause and analysis between batches."""
    blue_green: BlueGreen | None = Field(None, alias="blueGreen")
    """New revision at full size behind the preview Service; all traffic switches at once."""
    immutable: Immutable | None = None
    """A complete new revision; all traffic switches when every new pod is ready."""
    canary: Canary | None = None
    """User steps: setWeight, setCanaryScale, pause, analysis."""
    ab_testing: AbTesting | None = Field(None, alias="abTesting")
    """Only requests matching headers, cookies or query parameters go to the new revision."""
    shadow: Shadow | None = None
    """The new revision gets a mirrored copy of live requests; its answers are discarded."""
    elastic: Elastic | None = None
    """The new revision grows and the old shrinks in steps of the count an autoscaler sets."""

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
    """The desired pods (a Deployment's fields) and how a change of their template is delivered."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                # A workloadRef's Deployment brings its own template (and selector, when none is given).
                rule(
                    "has(self.template) || has(self.workloadRef)",
                    "one of template, workloadRef is required",
                    "FieldValueRequired",
                    ".template",
                ),
                rule(
                    "!(has(self.template) && has(self.workloadRef))",
                    "template and workloadRef cannot both be set: the Rollout runs the Deployment's template",
                    "FieldValueForbidden",
                    ".workloadRef",
                ),
                rule(
                    "has(self.selector) || has(self.workloadRef)",
                    "selector is required with template",
                    "FieldValueRequired",
                    ".selector",
                ),
                rule(
                    "!has(self.workloadRef) || has(self.replicas)",
                    "replicas is required with workloadRef: the Rollout holds the count (the Deployment's replicas leaves Git)",
                    "FieldValueRequired",
                    ".replicas",
                ),
                rule(
                    "!has(self.selector) || !has(self.template) || !has(self.selector.matchLabels)"
                    " || self.selector.matchLabels.all(k, has(self.template.metadata) && has(self.template.metadata.labels)"
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
    """Desired number of pods (the scale subresource and HPAs set it)."""
    selector: LabelSelector | None = Field(
        None,
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
    """The pods' labels (matchLabels only); immutable. Taken from the Deployment with workloadRef when unset."""
    template: PodTemplate | None = None
    """The pod template; a change starts a rollout. Unset with workloadRef."""
    workload_ref: WorkloadRef | None = None
    """Adoption: the template comes from this Deployment, which Shiftlane scales down."""
    services: ServiceNames | None = None
    """Existing Services to use under their own names; unset roles get Services Shiftlane creates."""
    min_ready_seconds: Annotated[int, Field(ge=0)] = DEFAULT_MIN_READY_SECONDS
    """Seconds a pod must be ready before it counts as available."""
    revision_history_limit: Annotated[int, Field(ge=0, le=100)] = 10
    """Old revisions kept at zero replicas, for an instant undo."""
    # A Deployment holds it in an int32.
    progress_deadline_seconds: Annotated[int, Field(ge=1, le=INT32_MAX)] = DEFAULT_PROGRESS_DEADLINE_SECONDS
    """Seconds without progress before the Rollout is Degraded."""
    progress_deadline_abort: bool = False
    """Abort the rollout when the progress deadline passes."""
    abort_scale_down_delay_seconds: Annotated[int, Field(ge=0)] = 30
    """After an abort, traffic returns to stable first; the new revision's pods go this much later."""
    paused: bool = False
    """Hold the rollout where it is (a new template waits too)."""
    image_policy: ImagePolicy | None = None
    """Registry checks before a revision gets pods: tag to digest, scan gate, denied tags; unset: none."""
    rollback_on_failure: bool = True
    """A failed analysis returns traffic to stable and scales the new revision down; false freezes the rollout where it is instead (for releases whose migrations cannot be undone)."""
    webhooks: list[Webhook] = Field(
        default_factory=list,
        max_length=16,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    """HTTP calls that gate the rollout or are told of it (see README, Webhooks)."""
    strategy: Strategy
    """Exactly one delivery strategy."""


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


def parse_spec(raw: dict[str, Any]) -> RolloutSpec:
    return RolloutSpec.model_validate(raw)
