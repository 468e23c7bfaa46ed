"""Consuming with one policy: acknowledge only after the handler's writes.

- The body does not decode, or the handler raises `PoisonMessage`: reject
  without requeue, so the broker dead-letters it.
- The handler raises `TransientError` (a dependency is down): retry the same
  message in-process with a bounded backoff until it succeeds or the process
  stops; on stop, return it to the queue. Nothing is acked meanwhile.
- Any other exception: return it to the queue; the quorum queue's delivery
  limit dead-letters it after a bounded number of attempts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from common.logs import log_context
from contracts.codec import AnyMessage, DecodeError, decode

if TYPE_CHECKING:
    from aio_pika.abc import AbstractIncomingMessage, AbstractQueue

logger = logging.getLogger(__name__)

Handler = Callable[[AnyMessage], Awaitable[None]]
PoisonCallback = Callable[["AbstractIncomingMessage", str], Awaitable[None]]


class PoisonMessage(Exception):
    """The message can never be handled; dead-letter it."""


class TransientError(Exception):
    """A dependency failed; the same message may succeed later."""


async def run_consumer(
    queue: AbstractQueue,
    handler: Handler,
    stop: asyncio.Event,
    *,
    shutdown_timeout: float,
    max_backoff: float = 5.0,
    on_poison: PoisonCallback | None = None,
) -> None:
    """Handle messages from `queue` one at a time until `stop` is set.

    On stop the consumer is cancelled first, then the message in flight gets
    `shutdown_timeout` seconds to finish before it is returned to the queue.
    """
    async with queue.iterator() as messages:
        stopped = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                incoming = asyncio.ensure_future(anext(messages))
                await asyncio.wait(
                    {incoming, stopped}, return_when=asyncio.FIRST_COMPLETED
                )
                if not incoming.done():
                    incoming.cancel()
                    with contextlib.suppress(
                        asyncio.CancelledError, StopAsyncIteration
                    ):
                        await incoming
                    break
                message = incoming.result()
                work = asyncio.ensure_future(
                    _handle(message, handler, stop, max_backoff, on_poison)
                )
                await asyncio.wait({work, stopped}, return_when=asyncio.FIRST_COMPLETED)
                if not work.done():
                    await _finish_in_flight(work, message, shutdown_timeout)
                    break
                work.result()
        finally:
            stopped.cancel()


async def _finish_in_flight(
    work: asyncio.Future[None], message: AbstractIncomingMessage, grace: float
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


async def _handle(
    message: AbstractIncomingMessage,
    handler: Handler,
    stop: asyncio.Event,
    max_backoff: float,
    on_poison: PoisonCallback | None,
) -> None:
    with log_context(
        correlation_id=message.correlation_id, message_id=message.message_id
    ):
        try:
            decoded = decode(message.body)
        except DecodeError as exc:
            await _dead_letter(message, str(exc), on_poison)
            return
        delay = 0.1
        while True:
            try:
                await handler(decoded)
            except PoisonMessage as exc:
                await _dead_letter(message, str(exc), on_poison)
                return
            except TransientError as exc:
                if stop.is_set():
                    logger.warning(
                        "dependency down during shutdown; requeueing: %s", exc
                    )
                    await message.nack(requeue=True)
                    return
                logger.warning("transient failure, retrying in %.1fs: %s", delay, exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=delay)
                delay = min(delay * 2, max_backoff)
                continue
            except Exception:
                logger.exception(
                    "handler failed (delivery %s); requeueing",
                    (message.headers or {}).get("x-delivery-count", 0),
                )
                await message.nack(requeue=True)
                return
            await message.ack()
            return


async def _dead_letter(
    message: AbstractIncomingMessage, reason: str, on_poison: PoisonCallback | None
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
