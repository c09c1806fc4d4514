"""The operator SIGKILLed at random moments while a fleet of Rollouts of every strategy changes image
at once; the invariant watcher judges every change on the API server meanwhile.

Run against a cluster in KUBECONFIG (the local control plane: `make cluster`, with enough kwok pod
room for the fleet) with the operator started by this script (admin kubeconfig, cluster-wide):

    python bench/chaos_kills.py --rollouts 50 [--seed N]

It prints the kills, the rollouts and how each ended, requests through the gateway and their
answers, and every invariant violation (the goal is zero). The fleet and its end states are those of
tests/chaos/fleet.py (the CI test runs a bounded fleet of the same kinds).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.chaos.fleet import Killer, change_images, deploy, fleet, wait_all  # noqa: E402
from tests.e2e.conftest import CRD_FILE, Operator  # noqa: E402
from tests.e2e.helpers import Namespace, kubectl  # noqa: E402
from tests.harness.invariants import shared_watcher  # noqa: E402
from tests.harness.traffic import Background, statuses  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rollouts", type=int, default=50)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--killing-for", type=float, default=300, help="seconds of kills at most (they stop once all ended)")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    kubeconfig = os.environ["KUBECONFIG"]

    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRD_FILE))
    watcher = shared_watcher(kubeconfig)
    ns = Namespace(f"chaos-bench-{uuid.uuid4().hex[:5]}")
    kubectl("create", "namespace", ns.name)
    log = Path(tempfile.mkdtemp(prefix="chaos-bench-")) / "operator.log"
    op = Operator(kubeconfig, log)
    op.start()
    try:
        members = fleet(args.rollouts)
        olds = deploy(ns, members, timeout=300)
        mark = watcher.mark()
        hosts = [m.host(ns.name) for m in members if m.kind.routed]
        with Background(hosts, batch=2, interval=0.5) as traffic:
            change_images(ns, members)
            started = time.monotonic()
            with Killer(op.kill, op.start, seed) as killer:
                wait_all(ns, members, olds, args.killing_for)
            killing = time.monotonic() - started
            left = wait_all(ns, members, olds, 180)
            ended = time.monotonic() - started
        for member in members:
            if member.kind.routed:
                watcher.replies(ns.name, member.name, "a rollout under operator kills", traffic.replies[member.host(ns.name)])
        watcher.settle()
        violations = watcher.since(mark)
        replies = [r for rs in traffic.replies.values() for r in rs]
        kinds = Counter(m.kind.name for m in members)
        print(f"seed {seed}")
        print(f"rollouts: {len(members)} ({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))})")
        print(f"kills: {killer.kills} in {killing:.0f}s (all ended {ended:.0f}s after the image change)")
        print(f"ended as they must: {len(members) - len(left)} of {len(members)}")
        for name, problem in left.items():
            print(f"  NOT ENDED {name}: {problem}")
        print(f"requests through the gateway: {len(replies)}, answers {dict(statuses(replies))}")
        print(f"invariant violations: {len(violations)}")
        for violation in violations:
            print(f"  {violation}")
        print(f"operator log: {log}")
        if left or violations or killer.error:
            raise SystemExit(1)
    finally:
        op.stop()
        watcher.forget(ns.name)
        kubectl("delete", "namespace", ns.name, "--wait=false", check=False)
        watcher.stop()


if __name__ == "__main__":
    main()
