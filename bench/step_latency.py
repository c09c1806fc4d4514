"""How long after a step's condition holds does the operator write the next step's objects?

Run against a cluster in KUBECONFIG (e.g. `make cluster`) with the operator started by this script:

    python bench/step_latency.py --rollouts 200

Each Rollout is a canary with `setWeight: 50` and two replicas. After an image change, the step
"scale canary to 1" holds the moment the canary's ReplicaSet reports one ready replica (its
Deployment's status says so later, when the controller-manager has copied it over); the next
step's write is the stable Deployment's replicas going down. Watches of the ReplicaSets and the
Deployments see these events, so the gap between them (receive times on the same clock) is the
operator's added latency plus one watch delivery. It is printed from both ready events: the
Deployment's figure includes the controller-manager's hop, or goes below zero when the operator
acts on the ReplicaSet first. It also counts writes while idle and the operator's resident memory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from kubernetes_asyncio import client, config, watch

ROOT = Path(__file__).resolve().parents[1]
NS = "bench"


def kubectl(*args: str, stdin: str | None = None) -> str:
    done = subprocess.run(["kubectl", *args], input=stdin, text=True, capture_output=True)
    if done.returncode:
        raise SystemExit(f"kubectl {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def rollout(name: str, image: str) -> dict:
    return {
        "apiVersion": "shiftlane.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "app", "image": image}]}},
            "strategy": {"canary": {"steps": [{"setWeight": 50}]}},
        },
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy_count() -> int:
    """Rollouts Healthy at their current generation (so a change not yet seen is not counted)."""
    out = kubectl("get", "rollouts.shiftlane.io", "-n", NS, "-o",
                  "jsonpath={range .items[*]}{.metadata.generation}={.status.observedGeneration}={.status.phase} {end}")
    return sum(1 for item in out.split() if (parts := item.split("=")) and parts[0] == parts[1] and parts[2] == "Healthy")


def wait_healthy(count: int, timeout: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if healthy_count() == count:
            return time.monotonic() - start
        time.sleep(1)
    raise SystemExit(f"not all {count} Rollouts became Healthy in {timeout}s: {healthy_count()} did")


async def record(events: list[tuple[float, str, dict]], stop: asyncio.Event) -> None:
    """(receive time, kind, object) of every Deployment and ReplicaSet event of the Rollouts."""
    await config.load_kube_config()
    async with client.ApiClient() as api:
        apps = client.AppsV1Api(api)

        async def one(kind: str, call) -> None:
            async with watch.Watch().stream(call, NS, label_selector="shiftlane.io/rollout", timeout_seconds=3600) as stream:
                async for event in stream:
                    events.append((time.monotonic(), kind, event["object"].to_dict()))
                    if stop.is_set():
                        break

        await asyncio.gather(one("Deployment", apps.list_namespaced_deployment), one("ReplicaSet", apps.list_namespaced_replica_set))


def latencies(events: list[tuple[float, str, dict]], new_image: str, ready_kind: str) -> list[float]:
    """Per Rollout: canary first ready on its `ready_kind` -> stable Deployment scaled down."""
    ready_at: dict[str, float] = {}
    scaled_at: dict[str, float] = {}
    stable_replicas: dict[str, int] = {}
    for t, kind, obj in events:
        rollout_name = obj["metadata"]["labels"]["shiftlane.io/rollout"]
        image = obj["spec"]["template"]["spec"]["containers"][0]["image"]
        ready = (obj.get("status") or {}).get("ready_replicas") or 0
        if image == new_image:
            if kind == ready_kind and ready >= 1:
                ready_at.setdefault(rollout_name, t)
        elif kind == "Deployment":
            replicas = obj["spec"]["replicas"]
            # By Deployment: a Rollout changed before (--reuse) keeps old revisions scaled to zero.
            before = stable_replicas.get(obj["metadata"]["name"], replicas)
            stable_replicas[obj["metadata"]["name"]] = replicas
            if replicas < before and before == 2:
                scaled_at.setdefault(rollout_name, t)
    return [scaled_at[name] - t for name, t in ready_at.items() if name in scaled_at]


def cpu_seconds(pid: int) -> float:
    """The process's user + system CPU time so far (/proc/PID/stat fields 14 and 15, in clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_quiet(pid: int, timeout: float = 600) -> float:
    """Seconds until the process spends under 5 % of a core over 2 s: its start-up work is done."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        before = cpu_seconds(pid)
        time.sleep(2)
        if cpu_seconds(pid) - before < 0.1:
            return time.monotonic() - start - 2
    raise SystemExit(f"the operator was still busy after {timeout}s")


def rss_mib(pid: int, key: str = "VmRSS") -> float:
    """Resident memory now (VmRSS) or at its peak (VmHWM), from /proc/PID/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rollouts", type=int, default=100)
    parser.add_argument("--changing", type=int, default=0,
                        help="change the image of only this many Rollouts (default: all at once)")
    parser.add_argument("--idle-seconds", type=float, default=15)
    parser.add_argument("--reuse", action="store_true",
                        help="keep the Rollouts afterwards, and use them when that many are Healthy already (the "
                             "operator then starts on them: its time to quiet is printed instead)")
    parser.add_argument("--profile", metavar="FILE",
                        help="record the operator with py-spy (a dev tool: pip install py-spy) during the change: a "
                             "flame graph when the name ends in .svg, else collapsed stacks")
    args = parser.parse_args()
    if not os.environ.get("KUBECONFIG"):
        raise SystemExit("set KUBECONFIG (make cluster)")

    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(ROOT / "crds"))
    reuse = args.reuse and healthy_count() == args.rollouts
    if not reuse:
        kubectl("delete", "namespace", NS, "--ignore-not-found", "--wait=true")
        kubectl("create", "namespace", NS)
    log = open(ROOT / "bench" / "operator.log", "w")
    operator = subprocess.Popen(
        [sys.executable, "-m", "shiftlane.cli.main", "run", "--metrics-port", str(free_port()), "--health-port", str(free_port())],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        names = [f"r{i:04d}" for i in range(args.rollouts)]
        started = time.monotonic()
        if reuse:
            print(f"{args.rollouts} Rollouts already Healthy: operator started and quiet in {wait_quiet(operator.pid):.1f}s, "
                  f"CPU {cpu_seconds(operator.pid):.1f}s, RSS {rss_mib(operator.pid):.0f} MiB")
        else:
            docs = json.dumps({"apiVersion": "v1", "kind": "List", "items": [rollout(n, "app:1") for n in names]})
            kubectl("apply", "-f", "-", stdin=docs)
            wait_healthy(args.rollouts, timeout=60 + args.rollouts)
            print(f"{args.rollouts} Rollouts applied, first deployed and Healthy in {time.monotonic() - started:.1f}s; "
                  f"operator CPU so far {cpu_seconds(operator.pid):.1f}s")

        events: list[tuple[float, str, dict]] = []
        stop = asyncio.Event()
        recorder = asyncio.create_task(record(events, stop))
        await asyncio.sleep(2)
        profiler = None
        if args.profile:
            profiler = subprocess.Popen(["py-spy", "record", "--nonblocking", "-r", "200", "-o", args.profile,
                                         "--format", "flamegraph" if args.profile.endswith(".svg") else "raw",
                                         "-p", str(operator.pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            await asyncio.sleep(1)
        cpu_before = cpu_seconds(operator.pid)
        started = time.monotonic()
        # In a thread: a blocked event loop would stall the watch (and the API server drops slow watchers).
        changing = names[: args.changing or len(names)]
        new_image = f"app:{int(time.time())}"  # unlike any earlier run's, when --reuse keeps the Rollouts
        changed = json.dumps({"apiVersion": "v1", "kind": "List", "items": [rollout(n, new_image) for n in changing]})
        await asyncio.to_thread(kubectl, "apply", "-f", "-", stdin=changed)
        await asyncio.to_thread(wait_healthy, args.rollouts, 60 + 2 * args.rollouts)
        # The clock starts before `kubectl apply` and stops at the poll that finds all Healthy (1 s apart).
        print(f"image change of {len(changing)} applied and all Healthy again: {time.monotonic() - started:.1f}s, "
              f"operator CPU {cpu_seconds(operator.pid) - cpu_before:.2f}s")
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)
            profiler.wait(timeout=60)

        idle_from = len(events)
        await asyncio.sleep(args.idle_seconds)
        idle_writes = sum(1 for _, kind, _ in events[idle_from:] if kind == "Deployment")
        stop.set()
        recorder.cancel()

        for ready_kind in ("ReplicaSet", "Deployment"):
            gaps = sorted(latencies(events, new_image, ready_kind))
            if len(gaps) < len(changing):
                print(f"warning: the watches saw the step change of only {len(gaps)} of {len(changing)} Rollouts")
            if gaps:
                p99 = gaps[min(len(gaps) - 1, int(len(gaps) * 0.99))]
                print(f"step condition held (canary {ready_kind} ready) -> next step written: n={len(gaps)} "
                      f"p50={statistics.median(gaps)*1000:.0f}ms p99={p99*1000:.0f}ms max={gaps[-1]*1000:.0f}ms")
        print(f"Deployment writes seen while idle for {args.idle_seconds:g}s: {idle_writes}")
        print(f"operator RSS: {rss_mib(operator.pid):.0f} MiB")
    finally:
        operator.terminate()
        operator.wait(timeout=10)
        if not args.reuse:
            kubectl("delete", "namespace", NS, "--wait=false")


if __name__ == "__main__":
    asyncio.run(main())
