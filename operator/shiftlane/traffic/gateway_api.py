"""Gateway API: weights on the `<rollout>-stable` / `<rollout>-canary` backendRefs of HTTPRoute and
GRPCRoute rules, an A/B rule of Shiftlane's own, and a RequestMirror filter for shadow.

`rules` and `backendRefs` are atomic lists (server-side apply would take the whole list), so the router
replaces `/spec/rules` with the user's rules edited in place, under a resourceVersion test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shiftlane.api.spec import GatewayApiRouting, HeaderMatch, RequestMatch
from shiftlane.engine.model import RouterState
from shiftlane.traffic.matches import cookie_regex, value_regex
from shiftlane.traffic.router import Backends, ObjectRef, PatchRouter, RouterError, Wanted, edited

GROUP = "gateway.networking.k8s.io"
VERSION = "v1"


def is_service(ref: dict[str, Any], name: str) -> bool:
    return ref.get("name") == name and ref.get("kind", "Service") == "Service" and ref.get("group", "") == ""


def share(stable: int, canary: int) -> int:
    """The canary's percent of two weights, as a proxy splits them."""
    total = stable + canary
    return round(100 * canary / total) if total > 0 else 0


def _match(match: HeaderMatch) -> dict[str, str]:
    if match.exact is not None:
        return {"type": "Exact", "name": match.name, "value": match.exact}
    return {"type": "RegularExpression", "name": match.name, "value": value_regex(match)}


def _merge(base: dict[str, Any], request: RequestMatch, grpc: bool) -> dict[str, Any]:
    """The user's match narrowed by the request match: its path and method stay, so the rule wins by
    Gateway API precedence (more header / query matches) only where the user's rule applied."""
    headers = [_match(h) for h in request.headers or []]
    if request.cookies:
        headers.append({"type": "RegularExpression", "name": "Cookie", "value": cookie_regex(request.cookies)})
    queries = [_match(q) for q in request.query_params or []]
    if grpc and queries:
        raise RouterError("a GRPCRoute cannot match query parameters")
    merged = edited(base)
    for key, added, fold in (("headers", headers, str.lower), ("queryParams", queries, str)):
        if added:
            taken = {fold(m["name"]) for m in added}
            merged[key] = [m for m in merged.get(key, []) if fold(m["name"]) not in taken] + added
    return merged


@dataclass(frozen=True)
class GatewayRoute:
    ref: ObjectRef
    names: Backends
    rule_names: tuple[str, ...] = ()
    paths: tuple[str, ...] = ("/spec/rules",)
    carries_traffic: bool = True

    @property
    def grpc(self) -> bool:
        return self.ref.kind == "GRPCRoute"

    def _stable_ref(self, rule: dict[str, Any]) -> dict[str, Any] | None:
        return next((r for r in rule.get("backendRefs") or [] if is_service(r, self.names.stable)), None)

    def _managed(self, rules: list[dict[str, Any]]) -> list[int]:
        return [
            i
            for i, rule in enumerate(rules)
            if not self.names.is_match(rule.get("name"))
            and (not self.rule_names or rule.get("name") in self.rule_names)
            and self._stable_ref(rule) is not None
        ]

    def _is_mirror(self, f: dict[str, Any]) -> bool:
        return f.get("type") == "RequestMirror" and is_service((f.get("requestMirror") or {}).get("backendRef") or {}, self.names.canary)

    def read(self, obj: dict[str, Any]) -> RouterState:
        rules = (obj.get("spec") or {}).get("rules") or []
        names = {r.get("name") for r in rules}
        problems = [f"{self.ref} has no rule named {n}" for n in self.rule_names if n not in names]
        managed = [rules[i] for i in self._managed(rules)]
        if not managed:
            where = f" in rules {', '.join(self.rule_names)}" if self.rule_names else ""
            problems.append(f"{self.ref} has no backendRef to Service {self.names.stable}{where}")
        weights, mirrors = [0], [0]
        for rule in managed:
            refs = rule.get("backendRefs") or []
            stable = sum(r.get("weight", 1) for r in refs if is_service(r, self.names.stable))
            canary = sum(r.get("weight", 1) for r in refs if is_service(r, self.names.canary))
            weights.append(share(stable, canary))
            for f in rule.get("filters") or []:
                if self._is_mirror(f):
                    mirror = f["requestMirror"]
                    fraction = mirror.get("fraction")
                    if fraction:
                        mirrors.append(round(100 * fraction["numerator"] / fraction.get("denominator", 100)))
                    else:
                        mirrors.append(mirror.get("percent", 100))
        return RouterState(
            canary_weight=max(weights),
            header_route=any(self.names.is_match(r.get("name")) for r in rules),
            mirror_percent=max(mirrors),
            problems=tuple(problems),
        )

    def edit(self, obj: dict[str, Any], want: Wanted) -> dict[str, Any]:
        out = edited(obj)
        rules = out.setdefault("spec", {}).get("rules") or []
        managed = set(self._managed(rules))
        kept, matching = [], []
        for i, rule in enumerate(rules):
            if self.names.is_match(rule.get("name")):
                continue  # recomputed below from the rule it overrides, or gone
            if i in managed:
                stable = self._stable_ref(rule)
                assert stable is not None
                rule["backendRefs"] = self._weighed(rule["backendRefs"], stable, want)
                filters = [f for f in rule.get("filters") or [] if not self._is_mirror(f)]
                # A rule per request match: a rule with a ReplacePrefixMatch rewrite may hold one match only.
                for request in want.matches:
                    matching.append(self._match_rule(len(matching), rule, filters, stable, request))
                if want.mirror_percent:
                    filters.append(self._mirror(stable, want.mirror_percent))
                if filters:
                    rule["filters"] = filters
                else:
                    rule.pop("filters", None)
            kept.append(rule)
        # First in the list: Gateway API breaks precedence ties by rule order.
        out["spec"]["rules"] = matching + kept
        return out

    def _weighed(self, refs: list[dict[str, Any]], stable: dict[str, Any], want: Wanted) -> list[dict[str, Any]]:
        has_canary = any(is_service(r, self.names.canary) for r in refs)
        if not has_canary and not want.canary_weight:
            return refs  # nothing to the canary, as the user wrote it
        weighed = []
        for ref in refs:
            if is_service(ref, self.names.stable):
                ref = {**ref, "weight": want.stable_weight}
            elif is_service(ref, self.names.canary):
                ref = {**ref, "weight": want.canary_weight}
            weighed.append(ref)
        if not has_canary:
            weighed.append({**stable, "name": self.names.canary, "weight": want.canary_weight})
        return weighed

    def _canary_ref(self, stable: dict[str, Any]) -> dict[str, Any]:
        # Written with the server's defaults so that reading it back shows no difference to write again.
        ref = {"group": "", "kind": "Service", "name": self.names.canary}
        if "port" in stable:
            ref["port"] = stable["port"]
        return ref

    def _mirror(self, stable: dict[str, Any], percent: int) -> dict[str, Any]:
        return {"type": "RequestMirror", "requestMirror": {"backendRef": self._canary_ref(stable), "percent": percent}}

    def _match_rule(
        self, index: int, rule: dict[str, Any], filters: list[dict[str, Any]], stable: dict[str, Any], request: RequestMatch
    ) -> dict[str, Any]:
        """A copy of the user's rule, but for matching requests only and all to the canary."""
        copied = {k: v for k, v in edited(rule).items() if k not in ("name", "matches", "backendRefs", "filters")}
        copied["name"] = self.names.match_name(index)
        copied["matches"] = [_merge(m, request, self.grpc) for m in rule.get("matches") or [{}]]
        copied["backendRefs"] = [{**stable, "name": self.names.canary, "weight": 1}]
        if filters:
            copied["filters"] = edited(filters)
        return copied


def gateway_api_router(routing: GatewayApiRouting, namespace: str, rollout: str) -> PatchRouter:
    names = Backends(rollout)
    rules = tuple(routing.rules)
    routes = [ObjectRef(GROUP, VERSION, "httproutes", "HTTPRoute", namespace, n) for n in routing.http_route_names]
    routes += [ObjectRef(GROUP, VERSION, "grpcroutes", "GRPCRoute", namespace, n) for n in routing.grpc_routes]
    return PatchRouter("gatewayAPI", tuple(GatewayRoute(ref, names, rules) for ref in routes))
