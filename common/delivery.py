"""One delivery, handled with the policy of `common.consuming`: the handler
runs with transient failures retried in place; then the message is acked,
returned to the queue, or dead-lettered. Also the exceptions a handler raises
to choose among those."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Final

import aiormq.exceptions
from aio_pika.exceptions import AMQPError, ChannelInvalidStateError
from tenacity import (
    AsyncRetrying,
    retry_base,
    retry_if_exception,
    wait_exponential,
)

from common.amqp import refused_by_broker
from common.logs import log_context
from common.metrics import DEAD_LETTERED, MESSAGES_CONSUMED, TRANSIENT_RETRIES
from common.retrying import log_retry, sleep_until

if TYPE_CHECKING:
    from aio_pika.abc import AbstractIncomingMessage
    from tenacity import RetryCallState

logger = logging.getLogger(__name__)

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


async def handle(
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
        if really_cancelled():
            raise
        raise ConnectionError(
            "the broker connection closed under the handler"
        ) from None


def really_cancelled() -> bool:
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
