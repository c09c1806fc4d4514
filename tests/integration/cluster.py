"""Throwaway namespaces and Rollouts on the real API server of the integration tests."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

from kubernetes_asyncio import client

from tests.e2e.helpers import rollout_manifest


@contextlib.asynccontextmanager
async def fresh_namespace(api: client.ApiClient, prefix: str) -> AsyncIterator[str]:
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    core = client.CoreV1Api(api)
    await core.create_namespace({"metadata": {"name": name}})
    try:
        yield name
    finally:
        await core.delete_namespace(name)


async def create_rollout(api: client.ApiClient, namespace: str, name: str, strategy: dict[str, Any], replicas: int = 2,
                         container: dict[str, Any] | None = None) -> dict[str, Any]:
    body = rollout_manifest(name, strategy, replicas, image=f"{name}:1")
    if container is not None:
        body["spec"]["template"]["spec"]["containers"] = [container]
    return await client.CustomObjectsApi(api).create_namespaced_custom_object("shiftlane.io", "v1alpha1", namespace, "rollouts", body)
