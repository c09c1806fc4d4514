"""Every field of the Rollout CRD is described (`kubectl explain` reads these), with its default."""

from __future__ import annotations

from typing import Any

from shiftlane.api.crd import PRINTER_COLUMNS, rollout_crd


def _schema() -> dict[str, Any]:
    return rollout_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def _properties(node: dict[str, Any], path: str = ""):
    """(path, schema) of every property, however deep: objects, list items and map values."""
    for name, child in (node.get("properties") or {}).items():
        yield f"{path}.{name}", child
        yield from _properties(child, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        yield from _properties(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from _properties(node["additionalProperties"], f"{path}{{}}")


def _at(path: str) -> dict[str, Any]:
    return dict(_properties(_schema()))[path]


def test_no_property_lacks_a_description() -> None:
    found = list(_properties(_schema()))
    assert len(found) > 150  # the walk reaches the nested strategies and status
    # metadata is described by the API server, which refuses a description of it in a CRD
    missing = [path for path, node in found if path != ".metadata" and not node.get("description", "").strip()]
    assert not missing, f"fields without a description (add a docstring under the field): {missing}"


def test_defaults_are_shown_not_applied() -> None:
    assert _at(".spec.replicas")["description"].endswith("Default: 1.")
    assert _at(".spec.strategy.rolling.maxSurge")["description"].endswith("Default: 25%.")
    assert _at(".spec.progressDeadlineAbort")["description"].endswith("Default: false.")
    assert _at(".spec.imagePolicy.scan.waitFor")["description"].endswith("Default: 10m.")
    # The API server would write a schema default into every object (and GitOps tools see drift);
    # the one default is status.observedGeneration 0, for kstatus, in the status no one writes from Git.
    defaulted = {path: node["default"] for path, node in _properties(_schema()) if "default" in node}
    assert defaulted == {".status": {"observedGeneration": 0}}


def test_a_field_without_default_says_none() -> None:
    assert "Default" not in _at(".spec.template")["description"]
    assert "Default" not in _at(".spec.strategy.canary.steps")["description"]


def test_printer_columns_show_counts_the_users_step_weight_and_phase() -> None:
    shown = [c for c in PRINTER_COLUMNS if not c.get("priority")]
    assert [c["name"] for c in shown] == ["Desired", "Current", "Ready", "Step", "Weight", "Phase", "Age"]
    paths = {c["name"]: c["jsonPath"] for c in PRINTER_COLUMNS}
    assert paths["Step"] == ".status.step"  # "2/5", not .status.currentStepIndex
    for column in PRINTER_COLUMNS:
        if column["jsonPath"].startswith((".spec.", ".status.")):
            assert _at(column["jsonPath"]), column  # every column reads a field of the schema
