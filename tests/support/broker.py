"""Broker helpers for tests: read what was published, delete a test's topology."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

import aio_pika

from common.amqp_cluster import connect_once
from contracts.codec import AnyMessage, decode

if TYPE_CHECKING:
    from contracts.topology import Topology


async def delete_topology(amqp_url: str, topology: Topology) -> None:
    """Delete every queue and exchange a test's namespace may have declared.

    `amqp_url` may list a cluster's nodes: the first that answers is used.
    """
    connection = await connect_once(amqp_url, name="test-teardown", connect_timeout=10)
    async with connection:
        queues = [
            topology.sync_requests_queue,
            topology.projector_queue,
            topology.scheduler_lock_queue,
        ]
        queues += [topology.dead_letter_queue(q) for q in queues]
        queues.append(topology.dead_letter_tap_queue)
        queues.append(topology.event_log_queue)
        for name in queues:
            channel = await connection.channel()
            with contextlib.suppress(aio_pika.exceptions.AMQPError):
                # Quorum queues refuse the default if_unused/if_empty checks.
                await channel.queue_delete(name, if_unused=False, if_empty=False)
            with contextlib.suppress(aio_pika.exceptions.AMQPError):
                await channel.close()
        for name in (
            topology.commands_exchange,
            topology.events_exchange,
            topology.dead_letter_exchange,
            topology.notices_exchange,
        ):
            channel = await connection.channel()
            with contextlib.suppress(aio_pika.exceptions.AMQPError):
                await channel.exchange_delete(name)
            with contextlib.suppress(aio_pika.exceptions.AMQPError):
                await channel.close()


async def drain(
    channel: aio_pika.abc.AbstractChannel,
    name: str,
    *,
    count: int | None = None,
    timeout: float = 10.0,
) -> list[AnyMessage]:
    """Take every message currently in queue `name` (acking them), decoded;
    or, with `count`, wait (up to `timeout`) for that many.

    Consumes rather than polls with basic.get, which single-active-consumer
    quorum queues refuse. Without `count` the queue's depth comes from
    declare-ok, which a quorum queue may report a moment late.
    """
    queue = await channel.declare_queue(name, passive=True)
    if count is None:
        count = queue.declaration_result.message_count or 0
    messages: list[AnyMessage] = []
    if count == 0:
        return messages
    async with asyncio.timeout(timeout), queue.iterator() as incoming:
        async for message in incoming:
            messages.append(decode(message.body))
            await message.ack()
            if len(messages) == count:
                break
    return messages
