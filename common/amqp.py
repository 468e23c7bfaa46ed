"""RabbitMQ plumbing: connecting with retries, declaring topology, publishing."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Final, Protocol

import aio_pika
import aiormq.exceptions
from aio_pika import DeliveryMode, ExchangeType
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
    from collections.abc import Sequence

    from aio_pika.abc import (
        AbstractChannel,
        AbstractExchange,
        AbstractQueue,
        AbstractRobustConnection,
    )

    from common.health import Readiness
    from contracts.topology import Topology

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


async def declare_exchanges(
    channel: AbstractChannel, topology: Topology
) -> tuple[AbstractExchange, AbstractExchange]:
    """Declare (idempotently) the commands, events and dead-letter exchanges."""
    commands = await channel.declare_exchange(
        topology.commands_exchange, ExchangeType.TOPIC, durable=True
    )
    events = await channel.declare_exchange(
        topology.events_exchange, ExchangeType.TOPIC, durable=True
    )
    await channel.declare_exchange(
        topology.dead_letter_exchange, ExchangeType.DIRECT, durable=True
    )
    return commands, events


async def declare_work_queue(
    channel: AbstractChannel,
    topology: Topology,
    *,
    name: str,
    exchange: str,
    routing_keys: Sequence[str],
    delivery_limit: int,
    single_active_consumer: bool = False,
) -> AbstractQueue:
    """Declare a durable quorum work queue, its bindings and its dead-letter queue.

    Quorum queues count deliveries, so a message that keeps failing is
    dead-lettered after `delivery_limit` attempts instead of looping forever.
    """
    dlq = await channel.declare_queue(
        topology.dead_letter_queue(name),
        durable=True,
        arguments={"x-queue-type": "quorum"},
    )
    await dlq.bind(topology.dead_letter_exchange, routing_key=name)
    arguments: dict[str, Any] = {
        "x-queue-type": "quorum",
        "x-dead-letter-exchange": topology.dead_letter_exchange,
        "x-dead-letter-routing-key": name,
        "x-delivery-limit": delivery_limit,
    }
    if single_active_consumer:
        arguments["x-single-active-consumer"] = True
    queue = await channel.declare_queue(name, durable=True, arguments=arguments)
    for key in routing_keys:
        await queue.bind(exchange, routing_key=key)
    return queue


class AmqpPublisher:
    """Publishes messages with confirms; unroutable or refused messages raise.

    Commands go to the commands exchange and events to the events exchange,
    routed by message type. The AMQP properties repeat the envelope.
    """

    def __init__(self, commands: AbstractExchange, events: AbstractExchange) -> None:
        self._commands = commands
        self._events = events

    @classmethod
    async def open(
        cls, connection: AbstractRobustConnection, topology: Topology
    ) -> AmqpPublisher:
        """Open a confirming channel on `connection` and declare the exchanges."""
        channel = await connection.channel(
            publisher_confirms=True, on_return_raises=True
        )
        commands, events = await declare_exchanges(channel, topology)
        return cls(commands, events)

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


async def declare_sync_requests_queue(
    channel: AbstractChannel, topology: Topology, *, delivery_limit: int
) -> AbstractQueue:
    """Declare the exchanges and the sync worker's command queue.

    Both the command service and the sync worker declare it (identically), so
    a command is queued durably even before any worker has started. One
    active consumer at a time: two syncs never run at once.
    """
    await declare_exchanges(channel, topology)
    return await declare_work_queue(
        channel,
        topology,
        name=topology.sync_requests_queue,
        exchange=topology.commands_exchange,
        routing_keys=[SyncRequested.model_fields["message_type"].default],
        delivery_limit=delivery_limit,
        single_active_consumer=True,
    )


PROJECTED_EVENTS: Final = ("users.fetched", "sync.completed", "sync.failed")


async def declare_projector_queue(
    channel: AbstractChannel, topology: Topology, *, delivery_limit: int
) -> AbstractQueue:
    """Declare the exchanges and the projector's queue of sync events.

    Both the projector and the sync worker declare it (identically), so
    events published before the projector's first start are kept, not
    returned as unroutable. The dead-letter tap comes with it, for the same reason.
    """
    await declare_exchanges(channel, topology)
    await declare_dead_letter_tap(channel, topology, delivery_limit=delivery_limit)
    return await declare_work_queue(
        channel,
        topology,
        name=topology.projector_queue,
        exchange=topology.events_exchange,
        routing_keys=PROJECTED_EVENTS,
        delivery_limit=delivery_limit,
    )


async def declare_dead_letter_tap(
    channel: AbstractChannel, topology: Topology, *, delivery_limit: int
) -> AbstractQueue:
    """Declare the projector's dead-letter tap (the exchanges must exist).

    Bound to the dead-letter exchange with the name of every work queue, it
    receives a copy of each message the broker dead-letters, whether a
    consumer rejected it or the delivery limit was reached; the originals
    stay in the `<queue>.dlq` queues for inspection. No dead-letter exchange
    of its own: a copy that cannot be recorded is dropped after
    `delivery_limit` attempts, and the original is still kept.
    """
    tap = await channel.declare_queue(
        topology.dead_letter_tap_queue,
        durable=True,
        arguments={"x-queue-type": "quorum", "x-delivery-limit": delivery_limit},
    )
    for work_queue in (topology.sync_requests_queue, topology.projector_queue):
        await tap.bind(topology.dead_letter_exchange, routing_key=work_queue)
    return tap


def latest_death(headers: object) -> dict[str, Any]:
    """The latest entry of a dead-lettered message's `x-death` header (the
    broker puts it first): queue, reason, count, exchange, routing-keys,
    time; {} when the header is missing or malformed."""
    deaths = headers.get("x-death") if isinstance(headers, dict) else None
    if isinstance(deaths, list) and deaths and isinstance(deaths[0], dict):
        return deaths[0]
    return {}
