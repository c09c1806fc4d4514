"""Start the operator: metrics endpoint, optional leader election, then kopf with the liveness endpoint."""

from __future__ import annotations

import asyncio
import logging
import os
import socket

import kopf
from aiohttp import web
from prometheus_client import start_http_server

from shiftlane.controller.leader import LeaseElector
from shiftlane.kube.client import api_client
from shiftlane.registry.settings import RegistrySettings

LEASE_NAME = "shiftlane-leader"
log = logging.getLogger(__name__)


# At debug level these log whole request and response bodies: ECR tokens and pull Secrets among them.
_BODY_LOGGERS = ("botocore", "boto3", "urllib3", "kubernetes_asyncio.client.rest")


def run_operator(namespaces: list[str], metrics_port: int, health_port: int, verbose: bool = False,
                 leader_elect: bool = False, registry: RegistrySettings | None = None) -> None:
    level = "DEBUG" if verbose else os.environ.get("SHIFTLANE_LOG_LEVEL", "info").upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not verbose:
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)  # one line per handler call is noise
    for name in _BODY_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.INFO, logging.getLogger(name).getEffectiveLevel()))
    import shiftlane.controller.handlers as handlers  # registers the handlers

    handlers.state.registry = registry or RegistrySettings()

    start_http_server(metrics_port)
    operator = kopf.operator(
        clusterwide=not namespaces,
        namespaces=namespaces,
        standalone=True,
        liveness_endpoint=f"http://0.0.0.0:{health_port}/healthz",
    )
    asyncio.run(_elected(operator, health_port) if leader_elect else operator)


async def _standby_health(port: int) -> web.AppRunner:
    """A standby answers /healthz itself, so its liveness probe does not restart it while it waits."""
    app = web.Application()
    app.router.add_get("/healthz", lambda _: web.json_response({"standby": True}))
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "0.0.0.0", port).start()
    return runner


async def _elected(operator, health_port: int) -> None:
    """Run kopf only while this replica holds the Lease; losing it ends the process (and its pod restarts)."""
    async with await api_client() as api:
        namespace = os.environ.get("POD_NAMESPACE", "default")
        identity = os.environ.get("POD_NAME") or socket.gethostname()
        elector = LeaseElector(api, namespace, LEASE_NAME, identity)
        standby = await _standby_health(health_port)
        await elector.acquire()
        await standby.cleanup()  # kopf serves /healthz from here on
        running = asyncio.ensure_future(operator)
        keeping = asyncio.ensure_future(elector.keep())
        await asyncio.wait({running, keeping}, return_when=asyncio.FIRST_COMPLETED)
        if keeping.done():
            # Exit now, while the lease still runs: kopf's own shutdown waits for handlers without a
            # bound, and another replica may act once the lease expires.
            log.critical("stopping: %s", keeping.exception())
            logging.shutdown()
            os._exit(1)
        keeping.cancel()
        running.result()
