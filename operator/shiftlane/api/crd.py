"""Renders the Rollout CustomResourceDefinition from the pydantic models.

pydantic writes JSON Schema with $ref, anyOf-null and titles; a CRD needs a structural OpenAPI v3
schema: every node typed, references inlined, no nulls.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from shiftlane.api.analysis import AnalysisTemplateSpec, AnalysisTemplateStatus
from shiftlane.api.spec import MAX_NAME_LENGTH, ROLLOUT_RULES, RolloutSpec
from shiftlane.api.status import RolloutStatus

GROUP = "shiftlane.io"
VERSION = "v1alpha1"
KIND = "Rollout"
PLURAL = "rollouts"

_DROP = {"title", "default"}


def _with_default(node: dict[str, Any]) -> dict[str, Any]:
    """The default goes into the description, for `kubectl explain`: a schema default would make the
    API server write it into every object, and GitOps tools would see fields nobody wrote."""
    default = node.get("default")
    if default is None or isinstance(default, dict) or default in ([], ""):
        return node
    shown = json.dumps(default) if not isinstance(default, str) else default
    text = node.get("description", "").rstrip()
    return {**node, "description": f"{text} Default: {shown}.".lstrip()}


def _structural(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_structural(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        extra = {k: v for k, v in node.items() if k != "$ref"}
        return _structural({**target, **extra}, defs)
    if "anyOf" in node:
        options = [o for o in node["anyOf"] if o.get("type") != "null"]
        rest = {k: v for k, v in node.items() if k != "anyOf"}
        if len(options) == 1:
            return _structural({**options[0], **rest}, defs)
        # int | str with no WithJsonSchema override: render as int-or-string.
        return _structural({**rest, "x-kubernetes-int-or-string": True}, defs)
    node = _with_default(node)
    out = {k: _structural(v, defs) for k, v in node.items() if k not in _DROP and k != "$defs"}
    if "enum" in out and "type" not in out:
        out["type"] = "string"
    if "const" in out:
        out["enum"] = [out.pop("const")]
        out.setdefault("type", "string")
    if isinstance(out.get("additionalProperties"), bool):
        # pydantic's extra=allow/forbid; a structural schema says this with preserve-unknown-fields.
        del out["additionalProperties"]
    if "properties" in out or out.get("x-kubernetes-preserve-unknown-fields"):
        out.setdefault("type", "object")
    return out


def schema_of(model: type) -> dict[str, Any]:
    raw = model.model_json_schema(by_alias=True, mode="validation")
    return _structural(raw, raw.get("$defs", {}))


PRINTER_COLUMNS = [
    {"name": "Desired", "type": "integer", "jsonPath": ".spec.replicas", "description": "Desired pods"},
    {"name": "Current", "type": "integer", "jsonPath": ".status.replicas", "description": "Pods of every revision"},
    {"name": "Ready", "type": "integer", "jsonPath": ".status.readyReplicas", "description": "Ready pods"},
    {"name": "Step", "type": "string", "jsonPath": ".status.step", "description": "The strategy's step, as 2/5"},
    {"name": "Weight", "type": "integer", "jsonPath": ".status.canaryWeight", "description": "Percent of traffic to the canary"},
    {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    {"name": "Strategy", "type": "string", "jsonPath": ".status.strategy", "priority": 1},
    {"name": "Stable", "type": "string", "jsonPath": ".status.stableRevision", "priority": 1},
    {"name": "Canary", "type": "string", "jsonPath": ".status.canaryRevision", "priority": 1},
]


def _crd(kind: str, scope: str, short_names: list[str], schema: dict[str, Any], subresources: dict[str, Any],
         columns: list[dict[str, Any]], singular: str | None = None) -> dict[str, Any]:
    """The CustomResourceDefinition around one served version's schema: what every Shiftlane kind shares."""
    plural = kind.lower() + "s"
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": scope,
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": singular or kind.lower(),
                "shortNames": short_names,
                "categories": ["shiftlane"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": schema},
                    "subresources": subresources,
                    "additionalPrinterColumns": columns,
                }
            ],
        },
    }


def rollout_crd() -> dict[str, Any]:
    schema = {
        "type": "object",
        "description": "A Rollout drives a change of its pod template through a delivery strategy.",
        "required": ["spec"],
        "x-kubernetes-validations": ROLLOUT_RULES,
        "properties": {
            "apiVersion": {"type": "string", "description": "shiftlane.io/v1alpha1"},
            "kind": {"type": "string", "description": "Rollout"},
            # name is declared so that ROLLOUT_RULES can report their errors on it.
            # (the API server describes metadata itself and refuses a description here)
            "metadata": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "description": f"A DNS-1035 label of at most {MAX_NAME_LENGTH} characters."}
                },
            },
            "spec": schema_of(RolloutSpec),
            # Until the operator first writes, a Rollout reads observedGeneration 0,
            # so kstatus (Flux) sees InProgress rather than a resource with no status.
            "status": {**schema_of(RolloutStatus), "default": {"observedGeneration": 0}},
        },
    }
    scale = {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas", "labelSelectorPath": ".status.selector"}
    return _crd(KIND, "Namespaced", ["slr"], schema, {"status": {}, "scale": scale}, PRINTER_COLUMNS, singular="rollout")


def analysis_template_crd(kind: str, scope: str, short_names: list[str]) -> dict[str, Any]:
    schema = {
        "type": "object",
        "description": "Metrics an analysis measures, and the CEL conditions that judge them.",
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": schema_of(AnalysisTemplateSpec),
            "status": schema_of(AnalysisTemplateStatus),
        },
    }
    columns = [
        {"name": "Valid", "type": "string", "jsonPath": ".status.conditions[?(@.type=='Valid')].status"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]
    return _crd(kind, scope, short_names, schema, {"status": {}}, columns)


ANALYSIS_TEMPLATE = "AnalysisTemplate"
CLUSTER_ANALYSIS_TEMPLATE = "ClusterAnalysisTemplate"


def render_crds(plural: str = PLURAL) -> str:
    """One CRD by its plural: rollouts, analysistemplates or clusteranalysistemplates."""
    crds = {
        PLURAL: rollout_crd,
        "analysistemplates": lambda: analysis_template_crd(ANALYSIS_TEMPLATE, "Namespaced", ["slat"]),
        "clusteranalysistemplates": lambda: analysis_template_crd(CLUSTER_ANALYSIS_TEMPLATE, "Cluster", ["slcat"]),
    }
    return yaml.safe_dump(crds[plural](), sort_keys=False, width=120)
