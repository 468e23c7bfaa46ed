"""RabbitMQ alone, with the messages a sync publishes: the broker's own ceiling."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Final

from bench.report import table
from common.amqp import AmqpPublisher
from common.amqp_cluster import connect_robust
from common.declare import declare_projector_queue
from contracts.events import MAX_BATCH_USERS, UsersFetched
from contracts.topology import Topology
from contracts.users import User
from tests.support.broker import delete_topology

if TYPE_CHECKING:
    import aio_pika

BROKER_MESSAGES: Final = 60


async def broker_rate(amqp_url: str, namespace: str) -> str:
    """Publish full 2,000-user batches with confirms into a quorum queue like the
    projector's, consume and ack them meanwhile: the broker's own ceiling."""
    topology = Topology(f"{namespace}_raw")
    users = tuple(
        User(
            name=f"User Number{i}",
            gender="female" if i % 2 else "male",
            email=f"user.number{i}@example.com",
            country="Switzerland",
            title="Ms",
            nat="CH",
            uuid=f"00000000-0000-4000-8000-{i:012d}",
        )
        for i in range(MAX_BATCH_USERS)
    )
    batches = [
        UsersFetched(
            sync_id="raw",
            batch_index=i,
            batch_count=BROKER_MESSAGES,
            users=users,
            correlation_id="raw",
        )
        for i in range(BROKER_MESSAGES)
    ]
    size = len(batches[0].model_dump_json())
    connection = await connect_robust(amqp_url, name="bench-broker", connect_timeout=10)
    try:
        publisher = await AmqpPublisher.open(connection, topology)
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=16)
        queue = await declare_projector_queue(channel, topology, delivery_limit=5)
        done = asyncio.Event()
        received = 0

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            nonlocal received
            await message.ack()
            received += 1
            if received == BROKER_MESSAGES:
                done.set()

        await queue.consume(on_message)
        started = time.perf_counter()
        for batch in batches:
            await publisher.publish(batch)
        published = time.perf_counter() - started
        await asyncio.wait_for(done.wait(), timeout=60)
        elapsed = time.perf_counter() - started
    finally:
        await connection.close()
        await delete_topology(amqp_url, topology)
    rate = BROKER_MESSAGES / elapsed
    return table(
        [
            "messages",
            "bytes each",
            "publish with confirms",
            "until all acked",
            "msg/s",
            "MB/s",
        ],
        [
            [
                BROKER_MESSAGES,
                f"{size:,}",
                f"{published * 1000:,.0f} ms",
                f"{elapsed * 1000:,.0f} ms",
                f"{rate:,.0f}",
                f"{rate * size / 1e6:,.0f}",
            ]
        ],
    )
