"""The router interface: keep the user's route objects in the traffic state the engine decided, and read
back what they hold (DESIGN.md: Routers).

Each router module is a pure translation (user object + wanted state -> edited object; object ->
RouterState) plus the shared I/O here: read the objects once per reconcile (the observation), and write
back, against that same read, only the paths Shiftlane manages with a JSON patch guarded by a `test` of
the resourceVersion read, so a concurrent edit by the user or a GitOps tool is never overwritten (the
patch fails, and the next attempt starts from their edit).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from kubernetes_asyncio import client

from shiftlane import metrics
from shiftlane.api.spec import RequestMatch
from shiftlane.engine.model import RouterState, Traffic
from shiftlane.kube.labels import service_name

JSON_PATCH = "application/json-patch+json"
# A stale resourceVersion makes the patch fail; each further attempt rereads, so this bounds a write race only.
ATTEMPTS = 3


class RouterError(Exception):
    """A traffic state the router cannot express in its object (e.g. a regex where only exact values
    match): the user must change the Rollout, so retrying does not help."""


@dataclass(frozen=True)
class ObjectRef:
    group: str
    version: str
    plural: str
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


@dataclass(frozen=True)
class Backends:
    """The names a router writes: the rollout's Services and Shiftlane's own match rules."""

    rollout: str
    # Services spec.services names for these roles; unset, the Rollout's own `<rollout>-stable` / `-canary`.
    stable_service: str | None = None
    canary_service: str | None = None

    @property
    def stable(self) -> str:
        return self.stable_service or service_name(self.rollout, "stable")

    @property
    def canary(self) -> str:
        return self.canary_service or service_name(self.rollout, "canary")

    @property
    def match_prefix(self) -> str:
        return f"shiftlane-{self.rollout}-match-"

    def match_name(self, index: int) -> str:
        return f"{self.match_prefix}{index}"

    def is_match(self, name: str | None) -> bool:
        return bool(name) and name.startswith(self.match_prefix)


@dataclass(frozen=True)
class Wanted:
    """A Decision's traffic in router terms: shares of the two Services, not of revisions."""

    canary_weight: int = 0
    matches: tuple[RequestMatch, ...] = ()
    mirror_percent: int = 0
    stable_revision: str = ""
    canary_revision: str | None = None

    @property
    def stable_weight(self) -> int:
        return 100 - self.canary_weight


def wanted(stable: str, canary: str | None, traffic: Traffic) -> Wanted:
    if canary is None or canary == stable:  # nothing but stable: no matches or mirror to a canary either
        return Wanted(stable_revision=stable)
    return Wanted(
        canary_weight=traffic.weights.get(canary, 0),
        matches=traffic.header_route,
        mirror_percent=traffic.mirror_percent,
        stable_revision=stable,
        canary_revision=canary,
    )


class Managed(Protocol):
    """One object a router edits in place: the pure part, unit tested with golden files."""

    ref: ObjectRef
    # JSON pointers Shiftlane writes; everything else in the object stays as the user left it.
    paths: tuple[str, ...]
    # False for objects that only support a route (an Istio DestinationRule): their weights are not read.
    carries_traffic: bool

    def read(self, obj: dict[str, Any]) -> RouterState: ...

    def edit(self, obj: dict[str, Any], want: Wanted) -> dict[str, Any]: ...


# A router's objects as one read returned them; None where the object does not exist.
RouteObjects = Mapping[ObjectRef, dict[str, Any] | None]


class Router(Protocol):
    kind: str  # the trafficRouting key: "gatewayAPI", "istio", ...

    def objects(self) -> list[ObjectRef]:
        """What it reads and writes, for status and for watches."""
        ...

    # The pure part: the objects as read (None: missing) -> the state they hold / the objects to write.
    def read(self, current: RouteObjects) -> RouterState: ...

    def translate(self, current: RouteObjects, want: Wanted, rollout: dict[str, Any]) -> dict[ObjectRef, dict[str, Any]]: ...

    # Writes the wanted state against the objects as `read_routes` returned them: no second read.
    async def apply(self, api: client.ApiClient, current: RouteObjects, rollout: dict[str, Any], stable: str, canary: str | None,
                    traffic: Traffic) -> None: ...


def missing(ref: ObjectRef) -> RouterState:
    return RouterState(0, False, 0, (f"{ref} not found",))


def combine(readings: Sequence[tuple[Managed | ObjectRef, RouterState]]) -> RouterState:
    """One state from several objects. Where they disagree (a write that failed half way, a user's
    edit), report the side where the canary may still get traffic, so an abort waits for all of them,
    and name the disagreement."""
    problems = [p for _, state in readings for p in state.problems]
    # An object with a problem (missing, no backend of ours) holds no traffic state to compare.
    routes = [(source, state) for source, state in readings if getattr(source, "carries_traffic", True) and not state.problems]
    if not routes:
        return RouterState(0, False, 0, tuple(problems))
    shapes = {(s.canary_weight, s.header_route, s.mirror_percent) for _, s in routes}
    if len(shapes) > 1:
        held = ", ".join(
            f"{getattr(src, 'ref', src)} holds canary weight {s.canary_weight}, match {s.header_route}, mirror {s.mirror_percent}"
            for src, s in routes
        )
        problems.append(f"objects disagree: {held}")
    return RouterState(
        canary_weight=max(s.canary_weight for _, s in routes),
        header_route=any(s.header_route for _, s in routes),
        mirror_percent=max(s.mirror_percent for _, s in routes),
        problems=tuple(problems),
    )


# --- JSON pointers and patches ---------------------------------------------------------------------


def _tokens(pointer: str) -> list[str]:
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/")[1:]]


def escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


_ABSENT = object()


def at(obj: Any, pointer: str) -> Any:
    for token in _tokens(pointer):
        if not isinstance(obj, dict) or token not in obj:
            return _ABSENT
        obj = obj[token]
    return obj


def patch_ops(before: dict[str, Any], after: dict[str, Any], paths: Sequence[str]) -> list[dict[str, Any]]:
    """The JSON patch that turns `before` into `after` at `paths` only; empty when nothing differs."""
    ops: list[dict[str, Any]] = []
    for path in paths:
        old, new = at(before, path), at(after, path)
        if old == new:
            continue
        parent = path.rpartition("/")[0]
        if new is _ABSENT:
            ops.append({"op": "remove", "path": path})
        elif old is _ABSENT and parent and at(before, parent) is _ABSENT:
            ops.append({"op": "add", "path": parent, "value": at(after, parent)})  # e.g. the first annotation
        else:
            ops.append({"op": "add" if old is _ABSENT else "replace", "path": path, "value": new})
    if ops:
        ops.insert(0, {"op": "test", "path": "/metadata/resourceVersion", "value": before["metadata"]["resourceVersion"]})
    return ops


def edited(obj: dict[str, Any]) -> dict[str, Any]:
    """A copy for an edit: routers never change the object they were given."""
    return copy.deepcopy(obj)


def edit(managed: Managed, obj: dict[str, Any], want: Wanted) -> dict[str, Any]:
    """The object as it must be; one Shiftlane cannot read sensibly (no backend of ours) stays as it is."""
    return obj if managed.read(obj).problems else managed.edit(obj, want)


# --- I/O -----------------------------------------------------------------------------------------


async def fetch(api: client.ApiClient, ref: ObjectRef) -> dict[str, Any] | None:
    objects = client.CustomObjectsApi(api)
    try:
        return await objects.get_namespaced_custom_object(ref.group, ref.version, ref.namespace, ref.plural, ref.name)
    except client.ApiException as error:
        if error.status == 404:
            return None
        raise


async def read_routes(api: client.ApiClient, router: Router) -> dict[ObjectRef, dict[str, Any] | None]:
    """One GET of each of the router's objects: a reconcile observes them and then writes against this read."""
    return {ref: await fetch(api, ref) for ref in router.objects()}


def count(router: str, outcome: str) -> None:
    """One write decision on a router's object (shiftlane_router_updates_total)."""
    metrics.ROUTER_UPDATES.labels(router, outcome).inc()


async def patch_managed(api: client.ApiClient, router: str, managed: Managed, current: dict[str, Any] | None, want: Wanted) -> None:
    """Write the managed paths of one object, as read (`current`), when they differ; a missing object is
    left to observe. The patch holds only while the object is still at the version read."""
    ref = managed.ref
    objects = client.CustomObjectsApi(api)
    for attempt in range(ATTEMPTS):
        if current is None:
            count(router, "missing")
            return
        ops = patch_ops(current, edit(managed, current, want), managed.paths)
        if not ops:
            count(router, "unchanged")
            return  # no redundant writes
        try:
            await objects.patch_namespaced_custom_object(
                ref.group, ref.version, ref.namespace, ref.plural, ref.name, ops, _content_type=JSON_PATCH
            )
            count(router, "written")
            return
        except client.ApiException as error:
            # A failed `test` op is a bare 422 "Invalid", like a schema error: it is stale when the
            # object has changed since the read, and then worth another attempt from the new one.
            if error.status not in (409, 422) or attempt == ATTEMPTS - 1:
                count(router, "refused")
                raise
            read_version = current["metadata"]["resourceVersion"]
            current = await fetch(api, ref)
            if current is not None and current["metadata"]["resourceVersion"] == read_version:
                count(router, "refused")
                raise
            count(router, "conflict_retried")


@dataclass(frozen=True)
class PatchRouter:
    """A router whose objects are all the user's, edited in place in the given order."""

    kind: str
    managed: tuple[Managed, ...]

    def objects(self) -> list[ObjectRef]:
        return [m.ref for m in self.managed]

    def read(self, current: RouteObjects) -> RouterState:
        return combine([(m, missing(m.ref) if current.get(m.ref) is None else m.read(current[m.ref])) for m in self.managed])

    def translate(self, current: RouteObjects, want: Wanted, rollout: dict[str, Any]) -> dict[ObjectRef, dict[str, Any]]:
        """The objects as apply leaves them (a missing one stays missing)."""
        return {m.ref: edit(m, obj, want) for m in self.managed if (obj := current.get(m.ref)) is not None}

    async def apply(self, api: client.ApiClient, current: RouteObjects, rollout: dict[str, Any], stable: str, canary: str | None,
                    traffic: Traffic) -> None:
        want = wanted(stable, canary, traffic)
        for m in self.managed:
            await patch_managed(api, self.kind, m, current.get(m.ref), want)
