"""Credentials for providers, read from Secrets in the Rollout's namespace when a measurement is taken."""

from __future__ import annotations

import base64
import binascii

from kubernetes_asyncio import client

from shiftlane.analysis.measurement import ProviderContext, ProviderError
from shiftlane.kube.client import api_message


async def secret_value(context: ProviderContext, name: str, key: str) -> str:
    """The text under ``key`` of Secret ``name``, without a trailing newline (as `echo >` leaves one)."""
    where = f"Secret {context.namespace}/{name}"
    if context.api is None:
        raise ProviderError(f"{where} cannot be read: no Kubernetes API client")
    try:
        secret = await client.CoreV1Api(context.api).read_namespaced_secret(name, context.namespace)
    except client.ApiException as error:
        if error.status == 404:
            raise ProviderError(f"{where} does not exist") from None
        raise ProviderError(f"{where} cannot be read: {api_message(error)}") from None
    encoded = (secret.data or {}).get(key)
    if encoded is None:
        raise ProviderError(f"{where} has no key {key!r}")
    try:
        return base64.b64decode(encoded).decode().rstrip("\r\n")
    except (binascii.Error, UnicodeDecodeError):
        raise ProviderError(f"{where} key {key!r} is not UTF-8 text") from None
