"""/healthz (liveness) and /readyz (readiness) for the whole life of the process, whatever its role.

Readiness tells the roles apart in its answer: the leader is ready while kopf runs and its Lease was
renewed within the renew deadline; a standby is ready while it hears from the API server about the Lease
(it could take over). A standby is not held unready for being a standby: a Deployment would then never
count it available, so a rolling update of the operator would wait forever for a new pod that cannot lead
while the old one leads, and `helm --wait`, Argo CD and Flux would never see the operator's own
Deployment healthy. `shiftlane_leader` and the `role` of each answer say which replica leads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from aiohttp import web

from shiftlane.controller.leader import LeaseElector
from shiftlane.metrics import LEADER


class Role(str, Enum):
    SINGLE = "single"  # no leader election: the only replica acts
    STANDBY = "standby"
    LEADER = "leader"


@dataclass(frozen=True)
class Verdict:
    ready: bool
    reason: str


class Health:
    def __init__(self, elector: LeaseElector | None, operating: Callable[[], bool]):
        """`operating`: whether kopf has started its handlers in this process."""
        self.elector = elector
        self.operating = operating
        self.role = Role.SINGLE if elector is None else Role.STANDBY
        LEADER.set(1 if elector is None else 0)

    def lead(self) -> None:
        self.role = Role.LEADER
        LEADER.set(1)

    def readiness(self, now: float) -> Verdict:
        elector = self.elector
        if self.role is Role.STANDBY:
            heard = elector.contacted_at is not None and now - elector.contacted_at <= elector.lease_seconds
            if heard:
                return Verdict(True, "standby: the Lease is read; ready to take over")
            return Verdict(False, f"standby: no answer about the Lease for {elector.lease_seconds}s")
        if not self.operating():
            return Verdict(False, "starting")
        if self.role is Role.LEADER and now - elector.renewed_at > elector.renew_deadline_seconds:
            return Verdict(False, "leader: the Lease was not renewed within the renew deadline")
        return Verdict(True, "leader" if self.role is Role.LEADER else "running")

    async def serve(self, port: int) -> web.AppRunner:
        async def healthz(_: web.Request) -> web.Response:
            return web.json_response({"role": self.role.value})

        async def readyz(_: web.Request) -> web.Response:
            verdict = self.readiness(asyncio.get_running_loop().time())
            body = {"role": self.role.value, "ready": verdict.ready, "reason": verdict.reason}
            return web.json_response(body, status=200 if verdict.ready else 503)

        app = web.Application()
        app.router.add_get("/healthz", healthz)
        app.router.add_get("/readyz", readyz)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "0.0.0.0", port).start()
        return runner
