"""`randomuser-connector dlq` against a real RabbitMQ: peek without loss, replay with confirms."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import aio_pika
import orjson
import pytest

from common.consuming import run_consumer
from common.declare import declare_projector_queue, declare_sync_requests_queue
from connector_cli.main import main
from tests.support.broker import delete_topology
from tests.support.eventually import eventually

if TYPE_CHECKING:
    from collections.abc import Iterator

    from contracts.topology import Topology

POISON = b"this is not a message"

# --queue choice → (declare the work queue, exchange of the topology, routing key)
QUEUES: dict[str, tuple[Any, str, str]] = {
    "sync-requests": (
        declare_sync_requests_queue,
        "commands_exchange",
        "sync.requested",
    ),
    "projector": (declare_projector_queue, "events_exchange", "users.fetched"),
}


@pytest.fixture
def cli_env(amqp_url, topology, monkeypatch, tmp_path) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)  # no .env of the working tree
    monkeypatch.setenv("AMQP_URL", amqp_url)
    monkeypatch.setenv("AMQP_NAMESPACE", topology.prefix)
    yield
    asyncio.run(delete_topology(amqp_url, topology))


def work_queue_of(topology: Topology, choice: str) -> str:
    return (
        topology.sync_requests_queue
        if choice == "sync-requests"
        else topology.projector_queue
    )


async def dead_letter_poison(
    amqp_url: str, topology: Topology, choice: str, message_ids: list[str]
) -> None:
    """Publish undecodable messages and let the real consumer dead-letter them."""
    declare, exchange_attr, routing_key = QUEUES[choice]
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        queue = await declare(channel, topology, delivery_limit=3)
        exchange = await channel.get_exchange(getattr(topology, exchange_attr))
        for message_id in message_ids:
            await exchange.publish(
                aio_pika.Message(
                    POISON,
                    message_id=message_id,
                    correlation_id=f"corr-{message_id}",
                    type=routing_key,
                    headers={"schema_version": 1},
                ),
                routing_key=routing_key,
                mandatory=True,
            )
        stop = asyncio.Event()

        async def never_called(_: object) -> None:
            raise AssertionError("a poison message reached the handler")

        consumer = asyncio.create_task(
            run_consumer(queue, never_called, stop, shutdown_timeout=1)
        )
        dead = topology.dead_letter_queue(queue.name)

        async def all_dead_lettered() -> bool:
            return await count(channel, dead) == len(message_ids)

        await eventually(all_dead_lettered, what="every poison message dead-lettered")
        stop.set()
        await consumer


async def count(channel: aio_pika.abc.AbstractChannel, name: str) -> int:
    queue = await channel.declare_queue(name, passive=True)
    return queue.declaration_result.message_count or 0


async def counts(amqp_url: str, *names: str) -> list[int]:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        return [await count(channel, name) for name in names]


async def take_one(amqp_url: str, name: str) -> aio_pika.abc.AbstractIncomingMessage:
    """Consume (and ack) one message of queue `name`; single-active-consumer
    quorum queues refuse basic.get."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(name, passive=True)
        async with asyncio.timeout(10), queue.iterator() as messages:
            async for message in messages:
                await message.ack()
                return message
    raise AssertionError(f"no message in {name}")


@pytest.mark.usefixtures("cli_env")
@pytest.mark.parametrize("choice", ["sync-requests", "projector"])
def test_a_dead_lettered_poison_is_listed_then_replayed_into_its_work_queue(
    amqp_url, topology, choice, capsys
):
    work = work_queue_of(topology, choice)
    dead = topology.dead_letter_queue(work)
    asyncio.run(dead_letter_poison(amqp_url, topology, choice, ["p1", "p2"]))

    assert main(["dlq", "list", "--queue", choice]) == 0
    listed = capsys.readouterr().out
    assert listed.startswith(f"2 dead-lettered messages ({choice})")
    assert {line.split()[0] for line in listed.splitlines()[2:]} == {"p1", "p2"}
    assert all(" rejected " in line for line in listed.splitlines()[2:])
    assert main(["dlq", "list", "--queue", choice, "--json"]) == 0
    as_json = orjson.loads(capsys.readouterr().out)
    assert as_json["count"] == 2
    assert {m["routing_key"] for m in as_json["messages"]} == {QUEUES[choice][2]}
    assert asyncio.run(counts(amqp_url, dead, work)) == [2, 0]  # nothing lost

    assert main(["dlq", "replay", "--queue", choice, "--limit", "1"]) == 0
    assert "1 replayed, 0 left" in capsys.readouterr().out
    assert asyncio.run(counts(amqp_url, dead, work)) == [1, 1]
    assert main(["dlq", "replay", "--queue", choice]) == 0
    assert asyncio.run(counts(amqp_url, dead, work)) == [0, 2]

    replayed = asyncio.run(take_one(amqp_url, work))
    assert replayed.body == POISON
    assert replayed.message_id in {"p1", "p2"}
    assert replayed.correlation_id == f"corr-{replayed.message_id}"
    assert "x-death" not in (replayed.headers or {})
    assert (replayed.headers or {})["replay-count"] == 1


@pytest.mark.usefixtures("cli_env")
def test_a_message_without_x_death_is_left_in_the_queue(amqp_url, topology, capsys):
    async def put_one_without_death() -> None:
        connection = await aio_pika.connect(amqp_url)
        async with connection:
            channel = await connection.channel(publisher_confirms=True)
            await declare_sync_requests_queue(channel, topology, delivery_limit=3)
            await channel.default_exchange.publish(
                aio_pika.Message(POISON, message_id="orphan"),
                routing_key=topology.dead_letter_queue(topology.sync_requests_queue),
            )

    asyncio.run(put_one_without_death())

    assert main(["dlq", "replay", "--queue", "sync-requests"]) == 1
    assert "left orphan" in capsys.readouterr().out
    dead = topology.dead_letter_queue(topology.sync_requests_queue)
    assert asyncio.run(counts(amqp_url, dead)) == [1]


@pytest.mark.usefixtures("cli_env")
def test_a_missing_queue_is_an_error_not_a_crash(capsys):
    assert main(["dlq", "list", "--queue", "projector"]) == 1
    assert "there is no queue" in capsys.readouterr().err
