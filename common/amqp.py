"""RabbitMQ plumbing: connecting with retries, declaring topology, publishing."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any, Protocol

import aio_pika
import aiormq.exceptions
from aio_pika import DeliveryMode
from pamqp.commands import Basic
from tenacity import (
    AsyncRetrying,
    RetryError,
    retry_if_exception,
    retry_if_exception_type,
    stop_after_delay,
    stop_before_delay,
    wait_exponential,
)

from common import metrics
from common.amqp_cluster import connect_robust, connected_node
from common.retrying import log_retry
from contracts.codec import AnyMessage, encode
from contracts.commands import SyncRequested

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from aio_pika.abc import (
        AbstractChannel,
        AbstractExchange,
        AbstractRobustConnection,
    )

    from common.health import Readiness
    from contracts.topology import Topology
from common.declare import declare_exchanges

logger = logging.getLogger(__name__)


class Publisher(Protocol):
    """Anything that can publish a message and wait until the broker has it."""

    async def publish(self, message: AnyMessage) -> None:
        """Publish and return once the broker confirmed it; raise otherwise."""


async def connect(
    url: str,
    *,
    name: str,
    within: float,
    readiness: Readiness | None = None,
) -> AbstractRobustConnection:
    """Open a robust connection, retrying with backoff for up to `within` seconds.

    `url` may list several nodes of one cluster, separated by commas: the
    connection then moves to another node when its node is lost.
    After the first success the connection reconnects by itself; `readiness`
    (when given) follows its state under the check name "amqp", and the
    metrics `randomuser_amqp_connection_events` and `randomuser_amqp_node_info`
    show losses, restorations and the node in use.

    Raises:
        TimeoutError: no connection could be made within `within` seconds.
    """
    retrying = AsyncRetrying(
        retry=retry_if_exception_type(
            (TimeoutError, OSError, aio_pika.exceptions.AMQPError)
        ),
        wait=wait_exponential(multiplier=0.2, max=5.0),
        stop=stop_before_delay(within),
        before_sleep=log_retry(logger, "RabbitMQ not reachable yet"),
    )
    try:
        connection: AbstractRobustConnection = await retrying(
            connect_robust, url, name=name, connect_timeout=10
        )
    except RetryError as exc:
        failure = exc.last_attempt.exception()
        raise TimeoutError(
            f"RabbitMQ not reachable within {within}s: {failure}"
        ) from failure
    metrics.AMQP_NODE.labels(connected_node(connection)).set(1)
    if readiness is not None:
        readiness.set("amqp", ok=True)

    def on_close(_: object, exc: BaseException | None = None) -> None:
        if readiness is not None:
            readiness.set("amqp", ok=False)
        metrics.AMQP_CONNECTION_EVENTS.labels("lost").inc()
        metrics.AMQP_NODE.clear()
        logger.warning("RabbitMQ connection lost: %s", exc)

    def on_reconnect(_: object) -> None:
        if readiness is not None:
            readiness.set("amqp", ok=True)
        node = connected_node(connection)
        metrics.AMQP_CONNECTION_EVENTS.labels("restored").inc()
        metrics.AMQP_NODE.labels(node).set(1)
        logger.info("RabbitMQ connection restored to %s", node)

    connection.close_callbacks.add(on_close)
    connection.reconnect_callbacks.add(on_reconnect)
    logger.info("connected to RabbitMQ at %s as %s", connected_node(connection), name)
    return connection


class AmqpPublisher:
    """Publishes messages with confirms; unroutable or refused messages raise.

    Commands go to the commands exchange and events to the events exchange,
    routed by message type. The AMQP properties repeat the envelope.
    """

    def __init__(
        self,
        commands: AbstractExchange,
        events: AbstractExchange,
        *,
        reopen: Callable[[], Awaitable[tuple[AbstractExchange, AbstractExchange]]]
        | None = None,
    ) -> None:
        self._commands = commands
        self._events = events
        self._reopen = reopen
        self._reopening = asyncio.Lock()
        self._refused_since: float | None = None

    @classmethod
    async def open(
        cls, connection: AbstractRobustConnection, topology: Topology
    ) -> AmqpPublisher:
        """Open a confirming channel on `connection` and declare the exchanges."""
        channels: list[AbstractChannel] = []

        async def exchanges() -> tuple[AbstractExchange, AbstractExchange]:
            channel = await connection.channel(
                publisher_confirms=True, on_return_raises=True
            )
            made = await declare_exchanges(channel, topology)
            for old in channels:
                with contextlib.suppress(Exception):
                    await old.close()
            channels[:] = [channel]
            return made

        commands, events = await exchanges()
        return cls(commands, events, reopen=exchanges)

    reopen_after_refusals: float = 3.0
    """Seconds of refusals after which the channel is replaced by a new one.
    Measured on RabbitMQ 3.10: a channel restored on another node after its
    node was killed may be refused (Basic.Nack) for minutes by quorum queues
    whose leader moved, while a new channel on the same connection is not."""

    confirm_timeout: float = 10.0
    """Seconds to wait for the broker's confirm: a blocked or unreachable broker
    (resource alarm, half-open connection) must not hold a publisher forever."""

    nack_retry_seconds: float = 30.0
    """How long a message the broker refuses is sent again before the publish
    fails. While a killed node's quorum queues elect new leaders (seconds
    under load) the broker nacks what it cannot store yet; failing at once
    would spend a command's delivery limit within that window."""

    async def publish(self, message: AnyMessage) -> None:
        """Publish `message` persistently and wait for the broker's confirm;
        send it again while the broker refuses it (Basic.Nack).

        Raises:
            aio_pika.exceptions.DeliveryError: the broker returned it
                (unroutable), or refused it for `nack_retry_seconds`.
            TimeoutError: no confirm within `confirm_timeout` seconds.
        """
        retrying = AsyncRetrying(
            retry=retry_if_exception(refused_by_broker),
            wait=wait_exponential(multiplier=0.1, max=2.0),
            stop=stop_after_delay(self.nack_retry_seconds),
            before_sleep=log_retry(
                logger, f"{message.message_type} {message.message_id} refused"
            ),
            reraise=True,
        )
        await retrying(self._publish_once, message)

    async def _publish_once(self, message: AnyMessage) -> None:
        try:
            await self._send(message)
        except aiormq.exceptions.DeliveryError as exc:
            if refused_by_broker(exc):
                await self._refused()
            raise
        self._refused_since = None

    async def _refused(self) -> None:
        """Count a refusal; replace the channel once they last too long."""
        now = time.monotonic()
        if self._refused_since is None:
            self._refused_since = now
            return
        if (
            self._reopen is None
            or now - self._refused_since < self.reopen_after_refusals
        ):
            return
        started = self._refused_since
        async with self._reopening:
            if self._refused_since != started:
                return  # another publish replaced the channel meanwhile
            logger.warning(
                "the broker has refused messages for %.1fs; opening a new channel",
                now - self._refused_since,
            )
            try:
                self._commands, self._events = await self._reopen()
            except Exception as exc:
                # The connection is down too: the robust channel comes back
                # with it; the refusal stands and is retried.
                logger.warning("could not open a new channel: %r", exc)
                return
            self._refused_since = None

    async def _send(self, message: AnyMessage) -> None:
        exchange = (
            self._commands if isinstance(message, SyncRequested) else self._events
        )
        # Around the whole publish: a robust channel that waits for a
        # reconnection would otherwise wait without bound too.
        async with asyncio.timeout(self.confirm_timeout):
            await exchange.publish(
                aio_pika.Message(
                    encode(message),
                    content_type="application/json",
                    delivery_mode=DeliveryMode.PERSISTENT,
                    message_id=message.message_id,
                    correlation_id=message.correlation_id,
                    type=message.message_type,
                    timestamp=message.occurred_at,
                    headers={"schema_version": message.schema_version},
                ),
                routing_key=message.message_type,
                mandatory=True,
            )


def refused_by_broker(exc: BaseException) -> bool:
    """Whether a publish failed on a Basic.Nack: the broker did not take the
    message (so sending it again cannot double it) but may later."""
    return isinstance(exc, aiormq.exceptions.DeliveryError) and isinstance(
        exc.frame, Basic.Nack
    )


def latest_death(headers: object) -> dict[str, Any]:
    """The latest entry of a dead-lettered message's `x-death` header (the
    broker puts it first): queue, reason, count, exchange, routing-keys,
    time; {} when the header is missing or malformed."""
    deaths = headers.get("x-death") if isinstance(headers, dict) else None
    if isinstance(deaths, list) and deaths and isinstance(deaths[0], dict):
        return deaths[0]
    return {}
