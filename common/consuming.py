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
from typing import TYPE_CHECKING, Any, Final, Required

import aiormq.exceptions
from aio_pika.exceptions import AMQPError, ChannelInvalidStateError
from tenacity import (
    AsyncRetrying,
    retry_base,
    retry_if_exception,
    wait_exponential,
)
from typing_extensions import TypedDict, Unpack

from common.amqp import refused_by_broker
from common.logs import log_context
from common.metrics import (
    CONSUMER_IN_FLIGHT,
    DEAD_LETTERED,
    MESSAGES_CONSUMED,
    REDELIVERIES,
    TRANSIENT_RETRIES,
)
from common.retrying import log_retry, sleep_until
from contracts.codec import AnyMessage, DecodeError, decode

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from aio_pika.abc import AbstractIncomingMessage, AbstractQueue
    from tenacity import RetryCallState

logger = logging.getLogger(__name__)

Handler = Callable[[AnyMessage], Awaitable[None]]
"""Handles one decoded message."""
DeliveryHandler = Callable[["AbstractIncomingMessage"], Awaitable[None]]
"""Handles one delivery as it came (the dead-letter tap: bodies may not decode)."""
CHANNEL_GONE: Final = (AMQPError, ChannelInvalidStateError, ConnectionError)
"""What settling a message raises when its channel closed after the delivery."""
PoisonCallback = Callable[["AbstractIncomingMessage", str], Awaitable[None]]
HANDLED_REMEMBERED: Final = 1024
"""How many handled message ids a consumer remembers, for redeliveries."""


BROKER_UNAVAILABLE: Final = (
    ChannelInvalidStateError,
    ConnectionError,
    aiormq.exceptions.ConnectionClosed,
)
"""What a handler's publish raises while the robust connection reconnects (to
another node): waiting beats requeueing, which would spend the message's
delivery limit in a few milliseconds and dead-letter a valid command."""


class AckLost(Exception):
    """The handler finished but the ack could not be sent (its channel is gone)."""


class PoisonMessage(Exception):
    """The message can never be handled; dead-letter it."""


class Undecodable(PoisonMessage):
    """The body is not a message of ours; dead-letter it."""


class TransientError(Exception):
    """A dependency failed; the same message may succeed later."""


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
                    _handle(
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
                    # Only settling (ack, nack, reject) raises out of _handle.
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
            if _really_cancelled():
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


async def _handle(
    message: AbstractIncomingMessage,
    handler: DeliveryHandler,
    stop: asyncio.Event,
    max_backoff: float,
    on_poison: PoisonCallback | None,
    queue: str,
    handled: dict[str, None],
) -> None:
    # A dependency that is down, or the broker connection while it moves to
    # another node: retried in place until it works or the process stops.
    retrying = AsyncRetrying(
        retry=retry_if_exception(transient) & _unless_set(stop),
        wait=wait_exponential(multiplier=0.1, max=max_backoff),
        sleep=sleep_until(stop),
        before_sleep=_count_retry(queue),
        reraise=True,
    )
    with log_context(
        correlation_id=message.correlation_id, message_id=message.message_id
    ):
        try:
            await retrying(_call, handler, message)
        except PoisonMessage as exc:
            cause = "undecodable" if isinstance(exc, Undecodable) else "poison"
            await _dead_letter(message, str(exc), on_poison, queue, cause)
            return
        except Exception as exc:
            if transient(exc):
                # Only once stop is set: the message goes back to the queue.
                logger.warning("dependency down during shutdown; requeueing: %s", exc)
                await message.nack(requeue=True)
                MESSAGES_CONSUMED.labels(queue, "requeued").inc()
                return
            logger.exception(
                "handler failed (delivery %s); requeueing",
                (message.headers or {}).get("x-delivery-count", 0),
            )
            await message.nack(requeue=True)
            MESSAGES_CONSUMED.labels(queue, "requeued").inc()
            return
        _remember(handled, message.message_id)
        try:
            await message.ack()
        except CHANNEL_GONE as exc:
            raise AckLost from exc
        MESSAGES_CONSUMED.labels(queue, "acked").inc()


def transient(exc: BaseException) -> bool:
    """Whether a handler's failure is one to wait out with the message held:
    a dependency down, the broker connection moving, or the broker refusing
    to store what the handler publishes (its queues have lost their quorum).
    None of these is the message's fault, so none may spend its deliveries."""
    return isinstance(exc, (TransientError, *BROKER_UNAVAILABLE)) or refused_by_broker(
        exc
    )


def _unless_set(stop: asyncio.Event) -> retry_base:
    """Retry only while `stop` is not set."""
    return retry_if_exception(lambda _: not stop.is_set())


def _count_retry(queue: str) -> Callable[[RetryCallState], None]:
    log = log_retry(logger, "transient failure")

    def before_sleep(state: RetryCallState) -> None:
        TRANSIENT_RETRIES.labels(queue).inc()
        log(state)

    return before_sleep


async def _call(handler: DeliveryHandler, message: AbstractIncomingMessage) -> None:
    """Run `handler`; a CancelledError that is not this task's own cancellation
    becomes a ConnectionError.

    aiormq cancels the futures of a connection it closes after missed
    heartbeats (a frozen broker node): a publish in the handler then raises
    CancelledError although nobody cancelled the handler. That is a broker
    outage, to wait out like any other, not the end of the consumer.
    """
    try:
        await handler(message)
    except asyncio.CancelledError:
        if _really_cancelled():
            raise
        raise ConnectionError(
            "the broker connection closed under the handler"
        ) from None


def _really_cancelled() -> bool:
    """Whether someone asked to cancel the current task."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _remember(handled: dict[str, None], message_id: str | None) -> None:
    if message_id is not None:
        handled[message_id] = None
        while len(handled) > HANDLED_REMEMBERED:
            del handled[next(iter(handled))]


async def _dead_letter(
    message: AbstractIncomingMessage,
    reason: str,
    on_poison: PoisonCallback | None,
    queue: str,
    cause: str,
) -> None:
    logger.error(
        "dead-lettering message %s (%s): %s", message.message_id, message.type, reason
    )
    if on_poison is not None:
        try:
            await on_poison(message, reason)
        except Exception:
            logger.exception("could not record the dead-lettered message")
    await message.reject(requeue=False)
    DEAD_LETTERED.labels(queue, cause).inc()
    MESSAGES_CONSUMED.labels(queue, "dead_lettered").inc()
