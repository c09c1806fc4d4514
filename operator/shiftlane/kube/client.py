"""The API client: in-cluster credentials when running in a pod, else KUBECONFIG; and what its errors mean."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from kubernetes_asyncio import client, config


async def api_client() -> client.ApiClient:
    try:
        config.load_incluster_config()
    except config.ConfigException:
        await config.load_kube_config()
    return client.ApiClient()


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


def plain(api: client.ApiClient, obj: Any) -> dict[str, Any]:
    """A response model as the API server's JSON (camelCase keys), as a watch delivers it."""
    return api.sanitize_for_serialization(obj)
