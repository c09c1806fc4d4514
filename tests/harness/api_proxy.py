"""A loopback proxy in front of the API server: it records each request a client makes and can fail a
share of writes or drop connections, so a test sees what an operator wrote (and when) and how it
lives with a flaky API server.

The client talks plain HTTP to 127.0.0.1:<port> (`kubeconfig()` writes a copy of a kubeconfig that
says so, with the same credentials); the proxy forwards each request over TLS to the API server in
the original kubeconfig and streams the answer back (watches included).
"""

from __future__ import annotations

import asyncio
import random
import ssl
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import yaml
from aiohttp import web
from kubernetes_asyncio import client, config

EXPIRED = b'"code":410'  # in a watch stream: the ERROR event that ends a watch from a compacted resourceVersion
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_HOP_BY_HOP = {"host", "connection", "keep-alive", "transfer-encoding", "content-length", "upgrade", "accept-encoding"}


@dataclass(frozen=True)
class Request:
    at: float  # wall-clock time the proxy received it
    method: str
    path: str
    status: int  # 0: dropped by the proxy

    @property
    def write(self) -> bool:
        return self.method in WRITES


class ApiProxy:
    def __init__(self, kubeconfig: str, fail_writes: float = 0.0, drop: float = 0.0, seed: int = 0):
        self.source = kubeconfig
        self.fail_writes = fail_writes  # share of writes answered 500 without reaching the API server
        self.drop = drop  # share of requests whose connection is closed without an answer
        self.random = random.Random(seed)
        self.requests: list[Request] = []
        self.expired: list[str] = []  # watches the API server ended with 410 Gone (resourceVersion too old)
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> ApiProxy:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name="api-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the API proxy did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)

    def kubeconfig(self, path: Path) -> str:
        """A copy of the source kubeconfig that reaches the API server through this proxy."""
        document = yaml.safe_load(Path(self.source).read_text())
        for cluster in document["clusters"]:
            cluster["cluster"] = {"server": f"http://127.0.0.1:{self.port}"}
        path.write_text(yaml.safe_dump(document))
        path.chmod(0o600)
        return str(path)

    def writes(self, since: float = 0.0) -> list[Request]:
        return [r for r in list(self.requests) if r.write and r.at >= since]

    async def _main(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        cfg = client.Configuration()
        await config.load_kube_config(config_file=self.source, client_configuration=cfg)
        context = ssl.create_default_context(cafile=cfg.ssl_ca_cert)
        if cfg.cert_file:
            context.load_cert_chain(cfg.cert_file, cfg.key_file)
        auth = cfg.api_key.get("BearerToken") or cfg.api_key.get("authorization")
        upstream = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context), timeout=aiohttp.ClientTimeout(total=None),
                                         auto_decompress=False)
        app = web.Application(client_max_size=64 * 1024 * 1024)
        async def forward(request: web.Request) -> web.StreamResponse:
            return await self._forward(request, upstream, cfg.host, auth)

        app.router.add_route("*", "/{path:.*}", forward)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()
        await upstream.close()

    async def _forward(self, request: web.Request, upstream: aiohttp.ClientSession, host: str, auth: str | None) -> web.StreamResponse:
        at = time.time()
        if self.random.random() < self.drop:
            self.requests.append(Request(at, request.method, request.path, 0))
            request.transport.close()  # no answer at all, as a broken connection
            raise web.HTTPInternalServerError()  # never seen by the client: its connection is gone
        if request.method in WRITES and self.random.random() < self.fail_writes:
            self.requests.append(Request(at, request.method, request.path, 500))
            return web.json_response({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 500,
                                      "reason": "InternalError", "message": "injected by the test's API proxy"}, status=500)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        if auth and "Authorization" not in headers:
            headers["Authorization"] = auth if auth.startswith("Bearer ") else f"Bearer {auth}"
        body = await request.read()
        response: web.StreamResponse | None = None
        try:
            async with upstream.request(request.method, f"{host}{request.rel_url}", headers=headers, data=body or None) as answer:
                self.requests.append(Request(at, request.method, request.path, answer.status))
                response = web.StreamResponse(status=answer.status, headers={
                    k: v for k, v in answer.headers.items() if k.lower() not in _HOP_BY_HOP})
                await response.prepare(request)
                tail = b""
                async for chunk in answer.content.iter_any():
                    if request.query.get("watch") in ("true", "1") and EXPIRED in tail + chunk:
                        self.expired.append(request.path)
                    tail = chunk[-len(EXPIRED):]
                    await response.write(chunk)
                await response.write_eof()
                return response
        except (aiohttp.ClientError, ConnectionError) as error:
            if response is not None:  # a stream ended by either side (a watch the client closed)
                return response
            self.requests.append(Request(at, request.method, request.path, 502))
            return web.Response(status=502, text=str(error))
