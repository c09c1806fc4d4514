"""Leader election on a real Lease: one holder at a time; a waiting replica takes over after expiry;
a holder that cannot renew gives up before anyone else can take the lease."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from kubernetes_asyncio import client, config

from shiftlane.controller.leader import LeadershipLost, LeaseElector
from shiftlane.controller.run import LEASE_NAME

pytestmark = pytest.mark.skipif(not os.environ.get("KUBECONFIG"), reason="needs a cluster in KUBECONFIG")


@pytest.fixture
async def configuration() -> client.Configuration:
    configuration = client.Configuration()
    await config.load_kube_config(client_configuration=configuration)
    return configuration


@pytest.fixture
async def api(configuration):
    async with client.ApiClient(configuration) as api_client:
        yield api_client


async def test_one_holder_and_takeover_after_expiry(api) -> None:
    name = f"leader-{uuid.uuid4().hex[:6]}"
    first = LeaseElector(api, "default", name, "first", lease_seconds=2, renew_deadline_seconds=1, retry_seconds=0.2)
    second = LeaseElector(api, "default", name, "second", lease_seconds=2, renew_deadline_seconds=1, retry_seconds=0.2)
    try:
        assert await first.try_acquire()
        assert not await second.try_acquire()
        assert await first.try_acquire()  # renewal by the holder

        keeping = asyncio.ensure_future(first.keep())
        waiting = asyncio.ensure_future(second.acquire())
        await asyncio.sleep(3)
        assert not waiting.done()  # a renewed lease is never taken, however long it is held
        keeping.cancel()  # the holder dies without a word
        await asyncio.wait_for(waiting, timeout=5)
        lease = await client.CoordinationV1Api(api).read_namespaced_lease(name, "default")
        assert lease.spec.holder_identity == "second"
        assert not await first.try_acquire()  # the old holder cannot renew another's lease
    finally:
        await client.CoordinationV1Api(api).delete_namespaced_lease(name, "default")


class Link:
    """A TCP relay to the API server that a test can cut, as a network fault would: ``stall`` stops
    carrying bytes (requests hang, as when packets are dropped), ``refuse`` closes every connection."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.fault: str | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.tasks: set[asyncio.Task] = set()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    def cut(self, fault: str) -> None:
        self.fault = fault
        if fault == "refuse":
            for writer in self.writers:
                writer.close()

    async def close(self) -> None:
        self.server.close()
        for task in self.tasks:
            task.cancel()
        for writer in self.writers:
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        if self.fault == "refuse":
            writer.close()
            return
        upstream_reader, upstream_writer = await asyncio.open_connection(self.host, self.port)
        self.writers.add(upstream_writer)
        for source, sink in ((reader, upstream_writer), (upstream_reader, writer)):
            task = asyncio.ensure_future(self._pipe(source, sink))
            self.tasks.add(task)

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        while data := await source.read(65536):
            if self.fault == "stall":
                await asyncio.Event().wait()
            if self.fault == "refuse":
                break
            sink.write(data)
            await sink.drain()
        sink.close()


@pytest.mark.parametrize("fault", ["stall", "refuse"])
async def test_a_holder_that_cannot_renew_stops_before_another_replica_takes_the_lease(
    api, configuration, fault: str
) -> None:
    name = f"leader-{uuid.uuid4().hex[:6]}"
    target = urlsplit(configuration.host)
    link = Link(target.hostname, target.port)
    through_link = client.Configuration()
    await config.load_kube_config(client_configuration=through_link)
    through_link.host = f"https://127.0.0.1:{await link.start()}"  # the API server's certificate names 127.0.0.1
    timing = {"lease_seconds": 3, "renew_deadline_seconds": 2, "retry_seconds": 0.25}
    loop = asyncio.get_running_loop()
    try:
        async with client.ApiClient(through_link) as leader_api:
            leader = LeaseElector(leader_api, "default", name, "leader", **timing)
            standby = LeaseElector(api, "default", name, "standby", **timing)
            await leader.acquire()
            keeping = asyncio.ensure_future(leader.keep())
            taking = asyncio.ensure_future(standby.acquire())
            await asyncio.sleep(1)
            assert not keeping.done() and not taking.done()

            link.cut(fault)
            with pytest.raises(LeadershipLost):
                await asyncio.wait_for(keeping, timeout=10)
            stopped = loop.time()
            assert stopped - leader.renewed_at <= timing["renew_deadline_seconds"] + 0.2
            assert not taking.done(), "the standby took the lease while the old leader still acted"

            await asyncio.wait_for(taking, timeout=10)
            taken = loop.time()
            lease = await client.CoordinationV1Api(api).read_namespaced_lease(name, "default")
            assert lease.spec.holder_identity == "standby"
            # The margin is what the process has to exit in (controller/run.py exits at once).
            assert taken - stopped >= timing["lease_seconds"] - timing["renew_deadline_seconds"] - 0.2
    finally:
        await link.close()
        await client.CoordinationV1Api(api).delete_namespaced_lease(name, "default")


async def held_by(api, namespace: str, identity: str) -> bool:
    try:
        lease = await client.CoordinationV1Api(api).read_namespaced_lease(LEASE_NAME, namespace)
    except client.ApiException as error:
        if error.status == 404:
            return False
        raise
    return lease.spec.holder_identity == identity


# The operator process with an operator that never finishes its shutdown, as kopf does not while a
# handler is stuck: losing the lease must still end the process.
STUBBORN_OPERATOR = """
import asyncio
from shiftlane.controller.run import _elected

async def stubborn():
    while True:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            pass

asyncio.run(_elected(stubborn(), 0))
"""


async def test_the_operator_process_exits_when_it_cannot_renew_before_the_lease_expires(
    api, configuration, tmp_path: Path
) -> None:
    target = urlsplit(configuration.host)
    link = Link(target.hostname, target.port)
    kubeconfig = yaml.safe_load(Path(os.environ["KUBECONFIG"]).read_text())
    for cluster in kubeconfig["clusters"]:
        cluster["cluster"]["server"] = f"https://127.0.0.1:{await link.start()}"
    (tmp_path / "kubeconfig").write_text(yaml.safe_dump(kubeconfig))
    core = client.CoreV1Api(api)
    namespace = f"leader-{uuid.uuid4().hex[:6]}"
    await core.create_namespace({"metadata": {"name": namespace}})
    env = {**os.environ, "KUBECONFIG": str(tmp_path / "kubeconfig"), "POD_NAMESPACE": namespace, "POD_NAME": "leader"}
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", STUBBORN_OPERATOR, env=env)
    standby = LeaseElector(api, namespace, LEASE_NAME, "standby")  # the operator's own timings
    loop = asyncio.get_running_loop()
    try:
        while not await held_by(api, namespace, "leader"):
            await asyncio.sleep(0.2)
        taking = asyncio.ensure_future(standby.acquire())
        link.cut("stall")
        cut = loop.time()
        assert await asyncio.wait_for(process.wait(), timeout=standby.lease_seconds) == 1
        assert loop.time() - cut <= standby.renew_deadline_seconds + 0.5
        assert not taking.done(), "the standby took the lease before the old leader's process had exited"
        taking.cancel()
    finally:
        if process.returncode is None:
            process.kill()
        await link.close()
        await core.delete_namespace(namespace)
