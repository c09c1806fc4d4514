"""HTTP for the providers that ask a server (Prometheus, web): timeouts, TLS, bounded answers, plain errors."""

from __future__ import annotations

import json
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from yarl import URL

from shiftlane.api.analysis_providers import Tls
from shiftlane.analysis.measurement import ProviderContext, ProviderError
from shiftlane.analysis.secrets import secret_value

# A metric is a number or a small document; a larger answer is a wrong address or query.
MAX_RESPONSE_BYTES = 8 << 20


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, ValueError):
            raise ProviderError(f"the answer is not JSON: {self.excerpt()}") from None

    def excerpt(self) -> str:
        text = self.body[:200].decode("utf-8", "replace").strip()
        return repr(text + ("..." if len(self.body) > 200 else ""))


async def tls_setting(tls: Tls | None, context: ProviderContext) -> ssl.SSLContext | bool:
    """What aiohttp's ``ssl`` takes: True (system authorities), False (no check) or a context with a CA."""
    if tls is None:
        return True
    if tls.insecure_skip_verify:
        return False
    if tls.ca is None:
        return True
    pem = await secret_value(context, tls.ca.name, tls.ca.key)
    try:
        return ssl.create_default_context(cadata=pem)
    except (ssl.SSLError, ValueError) as error:
        raise ProviderError(f"Secret {context.namespace}/{tls.ca.name} key {tls.ca.key!r} holds no usable CA certificate: {error}") from None


def shown(url: str) -> str:
    """The URL without its query and credentials, for messages (a query string may hold a key)."""
    try:
        return str(URL(url).with_query(None).with_user(None))
    except ValueError:
        return repr(url)


async def send(method: str, url: str, *, headers: Mapping[str, str], body: bytes | None, timeout: float,
               ssl_setting: ssl.SSLContext | bool = True) -> HttpAnswer:
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
            async with session.request(method, url, headers=dict(headers), data=body, ssl=ssl_setting) as response:
                content = await response.content.read(MAX_RESPONSE_BYTES + 1)
                status = response.status
    except TimeoutError:
        raise ProviderError(f"{method} {shown(url)}: no answer within {timeout:g}s") from None
    except (aiohttp.ClientError, ValueError) as error:
        raise ProviderError(f"{method} {shown(url)}: {error or type(error).__name__}") from None
    if len(content) > MAX_RESPONSE_BYTES:
        raise ProviderError(f"{method} {shown(url)}: the answer is larger than {MAX_RESPONSE_BYTES >> 20} MiB")
    return HttpAnswer(status, content)
