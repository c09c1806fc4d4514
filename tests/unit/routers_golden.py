"""Golden-file cases for the traffic routers' pure translation.

A case is a folder tests/unit/golden/routers/<router>/<case>/ holding `input.yaml` (the trafficRouting,
the traffic state, the user's objects as the API server stores them) and `after.yaml` (every object as
apply leaves it, and the RouterState read back from them). `SHIFTLANE_UPDATE_GOLDEN=1 pytest …` rewrites
the `after.yaml` files; review the diff before committing it.
"""

from __future__ import annotations

import copy
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import yaml

from shiftlane.api.spec import RequestMatch, TrafficRouting
from shiftlane.engine.model import RouterState, Traffic
from shiftlane.traffic import router_for
from shiftlane.traffic.router import ObjectRef, wanted

GOLDEN = Path(__file__).parent / "golden" / "routers"
NAMESPACE = "shop"
ROLLOUT = {
    "apiVersion": "shiftlane.io/v1alpha1",
    "kind": "Rollout",
    "metadata": {"name": "checkout", "namespace": NAMESPACE, "uid": "7d1c1f2e-0000-4000-8000-000000000001"},
}
STABLE, CANARY = "5d8f7c9b4a", "6c4b2a1f3e"


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True  # golden files spell every object out


def cases(router: str) -> list[Path]:
    return sorted(p for p in (GOLDEN / router).iterdir() if p.is_dir())


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def traffic(raw: dict[str, Any]) -> tuple[str | None, Traffic]:
    """The engine's Traffic for a case: `canary: false` means no canary revision at all."""
    if raw.get("canary") is False:
        return None, Traffic(weights={STABLE: 100})
    weight = raw.get("canaryWeight", 0)
    return CANARY, Traffic(
        weights={STABLE: 100 - weight, CANARY: weight},
        header_route=tuple(RequestMatch.model_validate(m) for m in raw.get("headerRoute", [])),
        mirror_percent=raw.get("mirrorPercent", 0),
        canary=CANARY,
    )


def key(obj: dict[str, Any]) -> tuple[str, str]:
    return obj["kind"], obj["metadata"]["name"]


def by_ref(refs: list[ObjectRef], objects: list[dict[str, Any]]) -> dict[ObjectRef, dict[str, Any] | None]:
    found = {key(o): o for o in objects}
    return {ref: found.get((ref.kind, ref.name)) for ref in refs}


def state_dict(state: RouterState) -> dict[str, Any]:
    raw = asdict(state)
    return {"canaryWeight": raw["canary_weight"], "headerRoute": raw["header_route"], "mirrorPercent": raw["mirror_percent"], "problems": list(raw["problems"])}


class Case:
    def __init__(self, folder: Path):
        self.folder = folder
        self.input = load(folder / "input.yaml")
        self.router = router_for(TrafficRouting.model_validate(self.input["routing"]), NAMESPACE, ROLLOUT["metadata"]["name"])
        self.canary, self.traffic = traffic(self.input.get("traffic", {}))
        self.before = by_ref(self.router.objects(), self.input.get("objects", []))

    def apply(self, current: dict[ObjectRef, dict[str, Any] | None]) -> dict[ObjectRef, dict[str, Any] | None]:
        changed = self.router.translate(current, wanted(STABLE, self.canary, self.traffic), ROLLOUT)
        return {**current, **changed}

    def run(self) -> None:
        after = self.apply(self.before)
        state = self.router.read(after)
        produced = {"objects": [o for o in after.values() if o is not None], "state": state_dict(state)}
        expected_file = self.folder / "after.yaml"
        if os.environ.get("SHIFTLANE_UPDATE_GOLDEN") == "1":
            expected_file.write_text(yaml.dump(produced, Dumper=_Dumper, sort_keys=False, width=120))
        assert produced == load(expected_file), f"{self.folder.name}: differs from after.yaml"
        # A second apply to what the first left writes nothing: no redundant writes.
        assert self.apply(after) == after
        self.check_untouched(after)

    def check_untouched(self, after: dict[ObjectRef, dict[str, Any] | None]) -> None:
        """Outside the paths the router manages, the user's objects are exactly as they were."""
        for managed in getattr(self.router, "managed", ()):
            before = self.before[managed.ref]
            if before is not None:
                assert _without(before, managed.paths) == _without(after[managed.ref], managed.paths)


def _without(obj: dict[str, Any], paths: tuple[str, ...]) -> dict[str, Any]:
    copied = copy.deepcopy(obj)
    for path in paths:
        *parents, last = [t.replace("~1", "/").replace("~0", "~") for t in path.split("/")[1:]]
        node = copied
        for token in parents:
            node = node.get(token, {})
        node.pop(last, None)
    return copied
