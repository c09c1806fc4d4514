"""Istio: destination weights in a VirtualService's HTTP routes (by host, or by DestinationRule subsets
the operator points at each revision), an A/B route placed first, and `mirror` + `mirrorPercentage`.

`spec.http` is one list to Istio's schema, so the router replaces it with the user's routes edited in
place, under a resourceVersion test; a DestinationRule is written before the VirtualService, so a route
that holds a weight already finds its subsets selecting the right pods.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shiftlane.api.spec import HeaderMatch, IstioRouting, RequestMatch
from shiftlane.engine.model import RouterState
from shiftlane.kube.labels import REVISION_LABEL
from shiftlane.traffic.matches import cookie_regex
from shiftlane.traffic.router import Backends, ObjectRef, PatchRouter, Wanted, edited
from shiftlane.traffic.rules import Entry, RuleRoute, share, weigh

GROUP = "networking.istio.io"
VERSION = "v1"
# Route fields that say where a request goes; the A/B route sets its own and copies the rest.
DESTINATION_FIELDS = ("name", "match", "route", "mirror", "mirrorPercentage", "mirrors", "mirrorPercent")


def _string_match(match: HeaderMatch) -> dict[str, str]:
    if match.exact is not None:
        return {"exact": match.exact}
    if match.prefix is not None:
        return {"prefix": match.prefix}
    assert match.regex is not None
    return {"regex": match.regex}


def _merge(base: dict[str, Any], request: RequestMatch) -> dict[str, Any]:
    merged = edited(base)
    # Istio keys header matches by lower-case name.
    headers = {h.name.lower(): _string_match(h) for h in request.headers or []}
    if request.cookies:
        headers["cookie"] = {"regex": cookie_regex(request.cookies)}
    queries = {q.name: _string_match(q) for q in request.query_params or []}
    for key, added in (("headers", headers), ("queryParams", queries)):
        if added:
            merged[key] = {**merged.get(key, {}), **added}
    return merged


@dataclass(frozen=True)
class Destinations:
    """How a route names the stable and the canary: by host, or by subset of one host."""

    names: Backends
    stable_subset: str | None = None
    canary_subset: str | None = None

    def is_stable(self, destination: dict[str, Any]) -> bool:
        if self.stable_subset:
            return destination.get("subset") == self.stable_subset
        return _host(destination) == self.names.stable

    def is_canary(self, destination: dict[str, Any]) -> bool:
        if self.canary_subset:
            return destination.get("subset") == self.canary_subset
        return _host(destination) == self.names.canary

    def canary_of(self, stable: dict[str, Any]) -> dict[str, Any]:
        if self.canary_subset:
            return {**stable, "subset": self.canary_subset}
        return {**stable, "host": self.names.canary}

    @property
    def stable_label(self) -> str:
        return f"subset {self.stable_subset}" if self.stable_subset else f"host {self.names.stable}"


def _host(destination: dict[str, Any]) -> str:
    # A short name means the VirtualService's namespace; a FQDN names a namespace too.
    return str(destination.get("host", "")).split(".")[0]


@dataclass(frozen=True)
class VirtualService(RuleRoute):
    destinations: Destinations = field(kw_only=True)
    rules_key = "http"
    rule_word = "http route"

    def stable_label(self) -> str:
        return f"destination with {self.destinations.stable_label}"

    def stable_of(self, route: Entry) -> Entry | None:
        return next((d["destination"] for d in route.get("route") or [] if self.destinations.is_stable(d.get("destination") or {})), None)

    def canary_weight(self, route: Entry) -> int:
        targets = route.get("route") or []
        # A lone destination takes everything whatever its weight says.
        weight = (lambda d: d.get("weight", 0)) if len(targets) > 1 else (lambda d: 100)
        stable = sum(weight(d) for d in targets if self.destinations.is_stable(d.get("destination") or {}))
        return share(stable, sum(weight(d) for d in targets if self.destinations.is_canary(d.get("destination") or {})))

    def mirror_percent(self, route: Entry) -> int | None:
        if not self.destinations.is_canary(route.get("mirror") or {}):
            return None
        return round((route.get("mirrorPercentage") or {}).get("value", 100))

    def set_traffic(self, route: Entry, stable: Entry, want: Wanted) -> None:
        route["route"] = weigh(
            route["route"],
            lambda t: self.destinations.is_stable(t.get("destination") or {}),
            lambda t: self.destinations.is_canary(t.get("destination") or {}),
            {"destination": self.destinations.canary_of(stable)},
            want,
        )
        if self.mirror_percent(route) is not None:
            route.pop("mirror")
            route.pop("mirrorPercentage", None)
        if want.mirror_percent:
            route["mirror"] = self.destinations.canary_of(stable)
            route["mirrorPercentage"] = {"value": want.mirror_percent}

    def match_rule(self, name: str, route: Entry, stable: Entry, requests: tuple[RequestMatch, ...]) -> Entry:
        """Rewrites, timeouts and retries of the user's route stay; where requests go is Shiftlane's."""
        copied = {k: v for k, v in edited(route).items() if k not in DESTINATION_FIELDS}
        copied["name"] = name
        copied["match"] = [_merge(m, r) for m in route.get("match") or [{}] for r in requests]
        copied["route"] = [{"destination": self.destinations.canary_of(stable)}]
        return copied


@dataclass(frozen=True)
class DestinationRule:
    """Points the named subsets at the stable and canary revisions' pods (the canary subset selects
    stable's pods when there is no canary, so it never selects nothing)."""

    ref: ObjectRef
    stable_subset: str
    canary_subset: str
    paths: tuple[str, ...] = ("/spec/subsets",)
    carries_traffic: bool = False

    def read(self, obj: dict[str, Any]) -> RouterState:
        names = {s.get("name") for s in (obj.get("spec") or {}).get("subsets") or []}
        return RouterState(0, False, 0, tuple(f"{self.ref} has no subset named {n}" for n in (self.stable_subset, self.canary_subset) if n not in names))

    def edit(self, obj: dict[str, Any], want: Wanted) -> dict[str, Any]:
        out = edited(obj)
        revisions = {self.stable_subset: want.stable_revision, self.canary_subset: want.canary_revision or want.stable_revision}
        for subset in (out.get("spec") or {}).get("subsets") or []:
            if subset.get("name") in revisions:
                subset["labels"] = {**(subset.get("labels") or {}), REVISION_LABEL: revisions[subset["name"]]}
        return out


def istio_router(routing: IstioRouting, namespace: str, names: Backends) -> PatchRouter:
    vs = ObjectRef(GROUP, VERSION, "virtualservices", "VirtualService", namespace, routing.virtual_service.name)
    rule = routing.destination_rule
    if rule is None:
        return PatchRouter("istio", (VirtualService(vs, names, tuple(routing.virtual_service.routes), destinations=Destinations(names)),))
    dr = ObjectRef(GROUP, VERSION, "destinationrules", "DestinationRule", namespace, rule.name)
    destinations = Destinations(names, rule.stable_subset_name, rule.canary_subset_name)
    return PatchRouter(
        "istio",
        (
            DestinationRule(dr, rule.stable_subset_name, rule.canary_subset_name),
            VirtualService(vs, names, tuple(routing.virtual_service.routes), destinations=destinations),
        ),
    )
