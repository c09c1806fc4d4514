"""Session fixtures for the end-to-end suite.

The cluster comes from $KUBECONFIG only (the local control plane of hack/cluster.sh, or kind). The
session installs the CRD and the Helm chart for real, then runs the operator here as a subprocess
with the chart's ServiceAccount token, so the chart's RBAC is what the operator gets.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from moto.server import ThreadedMotoServer

from tests.e2e.helpers import BIN, GROUP_RESOURCE, REPO, Namespace, kubectl, wait_for
from tests.harness.invariants import InvariantWatcher, shared_watcher

CRD_FILE = REPO / "crds" / "rollouts.shiftlane.io.yaml"
CHART = REPO / "charts" / "shiftlane"
RELEASE = "shiftlane"
RELEASE_NAMESPACE = "shiftlane-system"
HELM = Path(os.environ.get("HELM", BIN / "helm"))

SKIP_REASON = "KUBECONFIG is not set: the e2e suite needs a cluster (hack/cluster.sh up, or kind) named by KUBECONFIG"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("KUBECONFIG"):
        return
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.skip(reason=SKIP_REASON))


# --- the operator subprocess --------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Operator:
    """`shiftlane run` as a subprocess with the chart's ServiceAccount token; start/kill/restart."""

    def __init__(self, kubeconfig: str, log_path: Path, namespaces: list[str] | None = None,
                 extra_args: tuple[str, ...] = (), extra_env: dict[str, str] | None = None):
        self.kubeconfig = kubeconfig
        self.log_path = log_path
        self.namespaces = namespaces or []
        self.extra_args = extra_args
        self.extra_env = extra_env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.health_port = 0
        self.metrics_port = 0

    def start(self, timeout: float = 60) -> None:
        assert self.proc is None, "operator already running"
        self.metrics_port, self.health_port = _free_port(), _free_port()
        env = {**os.environ, "KUBECONFIG": self.kubeconfig}
        env["SHIFTLANE_WATCH_NAMESPACES"] = ",".join(self.namespaces)
        env.update(self.extra_env)
        log = open(self.log_path, "ab")
        log.write(f"\n===== operator start {time.strftime('%H:%M:%S')} =====\n".encode())
        log.flush()
        self.proc = subprocess.Popen(
            [str(BIN / "shiftlane"), "run", "--metrics-port", str(self.metrics_port), "--health-port", str(self.health_port),
             *self.extra_args],
            stdout=log, stderr=subprocess.STDOUT, env=env,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while not self.ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"operator exited with {self.proc.returncode}:\n{self.tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"operator /readyz not 200 within {timeout}s:\n{self.tail()}")
            time.sleep(0.2)

    def probe(self, path: str) -> tuple[int, dict]:
        """(HTTP status, JSON body) of a health endpoint; (0, {}) when nothing answers."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}{path}", timeout=2) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")
        except (urllib.error.URLError, ConnectionError, OSError):
            return 0, {}

    def ready(self) -> bool:
        """Started: kopf runs its handlers (leader or single), or a standby reads the Lease."""
        return self.probe("/readyz")[0] == 200

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers run, as when a node dies."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return "(no operator log)"
        return "\n".join(text[-lines:])


# --- session fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def crd() -> None:
    ready = kubectl("get", "--raw", "/readyz", "--request-timeout=10s", check=False)
    assert ready.returncode == 0, f"API server in KUBECONFIG={os.environ.get('KUBECONFIG')} is not ready: {ready.stderr}"
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRD_FILE.parent))
    kubectl("wait", "--for=condition=Established", f"crd/{GROUP_RESOURCE}", "crd/analysistemplates.shiftlane.io",
            "crd/clusteranalysistemplates.shiftlane.io", "--timeout=60s")
    # Established can precede discovery by a moment.
    wait_for(lambda: kubectl("get", GROUP_RESOURCE, "-A", "-o", "name", check=False).returncode == 0,
             30, "rollouts.shiftlane.io to be served")


def helm(*args: str, check: bool = True, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    if not HELM.exists():
        pytest.fail(f"helm not found at {HELM}: run `bash hack/install-helm.sh .venv/bin` (or set HELM)")
    result = subprocess.run([str(HELM), *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed: {result.stderr}")
    return result


def release_status() -> dict | None:
    result = helm("status", RELEASE, "-n", RELEASE_NAMESPACE, "-o", "json", check=False)
    return json.loads(result.stdout) if result.returncode == 0 else None


@pytest.fixture(scope="session")
def release(crd: None) -> Iterator[str]:
    """The chart installed for real; yields the operator's ServiceAccount name.

    A release that was there before (say, from hack/kind.sh) is rolled back to its own revision at
    the end rather than uninstalled.
    """
    before = release_status()
    # crds.install=false: the `crd` fixture owns the CRD (applied with kubectl), which a release could not
    # take over (test_chart_lifecycle.py shows the chart's own CRD handling).
    helm("upgrade", "--install", RELEASE, str(CHART), "-n", RELEASE_NAMESPACE, "--create-namespace",
         "--set", "crds.install=false", "--set", "replicaCount=0", "--wait", "--timeout", "120s")
    status = release_status()
    assert status is not None and status["info"]["status"] == "deployed", f"release not deployed: {status}"
    yield chart_service_account(RELEASE, RELEASE_NAMESPACE)
    if os.environ.get("SHIFTLANE_E2E_KEEP"):
        return
    if before is None:
        helm("uninstall", RELEASE, "-n", RELEASE_NAMESPACE, "--wait", "--timeout", "60s", check=False)
    else:
        helm("rollback", RELEASE, str(before["version"]), "-n", RELEASE_NAMESPACE, check=False)


def chart_service_account(release: str, namespace: str) -> str:
    sa = kubectl("get", "deployments", "-n", namespace, "-l", f"app.kubernetes.io/instance={release}",
                 "-o", "jsonpath={.items[0].spec.template.spec.serviceAccountName}").stdout.strip()
    assert sa, "the chart's Deployment names no ServiceAccount"
    kubectl("get", "serviceaccount", sa, "-n", namespace)
    return sa


@pytest.fixture(scope="session")
def token_kubeconfig(release: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    return write_token_kubeconfig(release, RELEASE_NAMESPACE, tmp_path_factory.mktemp("operator") / "kubeconfig")


def write_token_kubeconfig(service_account: str, namespace: str, path: Path) -> str:
    """A kubeconfig for a ServiceAccount: same server and CA as $KUBECONFIG, a bound token."""
    token = kubectl("create", "token", service_account, "-n", namespace, "--duration=2h").stdout.strip()
    admin = yaml.safe_load(kubectl("config", "view", "--raw", "--minify", "-o", "yaml").stdout)
    cluster = dict(admin["clusters"][0]["cluster"])
    if "certificate-authority" in cluster:  # inline a CA file so the kubeconfig stands alone
        cluster["certificate-authority-data"] = base64.b64encode(Path(cluster.pop("certificate-authority")).read_bytes()).decode()
    user = f"system:serviceaccount:{namespace}:{service_account}"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "e2e", "cluster": cluster}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": "e2e", "context": {"cluster": "e2e", "user": user}}],
        "current-context": "e2e",
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return str(path)


@pytest.fixture(scope="session")
def ecr_endpoint() -> Iterator[str]:
    """AWS is out of reach: ECR is moto in server mode on loopback, which the operator's boto3 is pointed at."""
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


ECR_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "eu-west-1"}


@pytest.fixture(scope="session")
def operator(token_kubeconfig: str, ecr_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Operator]:
    log_dir = Path(os.environ.get("SHIFTLANE_E2E_LOG_DIR") or tmp_path_factory.mktemp("operator-log"))
    env = {"AWS_ENDPOINT_URL": ecr_endpoint, **ECR_CREDENTIALS}
    op = Operator(token_kubeconfig, log_dir / "operator.log", extra_env=env)
    _OPERATORS.append(op)
    op.start()
    yield op
    op.stop()


_OPERATORS: list[Operator] = []


@pytest.fixture(scope="session")
def invariants(crd: None) -> InvariantWatcher:
    """The invariant watcher (tests/harness/invariants.py), following the whole cluster."""
    return shared_watcher(os.environ["KUBECONFIG"])


@pytest.fixture(autouse=True)
def invariants_kept(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test also checks the safety rules: one broken while it ran fails it, naming the rule."""
    if not os.environ.get("KUBECONFIG"):
        yield
        return
    watcher: InvariantWatcher = request.getfixturevalue("invariants")
    mark = watcher.mark()
    yield
    watcher.settle()
    broken = watcher.since(mark)
    if broken:
        pytest.fail("safety invariants broken while the test ran:\n" + "\n".join(map(str, broken)), pytrace=False)


@contextmanager
def namespace_for_test(prefix: str, invariants: InvariantWatcher, request: pytest.FixtureRequest) -> Iterator[Namespace]:
    """A namespace named after the test, deleted (without waiting) once the watcher has judged it."""
    base = request.node.name.replace("_", "-").replace("[", "-").replace("]", "").lower()[:40].strip("-")
    name = f"{prefix}-{base}-{uuid.uuid4().hex[:5]}"
    kubectl("create", "namespace", name)
    try:
        yield Namespace(name)
    finally:
        invariants.settle()
        invariants.forget(name)  # what deleting the namespace does to its objects is nobody's violation
        kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def ns(operator: Operator, invariants: InvariantWatcher, request: pytest.FixtureRequest) -> Iterator[Namespace]:
    """A fresh namespace per test (the operator is running and watching it)."""
    log_start = operator.log_path.stat().st_size if operator.log_path.exists() else 0
    with namespace_for_test("e2e", invariants, request) as namespace:
        yield namespace
    # The chart's RBAC must cover every call the operator made during the test. (Writes into a
    # namespace being deleted by an earlier test's teardown are refused with 403 too: not RBAC.)
    with open(operator.log_path, "rb") as log:
        log.seek(log_start)
        text = log.read().decode(errors="replace")
    refused = [line for line in text.splitlines() if '"code":403' in line and "NamespaceTerminating" not in line]
    assert not refused, "the operator was refused by RBAC:\n" + "\n".join(refused[:5])


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    outcome = yield
    report = outcome.get_result()
    if report.failed and _OPERATORS:
        op = _OPERATORS[-1]
        report.sections.append(("operator log (tail)", f"{op.log_path}\n{op.tail(80)}"))
