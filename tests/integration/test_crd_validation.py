"""The Rollout CRD rejects malformed Rollouts at apply time, with a message that names the field.

Each file in tests/malformed/ is a whole Rollout with exactly one mistake and a header of
``# expect: <text>`` lines; every such text must appear in the API server's error. The files in
tests/malformed/valid/ (one per strategy) must be accepted, so the rules do not simply reject everything.
A table file may also carry ``# xfail: <why>``: a known gap in the schema, expected to fail (strictly) until
the schema is fixed, when that line is deleted.

The checks run against the real API server named by KUBECONFIG (``hack/cluster.sh up`` starts one);
without KUBECONFIG they are skipped. Creation uses ``kubectl create --dry-run=server
--validate=strict``: the server runs its OpenAPI schema, CEL rules and strict field validation and
stores nothing. The table's own consistency is checked without a cluster.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from shiftlane.api.revision import revision_of
from shiftlane.api.spec import MAX_NAME_LENGTH, STRATEGIES, parse_spec
from shiftlane.kube.revisions import revision_manifest
from shiftlane.kube.services import service_manifest, service_ports

REPO_ROOT = Path(__file__).resolve().parents[2]
CRD_FILE = REPO_ROOT / "crds" / "rollouts.shiftlane.io.yaml"
CRD_NAME = "rollouts.shiftlane.io"
TABLE = REPO_ROOT / "tests" / "malformed"
MALFORMED = sorted(TABLE.glob("*.yaml"))
VALID = sorted((TABLE / "valid").glob("*.yaml"))
KUBECTL_TIMEOUT = 60


def header(path: Path, key: str) -> list[str]:
    """The values of ``# <key>: <value>`` lines in the comment header of a table file."""
    found = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        name, _, value = line.lstrip("#").strip().partition(":")
        if name.strip() == key and value.strip():
            found.append(value.strip())
    return found


def expectations(path: Path) -> list[str]:
    return header(path, "expect")


def malformed_params() -> list[Any]:
    params = []
    for path in MALFORMED:
        gap = header(path, "xfail")
        marks = [pytest.mark.xfail(reason=gap[0], strict=True)] if gap else []
        params.append(pytest.param(path, id=path.stem, marks=marks))
    return params


def manifest(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


# --- the table itself (no cluster needed) -------------------------------------------------------


def test_table_has_enough_distinct_mistakes() -> None:
    assert len(MALFORMED) >= 32, f"only {len(MALFORMED)} malformed manifests in {TABLE}"
    names = [manifest(p)["metadata"]["name"] for p in MALFORMED + VALID]
    assert len(names) == len(set(names)), "metadata.name must be unique across the table"


@pytest.mark.parametrize("path", MALFORMED, ids=ids(MALFORMED))
def test_table_entry_is_a_rollout_with_expectations(path: Path) -> None:
    doc = manifest(path)
    assert doc["apiVersion"] == "shiftlane.io/v1alpha1"
    assert doc["kind"] == "Rollout"
    assert expectations(path), f"{path.name} has no '# expect: ...' header"


def test_valid_table_covers_every_strategy() -> None:
    covered = {next(iter(manifest(p)["spec"]["strategy"])) for p in VALID}
    assert covered == set(STRATEGIES)


@pytest.mark.parametrize("path", VALID, ids=ids(VALID))
def test_valid_manifest_parses_as_the_engine_input(path: Path) -> None:
    """The engine reads what the API server accepts: the pydantic model must take every valid manifest."""
    parse_spec(manifest(path)["spec"])


# --- against the API server ---------------------------------------------------------------------


def kubectl(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["kubectl", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=KUBECTL_TIMEOUT,
        check=False,
    )


def must(*args: str, stdin: str | None = None) -> str:
    proc = kubectl(*args, stdin=stdin)
    assert proc.returncode == 0, f"kubectl {' '.join(args)} failed:\n{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def namespace() -> Any:
    """Installs the CRD as committed, waits until it is Established, and yields a fresh namespace."""
    if not os.environ.get("KUBECONFIG"):
        pytest.skip("KUBECONFIG is not set: these tests need a real API server (start one with hack/cluster.sh up)")
    assert shutil.which("kubectl"), "kubectl is not on PATH"
    must("apply", "--server-side", "--force-conflicts", "--field-manager=shiftlane-tests", "-f", str(CRD_FILE))
    must("wait", "--for=condition=Established", "--timeout=60s", f"crd/{CRD_NAME}")
    name = f"shiftlane-crd-validation-{uuid.uuid4().hex[:8]}"
    must("create", "namespace", name)
    yield name
    kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found")


@pytest.mark.parametrize("path", malformed_params())
def test_malformed_rollout_is_rejected_naming_the_field(namespace: str, path: Path) -> None:
    proc = kubectl("create", "--dry-run=server", "--validate=strict", "-n", namespace, "-f", str(path))
    assert proc.returncode != 0, f"{path.name} was accepted:\n{proc.stdout}"
    missing = [text for text in expectations(path) if text not in proc.stderr]
    assert not missing, f"{path.name}: the API server's error lacks {missing}:\n{proc.stderr}"


@pytest.mark.parametrize("path", VALID, ids=ids(VALID))
def test_valid_rollout_is_accepted(namespace: str, path: Path) -> None:
    proc = kubectl("create", "--dry-run=server", "--validate=strict", "-n", namespace, "-f", str(path))
    assert proc.returncode == 0, f"{path.name} was rejected:\n{proc.stderr}"


def test_selector_is_immutable(namespace: str) -> None:
    doc = manifest(TABLE / "valid" / "recreate.yaml")
    doc["metadata"]["name"] = "immutable-selector"
    must("create", "-n", namespace, "-f", "-", stdin=yaml.safe_dump(doc))
    try:
        # An ordinary change is still accepted: the transition rule does not freeze the whole object.
        doc["spec"]["replicas"] = 5
        must(
            "apply", "--server-side", "--force-conflicts", "--field-manager=shiftlane-tests",
            "-n", namespace, "-f", "-", stdin=yaml.safe_dump(doc),
        )
        # A changed selector (with labels to match, so only immutability is at stake) is rejected.
        doc["spec"]["selector"]["matchLabels"]["tier"] = "web"
        doc["spec"]["template"]["metadata"]["labels"]["tier"] = "web"
        proc = kubectl(
            "apply", "--server-side", "--force-conflicts", "--field-manager=shiftlane-tests",
            "-n", namespace, "-f", "-", stdin=yaml.safe_dump(doc),
        )
        assert proc.returncode != 0, f"a changed selector was accepted:\n{proc.stdout}"
        assert "selector is immutable" in proc.stderr, proc.stderr
        assert "spec.selector" in proc.stderr, proc.stderr
    finally:
        kubectl("delete", "rollout", "immutable-selector", "-n", namespace, "--ignore-not-found", "--wait=false")


def test_longest_name_is_accepted_and_every_child_it_names_is_valid(namespace: str) -> None:
    """The name limit is not stricter than it must be, and not looser: the Services and the revision
    Deployment the operator derives from the longest accepted name are accepted by the API server."""
    doc = manifest(TABLE / "valid" / "recreate.yaml")
    doc["metadata"] = {"name": "a" * MAX_NAME_LENGTH, "namespace": namespace, "uid": str(uuid.uuid4())}
    doc["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"name": "http", "containerPort": 8080}]
    must("create", "--dry-run=server", "--validate=strict", "-f", "-", stdin=yaml.safe_dump(doc))
    template = doc["spec"]["template"]
    children = [service_manifest(doc, suffix, None, service_ports(template)) for suffix in ("", "stable", "canary")]
    children.append(revision_manifest(doc, revision_of(template), 1, 1))
    for child in children:
        must("create", "--dry-run=server", "--validate=strict", "-f", "-", stdin=yaml.safe_dump(child))
        assert len(child["metadata"]["name"]) <= 63, "every child name is a DNS label, as spec.MAX_NAME_LENGTH says"
