"""The projector process against a real RabbitMQ and a MongoDB-protocol server."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import aio_pika
import orjson
import pytest
from aio_pika import DeliveryMode
from pymongo import AsyncMongoClient

from common.amqp import AmqpPublisher
from common.declare import declare_projector_queue
from contracts.events import SyncCompleted, SyncFailed, UsersFetched
from contracts.users import User
from query_service.projector import run
from query_service.read_model import MongoReadModel
from query_service.settings import ProjectorSettings
from tests.support.eventually import eventually

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from aio_pika.abc import AbstractRobustConnection

    from contracts.codec import AnyMessage
    from contracts.topology import Topology

T0 = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)
COUNTRIES = ("Norway", "United Kingdom", "Brazil")


def people(count: int, prefix: str = "Person") -> list[User]:
    return [
        User(
            name=f"{prefix} {i:03d}",
            gender="female" if i % 2 else "male",
            email=f"{prefix.lower()}{i}@example.com",
            country=COUNTRIES[i % len(COUNTRIES)],
        )
        for i in range(count)
    ]


def sync_events(
    sync_id: str, users: list[User], *, batch_size: int, fetched_at: datetime = T0
) -> tuple[list[UsersFetched], SyncCompleted]:
    chunks = [users[i : i + batch_size] for i in range(0, len(users), batch_size)]
    batches = [
        UsersFetched(
            sync_id=sync_id, batch_index=i, batch_count=len(chunks), users=tuple(chunk)
        )
        for i, chunk in enumerate(chunks)
    ]
    done = SyncCompleted(
        sync_id=sync_id,
        batch_count=len(chunks),
        user_count=len(users),
        fetched_at=fetched_at,
    )
    return batches, done


@pytest.fixture
def settings(
    amqp_url: str, mongo_url: str, topology: Topology, mongo_database: str
) -> ProjectorSettings:
    return ProjectorSettings.model_validate(
        {
            "_env_file": None,
            "amqp_url": amqp_url,
            "amqp_namespace": topology.prefix,
            "mongo_url": mongo_url,
            "mongo_database": mongo_database,
            "health_port": 0,
            "shutdown_timeout_seconds": 5,
            "startup_timeout_seconds": 10,
        }
    )


@pytest.fixture
async def broker(
    request: pytest.FixtureRequest,
    amqp_url: str,
    topology: Topology,
    settings: ProjectorSettings,
) -> AsyncIterator[AbstractRobustConnection]:
    """A connection for the test, with the projector's topology declared."""
    connection = await aio_pika.connect_robust(
        amqp_url, client_properties={"connection_name": request.node.name}
    )
    try:
        channel = await connection.channel()
        # Declared here too, so that publishing never races the projector's start.
        await declare_projector_queue(
            channel, topology, delivery_limit=settings.amqp_delivery_limit
        )
        yield connection
    finally:
        channel = await connection.channel()
        queue = topology.projector_queue
        for name in (
            queue,
            topology.dead_letter_queue(queue),
            topology.dead_letter_tap_queue,
        ):
            # Quorum queues refuse the if_unused/if_empty defaults.
            await channel.queue_delete(name, if_unused=False, if_empty=False)
        for name in (
            topology.commands_exchange,
            topology.events_exchange,
            topology.dead_letter_exchange,
        ):
            await channel.exchange_delete(name)
        await connection.close()


@pytest.fixture
async def mongo(
    mongo_url: str, mongo_database: str
) -> AsyncIterator[AsyncMongoClient[dict[str, Any]]]:
    """A client on the test's database, dropped afterwards."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        mongo_url, tz_aware=True
    )
    try:
        yield client
    finally:
        await client.drop_database(mongo_database)
        await client.close()


@pytest.fixture
async def read_model(
    mongo_url: str, mongo_database: str, mongo: AsyncMongoClient[dict[str, Any]]
) -> AsyncIterator[MongoReadModel]:
    async with MongoReadModel.open(
        mongo_url, mongo_database, server_timeout=5, app_name="projector-test"
    ) as model:
        yield model


@pytest.fixture
async def projector(
    settings: ProjectorSettings,
    broker: AbstractRobustConnection,
    mongo: AsyncMongoClient[dict[str, Any]],
) -> AsyncIterator[asyncio.Task[None]]:
    """The projector running in this process until the test ends."""
    stop = asyncio.Event()
    task = asyncio.create_task(run(settings, stop=stop))
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=15)


@pytest.fixture
async def publisher(
    broker: AbstractRobustConnection, topology: Topology
) -> AmqpPublisher:
    return await AmqpPublisher.open(broker, topology)


async def publish(publisher: AmqpPublisher, *messages: AnyMessage) -> None:
    for message in messages:
        await publisher.publish(message)


async def wait_for_sync(
    read_model: MongoReadModel,
    projector: asyncio.Task[None],
    sync_id: str,
    state: str,
) -> None:
    async def reached() -> bool:
        assert not projector.done(), "the projector stopped"
        record = await read_model.sync(sync_id)
        return record is not None and record.state == state

    await eventually(reached, timeout=20, what=f"sync {sync_id} {state}")


async def test_batches_out_of_order_and_duplicated_give_exactly_one_snapshot(
    projector, publisher, read_model, mongo, mongo_database
):
    users = people(95)
    batches, done = sync_events("s1", users, batch_size=10)
    sentinel = SyncFailed(sync_id="sentinel", reason="marks the end", attempts=1)

    await publish(
        publisher,
        done,
        *reversed(batches),
        batches[3],
        done,
        batches[0],
        sentinel,
    )

    await wait_for_sync(read_model, projector, "sentinel", "failed")
    pointer = await read_model.pointer()
    assert pointer is not None
    assert pointer.snapshot_id == "s1"
    snapshot = await read_model.snapshot("s1")
    assert snapshot is not None
    body = orjson.loads(snapshot.countries_json)
    assert [c["name"] for c in body["countries"]] == sorted(COUNTRIES)
    assert sum(len(c["users"]) for c in body["countries"]) == 95
    assert sorted(u["email"] for c in body["countries"] for u in c["users"]) == sorted(
        u.email for u in users
    )
    database = mongo[mongo_database]
    assert await database["snapshots"].count_documents({}) == 1
    assert await database["snapshot_countries"].count_documents({}) == 3
    assert await database["staged_users"].count_documents({}) == 0


async def test_a_failed_sync_keeps_the_previous_snapshot(
    projector, publisher, read_model
):
    batches, done = sync_events("s1", people(30), batch_size=10)
    await publish(publisher, *batches, done)
    await wait_for_sync(read_model, projector, "s1", "promoted")
    later, _ = sync_events(
        "s2", people(20, "Later"), batch_size=10, fetched_at=T0 + timedelta(hours=1)
    )

    await publish(
        publisher,
        later[0],
        SyncFailed(sync_id="s2", reason="upstream answered 503", attempts=4),
        later[1],
    )

    await wait_for_sync(read_model, projector, "s2", "failed")
    pointer = await read_model.pointer()
    assert pointer is not None
    assert pointer.snapshot_id == "s1"
    status = await read_model.sync_status(recent=20)
    assert status.last_failure is not None
    assert status.last_failure.failure is not None
    assert status.last_failure.failure.reason == "upstream answered 503"
    assert status.current is not None
    assert status.current.id == "s1"

    async def staged_data_removed() -> bool:
        return not await read_model.staged_countries("s2")

    await eventually(staged_data_removed, timeout=20, what="s2 staged data removed")


async def test_an_undecodable_message_is_dead_lettered_and_counted_and_the_consumer_goes_on(
    projector, publisher, broker, topology, read_model
):
    channel = await broker.channel()
    events = await channel.get_exchange(topology.events_exchange)
    for body in (
        b"{not json",
        orjson.dumps({"message_type": "users.fetched", "schema_version": 9}),
    ):
        await events.publish(
            aio_pika.Message(body, delivery_mode=DeliveryMode.PERSISTENT),
            routing_key="users.fetched",
        )
    batches, done = sync_events("s1", people(12), batch_size=5)

    await publish(publisher, *batches, done)

    await wait_for_sync(read_model, projector, "s1", "promoted")

    async def both_counted() -> bool:
        # Counted from the dead-letter tap, which the broker feeds on its own time.
        status = await read_model.sync_status(recent=5)
        return bool(status.dead_lettered == 2)

    await eventually(both_counted, what="two dead letters counted")
    status = await read_model.sync_status(recent=5)
    assert status.last_dead_letter is not None
    assert status.last_dead_letter.reason == (
        f"{topology.projector_queue}: rejected by its consumer (its log says why)"
    )
    dlq = await channel.declare_queue(
        topology.dead_letter_queue(topology.projector_queue), passive=True
    )

    async def both_in_the_dlq() -> bool:
        declared = await channel.declare_queue(dlq.name, passive=True)
        return bool(declared.declaration_result.message_count == 2)

    await eventually(both_in_the_dlq, what="two messages in the DLQ")


async def test_a_stopped_projector_leaves_unhandled_events_on_the_queue(
    settings, broker, publisher, read_model, mongo
):
    batches, done = sync_events("s1", people(10), batch_size=5)
    await publish(publisher, *batches, done)

    stop = asyncio.Event()
    first = asyncio.create_task(run(settings, stop=stop))
    await wait_for_sync(read_model, first, "s1", "promoted")
    stop.set()
    await asyncio.wait_for(first, timeout=15)
    later, later_done = sync_events(
        "s2", people(10, "Later"), batch_size=5, fetched_at=T0 + timedelta(hours=1)
    )
    await publish(publisher, *later, later_done)
    pointer = await read_model.pointer()
    assert pointer is not None
    assert pointer.snapshot_id == "s1"

    stop = asyncio.Event()
    second = asyncio.create_task(run(settings, stop=stop))
    try:
        await wait_for_sync(read_model, second, "s2", "promoted")
    finally:
        stop.set()
        await asyncio.wait_for(second, timeout=15)
    pointer = await read_model.pointer()
    assert pointer is not None
    assert pointer.snapshot_id == "s2"
