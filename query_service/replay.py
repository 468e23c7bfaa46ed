"""Replaying the event log into a projection handler: the rebuild's reader."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from common.delivery import PoisonMessage
from common.event_log import read_event_log, write_marker
from contracts.commands import SyncRequested

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from datetime import datetime

    from aio_pika.abc import AbstractConnection

    from common.consuming import Handler
    from common.event_log import LoggedMessage
    from contracts.topology import Topology

MARKER_WAIT_SECONDS: Final = 10.0
"""How long the log may stay silent before the rebuild's own marker arrives."""


@dataclass
class Replayed:
    """What a replay read from the log."""

    events: int = 0
    commands: int = 0
    unreadable: list[str] = field(default_factory=list)
    last_offset: int | None = None
    """The offset of the last message read, to go on after it."""


async def replay(
    entries: AsyncIterator[LoggedMessage],
    handle: Handler,
    replayed: Replayed,
) -> Replayed:
    """Project every event of `entries` into the handler's model, in order."""
    async for entry in entries:
        replayed.last_offset = entry.offset
        match entry.message:
            case None:
                replayed.unreadable.append(f"offset {entry.offset}: {entry.error}")
            case SyncRequested():
                replayed.commands += 1
            case event:
                try:
                    await handle(event)
                except PoisonMessage as exc:
                    # Live, the projector dead-lettered it too.
                    replayed.unreadable.append(f"offset {entry.offset}: {exc}")
                else:
                    replayed.events += 1
    return replayed


async def replay_to_marker(
    connection: AbstractConnection,
    topology: Topology,
    handle: Handler,
    replayed: Replayed,
    *,
    since: datetime | None,
) -> Replayed:
    """Replay what the log holds up to a marker written now (a busy log is
    never idle), going on after what `replayed` already read."""
    marker = await write_marker(connection, topology)
    entries = read_event_log(
        connection,
        topology,
        since=since,
        after=replayed.last_offset,
        until_marker=marker,
        idle_seconds=MARKER_WAIT_SECONDS,
    )
    return await replay(entries, handle, replayed)
