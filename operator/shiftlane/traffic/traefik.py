"""Traefik: the TraefikService the user names, as `weighted` over the stable and canary Services, or,
for shadow, as `mirroring` from stable to the canary with a percent.

A TraefikService is one or the other, so shadow swaps `weighted` for `mirroring` and the end of it swaps
back. The user's `weighted` (other services, sticky cookies) waits in an annotation of the object
meanwhile and comes back as it was.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from shiftlane.api.spec import TraefikRouting
from shiftlane.engine.model import RouterState
from shiftlane.traffic.router import Backends, ObjectRef, PatchRouter, Wanted, edited, escape
from shiftlane.traffic.rules import share, weigh

GROUP = "traefik.io"
VERSION = "v1alpha1"
# The fields of a service entry that say where it is; the rest (weight, mirrors) is Shiftlane's to set.
REFERENCE = ("name", "namespace", "port", "kind", "scheme")
# Where the user's `weighted` waits while a shadow rollout mirrors.
STASH = "shiftlane.io/weighted"


def _is(service: dict[str, Any], name: str) -> bool:
    return service.get("name") == name and service.get("kind", "Service") == "Service"


@dataclass(frozen=True)
class TraefikService:
    ref: ObjectRef
    names: Backends
    paths: tuple[str, ...] = ("/spec/weighted", "/spec/mirroring", f"/metadata/annotations/{escape(STASH)}")
    carries_traffic: bool = True

    def _stable(self, spec: dict[str, Any]) -> dict[str, Any] | None:
        """Where the stable Service is reached (name, port, …), without a weight or mirrors."""
        mirroring = spec.get("mirroring")
        candidates = [mirroring] if mirroring else (spec.get("weighted") or {}).get("services") or []
        found = next((s for s in candidates if _is(s, self.names.stable)), None)
        return None if found is None else {k: v for k, v in found.items() if k in REFERENCE}

    def read(self, obj: dict[str, Any]) -> RouterState:
        spec = obj.get("spec") or {}
        if self._stable(spec) is None:
            return RouterState(0, False, 0, (f"{self.ref} has no service {self.names.stable} in weighted or mirroring",))
        mirroring = spec.get("mirroring")
        if mirroring:
            percents = [m.get("percent", 0) for m in mirroring.get("mirrors") or [] if _is(m, self.names.canary)]
            return RouterState(0, False, max(percents, default=0))
        services = spec["weighted"].get("services") or []
        stable = sum(s.get("weight", 1) for s in services if _is(s, self.names.stable))
        canary = sum(s.get("weight", 1) for s in services if _is(s, self.names.canary))
        return RouterState(share(stable, canary), False, 0)

    def edit(self, obj: dict[str, Any], want: Wanted) -> dict[str, Any]:
        out = edited(obj)
        spec = out.setdefault("spec", {})
        stable = self._stable(spec)
        if stable is None:
            return out
        canary = {**stable, "name": self.names.canary}
        annotations = out.setdefault("metadata", {}).get("annotations") or {}
        if want.mirror_percent:
            weighted = spec.pop("weighted", None)
            if weighted is not None:
                out["metadata"]["annotations"] = {**annotations, STASH: json.dumps(weighted, sort_keys=True)}
            spec["mirroring"] = {**stable, "mirrors": [{**canary, "percent": want.mirror_percent}]}
            return out
        if spec.pop("mirroring", None) is not None:
            stashed = annotations.get(STASH)
            spec["weighted"] = json.loads(stashed) if stashed else {"services": [stable]}
            if stashed is not None:
                out["metadata"]["annotations"] = {k: v for k, v in annotations.items() if k != STASH}
        weighted = spec["weighted"]
        weighted["services"] = weigh(
            weighted.get("services") or [], lambda s: _is(s, self.names.stable), lambda s: _is(s, self.names.canary), canary, want
        )
        return out


def traefik_router(routing: TraefikRouting, namespace: str, names: Backends) -> PatchRouter:
    ref = ObjectRef(GROUP, VERSION, "traefikservices", "TraefikService", namespace, routing.traefik_service)
    return PatchRouter("traefik", (TraefikService(ref, names),))
