"""kopf wiring: watches feed indexes; any change to a Rollout or one of its Deployments reconciles it.

Only `on.event` and indexes are used: no finalizers, no annotations on objects, no handler state,
so every reconcile is recomputed from the Rollout's status and what the indexes show.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf

from shiftlane.api.crd import GROUP, PLURAL, VERSION
from shiftlane.controller.reconciler import Key, Reconciler
from shiftlane.engine.model import Event
from shiftlane.kube.client import api_client
from shiftlane.kube.labels import ROLLOUT_LABEL
from shiftlane.kube.revisions import RevisionWriter, slim_deployment
from shiftlane.kube.rollouts import StatusWriter, slim_rollout
from shiftlane.kube.services import ServiceWriter, slim_service



class _Operator:
    """What the handlers share: the reconciler and the live indexes kopf hands to each handler."""

    reconciler: Reconciler | None = None
    indexes: tuple[Any, Any, Any] | None = None


state = _Operator()


def _emit(rollout: dict[str, Any], event: Event) -> None:
    kopf.event(rollout, type=event.type, reason=event.reason, message=event.message)


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.persistence.finalizer = "shiftlane.io/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="shiftlane.io")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix="shiftlane.io", key="last-handled")
    settings.posting.level = logging.WARNING
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.scanning.disabled = True
    # kopf waits this long for more events of one object before handling; the default 0.1 s would
    # be most of the 0.2 s step budget, and reconciles are level-triggered anyway.
    settings.batching.batch_window = 0.01
    api = await api_client()
    state.reconciler = Reconciler(RevisionWriter(api), ServiceWriter(api), StatusWriter(api), _emit)


@kopf.index(GROUP, VERSION, PLURAL)
def shiftlane_rollouts(body: kopf.Body, namespace: str, name: str, **_: Any) -> dict[Key, dict[str, Any]]:
    return {(namespace, name): slim_rollout(_plain(body))}


@kopf.index("apps", "v1", "deployments", labels={ROLLOUT_LABEL: kopf.PRESENT})
def shiftlane_revisions(body: kopf.Body, namespace: str, labels: kopf.Labels, **_: Any) -> dict[Key, dict[str, Any]]:
    return {(namespace, labels[ROLLOUT_LABEL]): slim_deployment(_plain(body))}


@kopf.index("", "v1", "services", labels={ROLLOUT_LABEL: kopf.PRESENT})
def shiftlane_services(body: kopf.Body, namespace: str, labels: kopf.Labels, **_: Any) -> dict[Key, dict[str, Any]]:
    return {(namespace, labels[ROLLOUT_LABEL]): slim_service(_plain(body))}


def _plain(body: kopf.Body) -> dict[str, Any]:
    return {k: body[k] for k in ("apiVersion", "kind", "metadata", "spec", "status") if k in body}


@kopf.on.event(GROUP, VERSION, PLURAL)
async def rollout_changed(namespace: str, name: str, **kwargs: Any) -> None:
    await _reconcile((namespace, name), kwargs)


@kopf.on.event("apps", "v1", "deployments", labels={ROLLOUT_LABEL: kopf.PRESENT})
async def revision_changed(namespace: str, labels: kopf.Labels, **kwargs: Any) -> None:
    await _reconcile((namespace, labels[ROLLOUT_LABEL]), kwargs)


async def _reconcile(key: Key, kwargs: dict[str, Any]) -> None:
    state.indexes = (kwargs["shiftlane_rollouts"], kwargs["shiftlane_revisions"], kwargs["shiftlane_services"])
    await reconcile_key(key)


async def reconcile_key(key: Key) -> None:
    if state.reconciler is None or state.indexes is None:
        return
    rollouts, revisions, services = state.indexes
    rollout = next(iter(rollouts.get(key, [])), None)
    await state.reconciler.reconcile(key, rollout, revisions.get(key, []), services.get(key, []), _wake)


def _wake(key: Key) -> None:
    asyncio.ensure_future(reconcile_key(key))
