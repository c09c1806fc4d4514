"""Start the operator: metrics endpoint, then kopf with the liveness endpoint."""

from __future__ import annotations

import asyncio
import logging

import kopf
from prometheus_client import start_http_server


def run_operator(namespaces: list[str], metrics_port: int, health_port: int, verbose: bool = False) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not verbose:
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)  # one line per handler call is noise
    import shiftlane.controller.handlers  # noqa: F401  (registers the handlers)

    start_http_server(metrics_port)
    asyncio.run(
        kopf.operator(
            clusterwide=not namespaces,
            namespaces=namespaces,
            standalone=True,
            liveness_endpoint=f"http://0.0.0.0:{health_port}/healthz",
        )
    )
