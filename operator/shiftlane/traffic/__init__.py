"""Traffic routers: one module per outside router, one interface (router.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shiftlane.api.spec import RolloutSpec, TrafficRouting
from shiftlane.traffic.alb import alb_router
from shiftlane.traffic.gateway_api import gateway_api_router
from shiftlane.traffic.istio import istio_router
from shiftlane.traffic.nginx import nginx_router
from shiftlane.kube.labels import named_services
from shiftlane.traffic.router import Backends, Router
from shiftlane.traffic.traefik import traefik_router

_BUILDERS = {
    "gatewayAPI": lambda r, ns, names: gateway_api_router(r.gateway_api, ns, names),
    "istio": lambda r, ns, names: istio_router(r.istio, ns, names),
    "traefik": lambda r, ns, names: traefik_router(r.traefik, ns, names),
    "nginx": lambda r, ns, names: nginx_router(r.nginx, ns, names),
    "alb": lambda r, ns, names: alb_router(r.alb, ns, names),
}
# The trafficRouting keys this build drives (Observation.routers).
ROUTERS: frozenset[str] = frozenset(_BUILDERS)


def router_for(routing: TrafficRouting, namespace: str, rollout: str, named: Mapping[str, str] | None = None) -> Router:
    """The Rollout's router; `named` (Service suffix -> name, from spec.services) renames its backends."""
    named = named or {}
    return _BUILDERS[routing.router](routing, namespace, Backends(rollout, named.get("stable"), named.get("canary")))


_GATEWAY_API = (("gateway.networking.k8s.io", "v1", "httproutes", "HTTPRoute"),
                ("gateway.networking.k8s.io", "v1", "grpcroutes", "GRPCRoute"))
_INGRESS = (("networking.k8s.io", "v1", "ingresses", "Ingress"),)
# (group, version, plural, kind) of the objects each router reads, for the watches (and the chart's RBAC).
ROUTE_KINDS_BY_ROUTER = {
    "gatewayAPI": _GATEWAY_API,
    "istio": (("networking.istio.io", "v1", "virtualservices", "VirtualService"),
              ("networking.istio.io", "v1", "destinationrules", "DestinationRule")),
    "traefik": (("traefik.io", "v1alpha1", "traefikservices", "TraefikService"),),
    "nginx": _INGRESS,
    "alb": _INGRESS,
}


def route_kinds(routers: frozenset[str]) -> tuple[tuple[str, str, str, str], ...]:
    """The object kinds the given routers read, each once."""
    return tuple(dict.fromkeys(kind for router in sorted(routers) for kind in ROUTE_KINDS_BY_ROUTER[router]))


def routes_named(spec: RolloutSpec, rollout: dict[str, Any]) -> set[tuple[str, str]]:
    """(kind, name) of the objects the Rollout's traffic routing reads or writes, in its namespace."""
    routing = spec.strategy.traffic_routing
    if routing is None:
        return set()
    meta = rollout["metadata"]
    return {(ref.kind, ref.name) for ref in router_for(routing, meta["namespace"], meta["name"], named_services(rollout)).objects()}
