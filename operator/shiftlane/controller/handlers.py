"""kopf wiring: watches feed indexes; any change to a Rollout or one of its objects reconciles it.

Only `on.event` and indexes are used: no finalizers, no annotations on objects, no handler state,
so every reconcile is recomputed from the Rollout's status and what the indexes show.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import kopf
from pydantic import ValidationError

from shiftlane.api.crd import GROUP, PLURAL, VERSION
from shiftlane.controller.analysis import AnalysisRunner, check_template, templates_named
from shiftlane.controller.no_diffbase import NoDiffBaseStorage
from shiftlane.controller.reconciler import Children, Key, Reconciler
from shiftlane.controller.seen_revisions import SeenRevisions
from shiftlane.controller.specs import ParsedSpecs
from shiftlane.controller.webhooks import WebhookCaller
from shiftlane.engine.steps import TemplateName
from shiftlane.engine.model import Event
from shiftlane.kube.client import api_client
from shiftlane.kube.labels import REVISION_LABEL, ROLLOUT_LABEL, controller_uid, named_services, revision_name, rollouts_for_service, service_names
from shiftlane.kube.replica_sets import ReplicaSetView, slim_replica_set
from shiftlane.kube.revisions import RevisionWriter, slim_deployment
from shiftlane.kube.rollouts import StatusWriter, slim_rollout
from shiftlane.kube.secrets import SecretStore
from shiftlane.kube.services import ServiceView, ServiceWriter, slim_service
from shiftlane.kube.templates import TemplateStatusWriter
from shiftlane.kube.workloads import WorkloadWriter, slim_workload
from shiftlane.registry.ecr import Ecr
from shiftlane.registry.gate import ImageGatekeeper
from shiftlane.registry.oci import OciRegistry
from shiftlane.registry.pull_secret_keeper import PullSecretKeeper
from shiftlane.registry.settings import RegistrySettings
from shiftlane.registry.stable_tag import StableTagger
from shiftlane.traffic import ROUTERS, route_kinds, routes_named

# An object a Rollout names, as (namespace, kind, name); a ClusterAnalysisTemplate's namespace is "".
Reference = tuple[str, str, str]
TEMPLATE, CLUSTER_TEMPLATE = "AnalysisTemplate", "ClusterAnalysisTemplate"


@dataclass(frozen=True)
class Indexes:
    """The live kopf indexes, as handed to each handler."""

    rollouts: kopf.Index[Key, dict[str, Any]]
    revisions: kopf.Index[Key, dict[str, Any]]
    replica_sets: kopf.Index[Key, ReplicaSetView]  # the revision Deployments' ReplicaSets, by (namespace, rollout)
    services: kopf.Index[Key, ServiceView]  # every Service, by (namespace, name)
    terminating: kopf.Index[Key, str]  # (namespace, rollout) -> the revision of each pod being deleted
    templates: kopf.Index[Key, dict[str, Any]]  # AnalysisTemplates by (namespace, name)
    cluster_templates: kopf.Index[Key, dict[str, Any]]  # ClusterAnalysisTemplates by ("", name)
    workloads: kopf.Index[Key, dict[str, Any]]  # adopted Deployments, by (namespace, name)
    references: kopf.Index[Reference, Key]  # (namespace, kind, name) -> Rollouts naming that object

    def template(self, ref: TemplateName, namespace: str) -> dict[str, Any] | None:
        found = self.cluster_templates.get(("", ref.name), []) if ref.cluster_scope else self.templates.get((namespace, ref.name), [])
        return next(iter(found), None)


class _Operator:
    """What the handlers share: the reconciler, the live indexes, and the wake-ups in flight."""

    reconciler: Reconciler | None = None
    specs = ParsedSpecs()  # shared by the references index and the reconciler
    seen_revisions = SeenRevisions()
    templates: TemplateStatusWriter | None = None
    indexes: Indexes | None = None
    registry = RegistrySettings()  # set by run_operator before kopf starts
    routers: frozenset[str] = ROUTERS  # the traffic routers this operator drives (`shiftlane run --router`)
    # The event loop keeps only weak references to tasks: a wake-up not held here could vanish mid-run.
    wakeups: set[asyncio.Task[None]] = set()
    pull_secret_keeper: asyncio.Task[None] | None = None


state = _Operator()


def _emit(rollout: dict[str, Any], event: Event) -> None:
    kopf.event(rollout, type=event.type, reason=event.reason, message=event.message)


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.posting.level = logging.WARNING
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.scanning.disabled = True
    settings.persistence.diffbase_storage = NoDiffBaseStorage()
    # Only our own pods, Deployments and ReplicaSets are sent to us at all (Services are not filtered:
    # one someone else made under a name we want must be seen).
    settings.watching.label_selectors["v1", "pods"] = ROLLOUT_LABEL
    settings.watching.label_selectors["apps", "deployments"] = ROLLOUT_LABEL
    settings.watching.label_selectors["apps", "replicasets"] = f"{ROLLOUT_LABEL},{REVISION_LABEL}"
    # kopf waits this long for more events of one object before handling; the default 0.1 s would
    # be most of the 0.2 s step budget, and reconciles are level-triggered anyway.
    settings.batching.batch_window = 0.01
    # Retries of a failed API request (watches included) wait at most 5 s, so the operator is back
    # within seconds of an API server outage ending (kopf's default climbs to 21 s), and keep going
    # for about 2 min before kopf gives up on the request.
    settings.networking.error_backoffs = (1, 1, 2, 2, 3, 3) + (5,) * 24
    api = await api_client()
    # Registry clients: ECR through boto3's default credential chain, other registries over OCI's API.
    ecr = Ecr()
    session = aiohttp.ClientSession()
    images = ImageGatekeeper(ecr, OciRegistry(session), default_policy=state.registry.default_policy)
    revisions = RevisionWriter(api)

    async def revision_template(key: Key, revision: str) -> dict[str, Any] | None:
        return await revisions.template(key[0], revision_name(key[1], revision))

    state.reconciler = Reconciler(
        revisions, ServiceWriter(api), StatusWriter(api), _emit, routes=api, images=images,
        stable_tags=StableTagger(ecr, revision_template, _emit), workloads=WorkloadWriter(api),
        analysis=AnalysisRunner(api), webhooks=WebhookCaller(session), routers=state.routers,
        specs=state.specs,
    )
    state.templates = TemplateStatusWriter(api)
    if state.registry.pull_secrets is not None:
        keeper = PullSecretKeeper(ecr, SecretStore(api), state.registry.pull_secrets)
        state.reconciler.pull_secrets = keeper
        state.pull_secret_keeper = asyncio.ensure_future(keeper.run())


@kopf.index(GROUP, VERSION, PLURAL)
async def shiftlane_rollouts(body: kopf.Body, namespace: str, name: str, **_: Any) -> dict[Key, dict[str, Any]]:
    return {(namespace, name): slim_rollout(_plain(body))}


@kopf.index(GROUP, VERSION, PLURAL)
async def shiftlane_references(body: kopf.Body, namespace: str, name: str, **_: Any) -> dict[Reference, Key]:
    """The objects a Rollout names: its Deployment (spec.workloadRef) and Services (spec.services), and the
    analysis templates and route objects its strategy uses. A change of one reconciles the Rollouts
    naming it without a scan of every Rollout."""
    plain = _plain(body)
    named = [(namespace, "Service", svc) for svc in named_services(plain).values()]
    if ((plain.get("spec") or {}).get("workloadRef") or {}).get("name"):
        named.append((namespace, "Deployment", plain["spec"]["workloadRef"]["name"]))
    try:
        spec = state.specs.parse((namespace, name), plain)
    except ValidationError:
        spec = None  # reported by its reconcile; it names nothing until it is valid
    if spec is not None:
        named += [_template_reference(ref, namespace) for ref in templates_named(spec)]
        named += [(namespace, kind, obj) for kind, obj in routes_named(spec, plain)]
    return {reference: (namespace, name) for reference in named}


def _template_reference(ref: TemplateName, namespace: str) -> Reference:
    return ("", CLUSTER_TEMPLATE, ref.name) if ref.cluster_scope else (namespace, TEMPLATE, ref.name)


@kopf.index("apps", "v1", "deployments", labels={ROLLOUT_LABEL: kopf.PRESENT, REVISION_LABEL: kopf.PRESENT})
async def shiftlane_revisions(body: kopf.Body, namespace: str, labels: kopf.Labels, **_: Any) -> dict[Key, dict[str, Any]]:
    return {(namespace, labels[ROLLOUT_LABEL]): slim_deployment(_plain(body))}


# The ReplicaSets of revision Deployments (which copy the revision's pod labels): their counts reach us
# before the controller-manager copies them into the Deployment's status.
@kopf.index("apps", "v1", "replicasets", labels={ROLLOUT_LABEL: kopf.PRESENT, REVISION_LABEL: kopf.PRESENT})
async def shiftlane_replica_sets(body: kopf.Body, namespace: str, labels: kopf.Labels, **_: Any) -> dict[Key, ReplicaSetView]:
    return {(namespace, labels[ROLLOUT_LABEL]): slim_replica_set(_plain(body))}


# Adopted Deployments carry the Rollout label (so the filtered watch delivers them) but no revision.
@kopf.index("apps", "v1", "deployments", labels={ROLLOUT_LABEL: kopf.PRESENT, REVISION_LABEL: kopf.ABSENT})
async def shiftlane_workloads(body: kopf.Body, namespace: str, name: str, **_: Any) -> dict[Key, dict[str, Any]]:
    return {(namespace, name): slim_workload(_plain(body))}


# Every Service, not only ours: a Service someone else made under a name a Rollout wants must be seen
# (and left alone). Others are kept as owner and version only.
@kopf.index("", "v1", "services")
async def shiftlane_services(body: kopf.Body, namespace: str, name: str, **_: Any) -> dict[Key, ServiceView]:
    return {(namespace, name): slim_service(_plain(body))}


@kopf.index("", "v1", "pods", labels={ROLLOUT_LABEL: kopf.PRESENT, REVISION_LABEL: kopf.PRESENT})
async def shiftlane_terminating(meta: kopf.Meta, namespace: str, labels: kopf.Labels, **_: Any) -> dict[Key, str]:
    # Only pods being deleted, and only their revision: counts are all a reconcile needs.
    if not meta.get("deletionTimestamp"):
        return {}
    return {(namespace, labels[ROLLOUT_LABEL]): labels[REVISION_LABEL]}


@kopf.index(GROUP, VERSION, "analysistemplates")
async def shiftlane_templates(body: kopf.Body, namespace: str, name: str, **_: Any) -> dict[Key, dict[str, Any]]:
    return {(namespace, name): _plain(body)}


@kopf.index(GROUP, VERSION, "clusteranalysistemplates")
async def shiftlane_cluster_templates(body: kopf.Body, name: str, **_: Any) -> dict[Key, dict[str, Any]]:
    return {("", name): _plain(body)}


async def _template_changed(body: kopf.Body, namespace: str | None, name: str, kwargs: dict[str, Any]) -> None:
    """Mark the template Valid or not, and reconcile the Rollouts that name it (a stall may clear)."""
    plain = _plain(body)
    if state.templates is not None and not body.get("metadata", {}).get("deletionTimestamp") and kwargs.get("type") != "DELETED":
        await state.templates.mark(plain, await asyncio.to_thread(check_template, plain))
    for key in _naming(kwargs, namespace or "", TEMPLATE if namespace else CLUSTER_TEMPLATE, name):
        await _reconcile(key, kwargs)


@kopf.on.event(GROUP, VERSION, "analysistemplates")
async def template_changed(body: kopf.Body, namespace: str, name: str, **kwargs: Any) -> None:
    await _template_changed(body, namespace, name, kwargs)


@kopf.on.event(GROUP, VERSION, "clusteranalysistemplates")
async def cluster_template_changed(body: kopf.Body, name: str, **kwargs: Any) -> None:
    await _template_changed(body, None, name, kwargs)


def _plain(body: kopf.Body) -> dict[str, Any]:
    return {k: body[k] for k in ("apiVersion", "kind", "metadata", "spec", "status") if k in body}


@kopf.on.event(GROUP, VERSION, PLURAL)
async def rollout_changed(namespace: str, name: str, **kwargs: Any) -> None:
    await _reconcile((namespace, name), kwargs)


@kopf.on.event("apps", "v1", "deployments", labels={ROLLOUT_LABEL: kopf.PRESENT, REVISION_LABEL: kopf.PRESENT})
async def revision_changed(namespace: str, name: str, labels: kopf.Labels, type: str | None, **kwargs: Any) -> None:
    key = (namespace, labels[ROLLOUT_LABEL])
    if type == "DELETED":
        state.seen_revisions.forget(namespace, name)
        await _reconcile(key, kwargs)
    else:
        await _reconcile_if_revision_changed(key, kwargs, lambda meta: meta["name"] == name)


@kopf.on.event("apps", "v1", "replicasets", labels={ROLLOUT_LABEL: kopf.PRESENT, REVISION_LABEL: kopf.PRESENT})
async def replica_set_changed(body: kopf.Body, namespace: str, labels: kopf.Labels, **kwargs: Any) -> None:
    """Reconcile only when the counts its revision is read with change: the ReplicaSet's own, once they
    are usable and before the Deployment's status copies them. Anything else of it (or its going) reaches
    us as its Deployment's event too."""
    owner = controller_uid(body.get("metadata") or {})
    await _reconcile_if_revision_changed((namespace, labels[ROLLOUT_LABEL]), kwargs, lambda meta: meta.get("uid") == owner)


async def _reconcile_if_revision_changed(key: Key, kwargs: dict[str, Any], which: Callable[[dict[str, Any]], bool]) -> None:
    """Reconcile when what a reconcile reads of the revision `which` picks has changed. The revision is
    the slim view its index already holds (kopf indexes an event before handling it): parsing the
    Deployment's managedFields again on every event would double that work."""
    replica_sets = kwargs["shiftlane_replica_sets"].get(key, [])
    for deployment in kwargs["shiftlane_revisions"].get(key, []):
        if which(deployment["metadata"]):
            if state.seen_revisions.changed(key[0], deployment, replica_sets):
                await _reconcile(key, kwargs)
            return


@kopf.on.event("apps", "v1", "deployments", labels={ROLLOUT_LABEL: kopf.PRESENT, REVISION_LABEL: kopf.ABSENT})
async def workload_changed(namespace: str, name: str, **kwargs: Any) -> None:
    """An adopted Deployment changed: its template (a new revision) or its pods (how far to scale it down)."""
    for key in _naming(kwargs, namespace, "Deployment", name):
        await _reconcile(key, kwargs)


@kopf.on.event("", "v1", "services")
async def service_changed(namespace: str, name: str, **kwargs: Any) -> None:
    """Ours edited or deleted (repaired at once), someone else's made or removed under a name a Rollout
    wants, or one a Rollout names in spec.services."""
    own = {(namespace, rollout) for rollout in rollouts_for_service(name)}
    for key in sorted(own | set(_naming(kwargs, namespace, "Service", name))):
        if key in kwargs["shiftlane_rollouts"]:
            await _reconcile(key, kwargs)


def _naming(kwargs: dict[str, Any], namespace: str, kind: str, name: str) -> list[Key]:
    """The Rollouts that name this object, in order (a copy: the index changes while a reconcile awaits)."""
    return sorted(set(kwargs["shiftlane_references"].get((namespace, kind, name), [])))


async def _route_changed(namespace: str, name: str, kind: str, kwargs: dict[str, Any]) -> None:
    """A route object changed (or was made or deleted): reconcile the Rollouts whose routing names it."""
    for key in _naming(kwargs, namespace, kind, name):
        await _reconcile(key, kwargs)


def _watch_route(group: str, version: str, plural: str, kind: str) -> None:
    async def route_changed(namespace: str, name: str, **kwargs: Any) -> None:
        await _route_changed(namespace, name, kind, kwargs)

    kopf.on.event(group, version, plural, id=f"route-{plural}")(route_changed)


def drive_routers(routers: frozenset[str]) -> None:
    """Watch the route kinds of these routers only (kopf leaves out those whose CRD is not installed): a
    router left out needs no permission on its objects."""
    state.routers = routers
    for kind in route_kinds(routers):
        _watch_route(*kind)


def _being_deleted(meta: kopf.Meta, **_: Any) -> bool:
    return bool(meta.get("deletionTimestamp"))


@kopf.on.event("", "v1", "pods", labels={ROLLOUT_LABEL: kopf.PRESENT}, when=_being_deleted)
async def pod_terminating(namespace: str, labels: kopf.Labels, **kwargs: Any) -> None:
    """A pod began or finished terminating: `recreate` waits for the last old one to be gone."""
    await _reconcile((namespace, labels[ROLLOUT_LABEL]), kwargs)


async def _reconcile(key: Key, kwargs: dict[str, Any]) -> None:
    state.indexes = Indexes(
        kwargs["shiftlane_rollouts"], kwargs["shiftlane_revisions"], kwargs["shiftlane_replica_sets"],
        kwargs["shiftlane_services"], kwargs["shiftlane_terminating"],
        kwargs["shiftlane_templates"], kwargs["shiftlane_cluster_templates"],
        kwargs["shiftlane_workloads"], kwargs["shiftlane_references"],
    )
    await reconcile_key(key)


async def reconcile_key(key: Key) -> None:
    if state.reconciler is None or state.indexes is None:
        return
    indexes = state.indexes
    namespace, name = key
    rollout = next(iter(indexes.rollouts.get(key, [])), None)
    names = service_names(rollout).values() if rollout is not None else ()
    workload = ((rollout or {}).get("spec") or {}).get("workloadRef") or {}
    children = Children(
        deployments=list(indexes.revisions.get(key, [])),
        replica_sets=list(indexes.replica_sets.get(key, [])),
        services={svc: view for svc in names for view in indexes.services.get((namespace, svc), [])},
        terminating=Counter(indexes.terminating.get(key, [])),
        templates=indexes.template,
        workload=next(iter(indexes.workloads.get((namespace, workload.get("name")), [])), None),
    )
    await state.reconciler.reconcile(key, rollout, children, _wake)


def _wake(key: Key) -> None:
    task = asyncio.ensure_future(reconcile_key(key))
    state.wakeups.add(task)
    task.add_done_callback(state.wakeups.discard)
