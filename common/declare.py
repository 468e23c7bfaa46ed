"""Declaring the broker topology `contracts.topology` names: exchanges, quorum
work queues with their dead-letter queues, the dead-letter tap, the event log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from aio_pika import ExchangeType

from contracts.commands import SyncRequested

if TYPE_CHECKING:
    from collections.abc import Sequence

    from aio_pika.abc import (
        AbstractChannel,
        AbstractExchange,
        AbstractQueue,
    )

    from contracts.topology import Topology


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
MAX_SEGMENT_BYTES: Final = 100_000_000


@dataclass(frozen=True, slots=True)
class EventLogRetention:
    """What the event log stream keeps: `max_age` in RabbitMQ's notation
    (`7D`, `12h`), and at most `max_bytes`."""

    max_age: str
    max_bytes: int


async def declare_event_log(
    channel: AbstractChannel, topology: Topology, retention: EventLogRetention
) -> AbstractQueue:
    """Declare the event log: a stream bound to every command and event.

    It keeps a copy of each message for its retention, whoever consumes the
    work queues; readers attach at any offset (`first`, a timestamp) and read
    without removing anything. Retention drops whole segments, so a segment
    is at most an eighth of `max_bytes` (and 100 MB). Declarations must agree:
    a second one with other arguments is refused (PRECONDITION_FAILED).
    """
    log = await channel.declare_queue(
        topology.event_log_queue,
        durable=True,
        arguments={
            "x-queue-type": "stream",
            "x-max-age": retention.max_age,
            "x-max-length-bytes": retention.max_bytes,
            "x-stream-max-segment-size-bytes": min(
                MAX_SEGMENT_BYTES, retention.max_bytes // 8
            ),
        },
    )
    await log.bind(
        topology.commands_exchange,
        routing_key=SyncRequested.model_fields["message_type"].default,
    )
    for key in PROJECTED_EVENTS:
        await log.bind(topology.events_exchange, routing_key=key)
    return log


async def declare_projector_queue(
    channel: AbstractChannel,
    topology: Topology,
    *,
    delivery_limit: int,
    event_log: EventLogRetention | None = None,
) -> AbstractQueue:
    """Declare the exchanges and the projector's queue of sync events, and the
    event log unless `event_log` is None.

    Both the projector and the sync worker declare them (identically), so
    events published before the projector's first start are kept, not
    returned as unroutable. The dead-letter tap comes with it, for the same reason.
    """
    await declare_exchanges(channel, topology)
    await declare_dead_letter_tap(channel, topology, delivery_limit=delivery_limit)
    if event_log is not None:
        await declare_event_log(channel, topology, event_log)
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
