"""`randomuser-connector events`: what the event log keeps, oldest first.

The event log is the stream the sync worker and the projector declare
(`common.declare.declare_event_log`): every sync command and event, kept for
EVENT_LOG_MAX_AGE, readable any number of times without taking anything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import aio_pika

from common.event_log import read_event_log
from connector_cli import broker
from connector_cli.api import table
from contracts.commands import SyncRequested
from contracts.events import SyncCompleted, SyncFailed, UsersFetched
from contracts.topology import Topology

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from common.event_log import LoggedMessage
    from connector_cli.settings import CliSettings


async def logged(
    settings: CliSettings, *, since: datetime | None, sync: str | None
) -> list[LoggedMessage]:
    """The log's messages (from `since`), only those of `sync` when given
    (a sync id or the id of the command that asked for it)."""
    topology = Topology(settings.amqp_namespace)
    async with broker.connection(settings) as connection:
        try:
            entries = [
                entry
                async for entry in read_event_log(connection, topology, since=since)
            ]
        except aio_pika.exceptions.ChannelClosed as exc:
            raise broker.BrokerError(
                f"there is no event log {topology.event_log_queue}: {exc}"
            ) from None
    if sync is None:
        return entries
    return [entry for entry in entries if sync in _ids(entry)]


def _ids(entry: LoggedMessage) -> set[str]:
    message = entry.message
    ids = {getattr(message, "sync_id", None), getattr(message, "command_id", None)}
    return {value for value in ids if isinstance(value, str)}


def describe(entry: LoggedMessage) -> str:
    """One line of what a message says."""
    match entry.message:
        case None:
            return f"unreadable: {entry.error}"
        case SyncRequested() as command:
            return f"requested {command.results:,} users ({command.trigger})"
        case UsersFetched() as batch:
            users = len(batch.users)
            return f"batch {batch.batch_index + 1}/{batch.batch_count}: {users:,} users"
        case SyncCompleted() as done:
            return f"completed: {done.user_count:,} users in {done.batch_count} batches"
        case SyncFailed() as failed:
            return f"failed after {failed.attempts} attempts: {failed.reason}"


def format_logged(entries: Sequence[LoggedMessage]) -> str:
    """What `events` prints."""
    head = f"{len(entries):,} logged message{'s' if len(entries) != 1 else ''}"
    if not entries:
        return head
    rows = [("OFFSET", "OCCURRED AT", "TYPE", "SYNC", "WHAT")]
    for entry in entries:
        message = entry.message
        ids = sorted(_ids(entry))
        rows.append(
            (
                str(entry.offset),
                message.occurred_at.isoformat() if message else "-",
                message.message_type if message else "-",
                ids[0] if ids else "-",
                describe(entry),
            )
        )
    return "\n".join([head, *table(rows)])


def as_json(entry: LoggedMessage) -> dict[str, Any]:
    """A logged message as a JSON-ready dict."""
    return {
        "offset": entry.offset,
        "message": entry.message.model_dump(mode="json") if entry.message else None,
        "error": entry.error,
    }
