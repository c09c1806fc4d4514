"""The ECR pull-Secret keeper against the real API server, with GetAuthorizationToken answered by moto's
server on loopback."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import time
from datetime import timedelta

import boto3
import pytest
from kubernetes_asyncio import client
from prometheus_client import REGISTRY

from shiftlane.kube.secrets import SecretStore
from shiftlane.registry.ecr import Ecr
from shiftlane.registry.pull_secret import EXPIRES_ANNOTATION, SECRET_NAME
from shiftlane.registry.pull_secret_keeper import PullSecretKeeper
from shiftlane.registry.settings import PullSecretSettings
from tests.integration.cluster import fresh_namespace

pytestmark = pytest.mark.skipif(not os.environ.get("KUBECONFIG"), reason="needs a cluster in KUBECONFIG")

ACCOUNT = "123456789012"  # moto's
HOST = f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com"
OTHER_REGION_HOST = f"{ACCOUNT}.dkr.ecr.us-west-2.amazonaws.com"
PASSWORD = f"{ACCOUNT}-auth-token"  # what moto's token decodes to
SETTINGS = PullSecretSettings(timedelta(hours=6), check_interval=0.2)


def template(*images: str) -> dict:
    return {"spec": {"containers": [{"name": f"c{i}", "image": image} for i, image in enumerate(images)]}}


def keeper(api: client.ApiClient) -> PullSecretKeeper:
    return PullSecretKeeper(Ecr(boto3.Session(region_name="eu-west-1")), SecretStore(api), SETTINGS)


async def read(api: client.ApiClient, namespace: str) -> client.V1Secret | None:
    try:
        return await client.CoreV1Api(api).read_namespaced_secret(SECRET_NAME, namespace)
    except client.ApiException as error:
        if error.status == 404:
            return None
        raise


async def eventually(check, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while not (answer := await check()):
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)
    return answer


async def test_a_namespace_pulling_from_ecr_gets_a_dockerconfigjson_secret(api, aws, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="shiftlane")
    async with fresh_namespace(api, "pull") as namespace:
        kept = keeper(api)
        assert await kept.secret_for((namespace, "web"), template("nginx:1")) is None  # nothing from ECR
        assert await read(api, namespace) is None

        name = await kept.secret_for((namespace, "checkout"), template(f"{HOST}/checkout:1", f"{OTHER_REGION_HOST}/tools:2"))
        assert name == SECRET_NAME
        secret = await read(api, namespace)
        assert secret.type == "kubernetes.io/dockerconfigjson"
        auths = json.loads(base64.b64decode(secret.data[".dockerconfigjson"]))["auths"]
        assert set(auths) == {HOST, OTHER_REGION_HOST}
        assert base64.b64decode(auths[HOST]["auth"]).decode() == f"AWS:{PASSWORD}"
        expires = secret.metadata.annotations[EXPIRES_ANNOTATION]  # as ECR (here moto) said
        gauge = REGISTRY.get_sample_value("shiftlane_registry_pull_token_expiry_timestamp_seconds",
                                          {"namespace": namespace, "registry": HOST})
        assert gauge is not None and abs(gauge - secret_expiry(expires)) < 1
        # The token is in the Secret's data and nowhere in the operator's log lines.
        assert PASSWORD not in caplog.text and HOST in caplog.text


def secret_expiry(annotation: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(annotation).timestamp()


async def test_a_deleted_or_edited_secret_is_rewritten_at_once_and_an_untouched_one_left_alone(api, aws) -> None:
    async with fresh_namespace(api, "pull") as namespace:
        kept = keeper(api)
        kept.note((namespace, "checkout"), [template(f"{HOST}/checkout:1")])
        running = asyncio.ensure_future(kept.run())
        core = client.CoreV1Api(api)
        try:
            first = await eventually(lambda: read(api, namespace))
            # moto's token expires in 2015, inside any refresh window: rewritten, but not in a loop.
            await asyncio.sleep(1.0)
            assert (await read(api, namespace)).metadata.resource_version == first.metadata.resource_version

            # Someone shortens the recorded expiry: the Secret is rewritten with what ECR says.
            await core.patch_namespaced_secret(SECRET_NAME, namespace, {"metadata": {"annotations": {
                EXPIRES_ANNOTATION: "2026-01-01T00:00:00+00:00"}}})

            async def restored():
                secret = await read(api, namespace)
                return secret if secret.metadata.annotations[EXPIRES_ANNOTATION] == first.metadata.annotations[EXPIRES_ANNOTATION] else None

            await eventually(restored, 5)

            await core.delete_namespaced_secret(SECRET_NAME, namespace)
            assert await eventually(lambda: read(api, namespace), 5)

            # A new registry is added at once.
            kept.note((namespace, "tools"), [template(f"{OTHER_REGION_HOST}/tools:2")])

            async def both():
                secret = await read(api, namespace)
                return set(json.loads(base64.b64decode(secret.data[".dockerconfigjson"]))["auths"]) == {HOST, OTHER_REGION_HOST}

            await eventually(both, 5)
        finally:
            running.cancel()


async def test_someone_elses_secret_of_that_name_is_never_written_over(api, aws) -> None:
    async with fresh_namespace(api, "pull") as namespace:
        theirs = {"metadata": {"name": SECRET_NAME}, "type": "Opaque", "stringData": {"note": "mine"}}
        await client.CoreV1Api(api).create_namespaced_secret(namespace, theirs)
        assert await keeper(api).secret_for((namespace, "checkout"), template(f"{HOST}/checkout:1")) is None
        secret = await read(api, namespace)
        assert secret.type == "Opaque" and base64.b64decode(secret.data["note"]) == b"mine"
