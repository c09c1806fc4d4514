"""Traffic routers: one module per outside router, one interface (router.py)."""

from __future__ import annotations

from shiftlane.api.spec import TrafficRouting
from shiftlane.traffic.alb import alb_router
from shiftlane.traffic.gateway_api import gateway_api_router
from shiftlane.traffic.istio import istio_router
from shiftlane.traffic.nginx import nginx_router
from shiftlane.traffic.router import Router
from shiftlane.traffic.traefik import traefik_router

_BUILDERS = {
    "gatewayAPI": lambda r, ns, name: gateway_api_router(r.gateway_api, ns, name),
    "istio": lambda r, ns, name: istio_router(r.istio, ns, name),
    "traefik": lambda r, ns, name: traefik_router(r.traefik, ns, name),
    "nginx": lambda r, ns, name: nginx_router(r.nginx, ns, name),
    "alb": lambda r, ns, name: alb_router(r.alb, ns, name),
}
# The trafficRouting keys this build drives (Observation.routers).
ROUTERS: frozenset[str] = frozenset(_BUILDERS)


def router_for(routing: TrafficRouting, namespace: str, rollout: str) -> Router:
    return _BUILDERS[routing.router](routing, namespace, rollout)
