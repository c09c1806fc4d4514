"""The API client: in-cluster credentials when running in a pod, else KUBECONFIG."""

from __future__ import annotations

from kubernetes_asyncio import client, config


async def api_client() -> client.ApiClient:
    try:
        config.load_incluster_config()
    except config.ConfigException:
        await config.load_kube_config()
    return client.ApiClient()
