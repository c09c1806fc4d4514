"""Leader election on a coordination.k8s.io Lease, so that extra replicas wait instead of acting.

kopf's peering only pauses peers; it is not election. Only the holder of the Lease runs handlers; a
holder that cannot renew in time stops, and a waiting replica takes the Lease once it expires.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone

from kubernetes_asyncio import client

log = logging.getLogger(__name__)


class LeadershipLost(RuntimeError):
    pass


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _micro(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaseElector:
    def __init__(self, api: client.ApiClient, namespace: str, name: str, identity: str,
                 lease_seconds: int = 15, renew_seconds: float = 5):
        self.coordination = client.CoordinationV1Api(api)
        self.namespace, self.name, self.identity = namespace, name, identity
        self.lease_seconds, self.renew_seconds = lease_seconds, renew_seconds

    def _spec(self, acquired: datetime) -> dict:
        return {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": self.lease_seconds,
            "acquireTime": _micro(acquired),
            "renewTime": _micro(_now()),
        }

    async def try_acquire(self) -> bool:
        try:
            lease = await self.coordination.read_namespaced_lease(self.name, self.namespace)
        except client.ApiException as error:
            if error.status != 404:
                raise
            body = {"metadata": {"name": self.name, "namespace": self.namespace}, "spec": self._spec(_now())}
            try:
                await self.coordination.create_namespaced_lease(self.namespace, body)
                return True
            except client.ApiException as conflict:
                if conflict.status == 409:
                    return False  # another replica created it first
                raise
        spec = lease.spec
        renewed = spec.renew_time or spec.acquire_time
        expired = renewed is None or renewed + timedelta(seconds=spec.lease_duration_seconds or 0) < _now()
        if spec.holder_identity not in (None, "", self.identity) and not expired:
            return False
        acquired = spec.acquire_time if spec.holder_identity == self.identity and spec.acquire_time else _now()
        body = {"metadata": {"name": self.name, "resourceVersion": lease.metadata.resource_version},
                "spec": self._spec(acquired)}
        try:
            await self.coordination.replace_namespaced_lease(self.name, self.namespace, body)
        except client.ApiException as error:
            if error.status == 409:
                return False  # someone else took or renewed it in between
            raise
        return True

    async def acquire(self) -> None:
        while not await self.try_acquire():
            await asyncio.sleep(self.renew_seconds)
        log.info("holding lease %s/%s as %s", self.namespace, self.name, self.identity)

    async def keep(self) -> None:
        """Renew until renewal fails past the lease's duration; then raise so the process stops."""
        last = asyncio.get_running_loop().time()
        while True:
            await asyncio.sleep(self.renew_seconds)
            try:
                held = await self.try_acquire()
            except Exception as error:  # a blip of the API server: keep trying while the lease lasts
                log.warning("lease renewal failed: %s", error)
                held = None
            now = asyncio.get_running_loop().time()
            if held:
                last = now
            elif held is False or now - last > self.lease_seconds:
                raise LeadershipLost(f"lease {self.namespace}/{self.name} is no longer held by {self.identity}")
