"""A Flagger `Canary` (flagger.app/v1beta1) as a Shiftlane Rollout.

Flagger's analysis decides the kind of release (field names from its CanarySpec / CanaryAnalysis):
`match` with `iterations` is A/B testing, `mirror` with `iterations` a mirrored (shadow) release,
`iterations` alone blue/green, and `stepWeight(s)` a canary whose weight rises every `interval`. The
pods come from the `targetRef` Deployment when its file is among the inputs.
"""

from __future__ import annotations

from typing import Any

from shiftlane.cli.convert.common import Conversion, duration, metadata, placeholder_workload, rollout, seconds, workload_spec

DEFAULT_INTERVAL = "1m"  # Flagger's default analysis interval
_ROUTERS = {"istio": "istio", "nginx": "nginx", "traefik": "traefik", "gatewayapi": "gatewayAPI"}
_SPEC_DROPPED = {
    "autoscalerRef": "point the HorizontalPodAutoscaler at the Rollout (scale subresource), or use the elastic strategy",
    "revertOnDeletion": "deleting a Rollout deletes its revisions; nothing to revert",
    "metricsServer": "Prometheus addresses belong to the AnalysisTemplates",
}
_ANALYSIS_DROPPED = {
    "threshold": "failure limits belong to each metric of the AnalysisTemplates",
    "alerts": "not supported: alert on shiftlane metrics or Events",
    "webhooks": "not carried over: a web or job metric in an AnalysisTemplate does this",
    "stepWeightPromotion": "the promotion moves all traffic at once",
    "primaryReadyThreshold": "not supported",
    "canaryReadyThreshold": "not supported",
    "sessionAffinity": "not supported",
}
_SERVICE_DROPPED = {
    "name": "the Rollout is named after it: Shiftlane's Services are <rollout>, <rollout>-stable and <rollout>-canary",
    "port": "Shiftlane's Services take the container ports of the pod template",
    "targetPort": "Shiftlane's Services take the container ports of the pod template",
    "portName": "Shiftlane's Services take the container ports of the pod template",
    "portDiscovery": "Shiftlane's Services take every container port",
    "gateways": "routes are yours in Shiftlane: keep them in your VirtualService / HTTPRoute",
    "hosts": "routes are yours in Shiftlane: keep them in your VirtualService / HTTPRoute",
    "gatewayRefs": "routes are yours in Shiftlane: keep the parentRefs in your HTTPRoute",
    "trafficPolicy": "keep it in your DestinationRule",
    "match": "keep it in your route",
    "rewrite": "keep it in your route",
    "retries": "keep it in your route",
    "headers": "keep it in your route",
    "corsPolicy": "keep it in your route",
    "timeout": "keep it in your route",
}


def _templates(analysis: dict[str, Any], conversion: Conversion, skip: bool) -> dict[str, Any] | None:
    """Flagger's metric templates become AnalysisTemplate references; its built-in metrics have none."""
    names = []
    for i, metric in enumerate(analysis.get("metrics") or []):
        where = f"spec.analysis.metrics[{i}]"
        ref = metric.get("templateRef") or {}
        if ref.get("name"):
            names.append(ref["name"])
            conversion.note(where, f"write an AnalysisTemplate {ref['name']} from Flagger's MetricTemplate, with the "
                                   f"condition of its thresholdRange {metric.get('thresholdRange') or '-'}")
        else:
            conversion.note(where, f"built-in metric {metric.get('name', '?')} has no AnalysisTemplate: left out")
    if skip and names:
        conversion.note("spec.skipAnalysis", "true: the analysis steps are left out")
        return None
    return {"templates": [{"name": n} for n in dict.fromkeys(names)]} if names else None


def _routing(canary: dict[str, Any], apex: str, conversion: Conversion) -> dict[str, Any] | None:
    spec = canary.get("spec") or {}
    provider = str(spec.get("provider") or "")
    router = _ROUTERS.get(provider.split(":")[0].split(".")[0])
    if not provider:
        conversion.note("spec.provider", "not set (Flagger's mesh provider flag decides): add trafficRouting yourself")
        return None
    if router is None:
        conversion.note("spec.provider", f"{provider} is not a Shiftlane router: traffic follows the share of ready pods")
        return None
    if router == "nginx":
        ingress = (spec.get("ingressRef") or {}).get("name")
        if not ingress:
            conversion.note("spec.ingressRef", "missing: the nginx router needs the Ingress")
            return None
        return {"nginx": {"ingress": ingress}}
    conversion.note("spec.provider", f"Flagger generated the {router} route {apex}; Shiftlane drives a route you own: "
                                     f"keep one named {apex} with backends {apex}-stable and {apex}-canary")
    if router == "istio":
        return {"istio": {"virtualService": {"name": apex}}}
    if router == "traefik":
        return {"traefik": {"traefikService": apex}}
    return {"gatewayAPI": {"httpRoute": apex}}


def _match(raw: list[dict[str, Any]], conversion: Conversion) -> list[dict[str, Any]]:
    """Istio HTTPMatchRequest headers (name -> {exact|prefix|regex}) as Shiftlane's header matches."""
    matches = []
    for i, request in enumerate(raw):
        headers = [{"name": name} | {k: v for k, v in (rule or {}).items() if k in ("exact", "prefix", "regex")}
                   for name, rule in (request.get("headers") or {}).items()]
        others = [k for k in request if k != "headers"]
        if others:
            conversion.note(f"spec.analysis.match[{i}]", f"only headers are matched: {', '.join(others)} left out")
        if headers:
            matches.append({"headers": headers})
    return matches


def _weights(analysis: dict[str, Any], conversion: Conversion) -> list[int]:
    if analysis.get("stepWeights"):
        return [int(w) for w in analysis["stepWeights"]]
    step = int(analysis.get("stepWeight") or 0)
    if step <= 0:
        return []
    top = analysis.get("maxWeight")
    if top is None:
        conversion.note("spec.analysis.maxWeight", "not set: the weights rise below 100% before the promotion")
        top = 100
    return [w for w in range(step, int(top) + 1, step) if w < 100] or [min(step, 100)]


def _strategy(analysis: dict[str, Any], routing: dict[str, Any] | None, templates: dict[str, Any] | None,
              conversion: Conversion) -> dict[str, Any]:
    interval = duration(analysis.get("interval") or DEFAULT_INTERVAL, conversion, "spec.analysis.interval") or DEFAULT_INTERVAL
    iterations = int(analysis.get("iterations") or 0)
    total = f"{(seconds(interval) or 60) * iterations:g}s" if iterations else None
    extra = ({"analysis": templates} if templates else {}) | ({"trafficRouting": routing} if routing else {})
    if analysis.get("match") and iterations:
        return {"abTesting": {"match": _match(analysis["match"], conversion), "duration": total} | extra}
    if analysis.get("mirror") and iterations:
        return {"shadow": {"mirrorPercent": int(analysis.get("mirrorWeight") or 100), "duration": total} | extra}
    weights = _weights(analysis, conversion)
    if weights:
        steps: list[dict[str, Any]] = []
        for weight in weights:
            steps += [{"setWeight": weight}, {"pause": {"duration": interval}}]
            if templates:
                steps.append({"analysis": templates})
        return {"canary": {"steps": steps} | ({"trafficRouting": routing} if routing else {})}
    if iterations:
        blue_green: dict[str, Any] = {"autoPromotionSeconds": int((seconds(interval) or 60) * iterations)}
        if templates:
            blue_green["prePromotionAnalysis"] = templates
        if routing:
            conversion.note("spec.provider", "blue/green switches the Service: the route is not needed")
        return {"blueGreen": blue_green}
    conversion.note("spec.analysis", "neither weights nor iterations: converted to rolling")
    return {"rolling": {}}


def from_flagger_canary(canary: dict[str, Any], deployments: dict[str, dict[str, Any]]) -> Conversion:
    meta = canary.get("metadata") or {}
    conversion = Conversion(f"Canary {meta.get('name', '?')}")
    spec = canary.get("spec") or {}
    target_ref = spec.get("targetRef") or {}
    target = str(target_ref.get("name") or meta.get("name") or "")
    if target_ref.get("kind", "Deployment") != "Deployment":
        conversion.note("spec.targetRef.kind", f"{target_ref.get('kind')} is not a Deployment: its pods are not carried over")
    deployment = deployments.get(target)
    out = workload_spec(deployment.get("spec") or {}, conversion) if deployment else placeholder_workload(
        target, conversion, "spec.targetRef")
    if spec.get("progressDeadlineSeconds") is not None:
        out["progressDeadlineSeconds"] = spec["progressDeadlineSeconds"]
    conversion.dropped(spec, "spec", _SPEC_DROPPED)
    service = spec.get("service") or {}
    conversion.dropped(service, "spec.service", {k: v for k, v in _SERVICE_DROPPED.items() if k != "name"})
    apex = str(service.get("name") or target)
    analysis = spec.get("analysis") or spec.get("canaryAnalysis") or {}
    conversion.dropped(analysis, "spec.analysis", _ANALYSIS_DROPPED)
    templates = _templates(analysis, conversion, bool(spec.get("skipAnalysis")))
    out["strategy"] = _strategy(analysis, _routing(canary, apex, conversion), templates, conversion)
    if apex != target:
        conversion.note("spec.service.name", f"the Rollout is named {apex}, after the Service name")
    conversion.rollout = rollout(metadata(canary, apex), out)
    return conversion
