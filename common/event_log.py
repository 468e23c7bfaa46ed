"""Reading the event log: the stream that keeps every command and event.

`common.declare.declare_event_log` declares it; the sync worker and the
projector do so at start. A reader attaches at an offset (the first message
kept, or the first at or after a time), reads what the stream holds without
removing anything, and stops once no message came for `idle_seconds` (the
end of the log, as far as a reader of a live stream can tell).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from contracts.codec import AnyMessage, DecodeError, decode

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from aio_pika.abc import AbstractConnection, AbstractIncomingMessage

    from contracts.topology import Topology

PREFETCH: Final = 256
"""Unacknowledged messages a stream consumer may hold (streams require a limit)."""


@dataclass(frozen=True, slots=True)
class LoggedMessage:
    """One message of the log: its offset, and the message or why it is unreadable."""

    offset: int
    message: AnyMessage | None
    error: str | None = None


async def read_event_log(
    connection: AbstractConnection,
    topology: Topology,
    *,
    since: datetime | None = None,
    idle_seconds: float = 1.0,
) -> AsyncIterator[LoggedMessage]:
    """The logged messages from the first kept (or the first at `since`), in order.

    Raises:
        aio_pika.exceptions.ChannelNotFoundEntity: there is no event log.
    """
    channel = await connection.channel()
    try:
        await channel.set_qos(prefetch_count=PREFETCH)
        log = await channel.declare_queue(topology.event_log_queue, passive=True)
        arrived: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
        tag = await log.consume(
            arrived.put, arguments={"x-stream-offset": since or "first"}
        )
        try:
            while True:
                try:
                    incoming = await asyncio.wait_for(arrived.get(), idle_seconds)
                except TimeoutError:
                    return
                await incoming.ack()
                yield _logged(incoming)
        finally:
            with contextlib.suppress(Exception):
                await log.cancel(tag)
    finally:
        with contextlib.suppress(Exception):
            await channel.close()


def since_argument(value: str) -> datetime:
    """A `--since` option (argparse `type`): an ISO 8601 time, UTC when it
    names no offset."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _logged(incoming: AbstractIncomingMessage) -> LoggedMessage:
    offset = incoming.headers.get("x-stream-offset")
    number = offset if isinstance(offset, int) else -1
    try:
        return LoggedMessage(number, decode(incoming.body))
    except DecodeError as exc:
        return LoggedMessage(number, None, str(exc))
