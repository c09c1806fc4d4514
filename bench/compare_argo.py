"""Shiftlane and Argo Rollouts side by side: one controller at a time, same cluster, same workload.

    .venv/bin/python bench/compare_argo.py --controller shiftlane|argo --rollouts N --changing K [K2 ...]
        [--replicas R] [--progress-deadline S] [--out FILE]

Needs a cluster in KUBECONFIG (`hack/cluster.sh up`; kwok nodes hold 500 pods each) and, for `argo`,
the controller built by `bench/argo_rollouts.sh`. The workload is the same manifest for both
controllers (only the API group differs): N Rollouts of R replicas (default 2), canary with one
`setWeight: 50` step and then full promotion, no traffic router. One run, in its own namespace
`bench-<controller>`:

1. the N Rollouts are created while no controller runs;
2. the controller starts: start-up = process start until every Rollout is Healthy at its generation;
3. idle: writes seen on the namespace's watches during 15 s with nothing changing;
4. change: K Rollouts get a new image; time until all K are Healthy again, and the step latency.
   Each further K2 ... is a round of its own on Rollouts not changed before, after writes have
   settled again, so one slow start-up (10,000 Rollouts) gives figures for several burst sizes.

Step latency: from the watch event in which the canary's ReplicaSet first reports a ready replica
(the first place any watch shows it; both controllers read readiness there) to the watch event of the
controller's next write (the stable workload's replicas going down), both on one watch per kind,
receive times on this process's clock. A second figure starts at the canary's workload kind
(Shiftlane's revision Deployment, whose status the controller-manager copies from the ReplicaSet a
hop later): Shiftlane may have written before that event, so it can be negative.
CPU seconds (utime+stime) and RSS come from /proc of the controller's process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kubernetes_asyncio import client, config

from step_latency import ROOT, cpu_seconds, free_port, kubectl, rollout, rss_mib

OLD_IMAGE, NEW_IMAGE = "app:1", "app:2"
WATCHED = ("rollouts", "deployments", "replicasets", "services", "events")  # in the bench namespace
# Events these post trail a burst of pod work by many seconds (their recorders are rate-limited), so they
# are counted apart from the controller's writes while idle.
CLUSTER_COMPONENTS = frozenset({"default-scheduler", "deployment-controller", "replicaset-controller"})
ARGO_VERSION = os.environ.get("ARGO_ROLLOUTS_VERSION", "v1.10.2")
CACHE = Path(os.environ.get("SHIFTLANE_CACHE", Path.home() / ".cache" / "shiftlane"))


class BenchFailed(Exception):
    """The run cannot give figures (raised inside the event loop, where SystemExit would hang its shutdown)."""


@dataclass(frozen=True)
class Workload:
    """What the run's Rollouts ask for beyond the shared manifest."""

    replicas: int
    progress_deadline: int | None  # seconds; a 10,000-Rollout start outlasts the default 600 s


@dataclass(frozen=True)
class Controller:
    """What differs between the two controllers; the workload and the measurement do not."""

    name: str
    group: str
    crds: Path
    workload: str  # the kind whose readiness the controller waits for: deployments or replicasets

    def manifest(self, name: str, namespace: str, image: str, workload: Workload) -> dict[str, Any]:
        doc = rollout(name, image)
        doc["apiVersion"] = f"{self.group}/v1alpha1"
        doc["metadata"]["namespace"] = namespace
        doc["spec"]["replicas"] = workload.replicas
        if workload.progress_deadline:  # both controllers read the same field
            doc["spec"]["progressDeadlineSeconds"] = workload.progress_deadline
        return doc

    def healthy(self, obj: dict[str, Any]) -> bool:
        """Healthy at its current generation (Argo writes observedGeneration as a string)."""
        status = obj.get("status") or {}
        return status.get("phase") == "Healthy" and str(status.get("observedGeneration")) == str(obj["metadata"]["generation"])

    def rollout_of(self, workload: dict[str, Any]) -> str | None:
        meta = workload["metadata"]
        if self.name == "shiftlane":
            return (meta.get("labels") or {}).get("shiftlane.io/rollout")
        return next((ref["name"] for ref in meta.get("ownerReferences") or [] if ref["kind"] == "Rollout"), None)

    def command(self, kubeconfig: str) -> list[str]:
        if self.name == "shiftlane":  # as bench/step_latency.py starts it: cluster-wide, default log level
            return [sys.executable, "-m", "shiftlane.cli.main", "run",
                    "--metrics-port", str(free_port()), "--health-port", str(free_port())]
        return [str(argo_dir() / "rollouts-controller"), "--kubeconfig", kubeconfig, "--leader-elect=false",
                "--metricsPort", str(free_port()), "--healthzPort", str(free_port())]


def argo_dir() -> Path:
    return CACHE / "bin" / f"argo-rollouts-{ARGO_VERSION}"


CONTROLLERS = {
    "shiftlane": Controller("shiftlane", "shiftlane.io", ROOT / "crds", "deployments"),
    "argo": Controller("argo", "argoproj.io", argo_dir() / "crds", "replicasets"),
}


@dataclass
class Fleet:
    """What the watches saw, folded as it arrives (no event is kept, so 10,000 Rollouts fit)."""

    controller: Controller
    writes: Counter[str] = field(default_factory=Counter)  # kind -> events seen
    event_sources: Counter[str] = field(default_factory=Counter)  # "component/reason" of the Events written
    healthy_generation: dict[str, int] = field(default_factory=dict)
    healthy_at: dict[str, float] = field(default_factory=dict)
    replicas: dict[tuple[str, str], int] = field(default_factory=dict)  # (kind, workload) -> spec.replicas
    canary_ready: dict[str, float] = field(default_factory=dict)  # on the controller's workload kind
    canary_replicaset_ready: dict[str, float] = field(default_factory=dict)
    stable_down: dict[str, float] = field(default_factory=dict)
    last_write: float = 0.0  # the controller's, or anything but the cluster components' Events

    def seen(self, kind: str, at: float, obj: dict[str, Any]) -> None:
        self.writes[kind] += 1
        if kind == "events":
            component = obj.get("reportingComponent") or (obj.get("source") or {}).get("component")
            self.event_sources[f"{component}/{obj.get('reason')}"] += 1
            if component not in CLUSTER_COMPONENTS:
                self.last_write = at
            return
        self.last_write = at
        if kind == "rollouts":
            name, generation = obj["metadata"]["name"], obj["metadata"]["generation"]
            if self.controller.healthy(obj) and self.healthy_generation.get(name) != generation:
                self.healthy_generation[name], self.healthy_at[name] = generation, at
        elif kind in ("deployments", "replicasets") and (owner := self.controller.rollout_of(obj)):
            self.workload_seen(kind, at, owner, obj)

    def workload_seen(self, kind: str, at: float, owner: str, obj: dict[str, Any]) -> None:
        image = obj["spec"]["template"]["spec"]["containers"][0]["image"]
        ready = (obj.get("status") or {}).get("readyReplicas") or 0
        key = (kind, obj["metadata"]["name"])
        before, self.replicas[key] = self.replicas.get(key), obj["spec"]["replicas"]
        if image == NEW_IMAGE:
            if ready and kind == "replicasets":
                self.canary_replicaset_ready.setdefault(owner, at)
            if ready and kind == self.controller.workload:
                self.canary_ready.setdefault(owner, at)
        elif kind == self.controller.workload and owner in self.canary_replicaset_ready and before is not None and self.replicas[key] < before:
            self.stable_down.setdefault(owner, at)

    async def settle(self, quiet: float, limit: float) -> float:
        """Wait for `quiet` seconds without a write (at most `limit`); how long writes went on from now."""
        start = time.monotonic()
        while time.monotonic() - max(self.last_write, start) < quiet and time.monotonic() - start < limit:
            await asyncio.sleep(0.2)
        return max(self.last_write - start, 0.0)

    def healthy_count(self, generations: dict[str, int]) -> int:
        return sum(1 for name, generation in generations.items() if self.healthy_generation.get(name, 0) >= generation)

    async def wait_healthy(self, generations: dict[str, int], timeout: float, what: str, process: subprocess.Popen[bytes]) -> None:
        start = last_report = time.monotonic()
        while (done := self.healthy_count(generations)) < len(generations):
            now = time.monotonic()
            if process.poll() is not None:
                raise BenchFailed(f"{what}: the controller exited with {process.returncode} (see its log)")
            if now - start > timeout:
                raise BenchFailed(f"{what}: only {done} of {len(generations)} Rollouts Healthy after {timeout:.0f}s")
            if now - last_report >= 30:
                print(f"  {what}: {done}/{len(generations)} Healthy after {now - start:.0f}s", flush=True)
                last_report = now
            await asyncio.sleep(0.2)

    def latencies(self, start: dict[str, float], names: list[str]) -> list[float]:
        return sorted(self.stable_down[name] - start[name] for name in names if name in self.stable_down and name in start)


async def watch_namespace(list_call: Callable[..., Awaitable[Any]], kind: str, fleet: Fleet, ready: asyncio.Event) -> None:
    """One watch, parsed as plain JSON: the client's model classes would cost this process more CPU than
    the controllers it measures."""
    for _ in range(30):  # a CRD just Established can still answer 404 for a moment
        listing = await list_call(_preload_content=False)
        if listing.status == 200:
            break
        await asyncio.sleep(1)
    else:
        raise BenchFailed(f"listing {kind} answered {listing.status}: {await listing.text()}")
    version = json.loads(await listing.read())["metadata"]["resourceVersion"]
    while True:
        response = await list_call(watch=True, resource_version=version, allow_watch_bookmarks=True,
                                   timeout_seconds=3600, _preload_content=False)
        ready.set()
        async for line in response.content:
            event = json.loads(line)
            if event["type"] == "ERROR":
                raise BenchFailed(f"watch of {kind} failed: {event['object'].get('message')}")
            version = event["object"]["metadata"]["resourceVersion"]
            if event["type"] != "BOOKMARK":
                fleet.seen(kind, time.monotonic(), event["object"])


def start_watches(api: client.ApiClient, fleet: Fleet, namespace: str) -> tuple[list[asyncio.Task[None]], list[asyncio.Event]]:
    core, apps, custom = client.CoreV1Api(api), client.AppsV1Api(api), client.CustomObjectsApi(api)

    def rollouts(**kwargs: Any) -> Awaitable[Any]:
        return custom.list_namespaced_custom_object(fleet.controller.group, "v1alpha1", namespace, "rollouts", **kwargs)

    calls: dict[str, Callable[..., Awaitable[Any]]] = {
        "rollouts": rollouts,
        "deployments": lambda **kw: apps.list_namespaced_deployment(namespace, **kw),
        "replicasets": lambda **kw: apps.list_namespaced_replica_set(namespace, **kw),
        "services": lambda **kw: core.list_namespaced_service(namespace, **kw),
        "events": lambda **kw: core.list_namespaced_event(namespace, **kw),
    }
    readies = [asyncio.Event() for _ in calls]
    tasks = [asyncio.create_task(watch_namespace(call, kind, fleet, ready)) for (kind, call), ready in zip(calls.items(), readies)]
    return tasks, readies


async def watching(watches: list[asyncio.Task[None]], readies: list[asyncio.Event]) -> None:
    """Wait until every watch is open; a watch that failed first raises its error here instead of hanging."""
    all_ready = asyncio.ensure_future(asyncio.gather(*(ready.wait() for ready in readies)))
    await asyncio.wait([all_ready, *watches], return_when=asyncio.FIRST_COMPLETED)
    for task in watches:
        if task.done():
            all_ready.cancel()
            task.result()


async def bounded(calls: list[Callable[[], Awaitable[Any]]], concurrency: int) -> list[Any]:
    limit = asyncio.Semaphore(concurrency)

    async def one(call: Callable[[], Awaitable[Any]]) -> Any:
        async with limit:
            return await call()

    return await asyncio.gather(*(one(call) for call in calls))


@dataclass
class ProcessMeter:
    """CPU seconds and RSS of one process, from /proc."""

    pid: int

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)

    def rss_mib(self, key: str = "VmRSS") -> float:
        return rss_mib(self.pid, key)


def percentiles(values: list[float]) -> dict[str, float | int]:
    """n, p50, p99 and max in milliseconds (p99 of few values is the nearest rank)."""
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return {"n": len(ordered), "p50_ms": round(statistics.median(ordered) * 1000, 1),
            "p99_ms": round(p99 * 1000, 1), "max_ms": round(ordered[-1] * 1000, 1)}


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


@dataclass
class Round:
    """One image change of `changing` Rollouts."""

    changing: int
    change_healthy_seconds: float = 0.0
    change_cpu_seconds: float = 0.0
    step_latency: dict[str, float | int] = field(default_factory=dict)
    step_latency_from_replicaset: dict[str, float | int] = field(default_factory=dict)
    load_average_1m: float = 0.0


@dataclass
class Result:
    controller: str
    rollouts: int
    replicas: int
    progress_deadline_seconds: int | None
    create_seconds: float = 0.0
    startup_seconds: float = 0.0
    startup_cpu_seconds: float = 0.0
    startup_rss_peak_mib: float = 0.0
    trailing_write_seconds: float = 0.0
    idle_seconds: float = 0.0
    idle_writes: dict[str, int] = field(default_factory=dict)  # by kind, all writers
    idle_events: dict[str, int] = field(default_factory=dict)  # by component/reason
    idle_controller_writes: int = 0  # the above less the cluster components' Events
    idle_cpu_seconds: float = 0.0
    rounds: list[Round] = field(default_factory=list)
    rss_peak_mib: float = 0.0
    rss_end_mib: float = 0.0
    log_bytes: int = 0
    load_average_1m: dict[str, float] = field(default_factory=dict)


async def measure(options: argparse.Namespace, controller: Controller, namespace: str, result: Result, log: Path) -> None:
    await config.load_kube_config()
    async with client.ApiClient() as api:
        api.configuration.connection_pool_maxsize = options.concurrency + 8
        custom = client.CustomObjectsApi(api)
        fleet = Fleet(controller)
        watches, readies = start_watches(api, fleet, namespace)
        await watching(watches, readies)
        names = [f"r{i:05d}" for i in range(options.rollouts)]
        workload = Workload(options.replicas, options.progress_deadline)
        result.load_average_1m["before"] = load_average()

        start = time.monotonic()
        created = await bounded([lambda n=n: custom.create_namespaced_custom_object(
            controller.group, "v1alpha1", namespace, "rollouts", controller.manifest(n, namespace, OLD_IMAGE, workload))
            for n in names], options.concurrency)
        result.create_seconds = round(time.monotonic() - start, 2)
        print(f"{len(names)} Rollouts created (no controller running) in {result.create_seconds}s", flush=True)

        with open(log, "w") as out:
            start = time.monotonic()
            process = subprocess.Popen(controller.command(os.environ["KUBECONFIG"]), stdout=out, stderr=subprocess.STDOUT)
        meter = ProcessMeter(process.pid)
        try:
            await fleet.wait_healthy({c["metadata"]["name"]: c["metadata"]["generation"] for c in created},
                                     options.timeout or 120 + options.rollouts * 0.5, "start-up", process)
            result.startup_seconds = round(time.monotonic() - start, 2)
            result.startup_cpu_seconds = round(meter.cpu_seconds(), 2)
            result.startup_rss_peak_mib = round(meter.rss_mib("VmHWM"), 1)
            result.load_average_1m["after_startup"] = load_average()
            print(f"controller started, all {len(names)} Healthy: {result.startup_seconds}s, "
                  f"{result.startup_cpu_seconds} CPU s, RSS peak {result.startup_rss_peak_mib} MiB", flush=True)

            # Events recorders drain their queues at their own pace: idle starts once they are done.
            result.trailing_write_seconds = round(await fleet.settle(options.quiet_seconds, 300), 2)
            print(f"writes went on for {result.trailing_write_seconds}s after all were Healthy", flush=True)
            writes, events, cpu = Counter(fleet.writes), Counter(fleet.event_sources), meter.cpu_seconds()
            await asyncio.sleep(options.idle_seconds)
            result.idle_seconds = options.idle_seconds
            result.idle_writes = {kind: fleet.writes[kind] - writes[kind] for kind in WATCHED}
            result.idle_events = dict(fleet.event_sources - events)
            result.idle_controller_writes = sum(result.idle_writes.values()) - sum(
                count for source, count in result.idle_events.items() if source.split("/")[0] in CLUSTER_COMPONENTS)
            result.idle_cpu_seconds = round(meter.cpu_seconds() - cpu, 2)
            print(f"idle {options.idle_seconds:g}s: {result.idle_controller_writes} writes by the controller; all writes "
                  f"{result.idle_writes}, Events {result.idle_events}; {result.idle_cpu_seconds} CPU s", flush=True)

            unchanged = iter(names)
            for number, count in enumerate(options.changing):
                if number:  # the last round's trailing writes (Events, scale-downs) must not overlap this one
                    await fleet.settle(options.quiet_seconds, 300)
                changing = [next(unchanged) for _ in range(count)]
                result.rounds.append(await change(options, controller, namespace, custom, fleet, meter, process, changing))
            result.rss_peak_mib = round(meter.rss_mib("VmHWM"), 1)
            result.rss_end_mib = round(meter.rss_mib(), 1)
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
            result.log_bytes = log.stat().st_size
            for task in watches:
                task.cancel()


async def change(options: argparse.Namespace, controller: Controller, namespace: str, custom: client.CustomObjectsApi,
                 fleet: Fleet, meter: ProcessMeter, process: subprocess.Popen[bytes], changing: list[str]) -> Round:
    """One round: give `changing` the new image and wait until all are Healthy on it."""
    cpu, start = meter.cpu_seconds(), time.monotonic()
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": NEW_IMAGE}]}}}}
    patched = await bounded([lambda n=n: custom.patch_namespaced_custom_object(
        controller.group, "v1alpha1", namespace, "rollouts", n, patch,
        _content_type="application/merge-patch+json") for n in changing], options.concurrency)
    await fleet.wait_healthy({p["metadata"]["name"]: p["metadata"]["generation"] for p in patched},
                             options.timeout or 120 + len(changing) * 2, f"change of {len(changing)}", process)
    done = Round(
        changing=len(changing),
        change_healthy_seconds=round(max(fleet.healthy_at[n] for n in changing) - start, 2),
        change_cpu_seconds=round(meter.cpu_seconds() - cpu, 2),
        step_latency=percentiles(fleet.latencies(fleet.canary_ready, changing)),
        step_latency_from_replicaset=percentiles(fleet.latencies(fleet.canary_replicaset_ready, changing)),
        load_average_1m=load_average(),
    )
    if done.step_latency_from_replicaset["n"] < len(changing):
        print(f"warning: the watch saw the step of only {done.step_latency_from_replicaset['n']} of {len(changing)} Rollouts")
    print(f"image change of {done.changing}: all Healthy on the new image after {done.change_healthy_seconds}s, "
          f"{done.change_cpu_seconds} CPU s", flush=True)
    print(f"  step latency (from the {controller.workload[:-1]}'s ready event): {done.step_latency}")
    print(f"  step latency (from the ReplicaSet's ready event): {done.step_latency_from_replicaset}", flush=True)
    return done


def report(result: Result) -> None:
    print(f"RSS: peak {result.rss_peak_mib} MiB, end {result.rss_end_mib} MiB; log {result.log_bytes / 1024:.0f} KiB")


FIGURES = (  # (label, how to read it from a result): the rows of --table
    ("step latency p50 from the ReplicaSet, ms", lambda r: r["step_latency_from_replicaset"].get("p50_ms")),
    ("step latency p99 from the ReplicaSet, ms", lambda r: r["step_latency_from_replicaset"].get("p99_ms")),
    ("step latency max from the ReplicaSet, ms", lambda r: r["step_latency_from_replicaset"].get("max_ms")),
    ("change: all Healthy after, s", lambda r: r["change_healthy_seconds"]),
    ("change: CPU s", lambda r: r["change_cpu_seconds"]),
    ("start-up: all Healthy after, s", lambda r: r["startup_seconds"]),
    ("start-up: CPU s", lambda r: r["startup_cpu_seconds"]),
    ("RSS peak, MiB", lambda r: r["rss_peak_mib"]),
    ("RSS at the end, MiB", lambda r: r["rss_end_mib"]),
    ("writes while idle", lambda r: r["idle_controller_writes"]),
    ("CPU s while idle", lambda r: r["idle_cpu_seconds"]),
    ("writes went on after all Healthy, s", lambda r: r["trailing_write_seconds"]),
    ("log, KiB", lambda r: round(r["log_bytes"] / 1024, 1)),
)


def table(files: list[Path]) -> str:
    """Markdown: per size and round, Shiftlane's and Argo's figures and the ratio, from --out files."""
    runs = {(r["rollouts"], one["changing"], r["controller"]): {**r, **one}
            for r in (json.loads(f.read_text()) for f in files) for one in r["rounds"]}
    lines = []
    for rollouts, changing in sorted({(n, k) for n, k, _ in runs}):
        ours, theirs = runs.get((rollouts, changing, "shiftlane")), runs.get((rollouts, changing, "argo"))
        if not (ours and theirs):
            continue
        lines += [f"\n{rollouts:,} Rollouts, {changing:,} changing:\n",
                  "| figure | Shiftlane | Argo Rollouts | Shiftlane / Argo |", "| --- | --- | --- | --- |"]
        for label, read in FIGURES:
            a, b = read(ours), read(theirs)
            ratio = f"{a / b:.2f}" if a is not None and b else "–"
            lines.append(f"| {label} | {a:,} | {b:,} | {ratio} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--controller", choices=sorted(CONTROLLERS))
    parser.add_argument("--rollouts", type=int, default=100)
    parser.add_argument("--changing", type=int, nargs="+", default=[20],
                        help="Rollouts changed per round; several values make several rounds")
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--progress-deadline", type=int, help="spec.progressDeadlineSeconds of every Rollout")
    parser.add_argument("--idle-seconds", type=float, default=15)
    parser.add_argument("--quiet-seconds", type=float, default=3,
                        help="idle starts after this long without a write by the controller (at most 300 s)")
    parser.add_argument("--concurrency", type=int, default=32, help="API requests in flight when creating and patching")
    parser.add_argument("--timeout", type=float, default=0, help="seconds to wait for Healthy (default: scaled with the count)")
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    parser.add_argument("--keep", action="store_true", help="leave the namespace in place")
    parser.add_argument("--table", nargs="+", type=Path, metavar="JSON",
                        help="only print Markdown tables of both controllers' --out files, with the ratio")
    options = parser.parse_args()
    if options.table:
        print(table(options.table))
        return
    if not options.controller:
        parser.error("--controller is required")
    if not os.environ.get("KUBECONFIG"):
        raise SystemExit("set KUBECONFIG (hack/cluster.sh up)")
    if min(options.changing) < 1 or sum(options.changing) > options.rollouts:
        raise SystemExit("--changing: each round at least 1, and all rounds together at most --rollouts")
    controller = CONTROLLERS[options.controller]
    if not controller.crds.is_dir():
        raise SystemExit(f"{controller.crds} missing: run bench/argo_rollouts.sh")

    namespace = f"bench-{controller.name}"
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(controller.crds))
    # A watch opened before the API server serves a new CRD fails, and the run would wait for it forever.
    kubectl("wait", "--for=condition=Established", "--timeout=60s", "-f", str(controller.crds))
    kubectl("delete", "namespace", namespace, "--ignore-not-found", "--wait=true", "--timeout=60m")
    kubectl("create", "namespace", namespace)
    result = Result(controller.name, options.rollouts, options.replicas, options.progress_deadline)
    log = (options.out or ROOT / "bench" / "compare").with_suffix(f".{controller.name}.log")
    try:
        asyncio.run(measure(options, controller, namespace, result, log))
        report(result)
        if options.out:
            options.out.write_text(json.dumps(asdict(result), indent=2) + "\n")
    except BenchFailed as error:
        raise SystemExit(f"failed: {error}") from None
    finally:
        if not options.keep:
            start = time.monotonic()
            kubectl("delete", "namespace", namespace, "--wait=true", "--timeout=60m")
            print(f"namespace {namespace} deleted in {time.monotonic() - start:.0f}s")


if __name__ == "__main__":
    main()
