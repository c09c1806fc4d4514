"""The generic OCI path against a real registry: Debian's docker-registry (distribution 2.8) on loopback,
with storage in a temporary folder, an image pushed through the registry API, and, for the token
flow, a token service of the test's own signing JWTs the registry verifies."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import socket
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from joserfc import jwt
from joserfc.jwk import RSAKey

from shiftlane.registry.ecr import Ecr
from shiftlane.registry.inspect import image_exists
from shiftlane.registry.oci import BasicCredentials, OciRegistry
from shiftlane.registry.references import parse_image
from shiftlane.registry.results import Problem, RegistryError

BINARY = shutil.which("docker-registry") or shutil.which("registry")
pytestmark = pytest.mark.skipif(
    BINARY is None, reason="docker-registry is not installed (hack/install-test-deps.sh installs Debian's package)")
SERVICE, ISSUER = "shiftlane-test", "shiftlane-test-issuer"
USER = BasicCredentials("ci", "s3cret")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_registry(folder: Path, auth: dict | None = None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    config = {
        "version": 0.1,
        "log": {"level": "error"},
        "storage": {"filesystem": {"rootdirectory": str(folder / "storage")}, "delete": {"enabled": True}},
        "http": {"addr": f"127.0.0.1:{port}", "secret": uuid.uuid4().hex},
    }
    if auth:
        config["auth"] = auth
    (folder / "config.yml").write_text(json.dumps(config))  # JSON is YAML
    process = subprocess.Popen([BINARY, "serve", str(folder / "config.yml")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read().decode()
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return process, f"127.0.0.1:{port}"
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("docker-registry did not start")


class TokenService:
    """Issues registry tokens (distribution's token spec) to callers with the right basic credentials,
    or to anyone for pulls when ``anonymous_pull``."""

    def __init__(self, folder: Path) -> None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "shiftlane test token signer")])
        now = datetime.now(UTC)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
                .not_valid_after(now + timedelta(days=1)).sign(key, hashes.SHA256()))
        self.bundle = folder / "root.pem"
        self.bundle.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self._x5c = [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()]
        self._key = RSAKey.import_key(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                        serialization.NoEncryption()))
        self.anonymous_pull = False
        self.requests: list[tuple[str, bool]] = []  # (scope, with credentials)

    def token(self, scope: str) -> str:
        _, name, actions = scope.split(":")
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": "ci", "aud": SERVICE, "iat": now, "nbf": now - 5, "exp": now + 300,
                  "jti": uuid.uuid4().hex, "access": [{"type": "repository", "name": name, "actions": actions.split(",")}]}
        return jwt.encode({"alg": "RS256", "x5c": self._x5c}, claims, self._key)

    async def handle(self, request: web.Request) -> web.Response:
        scope = request.query.get("scope", "")
        header = request.headers.get("Authorization", "")
        authorized = header == "Basic " + base64.b64encode(f"{USER.username}:{USER.password}".encode()).decode()
        self.requests.append((scope, bool(header)))
        if request.query.get("service") != SERVICE or not (authorized or (self.anonymous_pull and scope.endswith(":pull"))):
            return web.json_response({"errors": [{"code": "UNAUTHORIZED"}]}, status=401)
        return web.json_response({"token": self.token(scope), "expires_in": 300})


async def push_image(session: aiohttp.ClientSession, registry: str, name: str, tag: str, token: str | None = None) -> str:
    """A config blob, a layer blob and a manifest, written through the registry API; the manifest's digest."""
    auth = {"Authorization": f"Bearer {token}"} if token else {}
    base = f"http://{registry}/v2/{name}"

    async def blob(content: bytes) -> dict:
        digest = "sha256:" + hashlib.sha256(content).hexdigest()
        async with session.post(f"{base}/blobs/uploads/", headers=auth) as started:
            assert started.status == 202, await started.text()
            location = started.headers["Location"]
        async with session.put(location, params={"digest": digest}, data=content,
                               headers={**auth, "Content-Type": "application/octet-stream"}) as done:
            assert done.status == 201, await done.text()
        return {"size": len(content), "digest": digest}

    config = await blob(json.dumps({"architecture": "amd64", "os": "linux",
                                    "rootfs": {"type": "layers", "diff_ids": []}}).encode())
    layer = await blob(tag.encode() * 32)
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **layer}],
    }).encode()
    async with session.put(f"{base}/manifests/{tag}", data=manifest,
                           headers={**auth, "Content-Type": "application/vnd.oci.image.manifest.v1+json"}) as put:
        assert put.status == 201, await put.text()
        assert put.headers["Docker-Content-Digest"] == "sha256:" + hashlib.sha256(manifest).hexdigest()
        return put.headers["Docker-Content-Digest"]


@pytest.fixture(scope="module")
async def session():
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture(scope="module")
def open_registry(tmp_path_factory):
    process, address = start_registry(tmp_path_factory.mktemp("registry"))
    yield address
    process.terminate()
    process.wait(10)


@pytest.fixture(scope="module")
async def token_registry(tmp_path_factory):
    folder = tmp_path_factory.mktemp("token-registry")
    tokens = TokenService(folder)
    app = web.Application()
    app.router.add_get("/token", tokens.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    process, address = start_registry(folder, {"token": {
        "realm": f"http://127.0.0.1:{port}/token", "service": SERVICE, "issuer": ISSUER, "rootcertbundle": str(tokens.bundle)}})
    yield address, tokens
    process.terminate()
    process.wait(10)
    await runner.cleanup()


async def test_a_tag_resolves_to_the_pushed_manifest_digest(session, open_registry) -> None:
    digest = await push_image(session, open_registry, "team/app", "1.0")
    other = await push_image(session, open_registry, "team/app", "1.1")
    oci = OciRegistry(session)
    resolved = await oci.resolve_digest(parse_image("app", f"{open_registry}/team/app:1.0"))
    assert resolved.value == digest and resolved.media_type == "application/vnd.oci.image.manifest.v1+json"
    assert (await oci.resolve_digest(parse_image("app", f"{open_registry}/team/app:1.1"))).value == other
    assert (await oci.resolve_digest(parse_image("app", f"{open_registry}/team/app@{digest}"))).value == digest


async def test_a_missing_tag_or_repository_is_not_found_and_names_it(session, open_registry) -> None:
    oci = OciRegistry(session)
    missing = await oci.resolve_digest(parse_image("app", f"{open_registry}/team/app:9.9"))
    assert isinstance(missing, RegistryError) and missing.problem is Problem.NOT_FOUND
    assert f"{open_registry}/team/app:9.9" in missing.message
    gone = await oci.resolve_digest(parse_image("app", f"{open_registry}/nobody/here:1"))
    assert gone.problem is Problem.NOT_FOUND


async def test_a_deleted_manifest_no_longer_exists_for_a_rollback(session, open_registry) -> None:
    digest = await push_image(session, open_registry, "team/old", "0.9")
    ref = parse_image("app", f"{open_registry}/team/old:0.9")
    oci = OciRegistry(session)
    assert await image_exists(ref, digest, Ecr(), oci) is True
    async with session.delete(f"http://{open_registry}/v2/team/old/manifests/{digest}") as deleted:
        assert deleted.status == 202
    assert await image_exists(ref, digest, Ecr(), oci) is False


async def test_a_stopped_registry_is_unreachable(session) -> None:
    answer = await OciRegistry(session).resolve_digest(parse_image("app", f"127.0.0.1:{free_port()}/app:1"))
    assert answer.problem is Problem.UNREACHABLE


async def test_bearer_tokens_with_basic_credentials(session, token_registry) -> None:
    address, tokens = token_registry
    digest = await push_image(session, address, "private/app", "2.0", token=tokens.token("repository:private/app:pull,push"))
    ref = parse_image("app", f"{address}/private/app:2.0")

    without = await OciRegistry(session).resolve_digest(ref)
    assert isinstance(without, RegistryError) and without.problem is Problem.DENIED

    oci = OciRegistry(session, {address: USER})
    assert (await oci.resolve_digest(ref)).value == digest
    assert tokens.requests[-1] == ("repository:private/app:pull", True)
    # The token is reused until it expires: no second trip to the token service.
    asked = len(tokens.requests)
    assert (await oci.resolve_digest(ref)).value == digest
    assert len(tokens.requests) == asked


async def test_anonymous_bearer_tokens(session, token_registry) -> None:
    address, tokens = token_registry
    digest = await push_image(session, address, "public/app", "3.0", token=tokens.token("repository:public/app:pull,push"))
    tokens.anonymous_pull = True
    try:
        assert (await OciRegistry(session).resolve_digest(parse_image("app", f"{address}/public/app:3.0"))).value == digest
        assert tokens.requests[-1] == ("repository:public/app:pull", False)
    finally:
        tokens.anonymous_pull = False
