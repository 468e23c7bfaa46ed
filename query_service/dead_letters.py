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

import logging
from typing import TYPE_CHECKING, Final

from common.amqp import latest_death
from common.consuming import consume_deliveries

if TYPE_CHECKING:
    import asyncio

    from aio_pika.abc import AbstractIncomingMessage, AbstractQueue

    from common.delivery import PoisonCallback

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
    death = latest_death(headers)
    if not death:
        return "dead-lettered (no x-death header)"
    queue = death.get("queue", "?")
    reason = str(death.get("reason", "?"))
    return f"{queue}: {_REASONS.get(reason, reason)}"


async def run_dead_letter_tap(
    queue: AbstractQueue,
    record: PoisonCallback,
    stop: asyncio.Event,
    *,
    shutdown_timeout: float = 5.0,
    max_backoff: float = 5.0,
) -> None:
    """Record each message of the tap `queue` with `record`, until `stop` is set.

    The consumer policy of every queue (common/consuming.py): acknowledged
    after `record` returns, so a dead letter is counted at least once;
    `record` raising TransientError is retried with a bounded backoff (on stop
    the message goes back to the queue); any other exception returns the
    message to the queue, whose delivery limit bounds the attempts. Bodies
    are not decoded: a dead letter may be one that never did.
    """

    async def on_delivery(message: AbstractIncomingMessage) -> None:
        reason = describe_death(message.headers)
        await record(message, reason)
        logger.warning(
            "dead letter %s (%s) recorded: %s", message.message_id, message.type, reason
        )

    await consume_deliveries(
        queue,
        on_delivery,
        stop,
        shutdown_timeout=shutdown_timeout,
        max_backoff=max_backoff,
    )
