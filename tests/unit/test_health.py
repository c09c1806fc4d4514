"""Readiness and the leader gauge for each role of an operator replica."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from prometheus_client import REGISTRY

from shiftlane.controller.health import Health, Role
from shiftlane.metrics import record_build_info

LEASE, DEADLINE = 15, 10


def elector(contacted_at: float | None = None, renewed_at: float | None = None) -> SimpleNamespace:
    # The attributes of LeaseElector that readiness reads.
    return SimpleNamespace(contacted_at=contacted_at, renewed_at=renewed_at, lease_seconds=LEASE,
                           renew_deadline_seconds=DEADLINE)


@pytest.mark.parametrize(
    ("role", "contacted_at", "renewed_at", "operating", "now", "ready", "leader_gauge"),
    [
        # no election: ready once kopf runs its handlers
        (Role.SINGLE, None, None, False, 100, False, 1),
        (Role.SINGLE, None, None, True, 100, True, 1),
        # a standby is ready while it hears about the Lease: it can take over
        (Role.STANDBY, None, None, False, 100, False, 0),
        (Role.STANDBY, 90, None, False, 100, True, 0),
        (Role.STANDBY, 100 - LEASE, None, False, 100, True, 0),
        (Role.STANDBY, 100 - LEASE - 1, None, False, 100, False, 0),
        # the leader: kopf running and the Lease renewed within the renew deadline
        (Role.LEADER, 99, 99, False, 100, False, 1),
        (Role.LEADER, 99, 99, True, 100, True, 1),
        (Role.LEADER, 99, 100 - DEADLINE, True, 100, True, 1),
        (Role.LEADER, 99, 100 - DEADLINE - 1, True, 100, False, 1),
    ],
)
def test_readiness(role: Role, contacted_at, renewed_at, operating: bool, now: float, ready: bool, leader_gauge: int) -> None:
    health = Health(None if role is Role.SINGLE else elector(contacted_at, renewed_at), lambda: operating)
    if role is Role.LEADER:
        health.lead()
    assert health.role is role
    verdict = health.readiness(now)
    assert verdict.ready is ready, verdict.reason
    assert verdict.reason
    assert REGISTRY.get_sample_value("shiftlane_leader") == leader_gauge


def test_build_info_names_the_version() -> None:
    record_build_info()
    samples = [s for m in REGISTRY.collect() if m.name == "shiftlane_build" for s in m.samples]
    assert len(samples) == 1 and samples[0].name == "shiftlane_build_info" and samples[0].value == 1
    assert samples[0].labels["version"] == "0.1.0"
