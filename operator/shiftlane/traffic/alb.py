"""AWS Load Balancer Controller: the user's Ingress routes to `<rollout>-stable` on port
`use-annotation`, and Shiftlane writes that action, `actions.<rollout>-stable`, as a forward to the
stable and canary target groups with weights. A/B adds, before each such path, a path to an action
`<rollout>-match-<n>` forwarding to the canary under `conditions.<rollout>-match-<n>` (an ALB rule ANDs
its conditions, so each request match is its own action). An ALB cannot mirror.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from shiftlane.api.spec import AlbRouting, HeaderMatch, RequestMatch
from shiftlane.engine.model import RouterState
from shiftlane.traffic.router import Backends, ObjectRef, PatchRouter, RouterError, Wanted, edited
from shiftlane.traffic.rules import share

USE_ANNOTATION = "use-annotation"


def ingress_ref(namespace: str, name: str) -> ObjectRef:
    return ObjectRef("networking.k8s.io", "v1", "ingresses", "Ingress", namespace, name)


def backend_service(path: dict[str, Any]) -> dict[str, Any]:
    return (path.get("backend") or {}).get("service") or {}


def _values(match: HeaderMatch) -> list[str]:
    # ALB values take `*` and `?` wildcards, nothing else.
    if match.exact is not None:
        return [match.exact]
    if match.prefix is not None:
        return [match.prefix + "*"]
    raise RouterError(f"an ALB cannot match {match.name} by regular expression; use exact or prefix")


def _conditions(request: RequestMatch) -> list[dict[str, Any]]:
    conditions: list[dict[str, Any]] = [
        {"field": "http-header", "httpHeaderConfig": {"httpHeaderName": h.name, "values": _values(h)}} for h in request.headers or []
    ]
    for cookie in request.cookies or []:
        pair = f"{cookie.name}={_values(cookie)[0]}"
        # The Cookie header lists pairs separated by "; ": the pair first, last, or between others.
        values = [pair, f"{pair};*", f"*; {pair}", f"*; {pair};*"] if cookie.exact is not None else [pair, f"*; {pair}"]
        conditions.append({"field": "http-header", "httpHeaderConfig": {"httpHeaderName": "Cookie", "values": values}})
    if request.query_params:
        values = [{"key": q.name, "value": _values(q)[0]} for q in request.query_params]
        conditions.append({"field": "query-string", "queryStringConfig": {"values": values}})
    return conditions


@dataclass(frozen=True)
class AlbIngress:
    ref: ObjectRef
    names: Backends
    port: int | str
    prefix: str
    paths: tuple[str, ...] = ("/metadata/annotations", "/spec/rules")
    carries_traffic: bool = True

    def action(self, name: str) -> str:
        return f"{self.prefix}/actions.{name}"

    def conditions(self, name: str) -> str:
        return f"{self.prefix}/conditions.{name}"

    def match_action(self, index: int) -> str:
        # An action name is a Service name in the Ingress: a DNS label of at most 63 characters.
        return f"{self.names.rollout}-match-{index}"

    def is_match_action(self, name: str) -> bool:
        return name.startswith(f"{self.names.rollout}-match-")

    def _target(self, service: str, weight: int) -> dict[str, Any]:
        # The controller reads an int as a port number and a string as a port name.
        return {"serviceName": service, "servicePort": self.port, "weight": weight}

    def _forward(self, *targets: dict[str, Any]) -> str:
        return json.dumps({"type": "forward", "forwardConfig": {"targetGroups": list(targets)}}, separators=(",", ":"))

    def read(self, obj: dict[str, Any]) -> RouterState:
        annotations = obj["metadata"].get("annotations") or {}
        backends = [backend_service(p) for r in (obj.get("spec") or {}).get("rules") or [] for p in (r.get("http") or {}).get("paths") or []]
        stable = [b for b in backends if b.get("name") == self.names.stable]
        if not stable:
            return RouterState(0, False, 0, (f"{self.ref} has no path to Service {self.names.stable}",))
        if any((b.get("port") or {}).get("name") != USE_ANNOTATION for b in stable):
            return RouterState(0, False, 0, (f"{self.ref} routes to {self.names.stable} by port, not {USE_ANNOTATION}: the ALB would not read the weights",))
        try:
            groups = json.loads(annotations.get(self.action(self.names.stable), "{}")).get("forwardConfig", {}).get("targetGroups", [])
        except json.JSONDecodeError:
            return RouterState(0, False, 0, (f"{self.ref} annotation {self.action(self.names.stable)} is not JSON",))
        weight = {g.get("serviceName"): g.get("weight", 0) for g in groups}
        matching = any(self.is_match_action(b.get("name", "")) and self.action(b["name"]) in annotations for b in backends)
        return RouterState(share(weight.get(self.names.stable, 0), weight.get(self.names.canary, 0)), matching, 0)

    def edit(self, obj: dict[str, Any], want: Wanted) -> dict[str, Any]:
        out = edited(obj)
        annotations = {
            k: v
            for k, v in (out["metadata"].get("annotations") or {}).items()
            if not any(k.startswith(f"{self.prefix}/{kind}.{self.names.rollout}-match-") for kind in ("actions", "conditions"))
        }
        annotations[self.action(self.names.stable)] = self._forward(
            self._target(self.names.stable, want.stable_weight), self._target(self.names.canary, want.canary_weight)
        )
        actions = [self.match_action(i) for i in range(len(want.matches))]
        for action, request in zip(actions, want.matches):
            annotations[self.action(action)] = self._forward(self._target(self.names.canary, 100))
            annotations[self.conditions(action)] = json.dumps(_conditions(request), separators=(",", ":"))
        out["metadata"]["annotations"] = annotations
        for rule in (out.get("spec") or {}).get("rules") or []:
            http = rule.get("http") or {}
            paths = []
            for path in http.get("paths") or []:
                if self.is_match_action(backend_service(path).get("name", "")):
                    continue
                if backend_service(path).get("name") == self.names.stable:
                    # Earlier paths become earlier ALB rules: the matches are tried first.
                    paths += [{**path, "backend": {"service": {"name": a, "port": {"name": USE_ANNOTATION}}}} for a in actions]
                paths.append(path)
            if "paths" in http:
                http["paths"] = paths
        return out


def alb_router(routing: AlbRouting, namespace: str, names: Backends) -> PatchRouter:
    return PatchRouter("alb", (AlbIngress(ingress_ref(namespace, routing.ingress), names, routing.service_port, routing.annotation_prefix),))
