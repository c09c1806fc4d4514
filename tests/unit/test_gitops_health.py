"""What Argo CD (its Lua health check from docs/argocd/) and Flux (kstatus) say about a Rollout in each
phase, judged on statuses the interpreter produces."""

from __future__ import annotations

import pytest

from shiftlane.api.status import Phase, RolloutStatus
from tests.harness.argocd import ArgoCdLua
from tests.harness.kstatus import KStatus, compute
from tests.unit.phases import PHASES

# fixture -> (phase in status, Argo CD health, kstatus)
EXPECTED = {
    "created": (Phase.PENDING, "Progressing", KStatus.IN_PROGRESS),
    "first-deploy-waiting": (Phase.PROGRESSING, "Progressing", KStatus.IN_PROGRESS),
    "healthy": (Phase.HEALTHY, "Healthy", KStatus.CURRENT),
    "template-not-yet-observed": (Phase.HEALTHY, "Progressing", KStatus.IN_PROGRESS),
    "canary-paused": (Phase.PAUSED, "Suspended", KStatus.IN_PROGRESS),
    "paused-by-user": (Phase.PAUSED, "Suspended", KStatus.IN_PROGRESS),
    "degraded": (Phase.DEGRADED, "Degraded", KStatus.FAILED),
    "aborted": (Phase.ABORTED, "Degraded", KStatus.FAILED),
    "stalled-invalid-spec": (Phase.DEGRADED, "Degraded", KStatus.FAILED),
}


@pytest.fixture(scope="module")
def argocd() -> ArgoCdLua:
    return ArgoCdLua()


def test_the_fixtures_cover_every_phase() -> None:
    assert set(EXPECTED) == set(PHASES)
    assert {phase for phase, _, _ in EXPECTED.values()} == set(Phase)


@pytest.mark.parametrize("name", PHASES)
def test_argocd_health(argocd: ArgoCdLua, name: str) -> None:
    obj = PHASES[name]()
    phase, health, _ = EXPECTED[name]
    assert RolloutStatus.model_validate(obj["status"]).phase is phase
    result = argocd.health(obj)
    assert result.status == health, result
    if health != "Healthy":
        assert result.message  # a person sees why


@pytest.mark.parametrize("name", PHASES)
def test_kstatus_reads_the_conditions(name: str) -> None:
    obj = PHASES[name]()
    _, _, expected = EXPECTED[name]
    assert compute(obj).status is expected


def test_argocd_names_the_stall_reason(argocd: ArgoCdLua) -> None:
    result = argocd.health(PHASES["stalled-invalid-spec"]())
    assert result.message.startswith("InvalidSpec: ")
    assert "abTesting" in result.message


def test_argocd_health_without_status(argocd: ArgoCdLua) -> None:
    obj = PHASES["created"]()
    del obj["status"]  # an API server without the CRD's default (or a client that drops it)
    assert argocd.health(obj).status == "Progressing"


def test_kstatus_sees_exactly_one_of_ready_reconciling_stalled() -> None:
    """The conditions never contradict: kstatus would read the first that holds, hiding the others."""
    for name, build in PHASES.items():
        conditions = {c["type"]: c["status"] for c in build()["status"].get("conditions", [])}
        if name == "created":
            assert not conditions
            continue
        holding = [t for t in ("Ready", "Reconciling", "Stalled") if conditions[t] == "True"]
        assert len(holding) == 1, (name, conditions)
