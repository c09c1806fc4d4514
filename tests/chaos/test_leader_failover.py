"""Two operator replicas with leader election, each reaching the API server through a recording proxy
of its own: the leader killed mid-rollout, the standby takes the Lease within the Lease duration and
finishes the rollout; the new leader frozen (SIGSTOP) past the Lease and thawed, it leaves without
one more write while the other acts. Writes to the Lease itself are the election, not acting."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.chaos.conftest import operator_for
from tests.e2e.conftest import RELEASE_NAMESPACE, Operator
from tests.e2e.helpers import IMAGE_V2, Namespace, kubectl, kubectl_json, rollout_manifest, wait_for
from tests.harness.api_proxy import ApiProxy, Request

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

LEASE_SECONDS, RETRY_SECONDS = 15, 2  # controller/leader.py's defaults


def holder() -> str | None:
    lease = kubectl("get", "lease", "shiftlane-leader", "-n", RELEASE_NAMESPACE, "-o", "json", check=False)
    return kubectl_json("get", "lease", "shiftlane-leader", "-n", RELEASE_NAMESPACE)["spec"].get("holderIdentity") \
        if lease.returncode == 0 else None


def acting(proxy: ApiProxy, since: float = 0.0) -> list[Request]:
    """Writes other than to the Lease: the operator acting."""
    return [r for r in proxy.writes(since) if "/leases/" not in r.path]


def test_the_standby_takes_over_in_the_lease_duration_and_two_replicas_never_both_write(
        solo: None, token_kubeconfig: str, chaos_ns: Namespace, tmp_path: Path) -> None:
    kubectl("delete", "lease", "shiftlane-leader", "-n", RELEASE_NAMESPACE, "--ignore-not-found")
    proxies = {n: ApiProxy(token_kubeconfig).start() for n in ("a", "b")}
    replicas: dict[str, Operator] = {
        n: operator_for(proxy.kubeconfig(tmp_path / f"{n}.kubeconfig"), tmp_path / f"{n}.log", "--leader-elect",
                        POD_NAMESPACE=RELEASE_NAMESPACE, POD_NAME=f"chaos-{n}")
        for n, proxy in proxies.items()
    }
    try:
        replicas["a"].start()
        wait_for(lambda: holder() == "chaos-a", 20, "replica a to hold the Lease")
        replicas["b"].start()  # a standby: /healthz answers, kopf waits
        name = "elected"
        chaos_ns.apply(rollout_manifest(name, {"canary": {"steps": [{"setWeight": 50}, {"pause": {"duration": "20s"}}]}}, replicas=2))
        old = chaos_ns.wait_phase(name, "Healthy", 60)["stableRevision"]
        chaos_ns.set_image(name, IMAGE_V2)
        chaos_ns.wait_phase(name, "Paused", 60)
        assert acting(proxies["a"]) and not acting(proxies["b"])

        killed = time.time()
        replicas["a"].kill()
        wait_for(lambda: holder() == "chaos-b", LEASE_SECONDS + RETRY_SECONDS + 10, "replica b to take the Lease")
        took = time.time() - killed
        status = chaos_ns.wait_phase(name, "Healthy", 90)
        assert status["stableRevision"] != old
        first_b = min(r.at for r in acting(proxies["b"]))
        print(f"takeover: Lease held by b {took:.1f}s after a was killed; b's first write {first_b - killed:.1f}s after")
        assert took <= LEASE_SECONDS + RETRY_SECONDS + 1, f"b took the Lease {took:.1f}s after the kill"
        assert max(r.at for r in acting(proxies["a"])) < killed <= first_b

        # a again, as a standby; then b frozen past the Lease: a takes over; b thawed must not act.
        replicas["a"].start()
        replicas["b"].proc.send_signal(signal.SIGSTOP)
        frozen = time.time()
        wait_for(lambda: holder() == "chaos-a", LEASE_SECONDS + RETRY_SECONDS + 10, "replica a to take the Lease back")
        chaos_ns.set_image(name, IMAGE_V2 + "-again")
        wait_for(lambda: acting(proxies["a"], frozen), 30, "replica a to act")
        thawed = time.time()
        replicas["b"].proc.send_signal(signal.SIGCONT)
        wait_for(lambda: replicas["b"].proc.poll() is not None, 20, "the thawed replica b to leave")
        late = acting(proxies["b"], frozen)
        assert not late, f"replica b wrote after it lost the Lease: {late[:5]}"
        assert replicas["a"].proc.poll() is None
        chaos_ns.wait_phase(name, "Paused", 60)
        print(f"b frozen {thawed - frozen:.0f}s, left {time.time() - thawed:.1f}s after it was thawed, with no write")
    finally:
        for replica in replicas.values():
            if replica.proc is not None and replica.proc.poll() is None:
                replica.proc.send_signal(signal.SIGCONT)
                replica.stop()
        for proxy in proxies.values():
            proxy.stop()
        kubectl("delete", "lease", "shiftlane-leader", "-n", RELEASE_NAMESPACE, "--ignore-not-found")
