"""Notices from the projector to the replicas: "the read model changed for this
sync", broadcast on a fanout exchange so that every replica switches to a new
snapshot, and streams its events, at once instead of at its next poll.

A notice is a hint, not a record: it is not persisted or confirmed, and a
replica that misses some (its broker link was down) re-reads the recent sync
records when the link is back, and keeps polling the pointer meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import aio_pika
from aio_pika import DeliveryMode, ExchangeType
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from tenacity import AsyncRetrying, retry_if_exception, wait_exponential

from common.amqp_cluster import connect_once, connected_node
from common.retrying import log_retry, sleep_until
from contracts.commands import SyncRequested

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from aio_pika.abc import (
        AbstractChannel,
        AbstractExchange,
        AbstractIncomingMessage,
    )

    from common.consuming import Handler
    from contracts.codec import AnyMessage
    from contracts.topology import Topology

logger = logging.getLogger(__name__)

PROMOTED: Final = "snapshot.promoted"
"""The cause of the notice sent as soon as a snapshot is current (before the
projector has finished handling the event that completed it)."""

NOTICE_TTL_SECONDS: Final = 10
"""A notice older than this is worthless: the replica has polled since."""


class ReadModelChanged(BaseModel):
    """What the projector announces after handling an event of a sync."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    sync_id: str = Field(max_length=128, description="The sync whose records changed.")
    cause: str = Field(max_length=64, description="The event type handled.")


async def declare_notices(
    channel: AbstractChannel, topology: Topology
) -> AbstractExchange:
    """Declare (idempotently) the fanout exchange of notices."""
    return await channel.declare_exchange(
        topology.notices_exchange, ExchangeType.FANOUT, durable=True
    )


def announcing(handler: Handler, exchange: AbstractExchange) -> Handler:
    """`handler`, followed by a notice of the sync it handled an event of."""

    async def handle(message: AnyMessage) -> None:
        await handler(message)
        if isinstance(message, SyncRequested):
            return  # never reached: the handler dead-letters commands
        await announce(
            exchange,
            ReadModelChanged(sync_id=message.sync_id, cause=message.message_type),
        )

    return handle


async def announce(exchange: AbstractExchange, notice: ReadModelChanged) -> None:
    """Publish one notice; a failure is only logged (replicas poll anyway)."""
    try:
        await exchange.publish(
            aio_pika.Message(
                notice.model_dump_json().encode(),
                content_type="application/json",
                delivery_mode=DeliveryMode.NOT_PERSISTENT,
                expiration=NOTICE_TTL_SECONDS,
            ),
            routing_key="",
        )
    except Exception as exc:
        logger.debug("could not announce sync %s: %s", notice.sync_id, exc)


@dataclass(frozen=True)
class NoticeListener:
    """Follows the notices for one replica: `on_notice(sync_id)` for each,
    `on_link()` whenever the broker link is made or made again."""

    amqp_url: str
    topology: Topology
    name: str
    on_notice: Callable[[str], Awaitable[None]]
    on_link: Callable[[], Awaitable[None]]

    async def run(self, stop: asyncio.Event) -> None:
        """Follow the notices until `stop` is set, linking again after a loss.

        Each link declares a queue of its own, with a new name, exclusive to
        its connection. Not a robust connection: one that restores its queue
        after its node died would declare the same name again, which the
        cluster refuses while the dead node's copy is still locked to the lost
        connection (RESOURCE_LOCKED, measured on RabbitMQ 3.10).
        """
        retrying = AsyncRetrying(
            retry=retry_if_exception(lambda _: not stop.is_set()),
            wait=wait_exponential(multiplier=0.2, max=5.0),
            sleep=sleep_until(stop),
            before_sleep=log_retry(logger, "no link for notices"),
        )
        with contextlib.suppress(Exception):
            # Only once stop is set: the last failure does not matter then.
            await retrying(self._follow, stop)

    async def _follow(self, stop: asyncio.Event) -> None:
        """One link: consume notices until the connection drops (raises) or
        `stop` is set (returns)."""
        connection = await connect_once(
            self.amqp_url, name=self.name, connect_timeout=10
        )
        # aio-pika resolves connection.closed() only on our own close; a lost
        # link shows in the close callbacks (watched from the start, so a loss
        # while the queue is declared is not missed).
        lost = asyncio.Event()
        connection.close_callbacks.add(lambda *_: lost.set())
        try:
            channel = await connection.channel()
            exchange = await declare_notices(channel, self.topology)
            queue = await channel.declare_queue(
                f"{self.topology.notices_exchange}.{self.name}.{uuid.uuid4().hex[:12]}",
                exclusive=True,
                auto_delete=True,
                arguments={"x-queue-type": "classic"},
            )
            await queue.bind(exchange)

            async def deliver(message: AbstractIncomingMessage) -> None:
                try:
                    notice = ReadModelChanged.model_validate_json(message.body)
                except ValidationError:
                    logger.warning(
                        "ignoring a malformed notice: %r", message.body[:200]
                    )
                    return
                await self.on_notice(notice.sync_id)

            await queue.consume(deliver, no_ack=True)
            logger.info("following notices on %s", connected_node(connection))
            await self.on_link()
            closed = asyncio.ensure_future(lost.wait())
            stopped = asyncio.ensure_future(stop.wait())
            await asyncio.wait({closed, stopped}, return_when=asyncio.FIRST_COMPLETED)
            closed.cancel()
            stopped.cancel()
            if not stop.is_set():
                raise ConnectionError("the link for notices was lost")
        finally:
            with contextlib.suppress(Exception):
                await connection.close()
