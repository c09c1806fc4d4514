"""Fixtures for the adapters' tests against the API server in KUBECONFIG."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest
import requests
from kubernetes_asyncio import client, config
from moto.server import ThreadedMotoServer

from tests.harness.ecr import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
async def api():
    """A client to a server with Shiftlane's CRDs installed and established."""
    subprocess.run(["kubectl", "apply", "--server-side", "--force-conflicts", "-f", str(ROOT / "crds")], check=True, capture_output=True)
    subprocess.run(["kubectl", "wait", "--for=condition=Established", "crd/rollouts.shiftlane.io", "--timeout=60s"], check=True, capture_output=True)
    await config.load_kube_config()
    async with client.ApiClient() as api_client:
        yield api_client


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """moto in server mode on loopback; boto3 finds it through AWS_ENDPOINT_URL, with test credentials."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ENDPOINT_URL", endpoint)
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.delenv("AWS_PROFILE", raising=False)
        env.delenv("AWS_SESSION_TOKEN", raising=False)
        yield endpoint
    server.stop()


@pytest.fixture
def aws(moto_endpoint: str) -> Callable[..., object]:
    """boto3 clients on the moto server, per region; the server is reset for each test."""
    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=5)
    return lambda region="eu-west-1": boto3.client("ecr", region_name=region)
