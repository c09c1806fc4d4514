"""What the analysis provider tests share: loopback HTTP(S) servers, a test CA, Secrets, contexts."""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import ssl
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from kubernetes_asyncio import client

from shiftlane.analysis.measurement import ProviderContext
from shiftlane.api.analysis_providers import MetricProvider
from tests.harness.prometheus import LOOPBACK, free_port


@dataclass(frozen=True)
class LoopbackCa:
    """A CA and a server certificate it signed for 127.0.0.1."""

    ca_pem: str
    server_context: ssl.SSLContext


def make_ca(folder: Path) -> LoopbackCa:
    now = datetime.now(UTC)

    def certificate(subject: str, key: ec.EllipticCurvePrivateKey, issuer: str, signer: ec.EllipticCurvePrivateKey,
                    ca: bool) -> x509.Certificate:
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
                   .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if ca:
            builder = builder.add_extension(x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        else:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(LOOPBACK))]),
                                            critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_cert = certificate("shiftlane test CA", ca_key, "shiftlane test CA", ca_key, ca=True)
    server_cert = certificate(LOOPBACK, server_key, "shiftlane test CA", ca_key, ca=False)
    (folder / "server.crt").write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    (folder / "server.key").write_bytes(server_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "server.crt", folder / "server.key")
    return LoopbackCa(ca_cert.public_bytes(serialization.Encoding.PEM).decode(), context)


@contextlib.asynccontextmanager
async def serving(app: web.Application, tls: ssl.SSLContext | None = None) -> AsyncIterator[str]:
    """``app`` on a free loopback port; yields its base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, LOOPBACK, port, ssl_context=tls).start()
    try:
        yield f"{'https' if tls else 'http'}://{LOOPBACK}:{port}"
    finally:
        await runner.cleanup()


async def create_secret(api: client.ApiClient, namespace: str, name: str, data: Mapping[str, str]) -> None:
    body = {"metadata": {"name": name}, "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}
    await client.CoreV1Api(api).create_namespaced_secret(namespace, body)


def context_for(api: client.ApiClient | None, namespace: str = "default", run_name: str = "run", timeout: float = 5.0,
                owner: dict | None = None) -> ProviderContext:
    return ProviderContext(namespace=namespace, run_name=run_name, owner=owner, api=api, timeout=timeout)


def provider(kind: str, **spec: object) -> MetricProvider:
    return MetricProvider.model_validate({kind: spec})
