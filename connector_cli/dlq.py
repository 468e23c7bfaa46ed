"""The CLI's broker side: peek into a dead-letter queue, replay what it holds.

Both work on the `<queue>.dlq` of a work queue (see `contracts.topology`).
Peeking takes messages unacknowledged and returns every one of them to the
queue. Replaying publishes each message again to the exchange and routing
key it was first published with (from its `x-death` header), with publisher
confirms, and acknowledges it in the dead-letter queue only after the broker
confirmed the copy: a crash in between leaves a duplicate, never a loss,
and consumers are idempotent by `message_id`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Literal

import aio_pika
from aio_pika import DeliveryMode

from common.amqp import latest_death
from connector_cli import broker
from connector_cli.broker import BrokerError
from contracts.topology import Topology

if TYPE_CHECKING:
    from aio_pika.abc import (
        AbstractChannel,
        AbstractIncomingMessage,
        AbstractQueue,
    )

    from connector_cli.settings import CliSettings

QueueName = Literal["sync-requests", "projector"]
QUEUES: Final[tuple[QueueName, ...]] = ("sync-requests", "projector")
_DEATH_HEADERS: Final = frozenset(
    {"x-death", "x-first-death-exchange", "x-first-death-queue",
     "x-first-death-reason", "x-last-death-exchange", "x-last-death-queue",
     "x-last-death-reason", "x-delivery-count"}
)  # fmt: skip


class DlqError(BrokerError):
    """The dead-letter queue could not be read or replayed; `str()` says why."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """What a dead-lettered message says about itself and its death."""

    message_id: str | None
    message_type: str | None
    correlation_id: str | None
    reason: str | None
    """`rejected` (a consumer refused it: undecodable or poison) or `delivery_limit`."""
    queue: str | None
    exchange: str | None
    routing_key: str | None
    deaths: int
    died_at: str | None


def work_queue(topology: Topology, name: QueueName) -> str:
    """The work queue a `--queue` choice names."""
    if name == "sync-requests":
        return topology.sync_requests_queue
    return topology.projector_queue


def describe(message: AbstractIncomingMessage) -> DeadLetter:
    """The first (latest) `x-death` entry of `message`, and its envelope ids."""
    death = latest_death(message.headers)
    keys = death.get("routing-keys") or []
    died = death.get("time")
    return DeadLetter(
        message_id=message.message_id,
        message_type=message.type,
        correlation_id=message.correlation_id,
        reason=_text(death.get("reason")),
        queue=_text(death.get("queue")),
        exchange=_text(death.get("exchange")),
        routing_key=_text(keys[0]) if keys else None,
        deaths=int(death.get("count") or 0),
        died_at=died.isoformat() if isinstance(died, datetime) else None,
    )


def replay_headers(headers: dict[str, Any] | None) -> dict[str, Any]:
    """The headers of a replayed copy: the original ones, without the broker's
    death bookkeeping, and naming where the copy came from."""
    kept = {k: v for k, v in (headers or {}).items() if k not in _DEATH_HEADERS}
    replays = kept.get("replay-count")
    kept["replay-count"] = (replays if isinstance(replays, int) else 0) + 1
    return kept


async def peek(
    settings: CliSettings, name: QueueName, limit: int
) -> tuple[int, list[DeadLetter]]:
    """How many messages the dead-letter queue holds, and up to `limit` of them.

    Every message taken is returned to the queue before this returns.
    """
    async with broker.connection(settings) as connection:
        channel = await connection.channel()
        queue, count = await _dlq(channel, settings, name)
        taken: list[AbstractIncomingMessage] = []
        try:
            for _ in range(min(count, limit)):
                message = await queue.get(no_ack=False, fail=False)
                if message is None:
                    break
                taken.append(message)
            return count, [describe(message) for message in taken]
        finally:
            for message in taken:
                await message.nack(requeue=True)


@dataclass(frozen=True, slots=True)
class Replayed:
    """One replayed message and where it went."""

    letter: DeadLetter
    exchange: str
    routing_key: str


async def replay(
    settings: CliSettings, name: QueueName, limit: int | None
) -> tuple[list[Replayed], list[DeadLetter]]:
    """Move up to `limit` messages (all present at the start when None) back.

    Returns:
        The replayed messages, and those left in the queue because their
        `x-death` header names no exchange to send them to.

    Raises:
        DlqError: the broker refused or returned a copy; that message and the
            ones after it stay in the dead-letter queue.
    """
    async with broker.connection(settings) as connection:
        channel = await connection.channel(
            publisher_confirms=True, on_return_raises=True
        )
        queue, count = await _dlq(channel, settings, name)
        # Only what was there at the start: a copy dead-lettered again while
        # this runs comes back to the queue and must not be replayed twice.
        todo = count if limit is None else min(count, limit)
        replayed: list[Replayed] = []
        skipped: list[tuple[AbstractIncomingMessage, DeadLetter]] = []
        try:
            for _ in range(todo):
                message = await queue.get(no_ack=False, fail=False)
                if message is None:
                    break
                letter = describe(message)
                if letter.exchange is None or letter.routing_key is None:
                    skipped.append((message, letter))
                    continue
                await _publish_copy(
                    channel, message, letter.exchange, letter.routing_key
                )
                # Acknowledged only now, after the broker confirmed the copy.
                await message.ack()
                replayed.append(Replayed(letter, letter.exchange, letter.routing_key))
        finally:
            for message, _ in skipped:
                await message.nack(requeue=True)
        return replayed, [letter for _, letter in skipped]


async def _publish_copy(
    channel: AbstractChannel,
    message: AbstractIncomingMessage,
    exchange_name: str,
    routing_key: str,
) -> None:
    exchange = (
        channel.default_exchange
        if exchange_name == ""
        else await channel.get_exchange(exchange_name, ensure=False)
    )
    copy = aio_pika.Message(
        message.body,
        headers=replay_headers(message.headers),
        content_type=message.content_type,
        content_encoding=message.content_encoding,
        delivery_mode=DeliveryMode.PERSISTENT,
        correlation_id=message.correlation_id,
        message_id=message.message_id,
        timestamp=message.timestamp,
        type=message.type,
        app_id=message.app_id,
    )
    try:
        await exchange.publish(copy, routing_key=routing_key, mandatory=True)
    except aio_pika.exceptions.DeliveryError as exc:
        await message.nack(requeue=True)
        raise DlqError(
            f"the broker refused the copy of {message.message_id} to"
            f" {exchange_name or '(default)'}/{routing_key}: {exc}; it stays dead-lettered"
        ) from None


async def _dlq(
    channel: AbstractChannel, settings: CliSettings, name: QueueName
) -> tuple[AbstractQueue, int]:
    dlq_name = Topology.dead_letter_queue(
        work_queue(Topology(settings.amqp_namespace), name)
    )
    try:
        queue = await channel.declare_queue(dlq_name, passive=True)
    except aio_pika.exceptions.ChannelClosed as exc:
        raise DlqError(f"there is no queue {dlq_name}: {exc}") from None
    return queue, queue.declaration_result.message_count or 0


def _text(value: object) -> str | None:
    # Header strings arrive as str, or as bytes when they are not UTF-8.
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value if isinstance(value, str) else None


def as_json(letter: DeadLetter) -> dict[str, Any]:
    """A dead letter as a JSON-ready dict."""
    return asdict(letter)
