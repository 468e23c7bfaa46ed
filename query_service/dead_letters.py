"""The projector's dead-letter tap: counts every message any work queue dead-letters.

The broker copies each dead letter of every work queue (the sync worker's
commands and the projector's events) into the tap queue, with an `x-death`
header saying which queue gave up on it and why. Counting from that copy,
rather than in each consumer, makes every dead letter visible in
/queries/sync-status: those of the sync worker (which has no database), and
those the broker itself dead-letters when a message reaches the delivery
limit (no consumer sees that moment). The consumer that rejected a message
logs the detailed reason with the message id; the tap records where and how.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Final

from common.consuming import TransientError, next_or_stop
from common.logs import log_context

if TYPE_CHECKING:
    from aio_pika.abc import AbstractIncomingMessage, AbstractQueue

    from common.consuming import PoisonCallback

logger = logging.getLogger(__name__)

_REASONS: Final = {
    "rejected": "rejected by its consumer (its log says why)",
    "delivery_limit": "delivery limit reached (its handler kept failing)",
    "expired": "expired in the queue",
    "maxlen": "the queue was full",
}


def describe_death(headers: object) -> str:
    """Where and why the broker dead-lettered a message, from its `x-death` header.

    The broker puts the most recent death first.
    """
    deaths = headers.get("x-death") if isinstance(headers, dict) else None
    if not isinstance(deaths, list) or not deaths or not isinstance(deaths[0], dict):
        return "dead-lettered (no x-death header)"
    queue = deaths[0].get("queue", "?")
    reason = str(deaths[0].get("reason", "?"))
    return f"{queue}: {_REASONS.get(reason, reason)}"


async def run_dead_letter_tap(
    queue: AbstractQueue,
    record: PoisonCallback,
    stop: asyncio.Event,
    *,
    max_backoff: float = 5.0,
) -> None:
    """Record each message of the tap `queue` with `record`, until `stop` is set.

    Acknowledged after `record` returns, so a dead letter is counted at least
    once. `record` raising TransientError is retried with a bounded backoff
    (on stop the message goes back to the queue); any other exception returns
    the message to the queue, whose delivery limit bounds the attempts.
    """
    async with queue.iterator() as messages:
        stopped = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                message = await next_or_stop(messages, stopped)
                if message is None:
                    break
                await _record(message, record, stop, max_backoff)
        finally:
            stopped.cancel()


async def _record(
    message: AbstractIncomingMessage,
    record: PoisonCallback,
    stop: asyncio.Event,
    max_backoff: float,
) -> None:
    with log_context(
        correlation_id=message.correlation_id, message_id=message.message_id
    ):
        reason = describe_death(message.headers)
        delay = 0.1
        while True:
            try:
                await record(message, reason)
            except TransientError as exc:
                if stop.is_set():
                    await message.nack(requeue=True)
                    return
                logger.warning(
                    "cannot record dead letter yet, retrying in %.1fs: %s", delay, exc
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=delay)
                delay = min(delay * 2, max_backoff)
                continue
            except Exception:
                logger.exception("could not record dead letter; requeueing it")
                await message.nack(requeue=True)
                return
            await message.ack()
            logger.warning(
                "dead letter %s (%s) recorded: %s",
                message.message_id,
                message.type,
                reason,
            )
            return
