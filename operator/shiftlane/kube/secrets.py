"""Reading and writing the pull Secret, with no body ever passed through the client's logging.

The client logs whole response bodies at debug level; a Secret's body holds registry credentials, so
every call here reads the raw response itself (``_preload_content=False``) and raises only the API
server's message.
"""

from __future__ import annotations

import json
from typing import Any

from kubernetes_asyncio import client

from shiftlane.kube.labels import FIELD_MANAGER


class SecretWriteError(Exception):
    """A Secret call the API server refused: its status and its message (never the Secret's data)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


class SecretStore:
    def __init__(self, api: client.ApiClient) -> None:
        self.core = client.CoreV1Api(api)

    async def read(self, namespace: str, name: str) -> dict[str, Any] | None:
        response = await self.core.read_namespaced_secret(name, namespace, _preload_content=False)
        if response.status == 404:
            return None
        return await _answer(response)

    async def write(self, manifest: dict[str, Any], resource_version: str | None) -> dict[str, Any]:
        """Create the Secret, or replace the one read at ``resource_version`` (a conflict if it changed since)."""
        meta = manifest["metadata"]
        if resource_version is None:
            response = await self.core.create_namespaced_secret(
                meta["namespace"], manifest, field_manager=FIELD_MANAGER, _preload_content=False)
        else:
            body = {**manifest, "metadata": {**meta, "resourceVersion": resource_version}}
            response = await self.core.replace_namespaced_secret(
                meta["name"], meta["namespace"], body, field_manager=FIELD_MANAGER, _preload_content=False)
        return await _answer(response)


async def _answer(response: Any) -> dict[str, Any]:
    text = await response.text()
    if 200 <= response.status <= 299:
        return json.loads(text)
    try:
        message = json.loads(text).get("message") or response.reason
    except ValueError:
        message = response.reason
    raise SecretWriteError(response.status, str(message))
