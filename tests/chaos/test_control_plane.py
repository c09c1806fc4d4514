"""The control plane fails under a running operator: etcd restarted, then kube-apiserver stopped for
30 s and started again, mid-rollout. The operator is never restarted: its watches reconnect (the
restarted API server answers a watch from a resourceVersion older than its new cache with 410 Gone,
seen through a pass-through proxy, and the operator lists again), the rollouts in flight resume, and
one paused until promoted takes the promote given afterwards."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from tests.chaos.fleet import KINDS, Member, change_images, deploy, wait_all
from tests.e2e.conftest import Operator
from tests.e2e.helpers import REPO, Namespace, kubectl, rollout_manifest, wait_for
from tests.harness.api_proxy import ApiProxy

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

OUTAGE = float(os.environ.get("SHIFTLANE_CHAOS_OUTAGE", "30"))


def cluster(action: str, component: str) -> None:
    done = subprocess.run(["bash", str(REPO / "hack" / "cluster.sh"), action, component], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"hack/cluster.sh {action} {component}: {done.stderr}"


def api_ready() -> bool:
    return kubectl("get", "--raw", "/readyz", "--request-timeout=3s", check=False).stdout.strip() == "ok"


@pytest.fixture
def restarts_control_plane() -> None:
    if not os.environ.get("SHIFTLANE_CLUSTER_DIR") and not os.path.isdir("/tmp/shiftlane-cluster"):
        pytest.skip("restarting the control plane needs the local one of hack/cluster.sh")


def test_rollouts_resume_after_etcd_restarts_and_the_api_server_is_down_30s(
        restarts_control_plane: None, proxy: ApiProxy, proxied_operator: Operator, chaos_ns: Namespace) -> None:
    kinds = {k.name: k for k in KINDS}
    members = [Member("canary", kinds["canary"]), Member("rolling", kinds["rolling"])]
    held = "held"  # a canary that waits for a promote through both outages
    chaos_ns.apply(rollout_manifest(held, {"canary": {"steps": [{"setWeight": 50}, {"pause": {}}]}}, replicas=2))
    olds = deploy(chaos_ns, members)
    held_old = chaos_ns.wait_phase(held, "Healthy", 60)["stableRevision"]
    pid = proxied_operator.proc.pid

    change_images(chaos_ns, members)
    chaos_ns.set_image(held, "registry.k8s.io/pause:3.10")
    chaos_ns.wait_phase(held, "Paused", 60, currentStepIndex=2)
    cluster("stop", "etcd")
    time.sleep(3)
    cluster("start", "etcd")
    wait_for(api_ready, 60, "the API server to be ready with etcd back")

    cluster("stop", "kube-apiserver")
    down = time.monotonic()
    time.sleep(OUTAGE)
    starting = time.time()
    cluster("start", "kube-apiserver")
    print(f"API server down {time.monotonic() - down:.0f}s (its start took {time.time() - starting:.1f}s)")
    wait_for(api_ready, 60, "the API server to be ready again")

    left = wait_all(chaos_ns, members, olds, 120)
    watching = min((r.at for r in proxy.requests if r.at >= starting and r.method == "GET" and r.status == 200
                    and "/rollouts" in r.path), default=None)
    print("the operator's Rollout watch was answered again " + (f"{watching - starting:.1f}s" if watching else "never")
          + " after the API server was started")
    assert not left, f"rollouts not resumed: {left}\n" + "\n".join(
        f"{name}: spec {chaos_ns.rollout(name)['spec']['template']['spec']['containers'][0]['image']}, {chaos_ns.deployments(name)}"
        for name in left)
    chaos_ns.plugin("promote", held)
    assert chaos_ns.wait_phase(held, "Healthy", 60)["stableRevision"] != held_old
    assert proxied_operator.proc is not None and proxied_operator.proc.pid == pid and proxied_operator.proc.poll() is None, \
        "the operator was restarted or exited"
    assert proxy.expired, "no watch was answered 410 Gone: the test did not show a relist"
