"""Tag to digest on any registry that speaks the OCI distribution API (Docker Hub, GHCR, Harbor, ...).

A HEAD on ``/v2/<name>/manifests/<reference>`` answers with ``Docker-Content-Digest``; a registry
that wants a token answers 401 with a ``WWW-Authenticate`` challenge naming the token service, which
gives a Bearer token for ``repository:<name>:pull``, anonymously or with basic credentials.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ipaddress
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field

import aiohttp
import yarl

from shiftlane.registry.metrics import measured
from shiftlane.registry.references import DOCKER_HUB, ImageReference
from shiftlane.registry.results import Digest, Problem, RegistryError

ACCEPT = ", ".join([
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
])
DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=20, sock_connect=5, sock_read=15)
# A token service that names no lifetime grants 60 s (distribution's token spec).
DEFAULT_TOKEN_SECONDS = 60
_API_HOSTS = {DOCKER_HUB: "registry-1.docker.io"}


@dataclass(frozen=True)
class BasicCredentials:
    username: str
    password: str = field(repr=False)


def basic_authorization(credentials: BasicCredentials) -> str:
    return "Basic " + base64.b64encode(f"{credentials.username}:{credentials.password}".encode()).decode()


def _challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, params = header.strip().partition(" ")
    return scheme.lower(), urllib.request.parse_keqv_list(urllib.request.parse_http_list(params))


def _plain_http(host: str) -> bool:
    """Loopback registries speak plain HTTP, as containerd and Docker allow them to."""
    name = yarl.URL(f"//{host}").host or ""
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class OciRegistry:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        credentials: Mapping[str, BasicCredentials] | None = None,
        *,
        timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
    ) -> None:
        self._session = session
        self._credentials = dict(credentials or {})  # by registry host as images name it
        self._timeout = timeout
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}  # (host, scope) -> (token, expiry)

    async def resolve_digest(self, ref: ImageReference) -> Digest | RegistryError:
        """The digest of ``ref``'s tag (or its digest, once the registry confirms it)."""
        reference = ref.digest or ref.tag or "latest"
        host = _API_HOSTS.get(ref.registry, ref.registry)
        url = f"{'http' if _plain_http(host) else 'https'}://{host}/v2/{ref.repository}/manifests/{reference}"
        with measured("oci:manifest") as call:
            try:
                result = await self._manifest_digest(ref, url)
            except (aiohttp.ClientError, asyncio.TimeoutError) as error:
                result = RegistryError(Problem.UNREACHABLE, f"registry {ref.registry} unreachable: {error!r}")
            if isinstance(result, RegistryError):
                call.outcome = result.problem.value
            return result

    async def _manifest_digest(self, ref: ImageReference, url: str) -> Digest | RegistryError:
        scope = f"repository:{ref.repository}:pull"
        headers = {"Accept": ACCEPT}
        if cached := self._tokens.get((ref.registry, scope)):
            if cached[1] > time.monotonic():
                headers["Authorization"] = f"Bearer {cached[0]}"
        response = await self._request("HEAD", url, headers)
        if response.status == 401:
            authorization = await self._authorize(ref, scope, response.headers.get("WWW-Authenticate", ""))
            if isinstance(authorization, RegistryError):
                return authorization
            headers["Authorization"] = authorization
            response = await self._request("HEAD", url, headers)
        if response.status == 200:
            digest = response.headers.get("Docker-Content-Digest")
            if not digest:
                # Some registries leave the header out of HEAD: the digest of the manifest's bytes is the same.
                async with self._session.get(url, headers=headers, timeout=self._timeout) as got:
                    got.raise_for_status()
                    digest = "sha256:" + hashlib.sha256(await got.read()).hexdigest()
            return Digest(digest, response.headers.get("Content-Type"))
        return _error(ref, response.status)

    async def _request(self, method: str, url: str, headers: dict[str, str]) -> aiohttp.ClientResponse:
        async with self._session.request(method, url, headers=headers, timeout=self._timeout, allow_redirects=True) as response:
            return response

    async def _authorize(self, ref: ImageReference, scope: str, header: str) -> str | RegistryError:
        """The Authorization header value that answers the registry's challenge."""
        scheme, params = _challenge(header)
        credentials = self._credentials.get(ref.registry)
        if scheme == "basic":
            if credentials is None:
                return RegistryError(Problem.DENIED, f"registry {ref.registry} wants credentials and none are configured", 300.0)
            return basic_authorization(credentials)
        if scheme != "bearer" or "realm" not in params:
            return RegistryError(Problem.DENIED, f"registry {ref.registry} sent an unusable challenge: {header!r}", 300.0)
        query = {"scope": scope}
        if "service" in params:
            query["service"] = params["service"]
        auth = {"Authorization": basic_authorization(credentials)} if credentials else {}
        async with self._session.get(params["realm"], params=query, headers=auth, timeout=self._timeout) as response:
            if response.status in (401, 403):
                return RegistryError(Problem.DENIED, f"token service of {ref.registry} refused pull of {ref.repository}", 300.0)
            if response.status != 200:
                return _error(ref, response.status)
            body = await response.json(content_type=None)
        token = body.get("token") or body.get("access_token")
        if not token:
            return RegistryError(Problem.DENIED, f"token service of {ref.registry} returned no token")
        lifetime = int(body.get("expires_in") or DEFAULT_TOKEN_SECONDS)
        # Renew a little early so a token never expires between the check and the request.
        self._tokens[(ref.registry, scope)] = (token, time.monotonic() + max(lifetime - 10, 0))
        return f"Bearer {token}"


def _error(ref: ImageReference, status: int) -> RegistryError:
    if status == 404:
        return RegistryError(Problem.NOT_FOUND, f"{ref.describe()} does not exist")
    if status in (401, 403):
        return RegistryError(Problem.DENIED, f"registry {ref.registry} refused access to {ref.repository}", 300.0)
    if status == 429:
        return RegistryError(Problem.THROTTLED, f"registry {ref.registry} is rate-limiting requests", 60.0)
    return RegistryError(Problem.UNREACHABLE, f"registry {ref.registry} answered HTTP {status} for {ref.describe()}")
