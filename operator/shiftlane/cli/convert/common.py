"""What every conversion shares: the notes it collects, and the Deployment-like fields of a pod workload."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from shiftlane.api.durations import seconds_of
from shiftlane.api.spec import DURATION_PATTERN

API_VERSION = "shiftlane.io/v1alpha1"
# The fields a Rollout takes as a Deployment does.
WORKLOAD_FIELDS = ("replicas", "minReadySeconds", "revisionHistoryLimit", "progressDeadlineSeconds", "paused")
_GO_DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$")
_GO_UNITS_MS = {"ns": 1e-6, "us": 1e-3, "µs": 1e-3, "ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}


@dataclass
class Conversion:
    """One source object turned into a Rollout; `notes` say what did not carry over, by the source's path."""

    source: str  # e.g. "Canary shop/podinfo"
    rollout: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def note(self, path: str, text: str) -> None:
        self.notes.append(f"{path}: {text}")

    def dropped(self, source: dict[str, Any], path: str, keys: dict[str, str]) -> None:
        """A note for each key present in `source` that has no Shiftlane equivalent, with why."""
        for key, why in keys.items():
            if source.get(key) not in (None, False, "", [], {}):
                self.note(f"{path}.{key}", why)


def metadata(source: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    meta = source.get("metadata") or {}
    out: dict[str, Any] = {"name": name or meta.get("name", "")}
    if meta.get("namespace"):
        out["namespace"] = meta["namespace"]
    if meta.get("labels"):
        out["labels"] = dict(meta["labels"])
    return out


def rollout(meta: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": API_VERSION, "kind": "Rollout", "metadata": meta, "spec": spec}


def pod_template(template: dict[str, Any], conversion: Conversion, path: str) -> dict[str, Any]:
    """The pod template as a Rollout keeps it: labels, annotations and the pod spec as written."""
    meta = template.get("metadata") or {}
    kept = {k: dict(meta[k]) for k in ("labels", "annotations") if meta.get(k)}
    conversion.dropped(meta, f"{path}.metadata", {k: "a pod template keeps only labels and annotations"
                                                 for k in meta if k not in ("labels", "annotations", "creationTimestamp")})
    return {"metadata": kept, "spec": template.get("spec") or {}}


def selector(raw: dict[str, Any] | None, template: dict[str, Any], conversion: Conversion, path: str) -> dict[str, Any]:
    """matchLabels only (Shiftlane's Services select by labels); without any, the template's labels."""
    raw = raw or {}
    labels = dict(raw.get("matchLabels") or {})
    if raw.get("matchExpressions"):
        conversion.note(f"{path}.matchExpressions", "not supported (Services select pods by labels): dropped, "
                        "matchLabels alone select the pods")
    if not labels:
        labels = dict((template.get("metadata") or {}).get("labels") or {})
        conversion.note(path, f"no matchLabels: the pod template's labels are used ({labels})")
    return {"matchLabels": labels}


def workload_spec(spec: dict[str, Any], conversion: Conversion, path: str = "spec") -> dict[str, Any]:
    """replicas, selector, template and the Deployment-like settings of a Deployment or Argo Rollout spec."""
    template = pod_template(spec.get("template") or {}, conversion, f"{path}.template")
    out: dict[str, Any] = {k: spec[k] for k in WORKLOAD_FIELDS if k in spec and spec[k] is not None}
    out["selector"] = selector(spec.get("selector"), template, conversion, f"{path}.selector")
    out["template"] = template
    return out


def placeholder_workload(target: str, conversion: Conversion, path: str) -> dict[str, Any]:
    """When the Deployment that holds the pods is not in the input: a template the user must replace."""
    conversion.note(path, f"Deployment {target} is not among the input files: selector and template are placeholders "
                          f"(add its file with another -f to carry them over)")
    labels = {"app": target}
    return {"selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels},
                         "spec": {"containers": [{"name": "app", "image": f"replace-me.invalid/image-of-{target}"}]}}}


def duration(value: Any, conversion: Conversion, path: str) -> str | None:
    """A pause as Shiftlane writes it: Argo's plain seconds (30, "30") or a Go duration ("1m30s")."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and re.fullmatch(r"[0-9]+(\.[0-9]+)?", value)):
        return f"{float(value):g}s"
    text = str(value)
    if re.fullmatch(DURATION_PATTERN, text):
        return text
    if _GO_DURATION.fullmatch(text):
        millis = sum(float(n) * _GO_UNITS_MS[u] for n, _, u in re.findall(r"([0-9]+(\.[0-9]+)?)(ns|us|µs|ms|s|m|h)", text))
        return f"{millis:g}ms"
    conversion.note(path, f"duration {text!r} cannot be read: left out")
    return None


def seconds(value: Any) -> float | None:
    """A Go duration or a number of seconds, in seconds (None when unreadable)."""
    text = duration(value, Conversion(""), "")
    return seconds_of(text) if text is not None else None
