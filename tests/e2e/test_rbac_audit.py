"""The chart grants exactly what the operator uses, read from the API server's audit log.

The local control plane (hack/cluster.sh) writes an audit log of every request a ServiceAccount makes.
A release of the chart of its own (so its ServiceAccount is this test's alone) runs an operator that
drives a rollout through each traffic router and an ECR-checked rollout with pruning; the requests it
made are then compared with the chart's rules, both ways: nothing was refused or made without a rule,
and no rule went unused. Turning routers off in the values removes their rules, and the operator then
makes no request on their objects at all.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from tests.e2e.conftest import CHART, ECR_CREDENTIALS, Operator, chart_service_account, helm, write_token_kubeconfig
from tests.e2e.helpers import IMAGE_V2, Namespace, kubectl, rollout_manifest, wait_for
from tests.e2e.test_images import HOST, push
from tests.e2e.test_traffic_objects import NAME, ROUTERS

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

RELEASE = "shiftlane-audit"
RELEASE_NAMESPACE = "shiftlane-audit"
# Checked by the OwnerReferencesPermissionEnforcement admission plugin when an object the operator
# creates names its Rollout as owner with blockOwnerDeletion; never a request of its own.
ADMISSION_ONLY = {("shiftlane.io", "rollouts/finalizers", "update")}


@dataclass(frozen=True)
class Call:
    group: str
    resource: str  # with its subresource: rollouts/status
    verb: str
    namespace: str  # "" for a cluster-wide list or watch
    code: int


def audit_log() -> Path:
    path = Path(os.environ["KUBECONFIG"]).parent / "audit" / "audit.log"
    if not path.exists():
        pytest.skip(f"no audit log at {path}: this test needs hack/cluster.sh's control plane")
    return path


def calls(path: Path, since: int, user: str) -> list[Call]:
    """The resource requests `user` made after byte offset `since` (discovery requests have no object)."""
    found = []
    with open(path, "rb") as log:
        log.seek(since)
        for line in log:
            event = json.loads(line)
            ref = event.get("objectRef")
            if event["user"]["username"] != user or not ref:
                continue
            resource = ref["resource"] + (f"/{ref['subresource']}" if ref.get("subresource") else "")
            code = event["responseStatus"]["code"]
            found.append(Call(ref.get("apiGroup", ""), resource, event["verb"], ref.get("namespace", ""), code))
            if event["verb"] == "patch" and code == 201:
                # A server-side apply that created the object: the API server checked create as well.
                found.append(Call(ref.get("apiGroup", ""), resource, "create", ref.get("namespace", ""), code))
    return found


def rules(manifest: list[dict[str, Any]], kind: str) -> dict[str, set[tuple[str, str, str]]]:
    """(namespace or "" for a ClusterRole) -> (group, resource, verb) each (Cluster)Role of `kind` grants."""
    granted: dict[str, set[tuple[str, str, str]]] = {}
    for doc in manifest:
        if doc["kind"] != kind or doc["metadata"]["name"].endswith(("-view", "-edit")):  # the users' roles
            continue
        scope = doc["metadata"].get("namespace", "")
        for rule in doc.get("rules") or []:
            granted.setdefault(scope, set()).update(
                (g, r, v) for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"])
    return granted


def release_manifest() -> list[dict[str, Any]]:
    out = helm("get", "manifest", RELEASE, "-n", RELEASE_NAMESPACE).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def install(routers: dict[str, bool] | None = None) -> None:
    args = ["--set", "replicaCount=0", "--set", "crds.install=false", "--set", "analysis.readSecrets=true"]
    for router, on in (routers or {}).items():
        args += ["--set", f"routers.{router}={str(on).lower()}"]
    helm("upgrade", "--install", RELEASE, str(CHART), "-n", RELEASE_NAMESPACE, "--create-namespace", *args,
         "--wait", "--timeout", "120s")


def chart_env(manifest: list[dict[str, Any]]) -> dict[str, str]:
    """The operator container's plain env values as the chart renders them (SHIFTLANE_ROUTERS among them)."""
    deployment = next(d for d in manifest if d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}


@dataclass
class Audited:
    """The release's operator, run here with the chart's ServiceAccount token and environment."""

    ecr_endpoint: str
    tmp: Path
    namespaces: list[Namespace]
    operator: Operator | None = None
    user: str = ""

    def start(self, routers: dict[str, bool] | None = None) -> int:
        """Install (or upgrade) the release and start its operator; the audit log's size before it."""
        install(routers)
        sa = chart_service_account(RELEASE, RELEASE_NAMESPACE)
        self.user = f"system:serviceaccount:{RELEASE_NAMESPACE}:{sa}"
        env = {**chart_env(release_manifest()), "AWS_ENDPOINT_URL": self.ecr_endpoint, **ECR_CREDENTIALS,
               "POD_NAMESPACE": RELEASE_NAMESPACE, "POD_NAME": "audited"}
        self.operator = Operator(write_token_kubeconfig(sa, RELEASE_NAMESPACE, self.tmp / "kubeconfig"), self.tmp / "audited.log",
                                 extra_args=("--leader-elect",), extra_env=env)
        start = audit_log().stat().st_size
        self.operator.start()
        return start

    def ours(self) -> set[str]:
        """This test's namespaces, the release's, and "" (cluster-wide calls): a cluster-wide operator also
        meets what other tests left behind, in namespaces being deleted (where every write gets 403)."""
        return {ns.name for ns in self.namespaces} | {RELEASE_NAMESPACE, ""}

    def namespace(self, what: str) -> Namespace:
        ns = Namespace(f"audit-{what.lower()}-{uuid.uuid4().hex[:5]}")
        kubectl("create", "namespace", ns.name)
        self.namespaces.append(ns)
        return ns


@pytest.fixture
def audited(crd: None, operator: Operator, ecr_endpoint: str, tmp_path: Path) -> Iterator[Audited]:
    """The session's operator is stopped meanwhile: two operators must not act on one Rollout."""
    audit_log()
    operator.stop()
    run = Audited(ecr_endpoint, tmp_path, [])
    try:
        yield run
    finally:
        if run.operator:
            run.operator.stop()
        for ns in run.namespaces:
            kubectl("delete", "namespace", ns.name, "--wait=false", check=False)
        helm("uninstall", RELEASE, "-n", RELEASE_NAMESPACE, "--wait", "--timeout", "60s", check=False)
        # Gone before the next test installs the release there again (a terminating namespace refuses it).
        kubectl("delete", "namespace", RELEASE_NAMESPACE, "--timeout=120s", check=False)
        operator.start()


# What each router reads and writes, beyond tests/e2e/test_traffic_objects.py's ROUTERS: GRPCRoutes, and
# Istio subsets of a DestinationRule.
GRPC_ROUTE = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GRPCRoute", "metadata": {"name": NAME},
              "spec": {"parentRefs": [{"name": "public"}], "rules": [{"backendRefs": [{"name": f"{NAME}-stable", "port": 8080}]}]}}
SUBSET_SERVICE = {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": {"name": NAME},
                  "spec": {"hosts": [NAME], "http": [{"name": "main", "route": [
                      {"destination": {"host": NAME, "subset": "stable", "port": {"number": 8080}}}]}]}}
SUBSETS = {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule", "metadata": {"name": NAME},
           "spec": {"host": NAME, "subsets": [{"name": "stable"}, {"name": "canary"}]}}
ROUTES: dict[str, tuple[list[dict[str, Any]], dict[str, Any]]] = {
    **{name: ([router.route], router.routing) for name, router in ROUTERS.items()},
    "grpc": ([GRPC_ROUTE], {"gatewayAPI": {"grpcRoutes": [NAME]}}),
    "subsets": ([SUBSET_SERVICE, SUBSETS], {"istio": {"virtualService": {"name": NAME}, "destinationRule": {"name": NAME}}}),
}


def route_a_canary(ns: Namespace, router: str) -> None:
    """Healthy, then a new image up to the pause: the route is read, watched and written."""
    objects, routing = ROUTES[router]
    for obj in objects:
        ns.apply(obj)
    ns.apply(rollout_manifest(NAME, {"canary": {"steps": [{"setWeight": 30}, {"pause": {}}], "trafficRouting": routing}},
                              replicas=2))
    ns.wait_phase(NAME, "Healthy", 40)
    ns.set_image(NAME, IMAGE_V2)
    ns.wait_phase(NAME, "Paused", 40, canaryWeight=30)


def check_an_image_and_prune(ns: Namespace, ecr_endpoint: str) -> None:
    """An ECR-checked rollout (the stable revision's template is read for its digests) that ends with
    the old revision deleted (revisionHistoryLimit 0)."""
    ecr = boto3.client("ecr", endpoint_url=ecr_endpoint, region_name="eu-west-1",
                       aws_access_key_id=ECR_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                       aws_secret_access_key=ECR_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])
    repository = f"audit-{ns.name[-5:]}"
    push(ecr, repository, "1", layer="a")
    ns.apply(rollout_manifest("ecr", {"canary": {"steps": [{"setWeight": 50}]}}, replicas=2,
                              image=f"{HOST}/{repository}:1", imagePolicy={}, revisionHistoryLimit=0))
    stable = ns.wait_phase("ecr", "Healthy", 40)["stableRevision"]
    push(ecr, repository, "2", layer="b")
    ns.set_image("ecr", f"{HOST}/{repository}:2")
    ns.wait_status("ecr", lambda s: s["phase"] == "Healthy" and s["stableRevision"] != stable, 60, "the new revision stable")
    wait_for(lambda: stable not in ns.deployments("ecr"), 60, "the old revision pruned")


class Answers(ThreadingHTTPServer):
    """A web metric's endpoint on loopback: {"ok": 1} to a request carrying the Secret's token."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                ok = self.headers.get("Authorization") == "Bearer audit-token"
                self.send_response(200 if ok else 401)
                self.end_headers()
                self.wfile.write(b'{"ok": 1}')

            def log_message(self, *_: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


def run_an_analysis(ns: Namespace) -> None:
    """Templates watched and marked Valid, a Secret read for a web metric's header, a Job run for a job
    metric of a ClusterAnalysisTemplate, all through one analysis step."""
    server = Answers()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    cluster_template = f"audit-job-{ns.name[-5:]}"
    try:
        ns.kubectl("create", "secret", "generic", "metrics-token", "--from-literal=token=Bearer audit-token")
        ns.apply({"apiVersion": "shiftlane.io/v1alpha1", "kind": "AnalysisTemplate", "metadata": {"name": "web"},
                  "spec": {"metrics": [{"name": "ok", "successCondition": "result == 1", "provider": {"web": {
                      "url": f"http://127.0.0.1:{server.server_address[1]}/ok", "jsonPath": "$.ok",
                      "headers": [{"name": "Authorization", "valueFrom": {"secretKeyRef": {"name": "metrics-token", "key": "token"}}}]}}}]}})
        kubectl("apply", "-f", "-", stdin=json.dumps({
            "apiVersion": "shiftlane.io/v1alpha1", "kind": "ClusterAnalysisTemplate", "metadata": {"name": cluster_template},
            "spec": {"metrics": [{"name": "smoke", "provider": {"job": {"spec": {"backoffLimit": 0, "template": {"spec": {
                "restartPolicy": "Never", "containers": [{"name": "smoke", "image": "registry.k8s.io/pause:3.10"}]}}}}}}]}}))
        steps = [{"setWeight": 50}, {"analysis": {"templates": [{"name": "web"}, {"name": cluster_template, "clusterScope": True}]}}]
        ns.apply(rollout_manifest("analysed", {"canary": {"steps": steps}}, replicas=2))
        ns.wait_phase("analysed", "Healthy", 40)
        ns.set_image("analysed", IMAGE_V2)
        status = ns.wait_status("analysed", lambda s: s["phase"] == "Healthy" and not s.get("canaryRevision"), 90, "analysed and promoted")
        assert status["analysisRuns"][-1]["phase"] == "Successful"
    finally:
        server.shutdown()
        kubectl("delete", "clusteranalysistemplates.shiftlane.io", cluster_template, "--wait=false", check=False)


def test_the_chart_grants_exactly_the_calls_the_operator_makes(audited: Audited) -> None:
    start = audited.start()
    for router in ROUTES:
        route_a_canary(audited.namespace(router), router)
    check_an_image_and_prune(audited.namespace("ecr"), audited.ecr_endpoint)
    run_an_analysis(audited.namespace("analysis"))
    time.sleep(3)  # a Lease renewal (every 2 s) is among the calls
    made = [c for c in calls(audit_log(), start, audited.user) if c.namespace in audited.ours()]

    assert not [c for c in made if c.code == 403], "refused by RBAC"
    manifest = release_manifest()
    cluster, namespaced = rules(manifest, "ClusterRole"), rules(manifest, "Role")
    assert set(namespaced) == {RELEASE_NAMESPACE}  # the Lease's Role, in the operator's namespace only
    everywhere, own = cluster[""], namespaced[RELEASE_NAMESPACE]

    used = {(c.group, c.resource, c.verb) for c in made}
    ungranted = {(c.group, c.resource, c.verb, c.namespace) for c in made
                 if (c.group, c.resource, c.verb) not in everywhere
                 and not (c.namespace == RELEASE_NAMESPACE and (c.group, c.resource, c.verb) in own)}
    assert not ungranted, f"calls with no rule: {sorted(ungranted)}"
    unused = (everywhere | own) - used - ADMISSION_ONLY
    assert not unused, f"rules the operator never used: {sorted(unused)}"
    # The Lease is reached in the operator's own namespace only.
    assert {c.namespace for c in made if c.resource == "leases"} == {RELEASE_NAMESPACE}
    # What the admission plugin checks: every object the operator owns blocks its owner's deletion.
    owned = kubectl("get", "deployments,services", "-n", audited.namespaces[0].name, "-o", "json").stdout
    refs = [r for item in json.loads(owned)["items"] for r in item["metadata"].get("ownerReferences", [])]
    assert refs and all(r["kind"] == "Rollout" and r.get("blockOwnerDeletion") for r in refs)


def test_a_router_turned_off_has_no_rule_and_is_never_called(audited: Audited) -> None:
    start = audited.start({"istio": False, "traefik": False, "nginx": False, "alb": False})
    ns = audited.namespace("off")
    ns.apply(ROUTERS["istio"].route)
    ns.apply(rollout_manifest(NAME, {"canary": {"steps": [{"setWeight": 30}], "trafficRouting": ROUTERS["istio"].routing}},
                              replicas=2))
    ns.wait_phase(NAME, "Healthy", 40)
    route_a_canary(audited.namespace("on"), "gatewayAPI")
    made = [c for c in calls(audit_log(), start, audited.user) if c.namespace in audited.ours()]

    assert not [c for c in made if c.code == 403], "refused by RBAC"
    assert {c.group for c in made} >= {"gateway.networking.k8s.io"}
    assert not {c.group for c in made} & {"networking.istio.io", "traefik.io", "networking.k8s.io"}
    granted = rules(release_manifest(), "ClusterRole")[""]
    assert not {g for g, _, _ in granted} & {"networking.istio.io", "traefik.io", "networking.k8s.io"}
    # The VirtualService was left as the user wrote it.
    assert ns.json("get", "virtualservice", NAME)["spec"] == ROUTERS["istio"].route["spec"]
