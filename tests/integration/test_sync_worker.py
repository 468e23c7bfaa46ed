"""The sync worker on a real RabbitMQ: commands in, events out, one schedule."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

import aio_pika
import orjson
import pytest
from aiohttp import web

from common.amqp import AmqpPublisher
from common.declare import declare_exchanges
from contracts.codec import AnyMessage, decode
from contracts.commands import SyncRequested
from contracts.events import SyncCompleted, SyncFailed, UsersFetched
from sync_worker.main import run
from sync_worker.settings import SyncWorkerSettings
from tests.support.broker import delete_topology
from tests.support.eventually import eventually
from tests.support.samples import sample_bytes

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from aio_pika.abc import AbstractConnection, AbstractIncomingMessage

    from contracts.topology import Topology

SAMPLE_USERS: list[dict[str, Any]] = orjson.loads(
    sample_bytes("v1.4_seed-b92435b8050047da_results-111.json")
)["results"]


class Upstream:
    """A local stand-in for Randomuser serving sample users, or failing on demand."""

    def __init__(self) -> None:
        self.status = 200
        self.requests = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        if self.status != 200:
            return web.Response(
                status=self.status, text="<html>oops</html>", content_type="text/html"
            )
        wanted = int(request.query["results"])
        users = [SAMPLE_USERS[i % len(SAMPLE_USERS)] for i in range(wanted)]
        info = {
            "seed": request.query["seed"],
            "results": wanted,
            "page": int(request.query["page"]),
            "version": "1.4",
        }
        return web.Response(
            body=orjson.dumps({"results": users, "info": info}),
            content_type="application/json",
        )


class Recorder:
    """A test queue bound to an exchange, collecting what arrives, decoded."""

    def __init__(self) -> None:
        self.messages: list[AnyMessage] = []

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        async with message.process():
            self.messages.append(decode(message.body))

    def of_type(self, kind: type[Any]) -> list[Any]:
        return [message for message in self.messages if isinstance(message, kind)]


@pytest.fixture
async def connection(
    amqp_url: str, topology: Topology
) -> AsyncIterator[AbstractConnection]:
    """A test connection with the exchanges declared; deletes the topology after."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        await declare_exchanges(await connection.channel(), topology)
        yield connection
    await delete_topology(amqp_url, topology)


async def record(connection: AbstractConnection, exchange: str, *keys: str) -> Recorder:
    """Bind an exclusive, auto-deleted queue to `exchange` and record into it."""
    recorder = Recorder()
    channel = await connection.channel()
    queue = await channel.declare_queue(exclusive=True, auto_delete=True)
    for key in keys:
        await queue.bind(exchange, routing_key=key)
    await queue.consume(recorder.on_message)
    return recorder


@pytest.fixture
async def upstream_url(aiohttp_server: Any) -> tuple[Upstream, str]:
    upstream = Upstream()
    app = web.Application()
    app.router.add_get("/api/", upstream.handle)
    server = await aiohttp_server(app)
    return upstream, str(server.make_url("/api/"))


@pytest.fixture
async def sim_url(aiohttp_server: Any) -> str:
    """The API root of a running randomuser_sim."""
    sim_app = pytest.importorskip("randomuser_sim.app")
    server = await aiohttp_server(sim_app.create_app())
    return str(server.make_url("/api/"))


def worker_settings(
    amqp_url: str, topology: Topology, **overrides: Any
) -> SyncWorkerSettings:
    values: dict[str, Any] = {
        "amqp_url": amqp_url,
        "amqp_namespace": topology.prefix,
        "sync_interval_seconds": 0,
        "health_port": 0,
        "randomuser_version": "latest",
        "fetch_backoff_seconds": 0,
        "shutdown_timeout_seconds": 5,
    }
    values.update(overrides)
    return SyncWorkerSettings(_env_file=None, **values)


@contextlib.asynccontextmanager
async def running(
    settings: SyncWorkerSettings, connection: AbstractConnection, topology: Topology
) -> AsyncIterator[asyncio.Event]:
    """Run a worker until the block ends; wait until it consumes its queue."""
    stop = asyncio.Event()
    worker = asyncio.create_task(run(settings, stop=stop))

    async def started() -> bool:
        assert not worker.done(), worker
        return await consuming(connection, topology)

    try:
        await eventually(started, timeout=20, what="the worker consuming")
        yield stop
    finally:
        stop.set()
        await asyncio.wait_for(worker, timeout=15)


async def consuming(connection: AbstractConnection, topology: Topology) -> bool:
    """True once a consumer is on the worker's queue of sync requests."""
    probe = await connection.channel()
    try:
        queue = await probe.declare_queue(topology.sync_requests_queue, passive=True)
    except aio_pika.exceptions.ChannelClosed:
        return False
    await probe.close()
    return (queue.declaration_result.consumer_count or 0) > 0


async def send(
    connection: AbstractConnection, topology: Topology, command: SyncRequested
) -> None:
    publisher = await AmqpPublisher.open(connection, topology)  # type: ignore[arg-type]
    await publisher.publish(command)


async def test_a_sync_requested_becomes_batches_then_sync_completed(
    amqp_url, topology, connection, upstream_url
):
    upstream, url = upstream_url
    events = await record(connection, topology.events_exchange, "#")
    settings = worker_settings(amqp_url, topology, randomuser_url=url)
    command = SyncRequested(results=5_000, seed="e2e", correlation_id="corr-e2e")

    async with running(settings, connection, topology):
        await send(connection, topology, command)
        await eventually(
            lambda: _has(events, SyncCompleted), timeout=20, what="sync.completed"
        )

    batches = events.of_type(UsersFetched)
    [completed] = events.of_type(SyncCompleted)
    assert events.messages[-1] == completed
    assert sorted(batch.batch_index for batch in batches) == [0, 1, 2]
    assert {batch.sync_id for batch in batches} == {completed.sync_id}
    assert sum(len(batch.users) for batch in batches) == completed.user_count == 5_000
    assert completed.command_id == command.command_id
    assert completed.seed == "e2e"
    assert all(message.correlation_id == "corr-e2e" for message in events.messages)
    assert all(
        message.causation_id == command.message_id for message in events.messages
    )
    assert upstream.requests == 1


async def test_a_20000_user_sync_from_the_simulator_arrives_in_4_pages_of_3_batches(
    amqp_url, topology, connection, sim_url
):
    events = await record(connection, topology.events_exchange, "#")
    # The pinned version: requests go to /api/1.4/ as in production.
    settings = worker_settings(
        amqp_url, topology, randomuser_url=sim_url, randomuser_version="1.4"
    )
    command = SyncRequested(results=20_000, seed="big")

    async with running(settings, connection, topology):
        await send(connection, topology, command)
        await eventually(
            lambda: _has(events, SyncCompleted), timeout=30, what="sync.completed"
        )

    [completed] = events.of_type(SyncCompleted)
    batches = events.of_type(UsersFetched)
    assert completed.user_count == 20_000
    assert completed.dropped_count == 0
    # Each 5,000-user page owns 3 batch indexes (2,000 + 2,000 + 1,000 users).
    assert sorted(batch.batch_index for batch in batches) == list(range(12))
    assert {batch.batch_count for batch in batches} == {12}
    # Pages of one seed are distinct sets of people.
    uuids = {user.uuid for batch in batches for user in batch.users}
    assert len(uuids) == 20_000


async def test_an_upstream_outage_publishes_only_sync_failed(
    amqp_url, topology, connection, upstream_url
):
    upstream, url = upstream_url
    upstream.status = 502
    events = await record(connection, topology.events_exchange, "#")
    settings = worker_settings(
        amqp_url, topology, randomuser_url=url, fetch_max_attempts=2
    )

    async with running(settings, connection, topology):
        await send(connection, topology, SyncRequested(results=10))
        await eventually(
            lambda: _has(events, SyncFailed), timeout=20, what="sync.failed"
        )

    [failed] = events.messages
    assert isinstance(failed, SyncFailed)
    assert failed.attempts == 2
    assert "HTTP 502" in failed.reason
    assert upstream.requests == 2


async def test_two_workers_schedule_one_sync_per_slot_even_across_a_failover(
    amqp_url, topology, connection, upstream_url, caplog
):
    caplog.set_level(logging.INFO, logger="sync_worker.schedule")
    _, url = upstream_url
    commands = await record(connection, topology.commands_exchange, "sync.requested")
    await record(connection, topology.events_exchange, "#")
    settings = worker_settings(
        amqp_url,
        topology,
        randomuser_url=url,
        sync_interval_seconds=1,
        sync_results=3,
        scheduler_lock_retry_seconds=0.1,
    )

    async with running(settings, connection, topology) as stop_first:
        await eventually(lambda: _count(commands, 2), timeout=20, what="two slots")
        async with running(settings, connection, topology):
            await eventually(lambda: _count(commands, 4), timeout=20, what="four")
            stop_first.set()  # the first worker led; the second must take over
            seen = len(commands.messages)
            await eventually(
                lambda: _count(commands, seen + 3), timeout=20, what="three more"
            )

    leaderships = [r for r in caplog.records if "now runs the schedule" in r.message]
    assert len(leaderships) == 2
    slots = [
        int(message.command_id.removeprefix("schedule-"))
        for message in commands.of_type(SyncRequested)
    ]
    assert all(
        message.trigger == "schedule" for message in commands.of_type(SyncRequested)
    )
    assert len(slots) == len(set(slots)), f"a slot was scheduled twice: {slots}"
    assert slots == sorted(slots)


async def _has(recorder: Recorder, kind: type[Any]) -> bool:
    return bool(recorder.of_type(kind))


async def _count(recorder: Recorder, at_least: int) -> bool:
    return len(recorder.messages) >= at_least


class BrokenPublisher:
    """A publisher with a bug: the scheduler's task crashes on its first slot."""

    async def publish(self, message: AnyMessage) -> None:
        raise RuntimeError(f"bug while publishing {message.message_type}")


async def test_a_crashed_task_stops_the_worker_with_the_error(
    amqp_url, topology, connection, upstream_url
):
    _, url = upstream_url
    settings = worker_settings(
        amqp_url, topology, randomuser_url=url, sync_interval_seconds=1
    )

    with pytest.raises(ExceptionGroup) as crashed:
        await asyncio.wait_for(
            run(settings, publisher=BrokenPublisher(), stop=asyncio.Event()),
            timeout=20,
        )

    assert crashed.group_contains(RuntimeError, match="bug while publishing")
