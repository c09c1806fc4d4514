"""Every change to a set of cluster resources, merged into one stream in the API server's order.

A background thread lists, then watches, each resource cluster-wide; it re-lists after a 410 Gone or
a dropped connection (an API server restart), turning what changed meanwhile into changes too. Every
object a single etcd stores carries a resourceVersion from one counter, so sorting by it orders
changes across kinds as they were committed. A change is handed on once every stream has had
ORDER_DELAY seconds to deliver older ones: a watch on loopback delivers within milliseconds, and a
late event is still handed on (only out of order), never dropped.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
import logging
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
from kubernetes_asyncio import client, config

log = logging.getLogger(__name__)

ORDER_DELAY = 1.0
RETRY_SECONDS = 0.5
WATCH_SECONDS = 240  # the server ends each watch after this; the next one starts where it stopped


@dataclass(frozen=True)
class Resource:
    kind: str
    path: str  # the collection, e.g. /apis/apps/v1/deployments
    label_selector: str = ""


@dataclass(frozen=True)
class Change:
    kind: str
    type: str  # ADDED, MODIFIED, DELETED
    obj: dict[str, Any]
    rv: int
    received: float  # wall-clock time it arrived

    @property
    def namespace(self) -> str:
        return self.obj["metadata"].get("namespace", "")

    @property
    def name(self) -> str:
        return self.obj["metadata"]["name"]


def _rv(obj: dict[str, Any]) -> int:
    try:
        return int(obj["metadata"].get("resourceVersion") or 0)
    except ValueError:
        return 0


@dataclass
class _Stream:
    resource: Resource
    known: dict[tuple[str, str], int] = field(default_factory=dict)  # (namespace, name) -> resourceVersion


class ClusterWatch:
    """Hands each change to `sink` (in the watch thread), and calls `tick` about ten times a second."""

    def __init__(self, kubeconfig: str, resources: list[Resource], sink: Callable[[Change], None], tick: Callable[[], None]):
        self.kubeconfig = kubeconfig
        self.streams = [_Stream(r) for r in resources]
        self.sink, self.tick = sink, tick
        self._heap: list[tuple[int, int, Change]] = []
        self._order = itertools.count()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.handed_until = 0.0  # every change received before this wall-clock time has been handed on
        self.listed = threading.Event()  # every stream has listed once

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="cluster-watch", daemon=True)
        self._thread.start()
        if not self.listed.wait(60):
            raise RuntimeError("the cluster watch did not list every resource within 60 s")

    def stop(self) -> None:
        self._stopping = True
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        session, host = await self._session()
        async with session:
            listed = [asyncio.Event() for _ in self.streams]
            tasks = [asyncio.create_task(self._follow(session, host, s, e)) for s, e in zip(self.streams, listed)]

            async def all_listed() -> None:
                await asyncio.gather(*(e.wait() for e in listed))
                self.listed.set()

            tasks.append(asyncio.create_task(all_listed()))
            while not self._stopping:
                self._hand_on()
                self.tick()
                await asyncio.sleep(0.1)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _session(self) -> tuple[aiohttp.ClientSession, str]:
        cfg = client.Configuration()
        await config.load_kube_config(config_file=self.kubeconfig, client_configuration=cfg)
        context = ssl.create_default_context(cafile=cfg.ssl_ca_cert) if cfg.verify_ssl else ssl._create_unverified_context()
        if cfg.cert_file:
            context.load_cert_chain(cfg.cert_file, cfg.key_file)
        headers = {}
        token = cfg.api_key.get("BearerToken") or cfg.api_key.get("authorization")
        if token:
            headers["Authorization"] = token if token.startswith("Bearer ") else f"Bearer {token}"
        connector = aiohttp.TCPConnector(ssl=context)
        return aiohttp.ClientSession(connector=connector, headers=headers, timeout=aiohttp.ClientTimeout(total=None, sock_connect=5)), cfg.host

    def _hand_on(self) -> None:
        horizon = time.time() - ORDER_DELAY
        while self._heap and self._heap[0][2].received <= horizon:
            _, _, change = heapq.heappop(self._heap)
            try:
                self.sink(change)
            except Exception:  # a bug in a rule must not stop the watch
                log.exception("handling %s %s/%s failed", change.kind, change.namespace, change.name)
        self.handed_until = horizon if not self._heap else min(horizon, self._heap[0][2].received)

    def _push(self, stream: _Stream, type_: str, obj: dict[str, Any], rv: int) -> None:
        meta = obj["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        if type_ == "DELETED":
            stream.known.pop(key, None)
        else:
            if stream.known.get(key, -1) >= rv:
                return  # already seen (a re-list repeats what did not change)
            stream.known[key] = rv
        change = Change(stream.resource.kind, type_, obj, rv, time.time())
        heapq.heappush(self._heap, (rv, next(self._order), change))

    async def _follow(self, session: aiohttp.ClientSession, host: str, stream: _Stream, listed: asyncio.Event) -> None:
        resource = stream.resource
        while not self._stopping:
            try:
                version = await self._list(session, host, stream)
                listed.set()
                if version is None:  # not served (yet): a CRD installed later
                    await asyncio.sleep(5)
                    continue
                while version is not None:
                    version = await self._watch(session, host, stream, version)
            except (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError, ValueError) as error:
                log.info("watch of %s interrupted (%s); listing again", resource.kind, error)
                await asyncio.sleep(RETRY_SECONDS)

    def _url(self, host: str, resource: Resource, **query: Any) -> str:
        if resource.label_selector:
            query["labelSelector"] = resource.label_selector
        return f"{host}{resource.path}?{urlencode(query)}"

    async def _list(self, session: aiohttp.ClientSession, host: str, stream: _Stream) -> str | None:
        items: list[dict[str, Any]] = []
        token = ""
        while True:
            query = {"limit": 500, **({"continue": token} if token else {})}
            async with session.get(self._url(host, stream.resource, **query), timeout=aiohttp.ClientTimeout(total=30)) as response:
                if response.status == 404:
                    return None
                if response.status != 200:
                    raise aiohttp.ClientError(f"list {stream.resource.path}: HTTP {response.status}")
                body = await response.json()
            items += body.get("items") or []
            token = body["metadata"].get("continue") or ""
            if not token:
                break
        version = body["metadata"]["resourceVersion"]
        present = set()
        for obj in items:
            meta = obj["metadata"]
            present.add((meta.get("namespace", ""), meta["name"]))
            self._push(stream, "ADDED", obj, _rv(obj))
        for namespace, name in [k for k in stream.known if k not in present]:  # deleted while we were away
            gone = {"metadata": {"namespace": namespace, "name": name, "resourceVersion": version}}
            self._push(stream, "DELETED", gone, int(version))
        return version

    async def _watch(self, session: aiohttp.ClientSession, host: str, stream: _Stream, version: str) -> str | None:
        """Follow one watch; the version to go on from, or None to list again (410 Gone)."""
        url = self._url(host, stream.resource, watch=1, resourceVersion=version, allowWatchBookmarks="true",
                        timeoutSeconds=WATCH_SECONDS)
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=WATCH_SECONDS + 30, sock_read=WATCH_SECONDS + 30)) as response:
            if response.status == 410:
                return None
            if response.status != 200:
                raise aiohttp.ClientError(f"watch {stream.resource.path}: HTTP {response.status}")
            async for line in response.content:
                if self._stopping:
                    return None
                if not line.strip():
                    continue
                event = json.loads(line)
                obj = event.get("object") or {}
                if event.get("type") == "ERROR":
                    return None  # 410 Gone (expired resourceVersion) or another error: list again
                version = obj["metadata"]["resourceVersion"]
                if event["type"] != "BOOKMARK":
                    self._push(stream, event["type"], obj, _rv(obj))
        return version
