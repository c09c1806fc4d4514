"""Leader election on a real Lease: one holder at a time; a waiting replica takes over after expiry."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
from kubernetes_asyncio import client, config

from shiftlane.controller.leader import LeadershipLost, LeaseElector

pytestmark = pytest.mark.skipif(not os.environ.get("KUBECONFIG"), reason="needs a cluster in KUBECONFIG")


@pytest.fixture
async def api():
    await config.load_kube_config()
    async with client.ApiClient() as api_client:
        yield api_client


async def test_one_holder_and_takeover_after_expiry(api) -> None:
    name = f"leader-{uuid.uuid4().hex[:6]}"
    first = LeaseElector(api, "default", name, "first", lease_seconds=2, renew_seconds=0.2)
    second = LeaseElector(api, "default", name, "second", lease_seconds=2, renew_seconds=0.2)
    try:
        assert await first.try_acquire()
        assert not await second.try_acquire()
        assert await first.try_acquire()  # renewal by the holder

        keeping = asyncio.ensure_future(first.keep())
        waiting = asyncio.ensure_future(second.acquire())
        await asyncio.sleep(1.5)
        assert not waiting.done()  # a renewed lease is never taken
        keeping.cancel()  # the holder dies without a word
        await asyncio.wait_for(waiting, timeout=5)
        lease = await client.CoordinationV1Api(api).read_namespaced_lease(name, "default")
        assert lease.spec.holder_identity == "second"

        with pytest.raises(LeadershipLost):
            await asyncio.wait_for(first.keep(), timeout=5)  # the old holder learns it lost
    finally:
        await client.CoordinationV1Api(api).delete_namespaced_lease(name, "default")
