"""An Argo Rollouts `Rollout` (argoproj.io/v1alpha1) as a Shiftlane Rollout.

Argo field names are taken from its API types (RolloutSpec, CanaryStrategy, BlueGreenStrategy,
RolloutTrafficRouting, the Gateway API plugin's configuration). What has no Shiftlane equivalent is
left out with a note naming the field.
"""

from __future__ import annotations

from typing import Any

from shiftlane.cli.convert.common import Conversion, duration, metadata, placeholder_workload, rollout, workload_spec

GATEWAY_PLUGIN = "argoproj-labs/gatewayAPI"
SERVICES_NOTE = "Shiftlane routes through the Services it creates, <rollout>-stable and <rollout>-canary: point routes at those"

_CANARY_DROPPED = {
    "canaryService": SERVICES_NOTE,
    "stableService": SERVICES_NOTE,
    "maxSurge": "a canary's capacity follows its steps in Shiftlane",
    "maxUnavailable": "a canary's capacity follows its steps in Shiftlane",
    "analysis": "background analysis is not carried over: add an analysis step where it should be judged",
    "antiAffinity": "not supported: set affinity in the pod template",
    "canaryMetadata": "no per-role pod metadata in Shiftlane (pods carry shiftlane.io/revision)",
    "stableMetadata": "no per-role pod metadata in Shiftlane (pods carry shiftlane.io/revision)",
    "scaleDownDelaySeconds": "Shiftlane scales the old revision down as the promotion ends",
    "scaleDownDelayRevisionLimit": "not supported",
    "dynamicStableScale": "not supported: stable keeps its pods until the promotion",
    "pingPong": "not supported: " + SERVICES_NOTE,
    "minPodsPerReplicaSet": "not supported",
}
_BLUE_GREEN_DROPPED = {
    "activeService": "Shiftlane switches its own Service <rollout> (and <rollout>-stable): point clients at it",
    "previewService": "the new revision is reachable through the Service <rollout>-canary",
    "previewReplicaCount": "the new revision runs at full size before the switch",
    "maxUnavailable": "not supported",
    "antiAffinity": "not supported: set affinity in the pod template",
    "previewMetadata": "no per-role pod metadata in Shiftlane",
    "activeMetadata": "no per-role pod metadata in Shiftlane",
    "scaleDownDelayRevisionLimit": "not supported",
}
_SPEC_DROPPED = {
    "restartAt": "not supported: restart by changing the pod template (an annotation)",
    "rollbackWindow": "not supported: use `kubectl shiftlane undo`",
    "analysis": "analysis run history limits are not configurable",
}


def analysis(raw: dict[str, Any] | None, conversion: Conversion, path: str) -> dict[str, Any] | None:
    """Argo names templates with `templateName`; Shiftlane with `name`. Arguments are not passed yet."""
    if not raw:
        return None
    templates = []
    for i, template in enumerate(raw.get("templates") or []):
        name = template.get("templateName") or template.get("name")
        if not name:
            conversion.note(f"{path}.templates[{i}]", "no templateName: left out")
            continue
        if template.get("clusterScope"):
            conversion.note(f"{path}.templates[{i}].clusterScope", f"{name} must exist as an AnalysisTemplate in the namespace")
        templates.append({"name": name})
    conversion.dropped(raw, path, {"args": "analysis arguments are not carried over: put the values in the templates",
                                   "dryRun": "not supported", "measurementRetention": "not supported",
                                   "analysisRunMetadata": "not supported"})
    if not templates:
        conversion.note(path, "no template left: the analysis is left out")
        return None
    return {"templates": templates}


def _gateway_api(raw: dict[str, Any], conversion: Conversion, path: str) -> dict[str, Any] | None:
    out: dict[str, Any] = {}
    http = [r for r in [raw.get("httpRoute")] if r] + [r.get("name") for r in raw.get("httpRoutes") or [] if r.get("name")]
    grpc = [r for r in [raw.get("grpcRoute")] if r] + [r.get("name") for r in raw.get("grpcRoutes") or [] if r.get("name")]
    if http:
        out["httpRoute"] = http[0]
        if len(http) > 1:
            out["httpRoutes"] = http[1:]
    if grpc:
        out["grpcRoutes"] = grpc
    conversion.dropped(raw, path, {k: "Shiftlane drives HTTPRoutes and GRPCRoutes only" for k in
                                   ("tcpRoute", "tcpRoutes", "tlsRoute", "tlsRoutes")})
    conversion.dropped(raw, path, {"namespace": "routes are read in the Rollout's namespace",
                                   "httpRouteSelector": "name the routes instead", "grpcRouteSelector": "name the routes instead",
                                   "configMap": "not needed"})
    return out or None


def traffic_routing(raw: dict[str, Any] | None, conversion: Conversion, path: str) -> dict[str, Any] | None:
    if not raw:
        return None
    routers: list[tuple[str, dict[str, Any]]] = []
    istio = raw.get("istio")
    if istio:
        services = ([istio["virtualService"]] if istio.get("virtualService") else []) + list(istio.get("virtualServices") or [])
        if services:
            first = services[0]
            virtual_service = {"name": first.get("name")} | ({"routes": first["routes"]} if first.get("routes") else {})
            out: dict[str, Any] = {"virtualService": virtual_service}
            if len(services) > 1:
                conversion.note(f"{path}.istio.virtualServices", f"one VirtualService is driven: {first.get('name')} kept")
            for kind in ("tlsRoutes", "tcpRoutes"):
                if first.get(kind):
                    conversion.note(f"{path}.istio.virtualService.{kind}", "only HTTP routes are driven")
            rule = istio.get("destinationRule")
            if rule:
                out["destinationRule"] = {k: rule[k] for k in ("name", "canarySubsetName", "stableSubsetName") if rule.get(k)}
            routers.append(("istio", out))
    nginx = raw.get("nginx")
    if nginx:
        ingresses = [i for i in [nginx.get("stableIngress")] if i] + list(nginx.get("stableIngresses") or [])
        if ingresses:
            routers.append(("nginx", {"ingress": ingresses[0]} | (
                {"annotationPrefix": nginx["annotationPrefix"]} if nginx.get("annotationPrefix") else {})))
            if len(ingresses) > 1:
                conversion.note(f"{path}.nginx.stableIngresses", f"one Ingress is driven: {ingresses[0]} kept")
        conversion.dropped(nginx, f"{path}.nginx", {"additionalIngressAnnotations": "not supported"})
    alb = raw.get("alb")
    if alb:
        ingresses = [i for i in [alb.get("ingress")] if i] + list(alb.get("ingresses") or [])
        if ingresses:
            out = {"ingress": ingresses[0]} | {k: alb[k] for k in ("servicePort", "annotationPrefix") if alb.get(k)}
            routers.append(("alb", out))
        conversion.dropped(alb, f"{path}.alb", {"rootService": "the Ingress routes to <rollout>-stable",
                                                "stickinessConfig": "not supported", "ingresses": "one Ingress is driven"})
    traefik = raw.get("traefik")
    if traefik and traefik.get("weightedTraefikServiceName"):
        routers.append(("traefik", {"traefikService": traefik["weightedTraefikServiceName"]}))
    plugins = raw.get("plugins") or {}
    for name, config in plugins.items():
        if name == GATEWAY_PLUGIN and isinstance(config, dict):
            gateway = _gateway_api(config, conversion, f"{path}.plugins.{name}")
            if gateway:
                routers.append(("gatewayAPI", gateway))
        else:
            conversion.note(f"{path}.plugins.{name}", "traffic router plugin not supported")
    conversion.dropped(raw, path, {k: "traffic router not supported by Shiftlane" for k in ("smi", "ambassador", "appMesh", "apisix")})
    conversion.dropped(raw, path, {"managedRoutes": "Shiftlane names its own header-route rules",
                                   "maxTrafficWeight": "weights are percentages of 100"})
    if not routers:
        return None
    if len(routers) > 1:
        conversion.note(path, f"one router per Rollout: {routers[0][0]} kept, " + ", ".join(r for r, _ in routers[1:]) + " left out")
    return {routers[0][0]: routers[0][1]}


def canary_steps(raw_steps: list[dict[str, Any]], conversion: Conversion, path: str) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    for i, step in enumerate(raw_steps):
        where = f"{path}[{i}]"
        if "setWeight" in step:
            steps.append({"setWeight": step["setWeight"]})
        elif "pause" in step:
            pause = step.get("pause") or {}
            length = duration(pause.get("duration"), conversion, f"{where}.pause.duration")
            steps.append({"pause": {"duration": length} if length else {}})
        elif "setCanaryScale" in step:
            scale = {k: v for k, v in (step["setCanaryScale"] or {}).items() if k in ("replicas", "weight", "matchTrafficWeight") and v is not None}
            if scale.get("matchTrafficWeight") is False:
                scale.pop("matchTrafficWeight")
            steps.append({"setCanaryScale": scale or {"matchTrafficWeight": True}})
        elif "analysis" in step:
            converted = analysis(step["analysis"], conversion, f"{where}.analysis")
            if converted:
                steps.append({"analysis": converted})
        else:
            kind = next(iter(step), "?")
            why = {"experiment": "experiments are not supported",
                   "setHeaderRoute": "header routes are the abTesting strategy's in Shiftlane",
                   "setMirrorRoute": "mirroring is the shadow strategy's in Shiftlane"}.get(kind, "not supported")
            conversion.note(f"{where}.{kind}", f"{why}: step left out")
    return steps


def _canary(raw: dict[str, Any], conversion: Conversion, path: str) -> dict[str, Any]:
    conversion.dropped(raw, path, _CANARY_DROPPED)
    routing = traffic_routing(raw.get("trafficRouting"), conversion, f"{path}.trafficRouting")
    steps = canary_steps(raw.get("steps") or [], conversion, f"{path}.steps")
    if not steps:
        conversion.note(f"{path}.steps", "no steps: the new revision replaces the old as a Deployment would (rolling)")
        return {"rolling": {k: raw[k] for k in ("maxSurge", "maxUnavailable") if k in raw}}
    return {"canary": {"steps": steps} | ({"trafficRouting": routing} if routing else {})}


def _blue_green(raw: dict[str, Any], conversion: Conversion, path: str) -> dict[str, Any]:
    conversion.dropped(raw, path, _BLUE_GREEN_DROPPED)
    out: dict[str, Any] = {k: raw[k] for k in ("autoPromotionEnabled", "scaleDownDelaySeconds") if raw.get(k) is not None}
    if raw.get("autoPromotionSeconds") is not None:
        if raw.get("autoPromotionEnabled") is False:
            conversion.note(f"{path}.autoPromotionSeconds", "ignored when autoPromotionEnabled is false: left out")
        else:
            out["autoPromotionSeconds"] = raw["autoPromotionSeconds"]
    for key in ("prePromotionAnalysis", "postPromotionAnalysis"):
        converted = analysis(raw.get(key), conversion, f"{path}.{key}")
        if converted:
            out[key] = converted
    return {"blueGreen": out}


def from_argo_rollout(source: dict[str, Any], deployments: dict[str, dict[str, Any]]) -> Conversion:
    meta = source.get("metadata") or {}
    conversion = Conversion(f"Rollout.argoproj.io {meta.get('name', '?')}")
    spec = source.get("spec") or {}
    ref = spec.get("workloadRef")
    if ref and not spec.get("template"):
        target = deployments.get(ref.get("name", ""))
        if target is not None:
            out = workload_spec({**(target.get("spec") or {}), **{k: v for k, v in spec.items() if k != "workloadRef"}},
                                conversion)
        else:
            out = {k: spec[k] for k in ("replicas",) if k in spec} | placeholder_workload(ref.get("name", "?"), conversion,
                                                                                          "spec.workloadRef")
        if ref.get("scaleDown"):
            conversion.note("spec.workloadRef.scaleDown", "the Deployment is not scaled by the converted Rollout: scale it down "
                                                           "once the Rollout serves")
    else:
        out = workload_spec(spec, conversion)
    conversion.dropped(spec, "spec", _SPEC_DROPPED)
    strategy = spec.get("strategy") or {}
    for key in ("canary", "blueGreen"):
        abort_delay = (strategy.get(key) or {}).get("abortScaleDownDelaySeconds")
        if abort_delay is not None:
            out["abortScaleDownDelaySeconds"] = abort_delay
    if strategy.get("blueGreen") is not None:
        out["strategy"] = _blue_green(strategy["blueGreen"] or {}, conversion, "spec.strategy.blueGreen")
    elif strategy.get("canary") is not None:
        out["strategy"] = _canary(strategy["canary"] or {}, conversion, "spec.strategy.canary")
    else:
        conversion.note("spec.strategy", "neither canary nor blueGreen: converted to rolling")
        out["strategy"] = {"rolling": {}}
    conversion.rollout = rollout(metadata(source), out)
    return conversion
