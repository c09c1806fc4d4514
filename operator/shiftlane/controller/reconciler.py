"""One reconcile: gather the observation, ask the interpreter, make the cluster match the Decision."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timezone
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from kubernetes_asyncio import client
from pydantic import ValidationError

from shiftlane import metrics
from shiftlane.api.revision import revision_of
from shiftlane.api.image_policy import ImagePolicy
from shiftlane.api.spec import RolloutSpec
from shiftlane.api.status import RolloutStatus
from shiftlane.engine.interpret import interpret
from shiftlane.controller import drift
from shiftlane.controller.analysis import AnalysisRunner, TemplateLookup
from shiftlane.controller.specs import ParsedSpecs
from shiftlane.controller.analysis import verdicts as analysis_verdicts
from shiftlane.controller.webhooks import WebhookCaller
from shiftlane.controller.webhooks import track as track_webhooks
from shiftlane.controller.webhooks import verdicts as webhook_verdicts
from shiftlane.engine.model import Decision, Event, ImageGate, Observation
from shiftlane.kube.client import api_message, namespace_terminating, refused, transient
from shiftlane.kube.labels import REVISION_LABEL, ROLLOUT_LABEL, named_services, resource_version, revision_name, service_names
from shiftlane.kube.replica_sets import ReplicaSetView
from shiftlane.kube.revisions import RevisionWriter, edits, observe_revision, revision_manifest
from shiftlane.kube.rollouts import StatusWriter, status_document
from shiftlane.kube.services import ServiceView, ServiceWriter, differs, named_service_manifest, service_manifest, service_ports
from shiftlane.kube.workloads import WorkloadWriter, adopted_rollout, observe_workload
from shiftlane.registry.gate import ImageGatekeeper, ImageVerdict
from shiftlane.registry.metrics import forget_findings, record_findings
from shiftlane.registry.pinning import pinned_template
from shiftlane.registry.pull_secret_keeper import PullSecretKeeper
from shiftlane.registry.stable_tag import StableTagger
from shiftlane.traffic import ROUTERS, router_for
from shiftlane.traffic.router import RouteObjects, Router, RouterError, read_routes, wanted

log = logging.getLogger(__name__)

# A refused write is retried after RETRY_SECONDS, doubling on each further failure up to MAX_RETRY_SECONDS:
# someone has to change something before it can succeed. A transient failure (5xx, 429, a dropped
# connection) starts sooner and stops doubling earlier, because the next try usually works.
RETRY_SECONDS = 5.0
MAX_RETRY_SECONDS = 300.0
TRANSIENT_RETRY_SECONDS = 1.0
MAX_TRANSIENT_RETRY_SECONDS = 30.0
# A workloadRef naming no Deployment is looked up again this often: the operator watches only
# Deployments it has labelled, so it would not see the Deployment being created.
WORKLOAD_RECHECK_SECONDS = 10.0


Key = tuple[str, str]
EventSink = Callable[[dict[str, Any], Event], None]
T = TypeVar("T")


@dataclass(frozen=True)
class Children:
    """What the watches show of one Rollout's objects; a moment behind our own writes."""

    deployments: Sequence[dict[str, Any]] = ()  # slim revision Deployments
    replica_sets: Sequence[ReplicaSetView] = ()  # their ReplicaSets: fresher pod counts (kube/replica_sets.py)
    services: Mapping[str, ServiceView] = field(default_factory=dict)  # the Services with the names it uses, by name
    terminating: Mapping[str, int] = field(default_factory=dict)  # revision -> its pods being deleted
    templates: TemplateLookup = lambda ref, namespace: None  # the analysis templates the watch shows
    workload: dict[str, Any] | None = None  # the Deployment spec.workloadRef names (slim), once labelled


@dataclass
class Written:
    """What our own writes returned, kept until the watch has passed them, so a reconcile in between
    neither repeats a write nor creates an object twice."""

    deployments: dict[str, dict[str, Any]] = field(default_factory=dict)  # by revision
    services: dict[str, ServiceView] = field(default_factory=dict)  # by name
    workload: dict[str, Any] | None = None  # the adopted Deployment (slim)
    # Revision -> the resourceVersion whose pod template, in other hands, was found as created.
    templates_checked: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class TemplateCheck:
    """The dry-run verdict on one revision's Deployment, so it is asked once per rollout, not per reconcile.

    A refusal is asked again when the spec changes: what the API server refused may have been an
    admission policy since lifted, and any edit is how a user says "try again".
    """

    revision: str
    generation: int
    error: str | None

    def answers(self, revision: str, generation: int) -> bool:
        return self.revision == revision and (self.error is None or self.generation == generation)


@dataclass(frozen=True)
class ImageJudgement:
    """The registry's verdict on one revision's images, asked once per rollout: again when the spec
    changes (say, an allow-list edit) or, while a scan runs, after the wait it names."""

    revision: str
    generation: int
    verdict: ImageVerdict
    since: float  # when the check of this revision began: bounds the wait for a running scan
    recheck_at: float | None

    def answers(self, revision: str, generation: int, now: float) -> bool:
        fresh = self.recheck_at is None or now < self.recheck_at
        return self.revision == revision and self.generation == generation and fresh


@dataclass(frozen=True)
class RollbackCheck:
    """Whether the stable revision's images are still in their registry, asked once per rollout."""

    stable: str
    target: str
    missing: str | None  # the message when a rollback could not pull them


@dataclass(frozen=True)
class Backoff:
    """The wait after a failed reconcile, during which nothing is written for that Rollout."""

    delay: float
    retry_at: float
    generation: int  # a spec change ends the wait: the user may have fixed what was refused
    error: str | None  # the last refusal's message, shown until a write succeeds; None after transient errors

    def holds(self, now: float, generation: int) -> bool:
        return now < self.retry_at and generation == self.generation


def retry_delay(previous: Backoff | None, generation: int, passing: bool) -> float:
    """The wait before the next try: the first after a spec change, doubled for each failure in a row.
    `passing` says the failure was transient rather than a refusal."""
    first, cap = (TRANSIENT_RETRY_SECONDS, MAX_TRANSIENT_RETRY_SECONDS) if passing else (RETRY_SECONDS, MAX_RETRY_SECONDS)
    if previous is None or previous.generation != generation:
        return first
    return min(max(previous.delay * 2, first), cap)


def _newest(indexed: Mapping[str, T], written: dict[str, T], version: Callable[[T], int]) -> dict[str, T]:
    """The indexed objects, with our own later writes in place of what the watch has not delivered yet.

    A write is forgotten once the watch shows anything at least as new: the object itself, or a later
    change of a sibling (then our object's absence means it was deleted since).
    """
    horizon = max(map(version, indexed.values()), default=0)
    merged = dict(indexed)
    for name, mine in list(written.items()):
        if version(mine) <= horizon:
            del written[name]
        else:
            merged[name] = mine
    return merged


@dataclass
class Reconciler:
    revisions: RevisionWriter
    services: ServiceWriter
    statuses: StatusWriter
    emit: EventSink
    # The client the traffic routers read and patch route objects with; None drives no router.
    routes: client.ApiClient | None = None
    # Registry checks for Rollouts with spec.imagePolicy (or an operator-wide one); None checks nothing.
    images: ImageGatekeeper | None = None
    # Runs the analyses and calls the webhooks the engine asks for; None runs and calls nothing.
    analysis: AnalysisRunner | None = None
    webhooks: WebhookCaller | None = None
    # ECR pull Secrets named by new revisions (--ecr-pull-secrets); None keeps none.
    pull_secrets: PullSecretKeeper | None = None
    # imagePolicy.protectStable's tag on the stable revision's ECR digests; None tags nothing.
    stable_tags: StableTagger | None = None
    # Reads, labels and scales Deployments named by spec.workloadRef; None adopts nothing.
    workloads: WorkloadWriter | None = None
    # The routers driven (with `routes`); a Rollout naming another is compiled as if it had none.
    routers: frozenset[str] = ROUTERS
    clock: Callable[[], float] = time.time
    specs: ParsedSpecs = field(default_factory=ParsedSpecs)
    _locks: dict[Key, asyncio.Lock] = field(default_factory=dict)
    _fresh: dict[Key, dict[str, Any]] = field(default_factory=dict)
    _written: dict[Key, Written] = field(default_factory=dict)
    _templates: dict[Key, TemplateCheck] = field(default_factory=dict)
    _backoffs: dict[Key, Backoff] = field(default_factory=dict)
    _images: dict[Key, ImageJudgement] = field(default_factory=dict)
    _rollback_checks: dict[Key, RollbackCheck] = field(default_factory=dict)
    _timers: dict[Key, asyncio.TimerHandle] = field(default_factory=dict)

    def latest(self, key: Key, indexed: dict[str, Any] | None) -> dict[str, Any] | None:
        """The newer of the watched Rollout and the one our last status patch returned."""
        fresh = self._fresh.get(key)
        if indexed is None:
            return None
        if fresh is not None and resource_version(fresh) > resource_version(indexed):
            return fresh
        self._fresh.pop(key, None)  # the watch has caught up
        return indexed

    async def reconcile(self, key: Key, rollout: dict[str, Any] | None, children: Children, wake: Callable[[Key], None]) -> None:
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            rollout = self.latest(key, rollout)
            if rollout is None:
                self.forget(key)
                return
            started = time.perf_counter()
            try:
                await self._reconcile(key, rollout, children, wake)
            except client.ApiException as error:
                if namespace_terminating(error):
                    return  # the namespace goes away with the Rollout; nothing to converge
                metrics.RECONCILE_ERRORS.labels(f"http{error.status}").inc()
                delay = self._back_off(key, rollout, None, wake, transient(error))
                log.warning("reconcile of %s/%s failed (%s %s); retrying in %ss", *key, error.status, error.reason, delay)
            except Exception as error:
                # Level-triggered: whatever failed is recomputed from scratch a little later.
                metrics.RECONCILE_ERRORS.labels(type(error).__name__).inc()
                delay = self._back_off(key, rollout, None, wake, transient(error))
                log.exception("reconcile of %s/%s failed; retrying in %ss", *key, delay)
            finally:
                metrics.RECONCILE_DURATION.observe(time.perf_counter() - started)

    def forget(self, key: Key) -> None:
        self.specs.forget(key)
        for state in (self._fresh, self._locks, self._written, self._templates, self._backoffs, self._images, self._rollback_checks):
            state.pop(key, None)
        timer = self._timers.pop(key, None)
        if timer:
            timer.cancel()
        for registry_state in (self.pull_secrets, self.stable_tags):
            if registry_state is not None:
                registry_state.forget(key)
        forget_findings(*key)
        metrics.forget(*key)

    async def _reconcile(self, key: Key, rollout: dict[str, Any], children: Children, wake: Callable[[Key], None]) -> None:
        if rollout["metadata"].get("deletionTimestamp"):
            return  # owner references remove what it owns
        status_raw = rollout.get("status") or {}
        workload = await self._workload(key, rollout, children.workload)
        if workload is not None:
            rollout = adopted_rollout(rollout, workload)
        try:
            spec = self.specs.parse(key, rollout, workload and workload["metadata"].get("resourceVersion"))
            status = RolloutStatus.model_validate(status_raw)
        except ValidationError as error:
            # The CRD schema should have refused this; report it rather than crash-loop.
            await self._write_invalid(rollout, str(error))
            return
        now = self.clock()
        observation, services, deployments, routes = await self._observe(key, rollout, spec, status, children, workload, now)
        # Measurements and webhook answers due now go into the status the engine reads: its verdicts
        # come from there, and a restarted operator finds them there.
        if self.analysis is not None:
            for event in await self.analysis.measure_due(rollout, spec, status, children.templates, _utc(now)):
                self.emit(rollout, event)
            problem = await self.analysis.problem(key[0], spec, children.templates)
            observation = replace(observation, analysis=analysis_verdicts(status), analysis_problem=problem)
        if self.webhooks is not None and spec.webhooks:
            await self.webhooks.call_due(rollout, spec, status, _utc(now))
            observation = replace(observation, webhooks=webhook_verdicts(status))
        backoff = self._backoffs.get(key)
        if backoff is not None and backoff.holds(now, observation.generation):
            # Between retries nothing is written to the cluster; a refusal stays visible in status.
            if backoff.error is not None:
                refusal = interpret(spec, status, replace(observation, write_error=backoff.error), now)
                await self._report(rollout, spec, status, refusal, now)
            self._schedule(key, backoff.retry_at - now, wake)
            return
        decision = interpret(spec, status, observation, now)
        decision = await self._track_checks(key, decision, children, now)
        try:
            await self._apply(key, rollout, spec, status, decision, observation, services, deployments, routes)
        except (client.ApiException, RouterError) as error:
            if isinstance(error, client.ApiException) and not refused(error):
                raise
            message = str(error) if isinstance(error, RouterError) else api_message(error)
            status_code = error.status if isinstance(error, client.ApiException) else "router"
            metrics.RECONCILE_ERRORS.labels(f"http{status_code}").inc()
            delay = self._back_off(key, rollout, message, wake, passing=False)
            log.warning("a write for %s/%s was refused (%s); retrying in %ss: %s", *key, status_code, delay, message)
            # The Decision that could not be applied is dropped; the Rollout shows why instead.
            await self._report(rollout, spec, status, interpret(spec, status, replace(observation, write_error=message), now), now)
            return
        self._backoffs.pop(key, None)
        await self._report(rollout, spec, status, decision, now)
        if self.stable_tags is not None and self._protects_stable(spec):
            self.stable_tags.follow(key, rollout, decision.status.stable_revision)
        workload_missing = spec.workload_ref is not None and workload is None
        self._schedule(key, WORKLOAD_RECHECK_SECONDS if workload_missing else decision.requeue_after, wake)

    async def _workload(self, key: Key, rollout: dict[str, Any], indexed: dict[str, Any] | None) -> dict[str, Any] | None:
        """The Deployment spec.workloadRef names (None: none named, or no such Deployment), labelled as
        this Rollout's so that the operator's Deployment watch delivers its changes."""
        ref = (rollout.get("spec") or {}).get("workloadRef")
        if not ref or self.workloads is None:
            return None
        namespace, name = key
        written = self._written.setdefault(key, Written())
        known = [w for w in (indexed, written.workload) if w is not None and w["metadata"]["name"] == ref["name"]]
        current = max(known, key=resource_version) if known else await self.workloads.read(namespace, ref["name"])
        if current is not None and ROLLOUT_LABEL not in current["metadata"]["labels"]:
            current = await self.workloads.label(namespace, ref["name"], name)
        written.workload = current
        return current

    async def _track_checks(self, key: Key, decision: Decision, children: Children, now: float) -> Decision:
        """Start the analysis runs and webhook calls the Decision asks for; wake up for the next one due."""
        wakes = [decision.requeue_after]
        if self.analysis is not None:
            wakes.append(await self.analysis.track(decision.status, decision.analyses, key[0], children.templates, _utc(now)))
        if self.webhooks is not None:
            wakes.append(track_webhooks(decision.status, decision.webhooks, _utc(now)))
        wakes = [w for w in wakes if w is not None]
        return replace(decision, requeue_after=min(wakes) if wakes else None)

    async def _observe(
        self, key: Key, rollout: dict[str, Any], spec: RolloutSpec, status: RolloutStatus, children: Children,
        workload: dict[str, Any] | None, now: float,
    ) -> tuple[Observation, dict[str, ServiceView], dict[str, dict[str, Any]], RouteObjects]:
        """The observation, and what was read for it that the apply writes against: the Services and
        Deployments (watched, with our own later writes) and the route objects (read once, here)."""
        namespace, name = key
        written = self._written.setdefault(key, Written())
        indexed = {d["metadata"]["labels"][REVISION_LABEL]: d for d in children.deployments}
        deployments = _newest(indexed, written.deployments, resource_version)
        revisions = {
            o.name: replace(o, terminating=children.terminating.get(o.name, 0))
            for o in (observe_revision(d, children.replica_sets) for d in deployments.values())
        }
        services = _newest(dict(children.services), written.services, lambda view: view.resource_version)
        uid = rollout["metadata"]["uid"]
        names, named = service_names(rollout), named_services(rollout)
        ours = [svc for suffix, svc in names.items() if suffix not in named]
        conflicts = [f"Service {namespace}/{svc}" for svc in sorted(ours) if svc in services and services[svc].owner_uid != uid]
        missing = [f"Service {namespace}/{svc}" for svc in named.values() if svc not in services]
        service_revisions = {
            suffix: view.revision
            for suffix, svc in names.items()
            if (view := services.get(svc)) is not None and (view.owner_uid == uid or suffix in named)
        }
        generation = rollout["metadata"].get("generation", 0)
        if spec.template is None:  # workloadRef names a Deployment that does not exist: nothing to run
            missing.insert(0, f"Deployment {namespace}/{spec.workload_ref.name}")
            return Observation(generation, "", revisions, command=status.command, service_revisions=service_revisions,
                               missing=tuple(missing)), services, deployments, {}
        template_revision = revision_of(rollout["spec"]["template"])
        template_error = None
        if template_revision not in revisions:
            try:
                template_error = await self._template_error(key, rollout, template_revision, _next_number(revisions), spec.replicas)
            except client.ApiException as error:
                if error.status != 409:
                    raise
                conflicts.append(f"Deployment {namespace}/{revision_name(name, template_revision)}")
        image_check, rollback_missing = None, None
        policy = self.images.policy_for(spec.image_policy) if self.images is not None else None
        checked = policy is not None
        if checked and template_revision not in revisions:
            image_check = (await self._image_verdict(key, rollout, policy, template_revision, now)).check
        if self.pull_secrets is not None:
            self.pull_secrets.note(key, [rollout["spec"]["template"]])
        if checked and status.stable_revision in revisions and status.stable_revision != template_revision:
            ask = template_revision not in revisions  # once, as the rollout starts; remembered while it runs
            rollback_missing = await self._rollback_image_missing(key, status.stable_revision, template_revision, ask)
        router = self._router(key, spec, rollout)
        router_state, routes = None, {}
        if router is not None:
            routes = await read_routes(self.routes, router)
            router_state = replace(router.read(routes), objects=tuple(map(str, router.objects())))
        observation = Observation(
            generation=generation,
            template_revision=template_revision,
            revisions=revisions,
            routers=self.routers if self.routes is not None else frozenset(),
            router=router_state,
            command=status.command,
            service_revisions=service_revisions,
            conflicts=tuple(conflicts),
            missing=tuple(missing),
            workload=observe_workload(workload) if workload is not None else None,
            template_error=template_error,
            image_check=image_check,
            rollback_image_missing=rollback_missing,
        )
        return observation, services, deployments, routes

    async def _image_verdict(self, key: Key, rollout: dict[str, Any], policy: ImagePolicy, revision: str, now: float) -> ImageVerdict:
        generation = rollout["metadata"].get("generation", 0)
        judged = self._images.get(key)
        if judged is not None and judged.answers(revision, generation, now):
            return judged.verdict
        since = judged.since if judged is not None and judged.revision == revision else now
        verdict = await self.images.judge(rollout["spec"]["template"], policy, now=_utc(now), since=_utc(since))
        # The candidate's findings; none shown while its scan runs or when the policy reads no scan.
        if verdict.scans:
            record_findings(*key, verdict.scans)
        else:
            forget_findings(*key)
        waiting = verdict.check.gate is ImageGate.WAITING
        recheck = now + (verdict.check.retry_after or RETRY_SECONDS) if waiting else None
        self._images[key] = ImageJudgement(revision, generation, verdict, since, recheck)
        return verdict

    async def _rollback_image_missing(self, key: Key, stable: str, target: str, ask: bool) -> str | None:
        """Before a rollout starts: whether the stable revision's images are still in their registry,
        asked once per rollout (a rollback would otherwise fail to pull)."""
        asked = self._rollback_checks.get(key)
        if asked is None or (asked.stable, asked.target) != (stable, target):
            if not ask:
                return None
            template = await self.revisions.template(key[0], revision_name(key[1], stable))
            missing = await self.images.missing_digests(template) if template else []
            message = None
            if missing:
                message = f"{', '.join(missing)} of the stable revision {stable} is gone from its registry: a rollback would fail"
            asked = self._rollback_checks[key] = RollbackCheck(stable, target, message)
        return asked.missing

    def _protects_stable(self, spec: RolloutSpec) -> bool:
        policy = self.images.policy_for(spec.image_policy) if self.images is not None else None
        return policy is not None and policy.protect_stable

    def _pins(self, key: Key, revision: str) -> dict[str, str]:
        """The images a new revision's containers are pinned to (by digest), when its check allowed it."""
        judged = self._images.get(key)
        if judged is None or judged.revision != revision or judged.verdict.check.gate is not ImageGate.ALLOWED:
            return {}
        return judged.verdict.pins

    def _router(self, key: Key, spec: RolloutSpec, rollout: dict[str, Any]) -> Router | None:
        routing = spec.strategy.traffic_routing
        if routing is None or self.routes is None or routing.router not in self.routers:
            return None
        return router_for(routing, *key, named_services(rollout))

    async def _template_error(self, key: Key, rollout: dict[str, Any], revision: str, number: int, replicas: int) -> str | None:
        """Whether the API server would refuse the new revision's Deployment: asked before anything of it is written."""
        check = self._templates.get(key)
        generation = rollout["metadata"].get("generation", 0)
        if check is None or not check.answers(revision, generation):
            refusal = await self.revisions.refusal(revision_manifest(rollout, revision, number, replicas))
            check = self._templates[key] = TemplateCheck(revision, generation, refusal)
        return check.error

    async def _apply(
        self, key: Key, rollout, spec: RolloutSpec, previous: RolloutStatus, decision: Decision, observation: Observation,
        services: dict[str, ServiceView], deployments: dict[str, dict[str, Any]], routes: RouteObjects,
    ) -> None:
        namespace, name = key
        written = self._written[key]
        # Nothing derived from a template the API server refuses, nothing written over an object
        # Shiftlane did not create, and nothing while an object the Rollout names is missing.
        if observation.template_error is None and not observation.conflicts and not observation.missing:
            # Traffic first (Services, then routes), so no request is sent to pods about to be scaled away.
            ports = service_ports(rollout["spec"]["template"])
            names, named = service_names(rollout), named_services(rollout)
            # While an adopted Deployment still serves, the Services the user named keep reaching its pods.
            held = decision.adoption is not None and decision.adoption.serving
            for suffix, revision in decision.services.items():
                current = services.get(names[suffix])
                if suffix in named:
                    manifest = named_service_manifest(namespace, names[suffix], current, None if held else revision)
                    if dict(current.selector or {}) != manifest["spec"]["selector"]:
                        written.services[names[suffix]] = await self.services.apply(manifest)
                    continue
                if not ports:
                    continue
                manifest = service_manifest(rollout, suffix, revision, ports)
                if current is not None and not differs(current, manifest):
                    continue
                writer = self.services.create if current is None else self.services.apply
                written.services[manifest["metadata"]["name"]] = await writer(manifest)
                if found := drift.service(f"{namespace}/{manifest['metadata']['name']}", current, previous.stable_revision in deployments):
                    self.emit(rollout, found)  # once put back: a namespace being deleted refuses it
            router = self._router(key, spec, rollout)
            stable = decision.status.stable_revision
            if router is not None and stable is not None and not (observation.router and observation.router.problems):
                want = wanted(stable, decision.traffic.canary, decision.traffic)
                if observation.router and (found := drift.route(observation.router.objects, observation.router, previous, want)):
                    self.emit(rollout, found)
                await router.apply(self.routes, routes, rollout, stable, decision.traffic.canary, decision.traffic)
        for revision, replicas in decision.replicas.items():
            current = observation.revisions.get(revision)
            if current is None:
                if revision == observation.template_revision and observation.template_error is None:
                    manifest = revision_manifest(rollout, revision, _next_number(observation.revisions), replicas)
                    # Pins and the pull Secret go in after naming: the revision stays the hash of the spec's template.
                    template = pinned_template(manifest["spec"]["template"], self._pins(key, revision))
                    if self.pull_secrets is not None and (secret := await self.pull_secrets.secret_for(key, template)):
                        template = pinned_template(template, {}, pull_secret=secret)
                    manifest["spec"]["template"] = template
                    written.deployments[revision] = await self.revisions.create(manifest)
            elif current.spec_replicas != replicas:
                deployment_name = f"{namespace}/{revision_name(name, revision)}"
                if found := drift.replicas(deployment_name, deployments[revision], current.spec_replicas, replicas):
                    self.emit(rollout, found)
                written.deployments[revision] = await self.revisions.scale(namespace, revision_name(name, revision), replicas)
        await self._restore_templates(key, rollout, deployments)
        for revision in decision.delete:
            if self.stable_tags is not None and self._protects_stable(spec):
                await self.stable_tags.leaving(key, rollout, decision.status.stable_revision, revision)
            await self.revisions.delete(namespace, revision_name(name, revision))
            written.deployments.pop(revision, None)
        adoption, workload = decision.adoption, observation.workload
        if adoption is not None and adoption.replicas is not None and workload is not None and adoption.replicas != workload.spec_replicas:
            written.workload = await self.workloads.scale(namespace, workload.name, adoption.replicas)

    async def _restore_templates(self, key: Key, rollout: dict[str, Any], deployments: dict[str, dict[str, Any]]) -> None:
        """A revision's pod template changed by someone else goes back to what the revision was created with."""
        namespace, name = key
        written = self._written[key]
        for revision, deployment in deployments.items():
            by, version = edits(deployment, "template"), resource_version(deployment)
            if not by or written.templates_checked.get(revision) == version:
                continue
            restore = await self.revisions.restore_template(namespace, revision_name(name, revision))
            if restore is None:
                written.templates_checked[revision] = version
                continue
            written.deployments[revision] = restore.deployment
            self.emit(rollout, drift.template(f"{namespace}/{revision_name(name, revision)}", restore, by))

    async def _report(self, rollout: dict[str, Any], spec: RolloutSpec, status: RolloutStatus, decision: Decision, now: float) -> None:
        """The Decision's status, then its Events: the only writes made for a Decision that was not applied.

        Events and notifications follow the status write: a failed write decides the same transition
        again, and its Events would otherwise be told twice."""
        namespace, name = rollout["metadata"]["namespace"], rollout["metadata"]["name"]
        document = status_document(decision.status)
        current = {k: v for k, v in (rollout.get("status") or {}).items() if k != "command"}
        if document != current:  # no write when nothing changed
            self._fresh[(namespace, name)] = await self.statuses.patch(namespace, name, _with_nulls(document, current))
        for event in decision.events:
            self.emit(rollout, event)
        if self.webhooks is not None and spec.webhooks:
            self.webhooks.notify(rollout, spec, decision.status, decision.events)
        started = status.rollout.started_at.timestamp() if status.rollout else None
        metrics.record(namespace, name, decision.status, [e.reason for e in decision.events], started, now)

    async def _write_invalid(self, rollout, message: str) -> None:
        meta = rollout["metadata"]
        self.emit(rollout, Event("InvalidSpec", message[:1000], "Warning"))
        await self.statuses.patch(
            meta["namespace"], meta["name"],
            {"phase": "Degraded", "message": message[:1000], "observedGeneration": meta.get("generation")},
        )

    def _back_off(self, key: Key, rollout: dict[str, Any], error: str | None, wake: Callable[[Key], None],
                  passing: bool) -> float:
        """Hold writes for this Rollout until the retry; a refusal's message stays until a write succeeds."""
        generation = rollout["metadata"].get("generation", 0)
        previous = self._backoffs.get(key)
        delay = retry_delay(previous, generation, passing)
        if previous is not None and previous.generation == generation:
            error = error or previous.error
        self._backoffs[key] = Backoff(delay, self.clock() + delay, generation, error)
        self._schedule(key, delay, wake)
        return delay

    def _schedule(self, key: Key, delay: float | None, wake: Callable[[Key], None]) -> None:
        """One timer per Rollout: the next requeue or retry replaces the previous one."""
        timer = self._timers.pop(key, None)
        if timer:
            timer.cancel()
        if delay is not None:
            self._timers[key] = asyncio.get_running_loop().call_later(max(delay, 0.0) + 0.05, wake, key)


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc)


def _next_number(revisions: Mapping[str, Any]) -> int:
    return max((o.number for o in revisions.values()), default=0) + 1


def _with_nulls(document: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """A merge patch clears a field only when it is sent as null."""
    return {**{k: None for k in current if k not in document}, **document}
