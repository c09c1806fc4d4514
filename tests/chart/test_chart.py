"""Tests for the Helm chart in charts/shiftlane.

They run the real `helm` binary (lint + template) and assert on the parsed
YAML. helm is looked up in $HELM, then PATH, then <repo>/.venv/bin/helm; a
missing helm is a failure, not a skip (install it with hack/install-helm.sh).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = REPO_ROOT / "charts" / "shiftlane"
CRD_NAME = "rollouts.shiftlane.io.yaml"
RELEASE = "sl"
RELEASE_NS = "shiftlane-system"

# Every object the chart renders must carry these labels.
STANDARD_LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/managed-by",
    "helm.sh/chart",
)

# (apiGroup, resource, verb) the operator needs wherever it reconciles Rollouts, all routers on.
# tests/e2e/test_rbac_audit.py checks these against the calls the operator makes on a real API server.
NAMESPACED_PERMISSIONS = {
    *(("shiftlane.io", "rollouts", v) for v in ("list", "watch")),
    ("shiftlane.io", "rollouts/status", "patch"),
    ("shiftlane.io", "rollouts/finalizers", "update"),
    *(("apps", "deployments", v) for v in ("get", "list", "watch", "create", "patch", "delete")),
    *(("", "services", v) for v in ("list", "watch", "create", "patch")),
    *(("", "pods", v) for v in ("list", "watch")),
    *(("apps", "replicasets", v) for v in ("list", "watch")),
    ("", "events", "create"),
    *(("shiftlane.io", "analysistemplates", v) for v in ("list", "watch")),
    ("shiftlane.io", "analysistemplates/status", "patch"),
    *(("batch", "jobs", v) for v in ("get", "create")),
}
# ClusterAnalysisTemplates are cluster-scoped: a ClusterRole in either install mode.
CLUSTER_TEMPLATES = {
    *(("shiftlane.io", "clusteranalysistemplates", v) for v in ("list", "watch")),
    ("shiftlane.io", "clusteranalysistemplates/status", "patch"),
}
ROUTER_PERMISSIONS = {
    "gatewayAPI": {("gateway.networking.k8s.io", r, v) for r in ("httproutes", "grpcroutes") for v in ("get", "list", "watch", "patch")},
    "istio": {("networking.istio.io", r, v) for r in ("virtualservices", "destinationrules") for v in ("get", "list", "watch", "patch")},
    "traefik": {("traefik.io", "traefikservices", v) for v in ("get", "list", "watch", "patch")},
    "nginx": {("networking.k8s.io", "ingresses", v) for v in ("get", "list", "watch", "create", "patch")},
    "alb": {("networking.k8s.io", "ingresses", v) for v in ("get", "list", "watch", "patch")},
}
ALL_ROUTERS = set().union(*ROUTER_PERMISSIONS.values())
LEASES = {("coordination.k8s.io", "leases", v) for v in ("get", "create", "update")}

# Value sets exercised by lint and template.
VALUE_SETS: dict[str, dict[str, Any]] = {
    "default": {},
    "namespaced": {"watchNamespaces": ["a", "b"]},
    "monitoring-and-pdb": {
        "serviceMonitor": {"enabled": True, "labels": {"release": "prom"}, "scrapeTimeout": "10s"},
        "podDisruptionBudget": {"enabled": True, "minAvailable": 1},
        "replicaCount": 2,
    },
    "custom-image": {
        "image": {"repository": "registry.example.com/team/shiftlane", "tag": "1.2.3", "pullPolicy": "Always"},
        "imagePullSecrets": [{"name": "regcred"}],
        "logLevel": "debug",
    },
    "everything": {
        "nameOverride": "sl-op",
        "watchNamespaces": [RELEASE_NS, "apps"],
        "extraEnv": [{"name": "FOO", "value": "bar"}],
        "extraArgs": ["--verbose"],
        "serviceAccount": {"create": True, "name": "custom-sa", "annotations": {"a": "b"}},
        "podAnnotations": {"example.com/note": "hello"},
        "podLabels": {"team": "delivery"},
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}],
        "affinity": {"podAntiAffinity": {}},
        "priorityClassName": "system-cluster-critical",
        "serviceMonitor": {"enabled": True},
        "podDisruptionBudget": {"enabled": True, "maxUnavailable": "50%"},
    },
}


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="session")
def helm() -> str:
    env = os.environ.get("HELM")
    if env:
        if not (Path(env).is_file() and os.access(env, os.X_OK)):
            pytest.fail(f"$HELM={env!r} is not an executable file")
        return env
    on_path = shutil.which("helm")
    if on_path:
        return on_path
    venv_helm = REPO_ROOT / ".venv" / "bin" / "helm"
    if venv_helm.is_file() and os.access(venv_helm, os.X_OK):
        return str(venv_helm)
    pytest.fail("helm not found ($HELM, PATH, .venv/bin/helm); run hack/install-helm.sh")


def run_helm(helm: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [helm, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HELM_CACHE_HOME": "/tmp/shiftlane-helm-cache"},
    )


def write_values(tmp_path: Path, values: dict[str, Any]) -> Path:
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def template(helm: str, tmp_path: Path, values: dict[str, Any], *extra: str) -> subprocess.CompletedProcess[str]:
    return run_helm(
        helm,
        "template",
        RELEASE,
        str(CHART_DIR),
        "--namespace",
        RELEASE_NS,
        "-f",
        str(write_values(tmp_path, values)),
        *extra,
    )


def render(helm: str, tmp_path: Path, values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    result = template(helm, tmp_path, values or {})
    assert result.returncode == 0, f"helm template failed:\n{result.stderr}"
    docs = [d for d in yaml.safe_load_all(result.stdout) if d]
    assert docs, "helm template rendered nothing"
    return docs


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def one(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = of_kind(docs, kind)
    assert len(found) == 1, f"expected exactly one {kind}, got {len(found)}"
    return found[0]


def operator_container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    containers = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def permissions(role: dict[str, Any]) -> set[tuple[str, str, str]]:
    """Expand a Role/ClusterRole's rules into (apiGroup, resource, verb) triples."""
    out = set()
    for rule in role.get("rules") or []:
        for group in rule.get("apiGroups", []):
            for resource in rule.get("resources", []):
                for verb in rule.get("verbs", []):
                    out.add((group, resource, verb))
    return out


# --------------------------------------------------------------------------- lint


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_helm_lint_strict(helm: str, tmp_path: Path, name: str) -> None:
    result = run_helm(helm, "lint", "--strict", str(CHART_DIR), "-f", str(write_values(tmp_path, VALUE_SETS[name])))
    assert result.returncode == 0, f"helm lint --strict failed for {name}:\n{result.stdout}\n{result.stderr}"


def test_chart_metadata() -> None:
    chart = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2"
    assert chart["name"] == "shiftlane"
    assert chart["version"] == "0.1.0"
    assert chart["appVersion"] == "0.1.0"
    assert chart["kubeVersion"] == ">=1.29.0-0"


def test_kube_version_constraint_enforced(helm: str, tmp_path: Path) -> None:
    too_old = template(helm, tmp_path, {}, "--kube-version", "1.28.0")
    assert too_old.returncode != 0
    ok = template(helm, tmp_path, {}, "--kube-version", "1.29.0")
    assert ok.returncode == 0, ok.stderr


# --------------------------------------------------------------------------- labels


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_standard_labels_on_every_object(helm: str, tmp_path: Path, name: str) -> None:
    docs = render(helm, tmp_path, VALUE_SETS[name])
    for doc in docs:
        labels = doc["metadata"].get("labels") or {}
        missing = [key for key in STANDARD_LABELS if not labels.get(key)]
        assert not missing, f"{doc['kind']}/{doc['metadata']['name']} lacks labels {missing}"
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["app.kubernetes.io/instance"] == RELEASE


def test_selector_matches_pod_template(helm: str, tmp_path: Path) -> None:
    docs = render(helm, tmp_path, VALUE_SETS["monitoring-and-pdb"])
    deploy = one(docs, "Deployment")
    selector = deploy["spec"]["selector"]["matchLabels"]
    pod_labels = deploy["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= pod_labels.items()
    # The selector must not contain labels that change between upgrades.
    assert "app.kubernetes.io/version" not in selector
    assert "helm.sh/chart" not in selector
    service = one(docs, "Service")
    assert service["spec"]["selector"].items() <= pod_labels.items()
    pdb = one(docs, "PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()


# --------------------------------------------------------------------------- deployment


def test_deployment_defaults(helm: str, tmp_path: Path) -> None:
    docs = render(helm, tmp_path)
    deploy = one(docs, "Deployment")
    assert deploy["metadata"]["namespace"] == RELEASE_NS
    assert deploy["spec"]["replicas"] == 1
    container = operator_container(docs)
    assert container["image"] == "ghcr.io/shiftlane/shiftlane:0.1.0"  # tag defaults to appVersion
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert container["args"][0] == "run"
    assert "--metrics-port=8080" in container["args"]
    assert "--health-port=8081" in container["args"]
    assert "--leader-elect" in container["args"]  # replicas beyond one wait for the Lease
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http-metrics": 8080, "http-health": 8081}
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        http = container[probe]["httpGet"]
        assert http["path"] == path
        assert ports[http["port"]] == 8081
    env = env_of(container)
    assert env["SHIFTLANE_WATCH_NAMESPACES"] == ""
    assert env["SHIFTLANE_LOG_LEVEL"] == "info"
    assert container["resources"] == {
        "requests": {"cpu": "50m", "memory": "128Mi"},
        "limits": {"memory": "256Mi"},
    }
    pod = deploy["spec"]["template"]["spec"]
    sa = one(docs, "ServiceAccount")
    assert pod["serviceAccountName"] == sa["metadata"]["name"]


def test_security_context_is_restricted(helm: str, tmp_path: Path) -> None:
    docs = render(helm, tmp_path)
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    psc = pod["securityContext"]
    assert psc["runAsNonRoot"] is True
    assert psc["runAsUser"] == 65532
    assert "fsGroup" in psc
    assert psc["seccompProfile"] == {"type": "RuntimeDefault"}
    csc = operator_container(docs)["securityContext"]
    assert csc["allowPrivilegeEscalation"] is False
    assert csc["readOnlyRootFilesystem"] is True
    assert csc["capabilities"]["drop"] == ["ALL"]
    assert not csc["capabilities"].get("add")
    assert not csc.get("privileged")
    # Read-only root filesystem: /tmp must be a writable emptyDir.
    mounts = {m["mountPath"]: m["name"] for m in operator_container(docs)["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "/tmp" in mounts
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert not pod.get("hostNetwork") and not pod.get("hostPID")


def test_custom_image_and_log_level(helm: str, tmp_path: Path) -> None:
    docs = render(helm, tmp_path, VALUE_SETS["custom-image"])
    container = operator_container(docs)
    assert container["image"] == "registry.example.com/team/shiftlane:1.2.3"
    assert container["imagePullPolicy"] == "Always"
    assert env_of(container)["SHIFTLANE_LOG_LEVEL"] == "debug"
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    assert one(docs, "Deployment")["metadata"]["labels"]["app.kubernetes.io/version"] == "1.2.3"


def test_image_digest(helm: str, tmp_path: Path) -> None:
    digest = "sha256:" + "a" * 64
    docs = render(helm, tmp_path, {"image": {"repository": "r/shiftlane", "pullPolicy": "IfNotPresent", "digest": digest}})
    assert operator_container(docs)["image"] == f"r/shiftlane@{digest}"


def test_leader_election_can_be_turned_off(helm: str, tmp_path: Path) -> None:
    docs = render(helm, tmp_path, {"leaderElection": {"enabled": False}})
    assert "--leader-elect" not in operator_container(docs)["args"]


def test_pod_scheduling_and_extras(helm: str, tmp_path: Path) -> None:
    docs = render(helm, tmp_path, VALUE_SETS["everything"])
    deploy = one(docs, "Deployment")
    template_meta = deploy["spec"]["template"]["metadata"]
    pod = deploy["spec"]["template"]["spec"]
    assert template_meta["annotations"] == {"example.com/note": "hello"}
    assert template_meta["labels"]["team"] == "delivery"
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert pod["tolerations"] == [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}]
    assert pod["affinity"] == {"podAntiAffinity": {}}
    assert pod["priorityClassName"] == "system-cluster-critical"
    assert pod["serviceAccountName"] == "custom-sa"
    assert one(docs, "ServiceAccount")["metadata"]["name"] == "custom-sa"
    container = operator_container(docs)
    assert env_of(container)["FOO"] == "bar"
    assert container["args"][-1] == "--verbose"
    for binding in of_kind(docs, "RoleBinding") + of_kind(docs, "ClusterRoleBinding"):
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "custom-sa", "namespace": RELEASE_NS}]


def test_no_serviceaccount_when_disabled(helm: str, tmp_path: Path) -> None:
    docs = render(helm, tmp_path, {"serviceAccount": {"create": False, "name": "existing"}})
    assert not of_kind(docs, "ServiceAccount")
    assert one(docs, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"] == "existing"


# --------------------------------------------------------------------------- RBAC


def operator_role(docs: list[dict[str, Any]], kind: str = "ClusterRole") -> dict[str, Any]:
    """The operator's own (Cluster)Role: not a user role, not the leader-election Role."""
    found = [d for d in of_kind(docs, kind) if not d["metadata"]["name"].endswith(("-view", "-edit", "-leader-election"))]
    assert len(found) == 1, [d["metadata"]["name"] for d in found]
    return found[0]


def leader_role(docs: list[dict[str, Any]]) -> dict[str, Any]:
    found = [d for d in of_kind(docs, "Role") if d["metadata"]["name"].endswith("-leader-election")]
    assert len(found) == 1
    return found[0]


def test_cluster_wide_rbac(helm: str, tmp_path: Path) -> None:
    docs = render(helm, tmp_path)
    cluster_role = operator_role(docs)
    bindings = [b for b in of_kind(docs, "ClusterRoleBinding") if b["roleRef"]["name"] == cluster_role["metadata"]["name"]]
    assert len(bindings) == 1
    binding = bindings[0]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": cluster_role["metadata"]["name"],
    }
    sa = one(docs, "ServiceAccount")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": sa["metadata"]["name"], "namespace": RELEASE_NS}
    ]
    granted = permissions(cluster_role)
    expected = NAMESPACED_PERMISSIONS | ALL_ROUTERS | CLUSTER_TEMPLATES
    assert expected <= granted, f"missing: {sorted(expected - granted)}"
    assert granted == expected, f"unexpected extra grants: {sorted(granted - expected)}"
    # The Lease is reachable in the operator's namespace only.
    lease_role = leader_role(docs)
    assert lease_role["metadata"]["namespace"] == RELEASE_NS
    assert permissions(lease_role) == LEASES


def test_namespaced_rbac(helm: str, tmp_path: Path) -> None:
    docs = render(helm, tmp_path, VALUE_SETS["namespaced"])
    env = env_of(operator_container(docs))
    assert env["SHIFTLANE_WATCH_NAMESPACES"] == "a,b"

    roles = {(r["metadata"]["namespace"], r["metadata"]["name"]): r for r in of_kind(docs, "Role")}
    bindings = {(b["metadata"]["namespace"], b["metadata"]["name"]): b for b in of_kind(docs, "RoleBinding")}
    sa_name = one(docs, "ServiceAccount")["metadata"]["name"]
    for ns in ("a", "b"):
        ns_roles = [r for (rns, _), r in roles.items() if rns == ns]
        assert len(ns_roles) == 1, f"expected one Role in {ns}"
        role = ns_roles[0]
        assert permissions(role) == NAMESPACED_PERMISSIONS | ALL_ROUTERS
        ns_bindings = [b for (bns, _), b in bindings.items() if bns == ns]
        assert len(ns_bindings) == 1, f"expected one RoleBinding in {ns}"
        binding = ns_bindings[0]
        assert binding["roleRef"]["kind"] == "Role"
        assert binding["roleRef"]["name"] == role["metadata"]["name"]
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa_name, "namespace": RELEASE_NS}]

    # Only the Lease in the (unwatched) release namespace.
    assert {ns for ns, _ in roles} == {"a", "b", RELEASE_NS}
    assert permissions(leader_role(docs)) == LEASES

    # Cluster-wide for the operator: ClusterAnalysisTemplates only; the other ClusterRoles are the users'.
    cluster_roles = {r["metadata"]["name"]: r for r in of_kind(docs, "ClusterRole")}
    assert set(cluster_roles) == {"sl-shiftlane-view", "sl-shiftlane-edit", "sl-shiftlane-cluster-templates"}
    assert permissions(cluster_roles["sl-shiftlane-cluster-templates"]) == CLUSTER_TEMPLATES
    (binding,) = of_kind(docs, "ClusterRoleBinding")
    assert binding["roleRef"]["name"] == "sl-shiftlane-cluster-templates"
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa_name, "namespace": RELEASE_NS}]


def test_namespaced_rbac_including_release_namespace(helm: str, tmp_path: Path) -> None:
    docs = render(helm, tmp_path, {"watchNamespaces": [RELEASE_NS]})
    assert permissions(operator_role(docs, "Role")) == NAMESPACED_PERMISSIONS | ALL_ROUTERS
    assert permissions(leader_role(docs)) == LEASES
    assert env_of(operator_container(docs))["SHIFTLANE_WATCH_NAMESPACES"] == RELEASE_NS


def test_no_lease_rule_without_leader_election(helm: str, tmp_path: Path) -> None:
    docs = render(helm, tmp_path, {"leaderElection": {"enabled": False}})
    assert not of_kind(docs, "Role")
    assert not LEASES & permissions(operator_role(docs))


@pytest.mark.parametrize("router", sorted(ROUTER_PERMISSIONS))
def test_router_rules_only_for_enabled_routers(helm: str, tmp_path: Path, router: str) -> None:
    only = {name: name == router for name in ROUTER_PERMISSIONS}
    docs = render(helm, tmp_path, {"routers": only})
    assert permissions(operator_role(docs)) == NAMESPACED_PERMISSIONS | CLUSTER_TEMPLATES | ROUTER_PERMISSIONS[router]
    assert env_of(operator_container(docs))["SHIFTLANE_ROUTERS"] == router


def test_no_router_rules_with_every_router_off(helm: str, tmp_path: Path) -> None:
    docs = render(helm, tmp_path, {"routers": {name: False for name in ROUTER_PERMISSIONS}})
    assert permissions(operator_role(docs)) == NAMESPACED_PERMISSIONS | CLUSTER_TEMPLATES
    assert env_of(operator_container(docs))["SHIFTLANE_ROUTERS"] == ""  # set and empty: none


def test_every_router_on_by_default(helm: str, tmp_path: Path) -> None:
    env = env_of(operator_container(render(helm, tmp_path)))
    assert set(env["SHIFTLANE_ROUTERS"].split(",")) == set(ROUTER_PERMISSIONS)


def test_user_roles_aggregate_into_view_edit_admin(helm: str, tmp_path: Path) -> None:
    docs = render(helm, tmp_path)
    roles = {r["metadata"]["name"]: r for r in of_kind(docs, "ClusterRole")}
    view, edit = roles["sl-shiftlane-view"], roles["sl-shiftlane-edit"]
    aggregate = "rbac.authorization.k8s.io/aggregate-to-"
    assert {k for k, v in view["metadata"]["labels"].items() if k.startswith(aggregate) and v == "true"} == {
        aggregate + "view", aggregate + "edit", aggregate + "admin"}
    assert {k for k, v in edit["metadata"]["labels"].items() if k.startswith(aggregate) and v == "true"} == {
        aggregate + "edit", aggregate + "admin"}
    reads = {("shiftlane.io", r, v) for r in ("rollouts", "rollouts/status", "rollouts/scale") for v in ("get", "list", "watch")}
    assert permissions(view) == reads
    # edit: change Rollouts, run the plugin's manual actions (a status patch), scale
    assert ("shiftlane.io", "rollouts/status", "patch") in permissions(edit)
    assert ("shiftlane.io", "rollouts/scale", "patch") in permissions(edit)
    assert ("shiftlane.io", "rollouts", "delete") in permissions(edit)
    assert not {v for _, _, v in permissions(view)} & {"create", "update", "patch", "delete"}
    without = render(helm, tmp_path, {"rbac": {"aggregateToDefaultRoles": False}})
    assert [r["metadata"]["name"] for r in of_kind(without, "ClusterRole")] == ["sl-shiftlane"]


def test_rbac_disabled(helm: str, tmp_path: Path) -> None:
    docs = render(helm, tmp_path, {"rbac": {"create": False}})
    for kind in ("Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"):
        assert not of_kind(docs, kind)


def test_secrets_are_read_only_when_analysis_needs_them(helm: str, tmp_path: Path) -> None:
    docs = render(helm, tmp_path, {"analysis": {"readSecrets": True}})
    assert permissions(operator_role(docs)) - permissions(operator_role(render(helm, tmp_path, {}))) == {("", "secrets", "get")}


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_no_rule_grants_secrets_or_wildcards(helm: str, tmp_path: Path, name: str) -> None:
    docs = render(helm, tmp_path, VALUE_SETS[name])
    roles = of_kind(docs, "Role") + of_kind(docs, "ClusterRole")
    assert roles
    for role in roles:
        for rule in role["rules"]:
            where = f"{role['kind']}/{role['metadata']['name']}: {rule}"
            assert "secrets" not in rule.get("resources", []), where
            assert "*" not in rule.get("resources", []), where
            assert "*" not in rule.get("verbs", []), where
            assert "*" not in rule.get("apiGroups", []), where
            assert not rule.get("nonResourceURLs"), where
            assert not {"escalate", "bind", "impersonate"} & set(rule.get("verbs", [])), where


def test_extra_rules_appended(helm: str, tmp_path: Path) -> None:
    extra = {"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get"]}
    docs = render(helm, tmp_path, {"rbac": {"extraRules": [extra]}})
    assert ("example.com", "widgets", "get") in permissions(operator_role(docs))


# --------------------------------------------------------------------------- service, monitoring, pdb


def test_metrics_service(helm: str, tmp_path: Path) -> None:
    docs = render(helm, tmp_path)
    service = one(docs, "Service")
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"] == [
        {"name": "http-metrics", "port": 8080, "targetPort": "http-metrics", "protocol": "TCP"}
    ]


def test_servicemonitor_only_when_enabled(helm: str, tmp_path: Path) -> None:
    assert not of_kind(render(helm, tmp_path), "ServiceMonitor")
    docs = render(helm, tmp_path, VALUE_SETS["monitoring-and-pdb"])
    monitor = one(docs, "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "prom"
    endpoint = monitor["spec"]["endpoints"][0]
    assert endpoint["port"] == "http-metrics"
    assert endpoint["path"] == "/metrics"
    assert endpoint["scrapeTimeout"] == "10s"
    service = one(docs, "Service")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"]["matchNames"] == [RELEASE_NS]


def test_pdb_only_when_enabled(helm: str, tmp_path: Path) -> None:
    assert not of_kind(render(helm, tmp_path), "PodDisruptionBudget")
    pdb = one(render(helm, tmp_path, VALUE_SETS["monitoring-and-pdb"]), "PodDisruptionBudget")
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"]["minAvailable"] == 1
    assert "maxUnavailable" not in pdb["spec"]
    pdb = one(render(helm, tmp_path, VALUE_SETS["everything"]), "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == "50%"
    assert "minAvailable" not in pdb["spec"]


# --------------------------------------------------------------------------- schema


@pytest.mark.parametrize(
    "bad",
    [
        {"logLevel": "loud"},
        {"replicaCount": "x"},
        {"replicaCount": -1},
        {"unknownTopLevelKey": True},
        {"watchNamespaces": "a,b"},
        {"watchNamespaces": ["Not_A_Namespace"]},
        {"image": {"repository": "r", "pullPolicy": "Sometimes"}},
        {"image": {"repository": "r", "pullPolicy": "Always", "tagg": "typo"}},
        {"metrics": {"port": 70000}},
        {"serviceMonitor": {"enabled": "yes"}},
        {"podDisruptionBudget": {"enabled": True, "maxUnavailable": "lots"}},
        {"ecr": {"pullSecrets": {"enabled": "yes"}}},
        {"ecr": {"pullSecrets": {"enabled": True, "refreshBefore": "six hours"}}},
        {"defaultImagePolicy": {"scan": {"maxSeverity": "SEVERE"}}},
        {"defaultImagePolicy": {"pinDigests": False}},
        {"defaultImagePolicy": {"scan": {"waitFor": "10 minutes"}}},
        {"routers": {"gateway": True}},
        {"crds": {"install": "yes"}},
        {"prometheusRule": {"enabled": True, "degradedFor": "5 minutes"}},
    ],
    ids=lambda v: yaml.safe_dump(v, default_flow_style=True).strip(),
)
def test_schema_rejects_bad_values(helm: str, tmp_path: Path, bad: dict[str, Any]) -> None:
    result = template(helm, tmp_path, bad)
    assert result.returncode != 0, f"helm template accepted invalid values {bad}"
    assert "schema" in result.stderr.lower() or "values" in result.stderr.lower(), result.stderr


# --------------------------------------------------------------------------- CRD


@pytest.mark.parametrize("plural", ["rollouts", "analysistemplates", "clusteranalysistemplates"])
def test_chart_crd_is_the_generated_one(helm: str, tmp_path: Path, plural: str) -> None:
    name = f"{plural}.shiftlane.io"
    generated = yaml.safe_load((REPO_ROOT / "crds" / f"{name}.yaml").read_text())
    shipped = CHART_DIR / "files" / "crds" / f"{name}.yaml"
    assert shipped.read_bytes() == (REPO_ROOT / "crds" / f"{name}.yaml").read_bytes(), "run `make crds`"
    (crd,) = [c for c in of_kind(render(helm, tmp_path), "CustomResourceDefinition") if c["metadata"]["name"] == name]
    crd.pop("metadata")
    generated.pop("metadata")
    assert crd == generated  # nothing lost on the way through the template
    # Helm never upgrades a chart's crds/ directory: the CRDs come from templates so upgrades apply them.
    assert not (CHART_DIR / "crds").exists()


def test_crds_kept_on_uninstall_by_default(helm: str, tmp_path: Path) -> None:
    crds = of_kind(render(helm, tmp_path), "CustomResourceDefinition")
    assert len(crds) == 3 and all(c["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"} for c in crds)
    for crd in of_kind(render(helm, tmp_path, {"crds": {"keep": False}}), "CustomResourceDefinition"):
        assert "helm.sh/resource-policy" not in (crd["metadata"].get("annotations") or {})


def test_crd_left_out(helm: str, tmp_path: Path) -> None:
    assert not of_kind(render(helm, tmp_path, {"crds": {"install": False}}), "CustomResourceDefinition")


@pytest.mark.parametrize(("values", "accepted"), [
    ({"replicaCount": 2}, True),
    ({"replicaCount": 2, "leaderElection": {"enabled": False}}, False),
    ({"replicaCount": 1, "leaderElection": {"enabled": False}}, True),
    ({"replicaCount": 0, "leaderElection": {"enabled": False}}, True),
])
def test_several_replicas_need_leader_election(helm: str, tmp_path: Path, values: dict[str, Any], accepted: bool) -> None:
    result = template(helm, tmp_path, values)
    assert (result.returncode == 0) is accepted, result.stderr
    if not accepted:
        assert "leaderElection" in result.stderr, result.stderr


# --------------------------------------------------------------------------- image and dev tooling


@pytest.mark.parametrize("script", ["hack/kind.sh", "hack/install-helm.sh", "hack/demo-ecr.sh"])
def test_scripts_bash_syntax(script: str) -> None:
    path = REPO_ROOT / script
    assert os.access(path, os.X_OK), f"{script} is not executable"
    result = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_kind_config() -> None:
    config = yaml.safe_load((REPO_ROOT / "kind-config.yaml").read_text())
    assert config["kind"] == "Cluster"
    assert config["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    roles = [n["role"] for n in config["nodes"]]
    assert roles == ["control-plane", "worker", "worker"]
    control_plane = config["nodes"][0]
    assert control_plane["labels"] == {"ingress-ready": "true"}
    mappings = {(m["hostPort"], m["containerPort"]) for m in control_plane["extraPortMappings"]}
    assert mappings == {(80, 30080), (443, 30443)}


def test_dockerfile_runtime_contract() -> None:
    text = (REPO_ROOT / "Dockerfile").read_text()
    final_stage = text.rsplit("\nFROM ", 1)[1]
    assert 'ENTRYPOINT ["shiftlane"]' in final_stage
    assert 'CMD ["run"]' in final_stage
    assert "USER 65532:65532" in final_stage
    assert "EXPOSE 8080 8081" in final_stage
    ignored = [
        line.strip()
        for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    for entry in (".venv", ".git", "tests", "**/__pycache__"):
        assert entry in ignored
    # The build needs these; they must not be ignored.
    for needed in ("pyproject.toml", "README.md", "operator"):
        assert needed not in ignored


def test_ecr_region_and_endpoint_reach_the_operator(helm: str, tmp_path: Path) -> None:
    assert not {"AWS_REGION", "AWS_ENDPOINT_URL_ECR"} & set(env_of(operator_container(render(helm, tmp_path))))
    docs = render(helm, tmp_path, {"ecr": {"region": "eu-west-1", "endpointUrl": "http://127.0.0.1:5000"}})
    env = env_of(operator_container(docs))
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "eu-west-1" and env["AWS_ENDPOINT_URL_ECR"] == "http://127.0.0.1:5000"


def test_pull_secrets_grant_only_the_secret_they_keep(helm: str, tmp_path: Path) -> None:
    assert "SHIFTLANE_ECR_PULL_SECRETS" not in env_of(operator_container(render(helm, tmp_path)))
    for values in ({}, {"watchNamespaces": ["a", "b"]}):
        docs = render(helm, tmp_path, {**values, "ecr": {"pullSecrets": {"enabled": True, "refreshBefore": "4h"}}})
        env = env_of(operator_container(docs))
        assert (env["SHIFTLANE_ECR_PULL_SECRETS"], env["SHIFTLANE_ECR_PULL_SECRET_REFRESH_BEFORE"],
                env["SHIFTLANE_ECR_PULL_SECRET_CHECK_INTERVAL"]) == ("true", "4h", "1m")
        roles = of_kind(docs, "Role" if values else "ClusterRole")
        assert roles
        for role in roles:
            if role["metadata"]["name"].endswith(("-cluster-templates", "-leader-election", "-view", "-edit")):
                continue
            rules = [r for r in role["rules"] if "secrets" in r["resources"]]
            # Any Secret may be created (RBAC cannot name what does not exist yet); only the pull
            # Secret may be read or replaced; none listed, watched or deleted.
            assert sorted((r["verbs"], r.get("resourceNames")) for r in rules) == [
                (["create"], None), (["get", "update"], ["shiftlane-ecr-pull"])]


def test_default_image_policy_reaches_the_operator_as_the_spec_reads_it(helm: str, tmp_path: Path) -> None:
    from shiftlane.api.crd import schema_of
    from shiftlane.api.image_policy import ImagePolicy
    from shiftlane.registry.settings import default_policy, effective_policy

    assert "SHIFTLANE_DEFAULT_IMAGE_POLICY" not in env_of(operator_container(render(helm, tmp_path)))
    values = {"denyTags": ["latest", "dev"], "scan": {"maxSeverity": "HIGH", "waitFor": "5m"}, "protectStable": True}
    env = env_of(operator_container(render(helm, tmp_path, {"defaultImagePolicy": values})))
    fields = default_policy(env["SHIFTLANE_DEFAULT_IMAGE_POLICY"])
    assert fields == values
    policy = effective_policy(ImagePolicy.model_validate({"scan": {"allowList": ["CVE-1"]}}), fields)
    assert (policy.deny_tags, policy.scan.max_severity, policy.scan.allow_list, policy.protect_stable) == (
        ["latest", "dev"], "HIGH", ["CVE-1"], True)

    # The values schema is the CRD's imagePolicy schema, with unknown keys refused.
    def loose(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: loose(v) for k, v in node.items() if k not in ("additionalProperties", "description")}
        return node

    schema = json.loads((CHART_DIR / "values.schema.json").read_text())["properties"]["defaultImagePolicy"]
    assert loose(schema) == loose(schema_of(ImagePolicy))
