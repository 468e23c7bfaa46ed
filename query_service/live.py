"""What a replica streams at /queries/events: `snapshot` and `sync` events,
derived from the read model, fanned out to every connected client.

Events are derived from the sync records (never invented by one replica), and
their ids from the times the records hold, so every replica, and a replica
after a restart, gives one change the same id: a client that reconnects
anywhere with `Last-Event-ID` gets what it missed and nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal

import orjson

from query_service import metrics
from query_service.ports import ReadModelUnavailable

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from datetime import datetime

    from query_service.ports import ReadModelReader
    from query_service.records import SnapshotMeta, SyncRecord
    from query_service.snapshot_cache import SnapshotCache

logger = logging.getLogger(__name__)

EventKind = Literal["snapshot", "sync"]

HISTORY: Final = 256
"""Events a replica keeps for clients that resume with Last-Event-ID."""

RECENT_SYNCS: Final = 50
"""Sync records read to rebuild the history (start, a restored broker link)."""

# Within one millisecond a sync starts before it ends, and its snapshot
# event follows its completion.
_ORDER: Final = {"started": "0", "failed": "1", "completed": "1", "snapshot": "2"}


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """One Server-Sent Event: its id, event name and JSON data."""

    id: str
    kind: EventKind
    data: dict[str, Any]

    def encode(self) -> bytes:
        """The event as text/event-stream bytes."""
        body = orjson.dumps(self.data).decode()
        return f"id: {self.id}\nevent: {self.kind}\ndata: {body}\n\n".encode()


def event_id(at: datetime, step: str, sync_id: str) -> str:
    """An id that sorts by time: milliseconds since the epoch, step, sync id."""
    return f"{round(at.timestamp() * 1000):013d}.{_ORDER[step]}.{sync_id}"


def events_of(record: SyncRecord, current: SnapshotMeta | None) -> list[LiveEvent]:
    """Every event one sync record stands for, oldest first.

    A sync started when the projector first saw it; it failed when its
    sync.failed was recorded, completed when its snapshot was promoted. The
    `snapshot` event is given only for the snapshot readers are served.
    """
    sync_id = record.sync_id
    outcome = record.completion or record.failure
    base = {
        "sync_id": sync_id,
        "command_id": outcome.command_id if outcome is not None else None,
    }
    events = [
        LiveEvent(
            event_id(record.first_seen_at, "started", sync_id),
            "sync",
            {**base, "state": "started", "at": _iso(record.first_seen_at)},
        )
    ]
    if record.failure is not None and record.state == "failed":
        failure = record.failure
        events.append(
            LiveEvent(
                event_id(failure.failed_at, "failed", sync_id),
                "sync",
                {
                    **base,
                    "state": "failed",
                    "at": _iso(failure.failed_at),
                    "kind": failure.kind,
                    "reason": failure.reason,
                    "attempts": failure.attempts,
                },
            )
        )
    promoted = record.promoted_at
    if record.state == "promoted" and promoted is not None:
        users = record.completion.user_count if record.completion else None
        events.append(
            LiveEvent(
                event_id(promoted, "completed", sync_id),
                "sync",
                {**base, "state": "completed", "at": _iso(promoted), "users": users},
            )
        )
        if current is not None and current.id == sync_id:
            events.append(
                LiveEvent(
                    event_id(promoted, "snapshot", sync_id),
                    "snapshot",
                    {
                        "id": current.id,
                        "synced_at": _iso(current.synced_at),
                        "user_count": current.user_count,
                        "country_count": current.country_count,
                    },
                )
            )
    return events


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


class TooManyClients(Exception):
    """The replica already streams to its configured number of clients."""


@dataclass(eq=False)
class Client:
    """One connected stream: a bounded queue of events still to write."""

    queue: asyncio.Queue[LiveEvent | None]
    dropped: bool = field(default=False)

    def offer(self, event: LiveEvent) -> None:
        """Queue an event; a client too slow to keep up is cut off (it
        reconnects with Last-Event-ID and catches up from the history)."""
        if self.dropped:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.end()
            metrics.LIVE_DROPPED.inc()

    def end(self) -> None:
        """Ask the stream to finish after what it has queued."""
        self.dropped = True
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(None)


class LiveHub:
    """The replica's event history and its connected clients."""

    def __init__(self, *, max_clients: int, client_queue: int) -> None:
        self._history: OrderedDict[str, LiveEvent] = OrderedDict()
        self._clients: set[Client] = set()
        self._max_clients = max_clients
        self._client_queue = client_queue

    @property
    def clients(self) -> int:
        """How many streams are open."""
        return len(self._clients)

    def publish(self, events: Iterable[LiveEvent]) -> list[LiveEvent]:
        """Add the events not seen yet to the history and send them to every
        client; return those that were new."""
        new = [
            e for e in sorted(events, key=lambda e: e.id) if e.id not in self._history
        ]
        for event in new:
            self._history[event.id] = event
            while len(self._history) > HISTORY:
                self._history.popitem(last=False)
            for client in self._clients:
                client.offer(event)
        if new:
            metrics.LIVE_EVENTS.inc(len(new))
        return new

    def since(self, last_id: str | None) -> list[LiveEvent]:
        """What a client that saw `last_id` has missed; without an id, the
        latest snapshot event and the latest sync event (where things stand)."""
        events = list(self._history.values())
        if last_id is None:
            latest = {e.kind: e for e in events}
            return sorted(latest.values(), key=lambda e: e.id)
        if last_id in self._history:
            keys = list(self._history)
            return events[keys.index(last_id) + 1 :]
        return [e for e in events if e.id > last_id]

    def connect(self) -> Client:
        """A new client.

        Raises:
            TooManyClients: the replica streams to `max_clients` already.
        """
        if len(self._clients) >= self._max_clients:
            raise TooManyClients
        client = Client(asyncio.Queue(maxsize=self._client_queue))
        self._clients.add(client)
        metrics.LIVE_CLIENTS.set(len(self._clients))
        return client

    def disconnect(self, client: Client) -> None:
        """Forget a client whose stream ended."""
        self._clients.discard(client)
        metrics.LIVE_CLIENTS.set(len(self._clients))

    def close(self) -> None:
        """End every stream (the replica stops)."""
        for client in list(self._clients):
            client.end()

    def __iter__(self) -> Iterator[LiveEvent]:
        return iter(self._history.values())


class LiveFeed:
    """Feeds a hub from the read model: at start, on every notice from the
    projector, when the snapshot cache moves, and after a lost broker link."""

    def __init__(
        self, hub: LiveHub, read_model: ReadModelReader, cache: SnapshotCache
    ) -> None:
        self.hub = hub
        self._read_model = read_model
        self._cache = cache

    async def catch_up(self) -> None:
        """Publish whatever the recent sync records hold that the hub lacks.

        Raises:
            ReadModelUnavailable: the database cannot be reached.
        """
        status = await self._read_model.sync_status(recent=RECENT_SYNCS)
        served = await self._cache.current()
        current = served.meta if served is not None else None
        self.hub.publish(
            event for record in status.recent for event in events_of(record, current)
        )

    async def on_notice(self, sync_id: str) -> None:
        """The projector changed what the read model holds about `sync_id`:
        follow the pointer at once, then publish the sync's new events."""
        try:
            before = self._cache.served_id
            await self._cache.follow_now()
            if self._cache.served_id == sync_id != before:
                return  # switching to it published its events (on_swap)
            await self.on_sync(sync_id)
        except ReadModelUnavailable as exc:
            logger.warning("cannot read sync %s for its events: %s", sync_id, exc)

    async def on_sync(self, sync_id: str) -> None:
        """Publish the events of one sync not published yet."""
        record = await self._read_model.sync(sync_id)
        if record is None:
            return
        served = await self._cache.current()
        self.hub.publish(events_of(record, served.meta if served else None))
