"""What the operator costs before it manages anything: the time and memory of its imports, and the
resident memory of `shiftlane run` once its start-up is done.

    python bench/idle_footprint.py             # imports only, in fresh interpreters: no cluster needed
    python bench/idle_footprint.py --run       # and the operator itself against the cluster in KUBECONFIG

To compare with another commit, put its package first: `PYTHONPATH=/tmp/old/operator python bench/...`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

from step_latency import free_port, rss_mib, wait_quiet

# What `shiftlane run` imports before its first watch, measured in a fresh interpreter.
STARTUP = """
import json, sys, time
started = time.perf_counter()
import shiftlane.cli.main, shiftlane.controller.run, shiftlane.controller.handlers
took = time.perf_counter() - started
rss = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS:"))
print(json.dumps({"ms": took * 1000, "rss_mib": rss / 1024, "modules": len(sys.modules)}))
"""


def imports(runs: int) -> None:
    samples = [json.loads(subprocess.run([sys.executable, "-c", STARTUP], check=True, capture_output=True, text=True).stdout)
               for _ in range(runs)]
    times = [s["ms"] for s in samples]
    print(f"imports ({runs} fresh interpreters): min {min(times):.0f} ms, median {statistics.median(times):.0f} ms; "
          f"RSS {statistics.median(s['rss_mib'] for s in samples):.1f} MiB; {samples[0]['modules']} modules")


def idle_operator() -> None:
    operator = subprocess.Popen(
        [sys.executable, "-m", "shiftlane.cli.main", "run", "--metrics-port", str(free_port()), "--health-port", str(free_port())],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        quiet = wait_quiet(operator.pid)
        print(f"shiftlane run: quiet after {quiet:.1f}s, RSS {rss_mib(operator.pid):.1f} MiB (peak {rss_mib(operator.pid, 'VmHWM'):.1f} MiB)")
    finally:
        operator.terminate()
        operator.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--run", action="store_true", help="also start the operator against KUBECONFIG and read its idle RSS")
    args = parser.parse_args()
    imports(args.runs)
    if args.run:
        idle_operator()


if __name__ == "__main__":
    main()
