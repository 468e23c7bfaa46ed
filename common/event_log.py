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
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

import aio_pika

from contracts.codec import AnyMessage, DecodeError, decode

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from aio_pika.abc import AbstractConnection, AbstractIncomingMessage

    from contracts.topology import Topology

PREFETCH: Final = 256
"""Unacknowledged messages a stream consumer may hold (streams require a limit)."""


MARKER_HEADER: Final = "x-event-log-marker"
"""Header of a marker: a message written straight into the log (no event),
so that a reader knows when it has read everything logged before it."""


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
    after: int | None = None,
    until_marker: str | None = None,
    idle_seconds: float = 1.0,
) -> AsyncIterator[LoggedMessage]:
    """The logged messages from the first kept (or the first at `since`, or
    the first after offset `after`), in order, until none came for
    `idle_seconds` or, given `until_marker`, until that marker. Markers are
    skipped.

    Raises:
        aio_pika.exceptions.ChannelNotFoundEntity: there is no event log.
        TimeoutError: `until_marker` was not read (nothing came for
            `idle_seconds` before it).
    """
    start: datetime | int | str = (
        after + 1 if after is not None else since if since is not None else "first"
    )
    channel = await connection.channel()
    try:
        await channel.set_qos(prefetch_count=PREFETCH)
        log = await channel.declare_queue(topology.event_log_queue, passive=True)
        arrived: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
        tag = await log.consume(arrived.put, arguments={"x-stream-offset": start})
        try:
            while True:
                try:
                    incoming = await asyncio.wait_for(arrived.get(), idle_seconds)
                except TimeoutError:
                    if until_marker is None:
                        return
                    raise TimeoutError(
                        f"marker {until_marker} not read: the log was silent"
                        f" for {idle_seconds:g}s before it"
                    ) from None
                await incoming.ack()
                marker = incoming.headers.get(MARKER_HEADER)
                if marker is None:
                    yield _logged(incoming)
                elif marker == until_marker:
                    return
        finally:
            with contextlib.suppress(Exception):
                await log.cancel(tag)
    finally:
        with contextlib.suppress(Exception):
            await channel.close()


async def write_marker(connection: AbstractConnection, topology: Topology) -> str:
    """Append a marker to the log (confirmed) and return its id: a reader
    given it as `until_marker` stops once it has read all logged before."""
    marker = uuid.uuid4().hex
    channel = await connection.channel(publisher_confirms=True)
    try:
        await channel.default_exchange.publish(
            aio_pika.Message(b"", headers={MARKER_HEADER: marker}),
            routing_key=topology.event_log_queue,
            mandatory=True,
        )
    finally:
        await channel.close()
    return marker


def add_rebuild_arguments(
    parser: argparse.ArgumentParser, *, lease_default: float | None
) -> None:
    """The options of a rebuild from the log, the same for `randomuser-rebuild`
    and `randomuser-connector rebuild` (which runs it)."""
    parser.add_argument(
        "--database", required=True, help="the database to rebuild into (new, empty)"
    )
    when = parser.add_mutually_exclusive_group()
    when.add_argument(
        "--since", type=since_argument, help="replay from about this time"
    )
    when.add_argument(
        "--all", action="store_true", help="replay all the log keeps (the default)"
    )
    parser.add_argument(
        "--switch",
        action="store_true",
        help="once verified, move readers and the projector to the rebuilt database",
    )
    parser.add_argument(
        "--lease",
        type=float,
        default=lease_default,
        metavar="SECONDS",
        help="longest pause of the live projection during the switch"
        + ("" if lease_default is None else f" (default {lease_default:g})"),
    )


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
