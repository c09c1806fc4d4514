"""What the route kinds with a list of rules share (Gateway API rules, Istio http routes): which rules
Shiftlane manages, weights on their stable / canary entries, its own match rules placed first, a mirror.
A subclass says how its kind spells each of these."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shiftlane.api.spec import RequestMatch
from shiftlane.engine.model import RouterState
from shiftlane.traffic.router import Backends, ObjectRef, Wanted, edited

Entry = dict[str, Any]


def share(stable: int, canary: int) -> int:
    """The canary's percent of two weights, as a proxy splits them."""
    total = stable + canary
    return round(100 * canary / total) if total > 0 else 0


def weigh(entries: list[Entry], is_stable: Callable[[Entry], bool], is_canary: Callable[[Entry], bool], canary: Entry, want: Wanted) -> list[Entry]:
    """`entries` (backendRefs, destinations, services) with the stable and canary weights set; `canary`
    is appended when missing. Where none goes to the canary and the user wrote no canary entry, the
    entries stay as written."""
    has_canary = any(is_canary(e) for e in entries)
    if not has_canary and not want.canary_weight:
        return entries
    weighed = [
        {**e, "weight": want.stable_weight} if is_stable(e) else {**e, "weight": want.canary_weight} if is_canary(e) else e
        for e in entries
    ]
    return weighed if has_canary else [*weighed, {**canary, "weight": want.canary_weight}]


@dataclass(frozen=True)
class RuleRoute:
    ref: ObjectRef
    names: Backends
    rule_names: tuple[str, ...] = ()
    carries_traffic: bool = True

    # How the kind spells its list of rules, and one rule.
    rules_key = ""
    rule_word = ""

    def stable_label(self) -> str:
        """What a rule names to reach the stable Service, for the problem when none does."""
        raise NotImplementedError

    def stable_of(self, rule: Entry) -> Entry | None:
        """The rule's entry to the stable Service, or None when it names none."""
        raise NotImplementedError

    def canary_weight(self, rule: Entry) -> int:
        raise NotImplementedError

    def mirror_percent(self, rule: Entry) -> int | None:
        """The share the rule mirrors to the canary, None when it mirrors nothing there."""
        raise NotImplementedError

    def set_traffic(self, rule: Entry, stable: Entry, want: Wanted) -> None:
        """Weights and mirror of a managed rule, in place."""
        raise NotImplementedError

    def match_rule(self, name: str, rule: Entry, stable: Entry, requests: tuple[RequestMatch, ...]) -> Entry:
        """A copy of the user's rule for the matching requests only, all to the canary."""
        raise NotImplementedError

    def match_groups(self, want: Wanted) -> list[tuple[RequestMatch, ...]]:
        """The request matches of each rule Shiftlane adds per managed rule."""
        return [want.matches] if want.matches else []

    @property
    def paths(self) -> tuple[str, ...]:
        return (f"/spec/{self.rules_key}",)

    def _managed(self, rules: list[Entry]) -> list[int]:
        return [
            i
            for i, rule in enumerate(rules)
            if not self.names.is_match(rule.get("name"))
            and (not self.rule_names or rule.get("name") in self.rule_names)
            and self.stable_of(rule) is not None
        ]

    def read(self, obj: dict[str, Any]) -> RouterState:
        rules = (obj.get("spec") or {}).get(self.rules_key) or []
        names = {r.get("name") for r in rules}
        problems = [f"{self.ref} has no {self.rule_word} named {n}" for n in self.rule_names if n not in names]
        managed = [rules[i] for i in self._managed(rules)]
        if not managed:
            where = f" in {self.rule_word}s {', '.join(self.rule_names)}" if self.rule_names else ""
            problems.append(f"{self.ref} has no {self.stable_label()}{where}")
        return RouterState(
            canary_weight=max([self.canary_weight(r) for r in managed], default=0),
            header_route=any(self.names.is_match(r.get("name")) for r in rules),
            mirror_percent=max([p for r in managed if (p := self.mirror_percent(r)) is not None], default=0),
            problems=tuple(problems),
        )

    def edit(self, obj: dict[str, Any], want: Wanted) -> dict[str, Any]:
        out = edited(obj)
        rules = out.setdefault("spec", {}).get(self.rules_key) or []
        managed = set(self._managed(rules))
        kept: list[Entry] = []
        matching: list[Entry] = []
        for i, rule in enumerate(rules):
            if self.names.is_match(rule.get("name")):
                continue  # recomputed below from the rule it overrides, or gone
            if i in managed:
                stable = self.stable_of(rule)
                assert stable is not None
                stable = edited(stable)
                for requests in self.match_groups(want):
                    matching.append(self.match_rule(self.names.match_name(len(matching)), rule, stable, requests))
                self.set_traffic(rule, stable, want)
            kept.append(rule)
        # First in the list: Istio takes the first route that matches, Gateway API breaks ties by order.
        out["spec"][self.rules_key] = matching + kept
        return out
