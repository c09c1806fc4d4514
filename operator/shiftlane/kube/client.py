"""The API client: in-cluster credentials when running in a pod, else KUBECONFIG; and what its errors mean."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import aiohttp
from kubernetes_asyncio import client, config


# Connections to the API server open at once. Each TLS connection holds a 256 KiB read buffer for as
# long as it lives: a start-up on 1,000 Rollouts opened the client's default of 100 (traced: 25 MiB
# of buffers, kept). At 8 the same start-up was about four times slower: requests wait on etcd's
# disk as much as on the cores, so concurrency helps up to a point.
API_CONNECTIONS = 32


async def api_client() -> client.ApiClient:
    try:
        config.load_incluster_config()
    except config.ConfigException:
        await config.load_kube_config()
    configuration = client.Configuration.get_default_copy()
    configuration.connection_pool_maxsize = API_CONNECTIONS
    api = client.ApiClient(configuration)
    if not _environment_lends_anything():
        # The client's session reads the proxy variables and the netrc file again, in a thread, on every
        # request (aiohttp's trust_env); with neither there, that was a tenth of a busy operator's CPU.
        api.rest_client.pool_manager._trust_env = False
    return api


def _environment_lends_anything() -> bool:
    """Whether aiohttp's trust_env would find something: a proxy variable or a netrc file."""
    if any(key.lower().endswith("_proxy") and key.lower() != "no_proxy" for key in os.environ):
        return True
    return Path(os.environ.get("NETRC") or Path.home() / ".netrc").exists()


def api_message(error: client.ApiException) -> str:
    """The API server's own message (it names the field or the policy), else the HTTP reason."""
    try:
        message = json.loads(error.body or "{}").get("message")
    except (TypeError, ValueError, AttributeError):
        message = None
    return str(message or f"{error.status} {error.reason}")


def namespace_terminating(error: client.ApiException) -> bool:
    return error.status == 403 and "being terminated" in str(error.body)


def refused(error: client.ApiException) -> bool:
    """A refusal that repeating the same request will not change: validation, admission, authorization."""
    return error.status in (400, 403, 422) and not namespace_terminating(error)


def transient(error: BaseException) -> bool:
    """A failure that says nothing about the request: the API server was busy, failing or unreachable."""
    if isinstance(error, client.ApiException):
        return error.status == 429 or error.status >= 500 or error.status == 0
    return isinstance(error, (aiohttp.ClientConnectionError, asyncio.TimeoutError))


async def json_body(response: Any) -> dict[str, Any]:
    """The answer to a call made with `_preload_content=False` as the API server's JSON, as a watch
    delivers it: no round trip through the client's models (which parse every timestamp, then print
    it again). The client does not raise for such a call, so an error answer is raised here."""
    try:
        body = await response.read()
    finally:
        response.release()
    if not 200 <= response.status <= 299:
        error = client.ApiException(status=response.status, reason=response.reason)
        error.body = body.decode("utf-8", "replace")
        raise error
    return json.loads(body)
