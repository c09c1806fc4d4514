"""Start the operator: metrics and health endpoints, optional leader election, then kopf."""

from __future__ import annotations

import asyncio
import logging
import os
import socket

import kopf
from prometheus_client import start_http_server

from shiftlane.controller import kopf_toggles
from shiftlane.controller.health import Health
from shiftlane.controller.leader import LeaseElector
from shiftlane.kube.client import api_client
from shiftlane.registry.settings import RegistrySettings
from shiftlane.metrics import record_build_info
from shiftlane.traffic import ROUTERS

LEASE_NAME = "shiftlane-leader"
log = logging.getLogger(__name__)


# At debug level these log whole request and response bodies: ECR tokens and pull Secrets among them.
_BODY_LOGGERS = ("botocore", "boto3", "urllib3", "kubernetes_asyncio.client.rest")


def run_operator(namespaces: list[str], metrics_port: int, health_port: int, verbose: bool = False,
                 leader_elect: bool = False, registry: RegistrySettings | None = None,
                 routers: frozenset[str] = ROUTERS) -> None:
    level = "DEBUG" if verbose else os.environ.get("SHIFTLANE_LOG_LEVEL", "info").upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not verbose:
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)  # one line per handler call is noise
    for name in _BODY_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.INFO, logging.getLogger(name).getEffectiveLevel()))
    import shiftlane.controller.handlers as handlers  # importing registers the handlers

    kopf_toggles.install()

    handlers.state.registry = registry or RegistrySettings()
    handlers.drive_routers(routers)

    start_http_server(metrics_port)
    record_build_info()
    operator = kopf.operator(clusterwide=not namespaces, namespaces=namespaces, standalone=True)
    asyncio.run(_elected(operator, health_port) if leader_elect else _single(operator, health_port))


def _operating() -> bool:
    """kopf has run its startup handler: the reconciler exists and watches feed it."""
    from shiftlane.controller.handlers import state

    return state.reconciler is not None


async def _single(operator, health_port: int) -> None:
    await Health(None, _operating).serve(health_port)
    await operator


async def _elected(operator, health_port: int) -> None:
    """Run kopf only while this replica holds the Lease; losing it ends the process (and its pod restarts)."""
    async with await api_client() as api:
        namespace = os.environ.get("POD_NAMESPACE", "default")
        identity = os.environ.get("POD_NAME") or socket.gethostname()
        elector = LeaseElector(api, namespace, LEASE_NAME, identity)
        health = Health(elector, _operating)
        await health.serve(health_port)  # a standby answers its probes while it waits
        await elector.acquire()
        health.lead()
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
