"""The AWS session the providers share: one credential chain (IRSA, Pod Identity, environment, profile),
resolved once and refreshed by botocore, instead of an STS call per measurement.

Everything here blocks and runs in a worker thread, where boto3 is first imported: an operator that
measures nothing on AWS never loads it."""

from __future__ import annotations

import functools
import os
import threading
from typing import TYPE_CHECKING

from shiftlane.analysis.measurement import ProviderError

if TYPE_CHECKING:
    import boto3
    from botocore.client import BaseClient
    from botocore.credentials import ReadOnlyCredentials

# boto3 sessions are not thread-safe; what they hand out (clients, credentials) is.
_lock = threading.Lock()


@functools.cache
def _session() -> boto3.Session:
    import boto3

    return boto3.Session()


def credentials() -> ReadOnlyCredentials:
    """Blocks (the chain may ask an endpoint): call it from a thread."""
    with _lock:
        found = _session().get_credentials()
    if found is None:
        raise ProviderError("no AWS credentials: the default chain (IRSA, Pod Identity, environment, profile) found none")
    return found.get_frozen_credentials()


def region(explicit: str | None) -> str:
    # botocore reads AWS_DEFAULT_REGION; EKS also sets AWS_REGION, which SDKs of other languages read.
    chosen = explicit or _session().region_name or os.environ.get("AWS_REGION")
    if not chosen:
        raise ProviderError("no AWS region: set region, or AWS_REGION for the operator")
    return chosen


def client(service: str, region_name: str | None, timeout: float) -> BaseClient:
    """A client whose retries back off adaptively and whose connect/read waits end within ``timeout``.
    AWS_ENDPOINT_URL, when set, is honoured by botocore itself."""
    from botocore.config import Config

    config = Config(
        retries={"mode": "adaptive", "max_attempts": 3},
        connect_timeout=min(5.0, timeout),
        read_timeout=timeout,
    )
    with _lock:
        return _session().client(service, region_name=region(region_name), config=config)
