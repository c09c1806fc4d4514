"""How long the reconciler waits after a failure: refusals back off far, transient failures briefly."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from kubernetes_asyncio import client

from shiftlane.controller.reconciler import Backoff, retry_delay
from shiftlane.kube.client import transient


def after(delay: float, generation: int = 1) -> Backoff:
    return Backoff(delay, 0.0, generation, None)


@pytest.mark.parametrize(("previous", "generation", "passing", "expected"), [
    (None, 1, False, 5.0),              # a first refusal
    (None, 1, True, 1.0),               # a first 500 or dropped connection
    (after(5.0), 1, False, 10.0),       # doubling
    (after(160.0), 1, False, 300.0),    # refusals stop at 5 min
    (after(1.0), 1, True, 2.0),
    (after(16.0), 1, True, 30.0),       # transient failures stop at 30 s
    (after(300.0), 1, True, 30.0),      # a refusal's long wait shrinks once the failure is only transient
    (after(1.0), 1, False, 5.0),        # a refusal after transient failures waits at least 5 s
    (after(300.0), 2, False, 5.0),      # a spec change starts again
    (after(30.0), 2, True, 1.0),
])
def test_retry_delay(previous: Backoff | None, generation: int, passing: bool, expected: float) -> None:
    assert retry_delay(previous, generation, passing) == expected


@pytest.mark.parametrize(("error", "expected"), [
    (client.ApiException(status=500), True),
    (client.ApiException(status=503), True),
    (client.ApiException(status=429), True),
    (client.ApiException(status=0), True),
    (aiohttp.ServerDisconnectedError(), True),
    (aiohttp.ClientConnectorError(None, OSError(111, "refused")), True),
    (asyncio.TimeoutError(), True),
    (client.ApiException(status=422), False),
    (client.ApiException(status=403), False),
    (client.ApiException(status=404), False),
    (client.ApiException(status=409), False),
    (KeyError("spec"), False),
])
def test_transient(error: BaseException, expected: bool) -> None:
    assert transient(error) is expected
