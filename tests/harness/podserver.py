"""The local control plane's data plane: kube-proxy and the pods' containers, in one asyncio process.

The API server refuses loopback addresses in EndpointSlices, so kwok pods keep non-loopback IPs that
nothing may ever send a packet to. Services get ClusterIPs in 127.0.0.0/8 instead (hack/cluster.sh
sets the service CIDR), and this process listens on every Service's ClusterIP and TCP port, as
kube-proxy would, and answers each request *as one of the Service's ready endpoint pods* (round
robin per request, read from the real EndpointSlices), the way the pod's container would:

    {"pod": ..., "namespace": ..., "revision": <label shiftlane.io/revision>, "image": ...}

Traefik reaches Services by ClusterIP (native load balancing), except where it ignores that setting
(a TraefikService's children): there it dials pod IPs, so it runs with HTTP_PROXY pointing at this
process's SOCKS5 port (--proxy-address), and a tunnel to <pod IP>:<port> is answered as that pod's
container on that port. No packet ever leaves for a pod IP.

The container's image tag picks its behaviour: `errors-N` answers N% of requests with 500 (spread
evenly over the pod's request count), `slow-N` adds N ms. A pod stops receiving requests when the
EndpointSlice controller drops it (deleted, not Running, not ready); with no ready endpoint, serving
terminating ones are used, then 503, as kube-proxy falls back and then rejects.

On --metrics-address: Prometheus metrics (shiftlane_podserver_requests_total{namespace, pod, revision,
code}) and /healthz, 200 once the first listing of Services, EndpointSlices and Pods is in.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import re
import signal
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from kubernetes_asyncio import client, config, watch
from kubernetes_asyncio.client.exceptions import ApiException
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, disable_created_metrics, generate_latest

log = logging.getLogger("podserver")

REVISION_LABEL = "shiftlane.io/revision"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
WATCH_SECONDS = 300  # a watch ends after this; the resource is listed again, so state never drifts

disable_created_metrics()  # one series per pod and code is what tests and Prometheus read
REGISTRY = CollectorRegistry()
REQUESTS = Counter("shiftlane_podserver_requests", "Requests each pod answered (mirrored ones included)",
                   ["namespace", "pod", "revision", "code"], registry=REGISTRY)
LISTENERS = Gauge("shiftlane_podserver_listeners", "Service ClusterIP:port pairs being served", registry=REGISTRY)
BIND_ERRORS = Counter("shiftlane_podserver_bind_errors", "Service ports that could not be bound", registry=REGISTRY)


@dataclasses.dataclass(frozen=True)
class Behaviour:
    error_percent: int = 0
    delay_ms: int = 0

    @classmethod
    def of(cls, image: str) -> Behaviour:
        last = image.rsplit("/", 1)[-1]
        tag = last.split(":", 1)[1] if ":" in last else ""
        errors, slow = re.search(r"errors-(\d+)", tag), re.search(r"slow-(\d+)", tag)
        return cls(min(int(errors[1]), 100) if errors else 0, int(slow[1]) if slow else 0)

    def fails(self, n: int) -> bool:
        """Whether the pod's n-th request (from 0) fails: exactly error_percent of any 100 in a row."""
        return (n + 1) * self.error_percent // 100 > n * self.error_percent // 100


@dataclasses.dataclass
class Pod:
    namespace: str
    name: str
    ip: str
    revision: str
    running: bool
    images: dict[int, str]  # containerPort -> image of the container declaring it
    first_image: str
    served: int = 0
    codes: set[str] = dataclasses.field(default_factory=set)

    @classmethod
    def of(cls, obj: dict[str, Any]) -> Pod:
        meta, containers = obj["metadata"], obj["spec"].get("containers", [])
        images = {p["containerPort"]: c["image"] for c in containers for p in c.get("ports", [])}
        status = obj.get("status", {})
        return cls(meta["namespace"], meta["name"], status.get("podIP", ""), (meta.get("labels") or {}).get(REVISION_LABEL, ""),
                   status.get("phase") == "Running", images,
                   containers[0]["image"] if containers else "")

    def image(self, port: int) -> str:
        return self.images.get(port, self.first_image)

    def forget_metrics(self) -> None:
        for code in self.codes:
            REQUESTS.remove(self.namespace, self.name, self.revision, code)

    async def answer(self, port: int, request: web.BaseRequest) -> web.Response:
        """What this pod's container on `port` answers."""
        image = self.image(port)
        behaviour = Behaviour.of(image)
        code = 500 if behaviour.fails(self.served) else 200
        self.served += 1
        if behaviour.delay_ms:
            await asyncio.sleep(behaviour.delay_ms / 1000)
        await request.read()
        self.codes.add(str(code))
        REQUESTS.labels(self.namespace, self.name, self.revision, str(code)).inc()
        body = {"pod": self.name, "namespace": self.namespace, "revision": self.revision, "image": image}
        return web.json_response(body, status=code)


@dataclasses.dataclass(frozen=True)
class Endpoint:
    pod: str
    ready: bool
    serving: bool


@dataclasses.dataclass(frozen=True)
class Slice:
    service: tuple[str, str]
    ports: dict[str, int]  # service port name -> target port
    endpoints: tuple[Endpoint, ...]

    @classmethod
    def of(cls, obj: dict[str, Any]) -> Slice:
        meta = obj["metadata"]
        endpoints = []
        for e in obj.get("endpoints") or []:
            ref, cond = e.get("targetRef") or {}, e.get("conditions") or {}
            if ref.get("kind") == "Pod":
                ready = cond.get("ready") is not False  # unset means ready
                endpoints.append(Endpoint(ref["name"], ready, cond.get("serving", ready) is not False))
        ports = {p.get("name") or "": p["port"] for p in obj.get("ports") or [] if p.get("port")}
        return cls((meta["namespace"], (meta.get("labels") or {}).get(SERVICE_NAME_LABEL, "")), ports, tuple(endpoints))


class Listener:
    """One Service port on its ClusterIP; each request is answered as one of the Service's endpoint pods."""

    def __init__(self, plane: DataPlane, service: tuple[str, str], port_name: str):
        self.plane, self.service, self.port_name = plane, service, port_name
        self.server = web.Server(self.handle, access_log=None)
        self.sockets: asyncio.Server | None = None
        self.next = 0
        self.cache: tuple[int, list[tuple[Pod, int]]] = (-1, [])

    def backends(self) -> list[tuple[Pod, int]]:
        if self.cache[0] != self.plane.generation:
            self.cache = (self.plane.generation, self.plane.backends(self.service, self.port_name))
        return self.cache[1]

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        backends = self.backends()
        if not backends:
            return web.json_response({"error": f"no endpoints for service {'/'.join(self.service)}"}, status=503)
        pod, port = backends[self.next % len(backends)]
        self.next += 1
        return await pod.answer(port, request)

    async def start(self, address: tuple[str, int]) -> None:
        try:
            self.sockets = await asyncio.get_running_loop().create_server(
                self.server, *address, reuse_address=True, backlog=1024)
        except OSError as e:
            BIND_ERRORS.inc()
            log.error("cannot serve %s port %s on %s:%d: %s", "/".join(self.service), self.port_name or "-", *address, e)

    async def stop(self) -> None:
        if self.sockets:
            self.sockets.close()
        await self.server.shutdown(1.0)


class DataPlane:
    def __init__(self) -> None:
        self.services: dict[tuple[str, str], dict[str, Any]] = {}
        self.slices: dict[tuple[str, str], Slice] = {}
        self.pods: dict[tuple[str, str], Pod] = {}
        self.listeners: dict[tuple[str, int], Listener] = {}
        self.generation = 0  # bumped on every slice or pod change; listeners recompute their backends
        self.by_ip: tuple[int, dict[str, Pod]] = (-1, {})
        self.synced: set[str] = set()

    def backends(self, service: tuple[str, str], port_name: str) -> list[tuple[Pod, int]]:
        found: dict[bool, list[tuple[Pod, int]]] = {True: [], False: []}
        for s in self.slices.values():
            if s.service != service or port_name not in s.ports:
                continue
            for e in s.endpoints:
                pod = self.pods.get((service[0], e.pod))
                if pod and pod.running and e.serving:
                    found[e.ready].append((pod, s.ports[port_name]))
        return found[True] or found[False]

    def pod_at(self, ip: str, port: int) -> Pod | None:
        """The Running pod with this IP, if one of its containers declares the port (else nothing listens)."""
        if self.by_ip[0] != self.generation:
            self.by_ip = (self.generation, {p.ip: p for p in self.pods.values() if p.running and p.ip})
        pod = self.by_ip[1].get(ip)
        return pod if pod and port in pod.images else None

    async def answer_at(self, ip: str, port: int, request: web.BaseRequest) -> web.StreamResponse:
        pod = self.pod_at(ip, port)
        if pod is None:  # gone since the tunnel opened: what a reset connection looks like to Traefik
            return web.json_response({"error": f"nothing listens on {ip}:{port}"}, status=502)
        return await pod.answer(port, request)


    # --- state from the watches

    async def set_services(self, objs: dict[tuple[str, str], dict[str, Any]]) -> None:
        self.services = objs
        await self.reconcile_listeners()

    async def service_event(self, kind: str, key: tuple[str, str], obj: dict[str, Any]) -> None:
        if kind == "DELETED":
            self.services.pop(key, None)
        else:
            self.services[key] = obj
        await self.reconcile_listeners()

    async def set_slices(self, objs: dict[tuple[str, str], dict[str, Any]]) -> None:
        self.slices = {k: Slice.of(o) for k, o in objs.items()}
        self.generation += 1

    async def slice_event(self, kind: str, key: tuple[str, str], obj: dict[str, Any]) -> None:
        if kind == "DELETED":
            self.slices.pop(key, None)
        else:
            self.slices[key] = Slice.of(obj)
        self.generation += 1

    async def set_pods(self, objs: dict[tuple[str, str], dict[str, Any]]) -> None:
        fresh = {k: Pod.of(o) for k, o in objs.items()}
        for key, pod in self.pods.items():
            if key in fresh and fresh[key].revision == pod.revision:
                fresh[key].served, fresh[key].codes = pod.served, pod.codes
            else:
                pod.forget_metrics()
        self.pods = fresh
        self.generation += 1

    async def pod_event(self, kind: str, key: tuple[str, str], obj: dict[str, Any]) -> None:
        old = self.pods.pop(key, None)
        if kind != "DELETED":
            pod = self.pods[key] = Pod.of(obj)
            if old and old.revision == pod.revision:
                pod.served, pod.codes = old.served, old.codes
                old = None
        if old:
            old.forget_metrics()
        self.generation += 1

    async def reconcile_listeners(self) -> None:
        wanted: dict[tuple[str, int], tuple[tuple[str, str], str]] = {}
        for key, svc in self.services.items():
            ip = svc["spec"].get("clusterIP")
            if not ip or ip == "None":
                continue
            for p in svc["spec"].get("ports") or []:
                if p.get("protocol", "TCP") == "TCP":
                    wanted[(ip, p["port"])] = (key, p.get("name") or "")
        for address in [a for a, ln in self.listeners.items() if (ln.service, ln.port_name) != wanted.get(a)]:
            await self.listeners.pop(address).stop()
        for address, (service, port_name) in wanted.items():
            if address not in self.listeners:
                listener = self.listeners[address] = Listener(self, service, port_name)
                await listener.start(address)
        LISTENERS.set(sum(1 for ln in self.listeners.values() if ln.sockets))

    async def close(self) -> None:
        await asyncio.gather(*(ln.stop() for ln in self.listeners.values()))


class Socks5(asyncio.Protocol):
    """SOCKS5 (RFC 1928) without authentication, CONNECT only. Once a tunnel to a pod's IP and port
    opens, the connection is handed to an HTTP server answering as that pod; a target where nothing
    listens gets "connection refused"."""

    def __init__(self, plane: DataPlane):
        self.plane, self.buffer, self.greeted = plane, b"", False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        assert self.transport
        self.buffer += data
        if not self.greeted:  # VER NMETHODS METHODS...
            if len(self.buffer) < 2 or len(self.buffer) < 2 + self.buffer[1]:
                return
            methods, self.buffer = self.buffer[2:2 + self.buffer[1]], self.buffer[2 + self.buffer[1]:]
            if 0 not in methods:
                self.transport.write(b"\x05\xff")
                self.transport.close()
                return
            self.transport.write(b"\x05\x00")
            self.greeted = True
        # VER CMD RSV ATYP=1 (IPv4) ADDR(4) PORT(2): Go's client sends pod IPs as IPv4 literals.
        if len(self.buffer) < 10:
            return
        request, rest = self.buffer[:10], self.buffer[10:]
        ip, port = ".".join(str(b) for b in request[4:8]), int.from_bytes(request[8:10], "big")
        if request[1] != 1 or request[3] != 1 or self.plane.pod_at(ip, port) is None:
            self.transport.write(b"\x05\x05\x00\x01" + bytes(6))  # connection refused
            self.transport.close()
            return
        self.transport.write(b"\x05\x00\x00\x01" + bytes(6))
        server = web.Server(lambda r: self.plane.answer_at(ip, port, r), access_log=None)
        http = server()
        self.transport.set_protocol(http)
        http.connection_made(self.transport)
        if rest:
            http.data_received(rest)


async def follow(name: str, list_call: Callable[..., Awaitable[Any]], reset: Callable[[dict], Awaitable[None]],
                 event: Callable[[str, tuple[str, str], dict], Awaitable[None]], synced: set[str]) -> None:
    """List then watch one resource for ever; every list replaces the state, so nothing is missed."""
    while True:
        try:
            response = await list_call(_preload_content=False)
            listing = json.loads(await response.read())
            await reset({key_of(o): o for o in listing["items"]})
            synced.add(name)
            version = listing["metadata"]["resourceVersion"]
            async with watch.Watch() as w:
                async for e in w.stream(list_call, resource_version=version, timeout_seconds=WATCH_SECONDS,
                                        allow_watch_bookmarks=True):
                    kind, obj = e["type"], e["raw_object"]
                    if kind == "ERROR":
                        break
                    if kind != "BOOKMARK":
                        await event(kind, key_of(obj), obj)
        except asyncio.CancelledError:
            raise
        except ApiException as e:
            if e.status != 410:
                log.warning("%s watch failed: %s", name, e.reason)
                await asyncio.sleep(1)
        except Exception as e:  # the API server restarting, a dropped connection: list again
            log.warning("%s watch failed: %r", name, e)
            await asyncio.sleep(1)


def key_of(obj: dict[str, Any]) -> tuple[str, str]:
    return obj["metadata"]["namespace"], obj["metadata"]["name"]


async def main(kubeconfig: str, metrics_address: tuple[str, int], proxy_address: tuple[str, int]) -> None:
    await config.load_kube_config(config_file=kubeconfig)
    plane = DataPlane()
    watches = ("services", "endpointslices", "pods")

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(_: web.Request) -> web.Response:
        missing = [w for w in watches if w not in plane.synced]
        return web.Response(text=f"waiting for {', '.join(missing)}\n" if missing else "ok\n", status=503 if missing else 200)

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, *metrics_address).start()
    proxy = await asyncio.get_running_loop().create_server(lambda: Socks5(plane), *proxy_address, reuse_address=True)

    async with client.ApiClient() as api:
        core, discovery = client.CoreV1Api(api), client.DiscoveryV1Api(api)
        tasks = [
            asyncio.create_task(follow("services", core.list_service_for_all_namespaces, plane.set_services, plane.service_event, plane.synced)),
            asyncio.create_task(follow("endpointslices", discovery.list_endpoint_slice_for_all_namespaces, plane.set_slices, plane.slice_event, plane.synced)),
            asyncio.create_task(follow("pods", core.list_pod_for_all_namespaces, plane.set_pods, plane.pod_event, plane.synced)),
        ]
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        log.info("pod server up; metrics on %s:%d, SOCKS5 to pods on %s:%d", *metrics_address, *proxy_address)
        await stop.wait()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    proxy.close()
    await plane.close()
    await runner.cleanup()


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--metrics-address", default="127.0.0.1:20090", help="host:port for /metrics and /healthz")
    parser.add_argument("--proxy-address", default="127.0.0.1:20091", help="host:port for SOCKS5 tunnels to pods")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    asyncio.run(main(args.kubeconfig, address(args.metrics_address), address(args.proxy_address)))


def address(text: str) -> tuple[str, int]:
    host, port = text.rsplit(":", 1)
    return host, int(port)


if __name__ == "__main__":
    cli()
