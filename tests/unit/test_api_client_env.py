"""The API client leaves aiohttp's per-request environment lookups off only when the environment lends
nothing (no proxy variable, no netrc file): a proxy given in the environment is still used."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
import yaml
from kubernetes_asyncio.config import kube_config

from shiftlane.kube.client import api_client

KUBECONFIG = {
    "apiVersion": "v1", "kind": "Config", "current-context": "c",
    "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
    "users": [{"name": "u", "user": {"token": "t"}}],
    "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
}


@pytest.mark.parametrize(
    ("env", "netrc", "trusted"),
    [({}, False, False), ({"HTTPS_PROXY": "http://127.0.0.1:3128"}, False, True), ({"no_proxy": "127.0.0.1"}, False, False),
     ({}, True, True)],
    ids=["nothing", "proxy", "no-proxy-only", "netrc"],
)
def test_the_environment_is_read_only_when_it_lends_something(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              env: dict, netrc: bool, trusted: bool) -> None:
    for key in [k for k in os.environ if k.lower().endswith("_proxy")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    (tmp_path / "kubeconfig").write_text(yaml.safe_dump(KUBECONFIG))
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(tmp_path / "kubeconfig"))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "")  # not in a pod
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
    if netrc:
        (tmp_path / "netrc").write_text("machine 127.0.0.1 login a password b\n")

    async def session_trusts_env() -> bool:
        async with await api_client() as api:
            return api.rest_client.pool_manager.trust_env

    assert asyncio.run(session_trusts_env()) is trusted
