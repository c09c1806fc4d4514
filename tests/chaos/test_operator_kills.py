"""The operator SIGKILLed at random moments, again and again, while a fleet of Rollouts of every kind
changes image at once: each ends as it must (Healthy on the new revision; the one that never gets
ready Aborted by its progress deadline with all traffic on stable), and the invariant watcher sees no
safety rule broken on the way (no step skipped, repeated or restarted; no traffic to pods that are
not ready; no capacity taken from traffic; never three revisions), and no transition's Event is told
twice. Requests sent through the gateway
to the routed canaries all get 2xx answers throughout.

bench/chaos_kills.py runs the same with a larger fleet and prints the figures."""

from __future__ import annotations

import os
import random
import time

import pytest

from tests.chaos.fleet import Killer, change_images, deploy, fleet, told_twice, wait_all
from tests.e2e.conftest import Operator
from tests.e2e.helpers import Namespace
from tests.harness.invariants import InvariantWatcher
from tests.harness.traffic import Background

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

SIZE = int(os.environ.get("SHIFTLANE_CHAOS_ROLLOUTS", "9"))
KILLING_FOR = 100.0  # seconds at most; killing stops once every rollout has ended


def test_every_rollout_ends_correct_with_the_operator_killed_at_random_moments(
        chaos_ns: Namespace, own_operator: Operator, invariants: InvariantWatcher) -> None:
    seed = int(os.environ.get("SHIFTLANE_CHAOS_SEED") or random.randrange(1 << 30))
    print(f"seed {seed} (SHIFTLANE_CHAOS_SEED reproduces the kill times)")
    members = fleet(SIZE)
    olds = deploy(chaos_ns, members)
    routed = [m for m in members if m.kind.routed]
    with Background([m.host(chaos_ns.name) for m in routed]) as traffic:
        change_images(chaos_ns, members)
        started = time.monotonic()
        with Killer(own_operator.kill, own_operator.start, seed) as killer:
            left = wait_all(chaos_ns, members, olds, KILLING_FOR)
        assert killer.error is None, f"killing or restarting the operator failed: {killer.error}"
        took = time.monotonic() - started
        left = wait_all(chaos_ns, members, olds, 90)
    for member in routed:
        invariants.replies(chaos_ns.name, member.name, "a rollout under operator kills", traffic.replies[member.host(chaos_ns.name)])
    print(f"{len(members)} rollouts, {killer.kills} kills in {took:.0f}s, "
          f"{sum(map(len, traffic.replies.values()))} requests through the gateway")
    assert not left, f"rollouts not ended as they must (after {killer.kills} kills): {left}"
    assert killer.kills >= 3, f"only {killer.kills} kills: the rollouts ended before the chaos began"
    assert not told_twice(chaos_ns, members)
