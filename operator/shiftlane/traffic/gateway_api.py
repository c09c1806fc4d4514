"""Gateway API: weights on the `<rollout>-stable` / `<rollout>-canary` backendRefs of HTTPRoute and
GRPCRoute rules, an A/B rule of Shiftlane's own, and a RequestMirror filter for shadow.

`rules` and `backendRefs` are atomic lists (server-side apply would take the whole list), so the router
replaces `/spec/rules` with the user's rules edited in place, under a resourceVersion test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shiftlane.api.spec import GatewayApiRouting, HeaderMatch, RequestMatch
from shiftlane.traffic.matches import cookie_regex, value_regex
from shiftlane.traffic.router import Backends, ObjectRef, PatchRouter, RouterError, Wanted, edited
from shiftlane.traffic.rules import Entry, RuleRoute, share, weigh

GROUP = "gateway.networking.k8s.io"
VERSION = "v1"


def is_service(ref: dict[str, Any], name: str) -> bool:
    return ref.get("name") == name and ref.get("kind", "Service") == "Service" and ref.get("group", "") == ""


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
class GatewayRoute(RuleRoute):
    rules_key = "rules"
    rule_word = "rule"

    def stable_label(self) -> str:
        return f"backendRef to Service {self.names.stable}"

    @property
    def grpc(self) -> bool:
        return self.ref.kind == "GRPCRoute"

    def stable_of(self, rule: Entry) -> Entry | None:
        return next((r for r in rule.get("backendRefs") or [] if is_service(r, self.names.stable)), None)

    def _is_mirror(self, f: Entry) -> bool:
        return f.get("type") == "RequestMirror" and is_service((f.get("requestMirror") or {}).get("backendRef") or {}, self.names.canary)

    def canary_weight(self, rule: Entry) -> int:
        refs = rule.get("backendRefs") or []
        stable = sum(r.get("weight", 1) for r in refs if is_service(r, self.names.stable))
        return share(stable, sum(r.get("weight", 1) for r in refs if is_service(r, self.names.canary)))

    def mirror_percent(self, rule: Entry) -> int | None:
        mirror = next((f["requestMirror"] for f in rule.get("filters") or [] if self._is_mirror(f)), None)
        if mirror is None:
            return None
        fraction = mirror.get("fraction")
        return round(100 * fraction["numerator"] / fraction.get("denominator", 100)) if fraction else mirror.get("percent", 100)

    def set_traffic(self, rule: Entry, stable: Entry, want: Wanted) -> None:
        canary = {**stable, "name": self.names.canary}
        rule["backendRefs"] = weigh(
            rule["backendRefs"], lambda r: is_service(r, self.names.stable), lambda r: is_service(r, self.names.canary), canary, want
        )
        filters = [f for f in rule.get("filters") or [] if not self._is_mirror(f)]
        if want.mirror_percent:
            # Spelled with the server's defaults, so that reading it back shows nothing to write again.
            backend = {"group": "", "kind": "Service", "name": self.names.canary, **({"port": stable["port"]} if "port" in stable else {})}
            filters.append({"type": "RequestMirror", "requestMirror": {"backendRef": backend, "percent": want.mirror_percent}})
        if filters:
            rule["filters"] = filters
        else:
            rule.pop("filters", None)

    def match_groups(self, want: Wanted) -> list[tuple[RequestMatch, ...]]:
        # A rule per request match: a rule with a ReplacePrefixMatch rewrite may hold one match only.
        return [(request,) for request in want.matches]

    def match_rule(self, name: str, rule: Entry, stable: Entry, requests: tuple[RequestMatch, ...]) -> Entry:
        copied = {k: v for k, v in edited(rule).items() if k not in ("name", "matches", "backendRefs", "filters")}
        copied["name"] = name
        copied["matches"] = [_merge(m, r, self.grpc) for m in rule.get("matches") or [{}] for r in requests]
        copied["backendRefs"] = [{**stable, "name": self.names.canary, "weight": 1}]
        filters = [f for f in edited(rule.get("filters") or []) if not self._is_mirror(f)]
        if filters:
            copied["filters"] = filters
        return copied


def gateway_api_router(routing: GatewayApiRouting, namespace: str, names: Backends) -> PatchRouter:
    rules = tuple(routing.rules)
    routes = [ObjectRef(GROUP, VERSION, "httproutes", "HTTPRoute", namespace, n) for n in routing.http_route_names]
    routes += [ObjectRef(GROUP, VERSION, "grpcroutes", "GRPCRoute", namespace, n) for n in routing.grpc_routes]
    return PatchRouter("gatewayAPI", tuple(GatewayRoute(ref, names, rules) for ref in routes))
