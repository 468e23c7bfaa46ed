"""Consuming with one policy: acknowledge only after the handler's writes.

- The body does not decode, or the handler raises `PoisonMessage`: reject
  without requeue, so the broker dead-letters it.
- The handler raises `TransientError` (a dependency is down), or finds the
  broker connection down while it publishes: retry the same
  message in-process with a bounded backoff until it succeeds or the process
  stops; on stop, return it to the queue. Nothing is acked meanwhile.
- Any other exception: return it to the queue; the quorum queue's delivery
  limit dead-letters it after a bounded number of attempts.
- Settling fails because the channel closed since the delivery: log it and
  go on; the broker redelivers the message on the restored channel.
- A redelivered message this consumer has already handled (its ack failed,
  or was sent and lost with the broker node) is acked without running the
  handler again: losing a broker node must not run a command twice. The
  memory is per process; another consumer may still handle it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Required

from typing_extensions import TypedDict, Unpack

from common.delivery import (
    CHANNEL_GONE,
    AckLost,
    DeliveryHandler,
    PoisonCallback,
    Undecodable,
    handle,
    really_cancelled,
)
from common.metrics import CONSUMER_IN_FLIGHT, MESSAGES_CONSUMED, REDELIVERIES
from contracts.codec import AnyMessage, DecodeError, decode

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from aio_pika.abc import AbstractIncomingMessage, AbstractQueue

logger = logging.getLogger(__name__)

Handler = Callable[[AnyMessage], Awaitable[None]]
"""Handles one decoded message."""


class ConsumerOptions(TypedDict, total=False):
    """How long a message in flight may finish at stop (`shutdown_timeout`,
    required), the longest wait between transient retries, and what records
    a dead-lettered message."""

    shutdown_timeout: Required[float]
    max_backoff: float
    on_poison: PoisonCallback | None


async def run_consumer(
    queue: AbstractQueue,
    handler: Handler,
    stop: asyncio.Event,
    **options: Unpack[ConsumerOptions],
) -> None:
    """Handle messages from `queue` one at a time until `stop` is set.

    Each body is decoded first; one that does not decode is dead-lettered.
    Otherwise as `consume_deliveries`.
    """

    async def decoded(message: AbstractIncomingMessage) -> None:
        try:
            body = decode(message.body)
        except DecodeError as exc:
            raise Undecodable(str(exc)) from None
        await handler(body)

    await consume_deliveries(queue, decoded, stop, **options)


async def consume_deliveries(
    queue: AbstractQueue,
    handler: DeliveryHandler,
    stop: asyncio.Event,
    *,
    shutdown_timeout: float,
    max_backoff: float = 5.0,
    on_poison: PoisonCallback | None = None,
) -> None:
    """Handle the deliveries of `queue` one at a time, with the policy above,
    until `stop` is set.

    On stop the consumer is cancelled first, then the message in flight gets
    `shutdown_timeout` seconds to finish before it is returned to the queue.
    """
    # Ids of messages whose handler finished, oldest first.
    handled: dict[str, None] = {}
    async with queue.iterator() as messages:
        stopped = asyncio.ensure_future(stop.wait())
        in_flight = CONSUMER_IN_FLIGHT.labels(queue.name)
        try:
            while not stop.is_set():
                message = await next_or_stop(messages, stopped)
                if message is None:
                    break
                if message.redelivered:
                    REDELIVERIES.labels(queue.name).inc()
                    if await _ack_if_handled(message, handled, queue.name):
                        continue
                work = asyncio.ensure_future(
                    handle(
                        message,
                        handler,
                        stop,
                        max_backoff,
                        on_poison,
                        queue.name,
                        handled,
                    )
                )
                in_flight.inc()
                work.add_done_callback(lambda _: in_flight.dec())
                await asyncio.wait({work, stopped}, return_when=asyncio.FIRST_COMPLETED)
                try:
                    if not work.done():
                        await _finish_in_flight(
                            work, message, shutdown_timeout, queue.name
                        )
                        break
                    work.result()
                except AckLost as exc:
                    logger.warning(
                        "handled message %s but could not ack it (%r); its "
                        "redelivery will be acked without handling it again",
                        message.message_id,
                        exc.__cause__,
                    )
                except CHANNEL_GONE as exc:
                    # Only settling (ack, nack, reject) raises out of handle.
                    # The channel closed after the delivery (the broker
                    # restarted, the connection dropped): the broker has put
                    # the message back and delivers it again, and handlers may
                    # run twice, so this is no reason to stop consuming.
                    logger.warning(
                        "could not settle message %s, its channel is gone (%r); "
                        "the broker delivers it again",
                        message.message_id,
                        exc,
                    )
        except asyncio.CancelledError:
            if really_cancelled():
                raise
            # A task group ignores a child that ends cancelled: without this
            # the process would stay up, ready, and consume nothing.
            raise RuntimeError(
                f"consumer of {queue.name} stopped by a stray cancel"
            ) from None
        finally:
            stopped.cancel()


async def _ack_if_handled(
    message: AbstractIncomingMessage, handled: dict[str, None], queue: str
) -> bool:
    """Ack a redelivered message this consumer already handled; True if it did."""
    if message.message_id is None or message.message_id not in handled:
        return False
    logger.warning(
        "message %s was handled before; acking its redelivery", message.message_id
    )
    with contextlib.suppress(*CHANNEL_GONE):
        await message.ack()
        MESSAGES_CONSUMED.labels(queue, "acked").inc()
    return True


async def next_or_stop(
    messages: AsyncIterator[AbstractIncomingMessage], stopped: asyncio.Future[Any]
) -> AbstractIncomingMessage | None:
    """The next message, or None once `stopped` is done (the wait is cancelled)."""
    incoming = asyncio.ensure_future(anext(messages))
    await asyncio.wait({incoming, stopped}, return_when=asyncio.FIRST_COMPLETED)
    if incoming.done():
        message: AbstractIncomingMessage = incoming.result()
        return message
    incoming.cancel()
    with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
        await incoming
    return None


async def _finish_in_flight(
    work: asyncio.Future[None],
    message: AbstractIncomingMessage,
    grace: float,
    queue: str,
) -> None:
    logger.info(
        "stopping: message %s in flight gets up to %.1fs to finish",
        message.message_id,
        grace,
    )
    done, _ = await asyncio.wait({work}, timeout=grace)
    if done:
        work.result()
        return
    work.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await work
    logger.warning("returning unfinished message %s to the queue", message.message_id)
    await message.nack(requeue=True)
    MESSAGES_CONSUMED.labels(queue, "requeued").inc()
