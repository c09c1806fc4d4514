"""One reconcile: gather the observation, ask the interpreter, make the cluster match the Decision."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from kubernetes_asyncio import client
from pydantic import ValidationError

from shiftlane import metrics
from shiftlane.api.revision import revision_of
from shiftlane.api.spec import RolloutSpec
from shiftlane.api.status import RolloutStatus
from shiftlane.engine.interpret import interpret
from shiftlane.engine.model import Decision, Event, Observation, Verdict
from shiftlane.kube.labels import revision_name, service_name
from shiftlane.kube.revisions import RevisionWriter, observe_revision, revision_manifest
from shiftlane.kube.rollouts import StatusWriter, status_document
from shiftlane.kube.services import ServiceWriter, differs, service_manifest, service_ports

log = logging.getLogger(__name__)

RETRY_SECONDS = 5.0

# Traffic routers this build drives; the routers issue adds gatewayAPI, istio, nginx, alb.
ROUTERS: frozenset[str] = frozenset()

Key = tuple[str, str]
EventSink = Callable[[dict[str, Any], Event], None]


def _rv(body: dict[str, Any]) -> int:
    # resourceVersions are opaque by contract, but every API server backed by etcd issues increasing
    # integers; comparing them is how we tell our own fresh write from a stale watch event.
    try:
        return int(body["metadata"].get("resourceVersion", 0))
    except (TypeError, ValueError):
        return 0


@dataclass
class Reconciler:
    revisions: RevisionWriter
    services: ServiceWriter
    statuses: StatusWriter
    emit: EventSink
    clock: Callable[[], float] = time.time
    _locks: dict[Key, asyncio.Lock] = field(default_factory=dict)
    _fresh: dict[Key, dict[str, Any]] = field(default_factory=dict)
    _timers: dict[Key, asyncio.TimerHandle] = field(default_factory=dict)

    def latest(self, key: Key, indexed: dict[str, Any] | None) -> dict[str, Any] | None:
        """The newer of the watched Rollout and the one our last status patch returned."""
        fresh = self._fresh.get(key)
        if indexed is None:
            return None
        if fresh is not None and _rv(fresh) > _rv(indexed):
            return fresh
        self._fresh.pop(key, None)  # the watch has caught up
        return indexed

    async def reconcile(
        self,
        key: Key,
        rollout: dict[str, Any] | None,
        deployments: Iterable[dict[str, Any]],
        services: Iterable[dict[str, Any]],
        wake: Callable[[Key], None],
    ) -> None:
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            rollout = self.latest(key, rollout)
            if rollout is None:
                self.forget(key)
                return
            started = time.perf_counter()
            try:
                await self._reconcile(key, rollout, list(deployments), {s["metadata"]["name"]: s for s in services}, wake)
            except client.ApiException as error:
                if error.status == 403 and "being terminated" in str(error.body):
                    return  # the namespace goes away with the Rollout; nothing to converge
                metrics.RECONCILE_ERRORS.labels(f"http{error.status}").inc()
                log.warning("reconcile of %s/%s failed (%s %s); retrying in %ss", *key, error.status, error.reason, RETRY_SECONDS)
                self._schedule(key, RETRY_SECONDS, wake)
            except Exception as error:
                # Level-triggered: whatever failed is recomputed from scratch a little later.
                metrics.RECONCILE_ERRORS.labels(type(error).__name__).inc()
                log.exception("reconcile of %s/%s failed; retrying in %ss", *key, RETRY_SECONDS)
                self._schedule(key, RETRY_SECONDS, wake)
            finally:
                metrics.RECONCILE_DURATION.observe(time.perf_counter() - started)

    def forget(self, key: Key) -> None:
        self._fresh.pop(key, None)
        self._locks.pop(key, None)
        timer = self._timers.pop(key, None)
        if timer:
            timer.cancel()
        metrics.forget(*key)

    async def _reconcile(self, key, rollout, deployments, services, wake) -> None:
        namespace, name = key
        if rollout["metadata"].get("deletionTimestamp"):
            return  # owner references remove what it owns
        status_raw = rollout.get("status") or {}
        try:
            spec = RolloutSpec.model_validate(rollout["spec"])
            status = RolloutStatus.model_validate(status_raw)
        except ValidationError as error:
            # The CRD schema should have refused this; report it rather than crash-loop.
            await self._write_invalid(rollout, str(error))
            return
        observed = [observe_revision(d) for d in deployments]
        observation = Observation(
            generation=rollout["metadata"].get("generation", 0),
            template_revision=revision_of(rollout["spec"]["template"]),
            revisions={o.name: o for o in observed},
            routers=ROUTERS,
            command=status.command,
            # No analysis provider is wired in yet: an analysis step pauses as inconclusive so a
            # person decides (promote or abort); the analysis issue supplies real verdicts.
            unknown_analysis=Verdict.INCONCLUSIVE,
        )
        now = self.clock()
        decision = interpret(spec, status, observation, now)
        await self._apply(rollout, decision, observation, services)
        for event in decision.events:
            self.emit(rollout, event)
        document = status_document(decision.status)
        current = {k: v for k, v in status_raw.items() if k != "command"}
        if document != current:  # no write when nothing changed
            self._fresh[key] = await self.statuses.patch(namespace, name, _with_nulls(document, current))
        started = status.rollout.started_at.timestamp() if status.rollout else None
        metrics.record(namespace, name, decision.status, [e.reason for e in decision.events], started, now)
        self._schedule(key, decision.requeue_after, wake)

    async def _apply(self, rollout, decision: Decision, observation: Observation, services) -> None:
        namespace, name = rollout["metadata"]["namespace"], rollout["metadata"]["name"]
        # Traffic first (Services), so no request is sent to pods about to be scaled away.
        ports = service_ports(rollout["spec"]["template"])
        if ports:
            for suffix, revision in decision.services.items():
                manifest = service_manifest(rollout, suffix, revision, ports)
                if differs(services.get(service_name(name, suffix)), manifest):
                    await self.services.apply(manifest)
        next_number = max((o.number for o in observation.revisions.values()), default=0) + 1
        for revision, replicas in decision.replicas.items():
            current = observation.revisions.get(revision)
            if current is None:
                if revision == observation.template_revision:
                    await self.revisions.create(revision_manifest(rollout, revision, next_number, replicas))
            elif current.spec_replicas != replicas:
                await self.revisions.scale(namespace, revision_name(name, revision), replicas)
        for revision in decision.delete:
            await self.revisions.delete(namespace, revision_name(name, revision))

    async def _write_invalid(self, rollout, message: str) -> None:
        meta = rollout["metadata"]
        self.emit(rollout, Event("InvalidSpec", message[:1000], "Warning"))
        await self.statuses.patch(
            meta["namespace"], meta["name"],
            {"phase": "Degraded", "message": message[:1000], "observedGeneration": meta.get("generation")},
        )

    def _schedule(self, key: Key, delay: float | None, wake: Callable[[Key], None]) -> None:
        """One timer per Rollout: the next requeue or retry replaces the previous one."""
        timer = self._timers.pop(key, None)
        if timer:
            timer.cancel()
        if delay is not None:
            self._timers[key] = asyncio.get_running_loop().call_later(delay + 0.05, wake, key)


def _with_nulls(document: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """A merge patch clears a field only when it is sent as null."""
    return {**{k: None for k in current if k not in document}, **document}

