"""Leader election timing without a cluster: a Lease API that answers, fails or hangs on command."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from kubernetes_asyncio import client

from shiftlane.controller.leader import LeadershipLost, LeaseElector

TIMING = {"lease_seconds": 1, "renew_deadline_seconds": 0.5, "retry_seconds": 0.05}


class FakeLeases:
    """One Lease held in memory; ``fault`` makes every call fail (``error``) or never return (``hang``)."""

    def __init__(self) -> None:
        self.lease: client.V1Lease | None = None
        self.version = 0
        self.fault: str | None = None
        self.calls = 0

    async def _call(self) -> None:
        self.calls += 1
        if self.fault == "error":
            raise client.ApiException(status=500, reason="etcd timeout")
        if self.fault == "hang":
            await asyncio.Event().wait()

    async def read_namespaced_lease(self, name, namespace):
        await self._call()
        if self.lease is None:
            raise client.ApiException(status=404)
        return self.lease

    def _store(self, spec: dict) -> None:
        self.version += 1
        self.lease = client.V1Lease(
            metadata=client.V1ObjectMeta(resource_version=str(self.version)),
            spec=client.V1LeaseSpec(
                holder_identity=spec["holderIdentity"],
                lease_duration_seconds=spec["leaseDurationSeconds"],
                renew_time=datetime.strptime(spec["renewTime"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc),
            ),
        )

    async def create_namespaced_lease(self, namespace, body):
        await self._call()
        self._store(body["spec"])

    async def replace_namespaced_lease(self, name, namespace, body):
        await self._call()
        self._store(body["spec"])


NO_API = object()  # the elector's own client is replaced by the fake; nothing reaches a server


def elector(leases: FakeLeases, identity: str) -> LeaseElector:
    candidate = LeaseElector(NO_API, "default", "lease", identity, **TIMING)
    candidate.coordination = leases
    return candidate


def test_a_renew_deadline_not_shorter_than_the_lease_is_refused() -> None:
    with pytest.raises(ValueError):
        LeaseElector(NO_API, "default", "lease", "me", lease_seconds=10, renew_deadline_seconds=10)


@pytest.mark.parametrize("fault", ["error", "hang"])
async def test_the_holder_gives_up_at_the_renew_deadline(fault: str) -> None:
    leases = FakeLeases()
    leader = elector(leases, "leader")
    await leader.acquire()
    keeping = asyncio.ensure_future(leader.keep())
    await asyncio.sleep(0.3)
    assert not keeping.done()  # renewals that succeed keep the lease past the renew deadline
    leases.fault = fault
    calls = leases.calls
    with pytest.raises(LeadershipLost):
        await asyncio.wait_for(keeping, timeout=TIMING["lease_seconds"])
    lost = asyncio.get_running_loop().time()
    assert lost - leader.renewed_at == pytest.approx(TIMING["renew_deadline_seconds"], abs=0.05)
    if fault == "error":
        assert leases.calls - calls > 2, "a failed renewal is retried every retry period until the deadline"


async def test_a_lease_that_keeps_changing_is_not_taken_whatever_its_renew_time_says() -> None:
    """A holder whose clock runs behind writes old renewTimes; the lease is still alive while it changes."""
    leases = FakeLeases()
    standby = elector(leases, "standby")
    skewed = (datetime.now(timezone.utc) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    renewal = {"holderIdentity": "leader", "leaseDurationSeconds": TIMING["lease_seconds"], "renewTime": skewed}
    for _ in range(int(1.5 * TIMING["lease_seconds"] / TIMING["retry_seconds"])):
        leases._store(renewal)
        assert not await standby.try_acquire()
        await asyncio.sleep(TIMING["retry_seconds"])
    await asyncio.sleep(TIMING["lease_seconds"] + TIMING["retry_seconds"])  # the holder stops renewing
    assert await standby.try_acquire()
