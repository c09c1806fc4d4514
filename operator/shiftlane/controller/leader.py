"""Leader election on a coordination.k8s.io Lease, so that extra replicas wait instead of acting.

kopf's peering only pauses peers; it is not election. Timing follows client-go: the holder renews every
retry period and gives up when no renewal has succeeded for the renew deadline, which is shorter than
the lease, so it stops acting before any other replica can take the lease over. A replica judges
expiry by its own monotonic clock, from when it last saw the Lease change (not from the holder's
renewTime), so clock skew between nodes cannot make it take a lease early.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone

from kubernetes_asyncio import client

log = logging.getLogger(__name__)


class LeadershipLost(RuntimeError):
    pass


def _micro(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaseElector:
    def __init__(self, api: client.ApiClient, namespace: str, name: str, identity: str,
                 lease_seconds: int = 15, renew_deadline_seconds: float = 10, retry_seconds: float = 2):
        if not 0 < retry_seconds < renew_deadline_seconds < lease_seconds:
            raise ValueError("leader election needs retry period < renew deadline < lease duration")
        self.coordination = client.CoordinationV1Api(api)
        self.namespace, self.name, self.identity = namespace, name, identity
        self.lease_seconds, self.renew_deadline_seconds, self.retry_seconds = (
            lease_seconds, renew_deadline_seconds, retry_seconds)
        # Monotonic time at which the last successful acquire or renewal was sent: the server stamped
        # the lease after it, so the lease lasts at least lease_seconds from then.
        self.renewed_at: float | None = None
        # Monotonic time of the last answer from the API server about the Lease: a standby that hears
        # nothing could not take over.
        self.contacted_at: float | None = None
        self._observed: tuple[str | None, float] | None = None  # (resourceVersion, when first seen)

    def _spec(self, acquired: datetime) -> dict:
        return {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": self.lease_seconds,
            "acquireTime": _micro(acquired),
            "renewTime": _micro(datetime.now(timezone.utc)),
        }

    def _expired(self, lease: client.V1Lease, now: float) -> bool:
        version = lease.metadata.resource_version
        if self._observed is None or self._observed[0] != version:
            self._observed = (version, now)
        return now - self._observed[1] > (lease.spec.lease_duration_seconds or 0)

    async def try_acquire(self) -> bool:
        started = asyncio.get_running_loop().time()
        try:
            lease = await self.coordination.read_namespaced_lease(self.name, self.namespace)
        except client.ApiException as error:
            if error.status != 404:
                raise
            self.contacted_at = started
            body = {"metadata": {"name": self.name, "namespace": self.namespace},
                    "spec": self._spec(datetime.now(timezone.utc))}
            try:
                await self.coordination.create_namespaced_lease(self.namespace, body)
            except client.ApiException as conflict:
                if conflict.status == 409:
                    return False  # another replica created it first
                raise
            self.renewed_at = started
            return True
        self.contacted_at = started
        spec = lease.spec
        expired = self._expired(lease, started)
        if spec.holder_identity not in (None, "", self.identity) and not expired:
            return False
        mine = spec.holder_identity == self.identity and spec.acquire_time
        body = {"metadata": {"name": self.name, "resourceVersion": lease.metadata.resource_version},
                "spec": self._spec(spec.acquire_time if mine else datetime.now(timezone.utc))}
        try:
            await self.coordination.replace_namespaced_lease(self.name, self.namespace, body)
        except client.ApiException as error:
            if error.status == 409:
                return False  # someone else took or renewed it in between
            raise
        self.renewed_at = started
        return True

    async def acquire(self) -> None:
        while not await self.try_acquire():
            await asyncio.sleep(self.retry_seconds)
        log.info("holding lease %s/%s as %s", self.namespace, self.name, self.identity)

    async def keep(self) -> None:
        """Renew every retry period; raise LeadershipLost as soon as another replica holds the lease, or
        when the renew deadline passes without a successful renewal (a request that hangs counts as
        failed then), which is at least lease - renew deadline seconds before the lease expires."""
        assert self.renewed_at is not None, "keep() follows a successful acquire()"
        while True:
            try:
                async with asyncio.timeout_at(self.renewed_at + self.renew_deadline_seconds):
                    held = await self._renew()
            except TimeoutError:
                raise LeadershipLost(
                    f"lease {self.namespace}/{self.name} not renewed within {self.renew_deadline_seconds}s"
                ) from None
            if not held:
                raise LeadershipLost(f"lease {self.namespace}/{self.name} is held by another replica")

    async def _renew(self) -> bool:
        """The answer of the next renewal that gets one; errors are retried (the caller bounds the time)."""
        while True:
            await asyncio.sleep(self.retry_seconds)
            try:
                return await self.try_acquire()
            except Exception as error:  # a blip of the API server: retry until the renew deadline
                log.warning("lease renewal failed: %s", error)
