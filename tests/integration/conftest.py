"""Fixtures for the adapters' tests against the API server in KUBECONFIG."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from kubernetes_asyncio import client, config

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
async def api():
    """A client to a server with Shiftlane's CRDs installed and established."""
    subprocess.run(["kubectl", "apply", "--server-side", "--force-conflicts", "-f", str(ROOT / "crds")], check=True, capture_output=True)
    subprocess.run(["kubectl", "wait", "--for=condition=Established", "crd/rollouts.shiftlane.io", "--timeout=60s"], check=True, capture_output=True)
    await config.load_kube_config()
    async with client.ApiClient() as api_client:
        yield api_client
