"""Compile a Rollout spec to its Plan: the change set `shiftlane plan` prints before anything runs."""

from __future__ import annotations

from collections.abc import Set

from shiftlane.api.spec import RolloutSpec
from shiftlane.engine.steps import Plan, TrafficMode
from shiftlane.engine.strategies.ab_testing import compile_ab_testing
from shiftlane.engine.strategies.blue_green import compile_blue_green
from shiftlane.engine.strategies.canary import compile_canary
from shiftlane.engine.strategies.common import CompileError
from shiftlane.engine.strategies.elastic import compile_elastic
from shiftlane.engine.strategies.immutable import compile_immutable
from shiftlane.engine.strategies.recreate import compile_recreate
from shiftlane.engine.strategies.rolling import compile_rolling
from shiftlane.engine.strategies.rolling_batches import compile_rolling_batches
from shiftlane.engine.strategies.shadow import compile_shadow
from shiftlane.engine.webhooks import with_webhooks

_BY_NAME = {
    "recreate": compile_recreate,
    "rolling": compile_rolling,
    "rollingBatches": compile_rolling_batches,
    "blueGreen": compile_blue_green,
    "immutable": compile_immutable,
    "elastic": compile_elastic,
    "abTesting": compile_ab_testing,
    "shadow": compile_shadow,
}


def compile_plan(spec: RolloutSpec, routers: Set[str] = frozenset()) -> Plan:
    """`routers` names the traffic routers this operator build can drive."""
    return with_webhooks(_compile_strategy(spec, routers), spec.webhooks)


def _compile_strategy(spec: RolloutSpec, routers: Set[str]) -> Plan:
    strategy = spec.strategy
    routing = strategy.traffic_routing
    router_ready = routing is not None and routing.router in routers
    if strategy.name == "canary":
        mode = TrafficMode.ROUTER if router_ready else TrafficMode.SHARE
        note = ""
        if routing is not None and not router_ready:
            note = f"trafficRouting.{routing.router} is not driven yet; traffic follows the share of ready pods"
        return compile_canary(strategy.config, spec.replicas, mode, note)
    if strategy.name in ("abTesting", "shadow") and not router_ready:
        if routing is None:
            raise CompileError(f"{strategy.name} needs spec.strategy.{strategy.name}.trafficRouting")
        raise CompileError(f"{strategy.name} needs a traffic router; trafficRouting.{routing.router} is not driven yet")
    return _BY_NAME[strategy.name](strategy.config, spec.replicas)


__all__ = ["CompileError", "compile_plan"]
