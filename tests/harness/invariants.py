"""The invariant watcher: the safety rules of DESIGN.md checked against the cluster as it changes.

It follows Rollouts, their revision Deployments, ReplicaSets and Services, and the route objects
(HTTPRoute, GRPCRoute, TraefikService, VirtualService, Ingress) through harness.cluster_watch, in the
API server's commit order, and records a Violation when a rule breaks. A revision's ready and
available pods are its ReplicaSets' (the controller-manager copies them into the Deployment's status
only later, and the operator may act on them first); its replicas are the Deployment's. The rules,
precisely:

- `traffic-without-ready-pods`: a revision is sent traffic while it has no ready pod and another
  revision of the Rollout has one, for longer than GRACE seconds (the operator needs a moment to see
  a change). Traffic is a route backend with weight > 0 (or a header-match rule) to the Service that
  selects the revision, the main Service selecting it where it selects one revision (blue/green,
  immutable, routers), or its weight in status for those. With no router and the main Service on every
  revision (recreate, rolling, batches, elastic, canary without a router) traffic follows ready pods,
  so only routes count there.
- `capacity-below-traffic`: the operator lowers a revision's replicas (`spec.replicas`, owned by field
  manager `shiftlane` after the write) below what the traffic still sent to it needs: with a router or
  a switching Service, below min(its available pods, ceil(replicas x share)); where traffic follows
  ready pods, so that the pods available across revisions, each counted up to its new replicas, fall
  under `replicas` (`replicas - maxUnavailable` for rolling; no floor for recreate) while pods go.
- `three-revisions-scaled-up`: more than two revision Deployments of one Rollout have
  `spec.replicas > 0` at once. The previous stable revision that status.scaleDown holds for its
  scale-down delay (no traffic, kept for an instant rollback) is not counted; a superseded canary still
  draining is (the newest must not grow meanwhile: one_rollout_at_a_time).
- `step-order`: within one attempt (status.rollout.attempt) and one plan (currentStepHash) the step
  index never goes back and a step is never restarted (stepStartedAt changes only with the index);
  moving forward never passes a step that needs time or a verdict without it: a pause until promoted
  (needs a promote handled in that write), a timed pause (left before its duration), an analysis (its
  run `<canary>-<attempt>-<step>` Successful) or a gating webhook (its hooks Passed), except by
  promote / promote --full. A new attempt (start, supersede, PlanChanged, retry) or a new plan hash
  within the attempt (StepResumed after a replica change) starts over. status.rolloutAttempts never
  decreases.
- `gateway-non-2xx`: a reply that is not 2xx among those a test sent through the gateway during a
  promote, abort or undo (`InvariantWatcher.replies`).

What a person does by hand (the drift tests) is declared with `by_hand(namespace)`: the state rules
(the first and third) then hold their judgement for that namespace until GRACE after it ends.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from shiftlane.api.spec import RolloutSpec
from shiftlane.engine.plan import CompileError, compile_plan
from shiftlane.engine.steps import AwaitWebhook, Pause, Plan, RunAnalysis, TrafficMode
from shiftlane.traffic import ROUTERS
from tests.harness.cluster_watch import Change, ClusterWatch, Resource

ROLLOUT_LABEL = "shiftlane.io/rollout"
REVISION_LABEL = "shiftlane.io/revision"
FIELD_MANAGER = "shiftlane"
GRACE = 3.0
PAUSE_TOLERANCE = 1.5  # seconds: the operator's clock against ours, and its timer's own lateness

RESOURCES = [
    Resource("Rollout", "/apis/shiftlane.io/v1alpha1/rollouts"),
    Resource("Deployment", "/apis/apps/v1/deployments", ROLLOUT_LABEL),
    Resource("ReplicaSet", "/apis/apps/v1/replicasets", ROLLOUT_LABEL),
    Resource("Service", "/api/v1/services", ROLLOUT_LABEL),
    Resource("HTTPRoute", "/apis/gateway.networking.k8s.io/v1/httproutes"),
    Resource("GRPCRoute", "/apis/gateway.networking.k8s.io/v1/grpcroutes"),
    Resource("TraefikService", "/apis/traefik.io/v1alpha1/traefikservices"),
    Resource("VirtualService", "/apis/networking.istio.io/v1/virtualservices"),
    Resource("Ingress", "/apis/networking.k8s.io/v1/ingresses"),
]


@dataclass(frozen=True)
class Violation:
    rule: str
    namespace: str
    rollout: str
    detail: str
    at: float  # wall-clock time

    def __str__(self) -> str:
        return f"{self.rule} {self.namespace}/{self.rollout}: {self.detail} (at {time.strftime('%H:%M:%S', time.localtime(self.at))})"


# --- what the watch shows -------------------------------------------------------------------------


@dataclass
class Revision:
    spec_replicas: int
    ready: int
    available: int


def _counts(obj: dict[str, Any]) -> tuple[int, int]:
    """(ready, available) as a Deployment's or ReplicaSet's status says."""
    status = obj.get("status") or {}
    return status.get("readyReplicas", 0), status.get("availableReplicas", 0)


def _replicas_owned_by_operator(obj: dict[str, Any]) -> bool:
    """Whether field manager `shiftlane` made the last change to spec.replicas (an Update takes the
    fields it changes from every other manager)."""
    for entry in obj["metadata"].get("managedFields") or []:
        if "f:replicas" in ((entry.get("fieldsV1") or {}).get("f:spec") or {}) and entry.get("manager") == FIELD_MANAGER:
            return True
    return False


@dataclass(frozen=True)
class StepMark:
    """Where a Rollout's status said it stood, and when we saw it."""

    attempt: int
    plan: str | None
    index: int | None
    step_started_at: str | None
    canary: str | None
    seen: float


@dataclass
class RolloutView:
    uid: str
    spec: dict[str, Any]
    status: dict[str, Any]
    mode: TrafficMode | None = None
    plan: Plan | None = None
    replicas: int = 0
    minimum: int = 0  # available pods a reduction must keep where traffic follows pods
    revisions: dict[str, Revision] = field(default_factory=dict)
    mark: StepMark | None = None
    empty_since: dict[str, float] = field(default_factory=dict)  # revision -> when traffic-without-ready-pods began
    reported: set[str] = field(default_factory=set)  # revisions already reported in the current episode

    def update_spec(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        try:
            parsed = RolloutSpec.model_validate(spec)
            self.plan = compile_plan(parsed, ROUTERS)
        except (ValidationError, CompileError):
            self.plan, self.mode = None, None
            return
        self.mode, self.replicas = self.plan.mode, parsed.replicas
        strategy = parsed.strategy
        if strategy.name == "recreate":
            self.minimum = 0
        elif strategy.name == "rolling":
            unavailable = strategy.config.max_unavailable
            if isinstance(unavailable, str):
                unavailable = math.floor(parsed.replicas * int(unavailable.rstrip("%")) / 100)
            self.minimum = parsed.replicas - unavailable
        else:
            self.minimum = parsed.replicas

    @property
    def scale_down_revision(self) -> str | None:
        return (self.status.get("scaleDown") or {}).get("revision")

    def status_weights(self) -> dict[str, int]:
        return {r["name"]: r.get("weight", 0) for r in self.status.get("revisions") or []}


# --- route objects: which Service gets which share ------------------------------------------------


Split = list[tuple[str, str, float]]  # (namespace, Service name, weight) of one routing rule


def _gateway_splits(obj: dict[str, Any], namespace: str) -> list[Split]:
    splits = []
    for rule in (obj.get("spec") or {}).get("rules") or []:
        refs = [r for r in rule.get("backendRefs") or [] if r.get("kind", "Service") == "Service"]
        splits.append([(r.get("namespace", namespace), r["name"], r.get("weight", 1)) for r in refs])
    return splits


def _traefik_splits(obj: dict[str, Any], namespace: str) -> list[Split]:
    spec = obj.get("spec") or {}
    if "mirroring" in spec:  # the main service answers; mirrors' replies are discarded
        main = spec["mirroring"]
        return [[(main.get("namespace", namespace), main["name"], 1)]] if main.get("kind", "Service") == "Service" else []
    services = [s for s in (spec.get("weighted") or {}).get("services") or [] if s.get("kind", "Service") == "Service"]
    return [[(s.get("namespace", namespace), s["name"], s.get("weight", 1)) for s in services]]


def _istio_splits(obj: dict[str, Any], namespace: str) -> list[Split]:
    splits = []
    for http in (obj.get("spec") or {}).get("http") or []:
        routes = [r for r in http.get("route") or [] if not (r.get("destination") or {}).get("subset")]
        default = 100 if len(routes) == 1 else 0
        split = []
        for route in routes:
            host = route["destination"]["host"].split(".")
            split.append((host[1] if len(host) > 1 else namespace, host[0], route.get("weight", default)))
        splits.append(split)
    return splits


def _nginx_canary_weight(obj: dict[str, Any]) -> float | None:
    """An ingress-nginx canary Ingress's weight; None for any other Ingress."""
    annotations = obj["metadata"].get("annotations") or {}
    if not any(k.endswith("/canary") and v == "true" for k, v in annotations.items()):
        return None
    return float(next((v for k, v in annotations.items() if k.endswith("/canary-weight")), 0) or 0)


def _ingress_splits(obj: dict[str, Any], namespace: str, canary_weights: dict[str, float]) -> list[Split]:
    """nginx: a canary Ingress sends canary-weight percent, its main Ingress the rest. ALB: the forward
    actions' target groups."""
    annotations = obj["metadata"].get("annotations") or {}
    splits: list[Split] = []
    for key, value in annotations.items():
        if "/actions." in key:
            try:
                groups = (json.loads(value).get("forwardConfig") or {}).get("targetGroups") or []
            except (ValueError, AttributeError):
                continue
            splits.append([(namespace, g["serviceName"], g.get("weight", 1)) for g in groups if g.get("serviceName")])
    canary = _nginx_canary_weight(obj)
    weight = canary if canary is not None else 100 - canary_weights.get(f"{obj['metadata']['name']}-canary", 0)
    for rule in (obj.get("spec") or {}).get("rules") or []:
        for path in (rule.get("http") or {}).get("paths") or []:
            service = (path.get("backend") or {}).get("service") or {}
            if service.get("name") and (service.get("port") or {}).get("name") != "use-annotation":
                splits.append([(namespace, service["name"], weight), (namespace, "", 100 - weight)])
    return splits


# --- the watcher ----------------------------------------------------------------------------------


class InvariantWatcher:
    def __init__(self, kubeconfig: str):
        self.watch = ClusterWatch(kubeconfig, RESOURCES, self._on_change, self._tick)
        self.rollouts: dict[tuple[str, str], RolloutView] = {}
        self.services: dict[tuple[str, str], tuple[str, str, str | None]] = {}  # (ns, name) -> (rollout, suffix, revision)
        self.routes: dict[tuple[str, str, str], dict[str, Any]] = {}  # (kind, ns, name) -> object
        # (ns, rollout, revision) -> ReplicaSet name -> its (ready, available)
        self.replica_sets: dict[tuple[str, str, str], dict[str, tuple[int, int]]] = {}
        self.violations: list[Violation] = []
        self.forgotten: set[str] = set()
        self.hands: dict[str, int] = {}  # namespace -> open by_hand windows
        self.hands_until: dict[str, float] = {}  # namespace -> when the last window's grace ends
        self.changes = 0
        self._lock = threading.RLock()

    # --- lifecycle and the tests' side ---

    def start(self) -> InvariantWatcher:
        self.watch.start()
        return self

    def stop(self) -> None:
        self.watch.stop()

    def mark(self) -> int:
        with self._lock:
            return len(self.violations)

    def since(self, mark: int) -> list[Violation]:
        with self._lock:
            return list(self.violations[mark:])

    def settle(self, timeout: float = GRACE + 3) -> None:
        """Wait until every change made before now is judged, and each traffic-without-ready-pods
        episode open now has either ended or been reported."""
        asked = time.time()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                pending = any(set(v.empty_since) - v.reported for v in self.rollouts.values())
            if self.watch.handed_until >= asked and not pending:
                return
            time.sleep(0.1)

    def forget(self, namespace: str) -> None:
        """The namespace is about to be deleted: what its deletion does is nobody's violation."""
        with self._lock:
            self.forgotten.add(namespace)
            for key in [k for k in self.rollouts if k[0] == namespace]:
                del self.rollouts[key]
            for key in [k for k in self.replica_sets if k[0] == namespace]:
                del self.replica_sets[key]

    @contextmanager
    def by_hand(self, namespace: str) -> Iterator[None]:
        with self._lock:
            self.hands[namespace] = self.hands.get(namespace, 0) + 1
        try:
            yield
        finally:
            self.settle()  # changes made by hand are judged as such
            with self._lock:
                self.hands[namespace] -= 1
                self.hands_until[namespace] = time.time() + GRACE

    def replies(self, namespace: str, rollout: str, action: str, replies: Iterable[Any]) -> None:
        """Replies (harness.traffic.Reply) a test got through the gateway during `action`."""
        bad = [r.status for r in replies if not 200 <= r.status < 300]
        if bad:
            counts = {s: bad.count(s) for s in sorted(set(bad))}
            self._record("gateway-non-2xx", namespace, rollout, f"{len(bad)} replies not 2xx during {action}: {counts}")

    # --- judging ---

    def _record(self, rule: str, namespace: str, rollout: str, detail: str) -> None:
        with self._lock:
            self.violations.append(Violation(rule, namespace, rollout, detail, time.time()))

    def _by_hand(self, namespace: str) -> bool:
        return self.hands.get(namespace, 0) > 0 or time.time() < self.hands_until.get(namespace, 0)

    def _on_change(self, change: Change) -> None:
        self.changes += 1
        if change.namespace in self.forgotten:
            return
        with self._lock:
            handler = {"Rollout": self._rollout, "Deployment": self._deployment, "ReplicaSet": self._replica_set,
                       "Service": self._service}.get(change.kind, self._route)
            for key in handler(change):
                if (view := self.rollouts.get(key)) is not None:
                    self._judge_state(key, view)

    def _tick(self) -> None:
        with self._lock:
            for key, view in self.rollouts.items():
                self._judge_state(key, view)

    def _rollout(self, change: Change) -> list[tuple[str, str]]:
        key = (change.namespace, change.name)
        obj = change.obj
        if change.type == "DELETED" or obj["metadata"].get("deletionTimestamp"):
            self.rollouts.pop(key, None)
            return []
        view = self.rollouts.get(key)
        if view is None or view.uid != obj["metadata"]["uid"]:
            view = self.rollouts[key] = RolloutView(obj["metadata"]["uid"], {}, {})
        if obj.get("spec") != view.spec:
            view.update_spec(obj.get("spec") or {})
        status = obj.get("status") or {}
        if status != view.status:
            self._judge_steps(key, view, status, change.received)
            view.status = status
            self._judge_scaled_up(key, view)
        return [key]

    def _deployment(self, change: Change) -> list[tuple[str, str]]:
        labels = change.obj["metadata"].get("labels") or {}
        key = (change.namespace, labels.get(ROLLOUT_LABEL, ""))
        revision = labels.get(REVISION_LABEL)
        view = self.rollouts.get(key)
        if view is None or revision is None:
            return []
        if change.type == "DELETED":
            view.revisions.pop(revision, None)
            return [key]
        before = view.revisions.get(revision)
        ready, available = self._pods(key, revision) or _counts(change.obj)
        after = Revision((change.obj.get("spec") or {}).get("replicas", 0), ready, available)
        view.revisions[revision] = after
        if before is not None and after.spec_replicas < before.spec_replicas and _replicas_owned_by_operator(change.obj):
            self._judge_reduction(key, view, revision, before, after)
        self._judge_scaled_up(key, view)
        return [key]

    def _replica_set(self, change: Change) -> list[tuple[str, str]]:
        labels = change.obj["metadata"].get("labels") or {}
        key = (change.namespace, labels.get(ROLLOUT_LABEL, ""))
        revision = labels.get(REVISION_LABEL)
        if revision is None:
            return []
        owned = self.replica_sets.setdefault((*key, revision), {})
        if change.type == "DELETED":
            owned.pop(change.name, None)
        else:
            owned[change.name] = _counts(change.obj)
        view = self.rollouts.get(key)
        if view is None or revision not in view.revisions:
            return []
        ready, available = self._pods(key, revision) or (0, 0)
        view.revisions[revision] = replace(view.revisions[revision], ready=ready, available=available)
        return [key]

    def _pods(self, key: tuple[str, str], revision: str) -> tuple[int, int] | None:
        """(ready, available) over the revision's ReplicaSets; None before any is seen."""
        owned = self.replica_sets.get((*key, revision))
        if not owned:
            return None
        return sum(ready for ready, _ in owned.values()), sum(available for _, available in owned.values())

    def _service(self, change: Change) -> list[tuple[str, str]]:
        meta = change.obj["metadata"]
        rollout = (meta.get("labels") or {}).get(ROLLOUT_LABEL)
        skey = (change.namespace, change.name)
        if change.type == "DELETED" or rollout is None:
            self.services.pop(skey, None)
        else:
            suffix = change.name.removeprefix(rollout).lstrip("-")
            selector = (change.obj.get("spec") or {}).get("selector") or {}
            self.services[skey] = (rollout, suffix, selector.get(REVISION_LABEL))
        return [(change.namespace, rollout)] if rollout else []

    def _route(self, change: Change) -> list[tuple[str, str]]:
        rkey = (change.kind, change.namespace, change.name)
        if change.type == "DELETED":
            self.routes.pop(rkey, None)
        else:
            self.routes[rkey] = change.obj
        return [k for k in self.rollouts if k[0] == change.namespace]

    # traffic

    def _route_shares(self, namespace: str) -> Iterator[tuple[str, float]]:
        """(Service name, percent of its rule) for every backend the routes of the namespace send to."""
        canary_weights = {name: w for (kind, ns, name), obj in self.routes.items()
                          if kind == "Ingress" and ns == namespace and (w := _nginx_canary_weight(obj)) is not None}
        for (kind, ns, _), obj in list(self.routes.items()):
            if ns != namespace:
                continue
            if kind in ("HTTPRoute", "GRPCRoute"):
                splits = _gateway_splits(obj, ns)
            elif kind == "TraefikService":
                splits = _traefik_splits(obj, ns)
            elif kind == "VirtualService":
                splits = _istio_splits(obj, ns)
            else:
                splits = _ingress_splits(obj, ns, canary_weights)
            for split in splits:
                total = sum(w for _, _, w in split)
                for backend_ns, service, weight in split:
                    if total > 0 and weight > 0 and backend_ns == namespace and service:
                        yield service, 100 * weight / total

    def _traffic(self, key: tuple[str, str], view: RolloutView) -> dict[str, float]:
        """Revision -> the largest share of some traffic sent to it (percent), where it is sent any."""
        namespace, name = key
        shares: dict[str, float] = {}

        def add(revision: str | None, share: float) -> None:
            if revision and share > 0:
                shares[revision] = max(shares.get(revision, 0), share)

        for service, share in self._route_shares(namespace):
            owner = self.services.get((namespace, service))
            if owner is not None and owner[0] == name:
                add(owner[2], share)
        if view.mode in (TrafficMode.SWITCH, TrafficMode.ROUTER):
            main = self.services.get((namespace, name))
            if main is not None and view.mode is TrafficMode.SWITCH:
                add(main[2], 100)
            for revision, weight in view.status_weights().items():
                add(revision, weight)
        return shares

    def _judge_state(self, key: tuple[str, str], view: RolloutView) -> None:
        namespace, name = key
        now = time.time()
        if self._by_hand(namespace):
            view.empty_since.clear()
            view.reported.clear()
            return
        ready = {r for r, o in view.revisions.items() if o.ready > 0}
        empty = {r: share for r, share in self._traffic(key, view).items() if r not in ready} if ready else {}
        for revision in list(view.empty_since):
            if revision not in empty:
                del view.empty_since[revision]
                view.reported.discard(revision)
        for revision, share in empty.items():
            began = view.empty_since.setdefault(revision, now)
            if now - began >= GRACE and revision not in view.reported:
                view.reported.add(revision)
                self._record("traffic-without-ready-pods", namespace, name,
                             f"revision {revision} is sent {share:g}% of traffic with no ready pod for {now - began:.1f}s "
                             f"while {sorted(ready)} have ready pods")

    def _judge_reduction(self, key: tuple[str, str], view: RolloutView, revision: str, before: Revision, after: Revision) -> None:
        namespace, name = key
        if view.mode is None:
            return
        if view.mode is TrafficMode.SHARE:
            lost = before.available - min(before.available, after.spec_replicas)
            remaining = sum(min(o.available, o.spec_replicas) for o in view.revisions.values())
            if lost > 0 and remaining < view.minimum:
                self._record("capacity-below-traffic", namespace, name,
                             f"revision {revision} scaled {before.spec_replicas} -> {after.spec_replicas}: {remaining} pods "
                             f"stay available, under the {view.minimum} traffic needs")
            return
        share = self._traffic(key, view).get(revision, 0)
        needed = min(before.available, min(view.replicas, math.ceil(view.replicas * share / 100)))
        if after.spec_replicas < needed:
            self._record("capacity-below-traffic", namespace, name,
                         f"revision {revision} scaled {before.spec_replicas} -> {after.spec_replicas} while it is sent "
                         f"{share:g}% of traffic, which needs {needed} of its {before.available} available pods")

    def _judge_scaled_up(self, key: tuple[str, str], view: RolloutView) -> None:
        namespace, name = key
        if self._by_hand(namespace):
            return
        up = sorted(r for r, o in view.revisions.items() if o.spec_replicas > 0 and r != view.scale_down_revision)
        if len(up) > 2:
            self._record("three-revisions-scaled-up", namespace, name,
                         f"{len(up)} revisions scaled up at once: " + ", ".join(f"{r}={view.revisions[r].spec_replicas}" for r in up))

    # steps

    def _judge_steps(self, key: tuple[str, str], view: RolloutView, status: dict[str, Any], seen: float) -> None:
        namespace, name = key
        before, previous = view.mark, view.status
        if status.get("rolloutAttempts", 0) < previous.get("rolloutAttempts", 0):
            self._record("step-order", namespace, name,
                         f"rolloutAttempts went back {previous.get('rolloutAttempts')} -> {status.get('rolloutAttempts')}")
        progress = status.get("rollout")
        view.mark = None if progress is None else StepMark(
            progress["attempt"], status.get("currentStepHash"), status.get("currentStepIndex"),
            progress.get("stepStartedAt"), status.get("canaryRevision"), seen)
        now = view.mark
        if before is None or now is None or now.index is None or before.index is None:
            return
        if (now.attempt, now.plan, now.canary) != (before.attempt, before.plan, before.canary):
            return  # a new attempt starts over; a new plan within one is StepResumed (remapped by meaning)
        if now.index < before.index:
            self._record("step-order", namespace, name, f"step index went back {before.index} -> {now.index} in attempt {now.attempt}")
        elif now.index == before.index:
            if now.step_started_at != before.step_started_at:
                self._record("step-order", namespace, name,
                             f"step {now.index} restarted (stepStartedAt {before.step_started_at} -> {now.step_started_at})")
        else:
            skipped = self._skipped(view, status, previous, before, now)
            if skipped:
                self._record("step-order", namespace, name, f"step index {before.index} -> {now.index}: {skipped}")

    def _skipped(self, view: RolloutView, status: dict[str, Any], previous: dict[str, Any], before: StepMark, now: StepMark) -> str:
        plan = view.plan
        if plan is None or plan.hash != now.plan:
            return ""  # the spec changed since: the status still indexes the plan it was written for
        handled = status.get("handledCommand") or {}
        command = handled.get("name") if handled != (previous.get("handledCommand") or {}) else None
        passed = range(before.index, now.index)
        if command == "promoteFull" and before.index < plan.full_promotion_index:
            passed = range(plan.full_promotion_index, now.index)  # the steps before it are skipped by design
        for k in passed:
            step = plan.steps[k]
            if k == before.index and command == "promote":
                continue
            if isinstance(step, Pause) and step.seconds is None:
                return f"step {k} ({step.describe()}) passed without a promote"
            if isinstance(step, Pause) and step.seconds:
                if k != before.index:
                    return f"step {k} ({step.describe()}) passed in the write that reached it"
                started = datetime.fromisoformat(before.step_started_at).timestamp() if before.step_started_at else before.seen
                if now.seen - started < step.seconds - PAUSE_TOLERANCE:
                    return f"step {k} ({step.describe()}) left after {now.seen - started:.1f}s"
            if isinstance(step, RunAnalysis):
                run = f"{now.canary}-{now.attempt}-{k}"
                if not any(r.get("key") == run and r.get("phase") == "Successful" for r in status.get("analysisRuns") or []):
                    return f"step {k} ({step.describe()}) passed without a successful run {run}"
            if isinstance(step, AwaitWebhook):
                hooks = {h.get("key"): h.get("phase") for h in status.get("hooks") or []}
                waiting = [n for n in step.names if hooks.get(f"{now.canary}-{now.attempt}-{n}") != "Passed"]
                if waiting:
                    return f"step {k} ({step.describe()}) passed while {', '.join(waiting)} had not passed"
        return ""


_SHARED: InvariantWatcher | None = None


def shared_watcher(kubeconfig: str) -> InvariantWatcher:
    """One watcher per test session, whichever suite's fixture asks first."""
    global _SHARED
    if _SHARED is None:
        _SHARED = InvariantWatcher(kubeconfig).start()
    return _SHARED
