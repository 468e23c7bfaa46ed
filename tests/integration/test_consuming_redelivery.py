"""A message handled once is not handled again when its ack is lost with the connection."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import aio_pika
from prometheus_client import REGISTRY

from common.amqp import connect
from common.consuming import run_consumer
from contracts.codec import encode
from contracts.commands import SyncRequested
from tests.support.eventually import eventually

if TYPE_CHECKING:
    from contracts.codec import AnyMessage


async def test_a_redelivery_of_a_handled_message_is_acked_without_handling_it(
    amqp_url: str, namespace: str
) -> None:
    queue_name = f"{namespace}.redelivery"
    command = SyncRequested(results=5)
    handled: list[str] = []
    connection = await connect(amqp_url, name=f"{namespace}-consumer", within=10)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(
            queue_name, durable=True, arguments={"x-queue-type": "quorum"}
        )
        await channel.default_exchange.publish(
            aio_pika.Message(encode(command), message_id=command.message_id),
            routing_key=queue_name,
        )

        async def handler(message: AnyMessage) -> None:
            handled.append(message.message_id)
            if len(handled) == 1:
                # The connection drops after the work, before the ack: the
                # broker puts the message back and delivers it again.
                transport = connection.transport
                assert transport is not None
                await transport.connection.close()

        stop = asyncio.Event()
        consumer = asyncio.create_task(
            run_consumer(queue, handler, stop, shutdown_timeout=1)
        )

        async def redelivery_acked() -> bool:
            acked = REGISTRY.get_sample_value(
                "randomuser_messages_consumed_total",
                {"queue": queue_name, "outcome": "acked"},
            )
            return acked == 1

        await eventually(redelivery_acked, timeout=20, what="the redelivery acked")
        stop.set()
        await consumer
        assert handled == [command.message_id]
        probe = await connect(amqp_url, name=f"{namespace}-probe", within=10)
        async with probe:
            cleanup = await probe.channel()
            declared = await cleanup.declare_queue(queue_name, passive=True)
            assert declared.declaration_result.message_count == 0
            await cleanup.queue_delete(queue_name, if_unused=False, if_empty=False)
    finally:
        await connection.close()
