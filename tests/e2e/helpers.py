"""Helpers for the end-to-end suite: kubectl wrappers, polling, Rollout manifests, a Deployment watch.

Everything here talks to the cluster through `kubectl` (the one on PATH, with $KUBECONFIG), so the
same tests run against the local control plane (hack/cluster.sh) and kind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from shiftlane.cli.kubectl import iter_json_objects

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
GROUP_RESOURCE = "rollouts.shiftlane.io"
ROLLOUT_LABEL = "shiftlane.io/rollout"
REVISION_LABEL = "shiftlane.io/revision"
NEVER_READY = "shiftlane.io/test-never-ready"
POLL = 0.2
# Two images that exist and start anywhere (kwok ignores them; kind pulls them), and one that never
# becomes ready: kwok keeps pods whose image contains "never-ready" unready, a kubelet cannot pull it.
IMAGE_V1 = os.environ.get("SHIFTLANE_E2E_IMAGE_V1", "registry.k8s.io/pause:3.9")
IMAGE_V2 = os.environ.get("SHIFTLANE_E2E_IMAGE_V2", "registry.k8s.io/pause:3.10")
NEVER_READY_IMAGE = "example.invalid/never-ready:1"

T = TypeVar("T")


class KubectlError(AssertionError):
    pass


def kubectl(*args: str, stdin: str | None = None, check: bool = True, kubeconfig: str | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if kubeconfig:
        env["KUBECONFIG"] = kubeconfig
    result = subprocess.run(["kubectl", *args], input=stdin, capture_output=True, text=True, timeout=timeout, env=env)
    if check and result.returncode != 0:
        raise KubectlError(f"kubectl {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
    return result


def kubectl_json(*args: str) -> Any:
    return json.loads(kubectl(*args, "-o", "json").stdout)


def wait_for(predicate: Callable[[], T], timeout: float = 30, message: str | Callable[[], str] = "condition") -> T:
    """Poll `predicate` every 0.2 s until it returns something truthy; return that value."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except (KubectlError, KeyError, IndexError, TypeError) as error:
            last_error = error
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            extra = f" (last error: {last_error})" if last_error else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {text}{extra}")
        time.sleep(POLL)


# --- manifests --------------------------------------------------------------------------------


def rollout_manifest(name: str, strategy: dict[str, Any], replicas: int = 4, image: str = IMAGE_V1,
                     **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "shiftlane.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {"name": "app", "image": image, "ports": [{"name": "http", "containerPort": 8080}]}
                    ]
                },
            },
            "strategy": strategy,
            **spec,
        },
    }


# --- a namespace and what is in it ------------------------------------------------------------


class Namespace:
    """One test's namespace, with the reads and writes the tests make."""

    def __init__(self, name: str):
        self.name = name

    def kubectl(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return kubectl("-n", self.name, *args, **kwargs)

    def json(self, *args: str) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    # rollouts

    def apply(self, manifest: dict[str, Any]) -> dict[str, Any]:
        out = self.kubectl("apply", "-o", "json", "-f", "-", stdin=json.dumps(manifest))
        return json.loads(out.stdout)

    def rollout(self, name: str) -> dict[str, Any]:
        return self.json("get", GROUP_RESOURCE, name)

    def status(self, name: str) -> dict[str, Any]:
        return self.rollout(name).get("status") or {}

    def set_image(self, name: str, image: str, container: int = 0) -> None:
        patch = [{"op": "replace", "path": f"/spec/template/spec/containers/{container}/image", "value": image}]
        self.kubectl("patch", GROUP_RESOURCE, name, "--type=json", "-p", json.dumps(patch))

    def json_patch(self, name: str, ops: list[dict[str, Any]]) -> None:
        self.kubectl("patch", GROUP_RESOURCE, name, "--type=json", "-p", json.dumps(ops))

    def plugin(self, action: str, name: str, *extra: str) -> str:
        result = subprocess.run(
            [str(BIN / "kubectl-shiftlane"), action, name, "-n", self.name, *extra],
            capture_output=True, text=True, timeout=60,
        )
        assert result.returncode == 0, f"kubectl shiftlane {action} {name} failed: {result.stderr}"
        return result.stdout

    # owned objects

    def deployments(self, name: str) -> dict[str, dict[str, Any]]:
        """Revision -> {name, replicas (spec), status_replicas, ready, available} for a Rollout's revision
        Deployments (a Deployment it adopted carries its label but no revision)."""
        items = self.json("get", "deployments", "-l", f"{ROLLOUT_LABEL}={name},{REVISION_LABEL}")["items"]
        return {d["metadata"]["labels"][REVISION_LABEL]: deployment_state(d) for d in items}

    def replicas(self, name: str) -> dict[str, int]:
        return {rev: d["replicas"] for rev, d in self.deployments(name).items()}

    def services(self, name: str) -> dict[str, dict[str, Any]]:
        items = self.json("get", "services", "-l", f"{ROLLOUT_LABEL}={name}")["items"]
        return {s["metadata"]["name"]: s for s in items}

    def selector(self, service: str) -> dict[str, str]:
        return self.json("get", "service", service)["spec"].get("selector") or {}

    def events(self, name: str, reason: str | None = None) -> list[dict[str, Any]]:
        selector = f"involvedObject.name={name},involvedObject.kind=Rollout"
        if reason:
            selector += f",reason={reason}"
        return self.json("get", "events", "--field-selector", selector)["items"]

    # waits

    def wait_status(self, name: str, predicate: Callable[[dict[str, Any]], bool], timeout: float = 30,
                    what: str = "status") -> dict[str, Any]:
        """Wait until the status the operator wrote for the current generation satisfies `predicate`."""
        seen: dict[str, Any] = {}

        def check() -> dict[str, Any] | None:
            obj = self.rollout(name)
            status = obj.get("status") or {}
            seen["status"] = status
            if status.get("observedGeneration") != obj["metadata"].get("generation"):
                return None
            return status if predicate(status) else None

        return wait_for(check, timeout, lambda: f"{self.name}/{name} {what}; last status: {_brief(seen.get('status'))}")

    def wait_phase(self, name: str, phase: str, timeout: float = 30, **fields: Any) -> dict[str, Any]:
        def ok(status: dict[str, Any]) -> bool:
            return status.get("phase") == phase and all(status.get(k) == v for k, v in fields.items())

        extra = "".join(f", {k}={v}" for k, v in fields.items())
        return self.wait_status(name, ok, timeout, f"phase {phase}{extra}")

    def wait_new_revision(self, name: str, *old: str, timeout: float = 30) -> str:
        """The revision Deployment created for the new template (any revision other than those in `old`)."""
        return wait_for(
            lambda: next((rev for rev in self.deployments(name) if rev not in old), None),
            timeout, f"a new revision Deployment of {self.name}/{name}",
        )

    def wait_replicas(self, name: str, expected: dict[str, int], timeout: float = 30, ready: bool = True) -> dict:
        """Wait until the named revisions have these spec.replicas (and, with `ready`, as many ready pods)."""
        seen: dict[str, Any] = {}

        def check() -> bool:
            deps = self.deployments(name)
            seen["deps"] = deps
            for rev, count in expected.items():
                d = deps.get(rev)
                current = d["replicas"] if d else 0
                if current != count or (ready and d is not None and d["ready"] != count):
                    return False
            return True

        wait_for(check, timeout, lambda: f"{self.name}/{name} replicas {expected}; last: {seen.get('deps')}")
        return seen["deps"]


def deployment_state(d: dict[str, Any]) -> dict[str, Any]:
    status = d.get("status") or {}
    return {
        "name": d["metadata"]["name"],
        "replicas": (d.get("spec") or {}).get("replicas", 0),
        "status_replicas": status.get("replicas", 0),
        "ready": status.get("readyReplicas", 0),
        "available": status.get("availableReplicas", 0),
    }


def condition(status: dict[str, Any], type_: str) -> dict[str, Any]:
    return next((c for c in status.get("conditions") or [] if c["type"] == type_), {})


def _brief(status: dict[str, Any] | None) -> str:
    if not status:
        return "{}"
    keys = ("observedGeneration", "phase", "message", "stableRevision", "canaryRevision", "currentStepIndex",
            "canaryWeight", "stableWeight")
    return json.dumps({k: status.get(k) for k in keys if k in status})


# --- watching Deployments ---------------------------------------------------------------------


class ListWatch:
    """Every change to a Rollout's objects of one kind, in the API server's order (one watch on the
    collection). `states()` replays the events into successive snapshots key -> value, so a test can
    check an ordering that polling could miss."""

    resource = ""

    def __init__(self, namespace: str, rollout: str | None):
        """Objects of `rollout` (by its label), or every object of the kind in the namespace (None)."""
        self.events: list[tuple[str, str, Any]] = []  # type, key, value
        selector = ["-l", f"{ROLLOUT_LABEL}={rollout}"] if rollout else []
        self._proc = subprocess.Popen(
            ["kubectl", "-n", namespace, "get", self.resource, *selector,
             "--watch", "--output-watch-events", "-o", "json"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def entry(self, obj: dict[str, Any]) -> tuple[str, Any] | None:
        """The key and value an object contributes to a snapshot, or None to skip it."""
        raise NotImplementedError

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for event in iter_json_objects(self._proc.stdout):
            entry = self.entry(event.get("object") or {})
            if entry is not None:
                self.events.append((event.get("type", ""), *entry))

    def changes(self) -> list[tuple[str, str, Any]]:
        """(type, key, value) of each change, in order."""
        return list(self.events)

    def states(self) -> list[dict[str, Any]]:
        current: dict[str, Any] = {}
        out = []
        for kind, key, value in self.changes():
            if kind == "DELETED":
                current.pop(key, None)
            else:
                current[key] = value
            out.append(dict(current))
        return out

    def wait_started(self, timeout: float = 10) -> None:
        wait_for(lambda: self.events, timeout, f"the {self.resource} watch to deliver the initial list")

    def stop(self) -> None:
        self._proc.terminate()
        try:
            self._proc.wait(5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
        self._thread.join(5)

    def __enter__(self) -> ListWatch:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def _version(obj: dict[str, Any]) -> int:
    return int((obj.get("metadata") or {}).get("resourceVersion") or 0)


class ReplicaSetWatch(ListWatch):
    """ReplicaSet -> (resourceVersion, revision, its pod counts) after each change of the Rollout's ReplicaSets."""

    resource = "replicasets"

    def entry(self, obj: dict[str, Any]) -> tuple[str, Any] | None:
        meta, status = obj.get("metadata") or {}, obj.get("status") or {}
        revision = (meta.get("labels") or {}).get(REVISION_LABEL)
        counts = {"status_replicas": status.get("replicas", 0), "ready": status.get("readyReplicas", 0),
                  "available": status.get("availableReplicas", 0)}
        return (meta["name"], (_version(obj), revision, counts)) if revision else None


class DeploymentWatch(ListWatch):
    """Revision -> deployment_state after each change of the Rollout's Deployments or their ReplicaSets, in
    the API server's commit order (resourceVersion): replicas as each Deployment is told, pod counts summed
    over its ReplicaSets once one is seen. The controller-manager copies those into the Deployment's status
    only later, and the operator may act on them first: judging by the copy would see pods still there."""

    resource = "deployments"

    def __init__(self, namespace: str, rollout: str | None):
        super().__init__(namespace, rollout)
        self.replica_sets = ReplicaSetWatch(namespace, rollout)

    def entry(self, obj: dict[str, Any]) -> tuple[str, Any] | None:
        revision = ((obj.get("metadata") or {}).get("labels") or {}).get(REVISION_LABEL)
        return (revision, (_version(obj), deployment_state(obj))) if revision else None

    def changes(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(type, revision, its state) for each change of either kind, in commit order."""
        merged = sorted([(rv, "Deployment", kind, rev, state) for kind, rev, (rv, state) in list(self.events)]
                        + [(rv, "ReplicaSet", kind, rs, (rev, counts)) for kind, rs, (rv, rev, counts) in list(self.replica_sets.events)],
                        key=lambda change: change[0])
        deployments: dict[str, dict[str, Any]] = {}
        replica_sets: dict[str, tuple[str, dict[str, int]]] = {}
        out = []
        for _, resource, kind, key, value in merged:
            if resource == "Deployment":
                revision = key
                if kind == "DELETED":
                    deployments.pop(revision, None)
                    out.append((kind, revision, {}))
                    continue
                deployments[revision] = value
            else:
                revision = value[0]
                if kind == "DELETED":
                    replica_sets.pop(key, None)
                else:
                    replica_sets[key] = value
            if revision not in deployments:
                continue
            state = dict(deployments[revision])
            owned = [counts for rev, counts in replica_sets.values() if rev == revision]
            if owned:
                state.update({field: sum(c[field] for c in owned) for field in ("status_replicas", "ready", "available")})
            out.append(("MODIFIED" if resource == "ReplicaSet" else kind, revision, state))
        return out

    def values(self, revision: str, key: str = "replicas") -> list[int]:
        """The distinct successive values of one field of one revision."""
        out: list[int] = []
        for kind, rev, state in self.changes():
            if rev == revision and kind != "DELETED" and (not out or out[-1] != state[key]):
                out.append(state[key])
        return out

    def wait_started(self, timeout: float = 10) -> None:
        super().wait_started(timeout)
        self.replica_sets.wait_started(timeout)

    def stop(self) -> None:
        super().stop()
        self.replica_sets.stop()


class PodWatch(ListWatch):
    """Pod -> (revision, terminating) after each change of the Rollout's pods."""

    resource = "pods"

    def entry(self, obj: dict[str, Any]) -> tuple[str, Any] | None:
        meta = obj.get("metadata") or {}
        revision = (meta.get("labels") or {}).get(REVISION_LABEL)
        return (meta["name"], (revision, bool(meta.get("deletionTimestamp")))) if revision else None
