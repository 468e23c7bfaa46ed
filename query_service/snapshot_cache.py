"""A replica's in-memory copy of the current snapshot, following the pointer.

The hot path does no database I/O: requests are answered from memory, and at
most once per poll interval one shared task re-reads the small pointer
document. Only when the pointer has moved is the new snapshot's document
loaded, and then swapped in whole, so a request sees one snapshot throughout.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import time
from typing import TYPE_CHECKING, Final

from query_service import snapshot_files
from query_service.read_model import ReadModelUnavailable
from query_service.records import CHUNK_USERS

if TYPE_CHECKING:
    from collections.abc import Callable

    from query_service.read_model import ReadModelReader
    from query_service.records import (
        CountryUsers,
        Snapshot,
        SnapshotHead,
        SnapshotMeta,
        UserRow,
    )

logger = logging.getLogger(__name__)

REFRESH_WAIT_SECONDS: Final = 0.2
"""How long a request waits for a due pointer read before answering from memory."""


class ServedSnapshot:
    """One snapshot as a replica serves it, with the countries it has loaded."""

    def __init__(self, head: SnapshotHead, read_model: ReadModelReader) -> None:
        self.head = head
        self.etag = f'W/"{head.meta.id}"'
        # The tags nginx gives the snapshot's files (snapshot_files), for the
        # two reads it serves from them: one validator whoever answers.
        stamp = snapshot_files.stamp(head.meta.id)
        # Indexed by "gzip accepted": identity first. A head without sizes
        # (written before they were recorded) gets them from its bodies.
        self.countries_tags = (
            snapshot_files.etag(stamp, head.countries_json_size or 0),
            snapshot_files.etag(stamp, head.countries_gzip_size or 0),
        )
        self.names_tag = snapshot_files.etag(stamp, len(head.names_json))
        self.names = frozenset(c.name for c in head.countries)
        self.totals = {c.name: c.user_count for c in head.countries}
        self._read_model = read_model
        self._bodies: Snapshot | None = None
        self._loading_bodies: asyncio.Task[Snapshot | None] | None = None
        self._countries: dict[str, CountryUsers] = {}
        self._loading: dict[str, asyncio.Task[CountryUsers | None]] = {}
        self._chunks: dict[tuple[str, int], tuple[UserRow, ...]] = {}
        self._loading_chunks: dict[
            tuple[str, int], asyncio.Task[tuple[UserRow, ...] | None]
        ] = {}

    @classmethod
    async def load(
        cls, head: SnapshotHead, read_model: ReadModelReader
    ) -> ServedSnapshot | None:
        """The snapshot of `head`, ready to serve; its bodies are read now only
        when `head` lacks their sizes. None when it was deleted meanwhile."""
        served = cls(head, read_model)
        if head.countries_json_size is None or head.countries_gzip_size is None:
            snapshot = await served._snapshot()
            if snapshot is None:
                return None
            served = cls(
                dataclasses.replace(
                    head,
                    countries_json_size=len(snapshot.countries_json),
                    countries_gzip_size=len(snapshot.countries_gzip),
                ),
                read_model,
            )
            served._bodies = snapshot
        return served

    @property
    def meta(self) -> SnapshotMeta:
        """The snapshot's identity."""
        return self.head.meta

    async def countries_body(self, *, gzipped: bool) -> bytes | None:
        """The /queries/countries body, read from the database on first need
        (single-flight) and kept: nginx serves it from the snapshot's files,
        so a replica usually never reads it.

        Returns None when the snapshot was deleted meanwhile.

        Raises:
            ReadModelUnavailable: the body is not in memory and the database
                cannot be reached.
        """
        snapshot = await self._snapshot()
        if snapshot is None:
            return None
        return snapshot.countries_gzip if gzipped else snapshot.countries_json

    async def _snapshot(self) -> Snapshot | None:
        if self._bodies is not None:
            return self._bodies
        task = self._loading_bodies
        if task is None or task.done():
            task = asyncio.create_task(self._read_model.snapshot(self.meta.id))
            task.add_done_callback(self._bodies_loaded)
            self._loading_bodies = task
        # Shielded: a client that goes away must not cancel the shared read.
        return await asyncio.shield(task)

    def _bodies_loaded(self, task: asyncio.Task[Snapshot | None]) -> None:
        if task.cancelled() or task.exception() is not None:
            return
        self._bodies = task.result()

    async def country(self, name: str) -> CountryUsers | None:
        """A country of this snapshot, read from the database once (single-flight).

        Returns None when the snapshot has no such country, or when the
        snapshot was deleted meanwhile (the pointer has moved on).

        Raises:
            ReadModelUnavailable: the country is not in memory and the
                database cannot be reached.
        """
        if name not in self.names:
            return None
        if (cached := self._countries.get(name)) is not None:
            return cached
        task = self._loading.get(name)
        if task is None:
            task = asyncio.create_task(self._read_model.country(self.meta.id, name))
            task.add_done_callback(functools.partial(self._country_loaded, name))
            self._loading[name] = task
        # Shielded: a client that goes away must not cancel the shared read.
        return await asyncio.shield(task)

    def _country_loaded(
        self, name: str, task: asyncio.Task[CountryUsers | None]
    ) -> None:
        self._loading.pop(name, None)
        if task.cancelled() or task.exception() is not None:
            return
        if (country := task.result()) is not None:
            self._countries[name] = country

    async def users(
        self, name: str, start: int, stop: int
    ) -> tuple[UserRow, ...] | None:
        """Users `start` to `stop` of a country, reading only their chunks.

        A page of a 100,000-user country reads one or two chunks of
        CHUNK_USERS, each once per snapshot (single-flight), never the country.
        Returns None for an unknown country, or when the snapshot was deleted
        meanwhile.

        Raises:
            ReadModelUnavailable: a chunk is not in memory and the database
                cannot be reached.
        """
        total = self.totals.get(name)
        if total is None:
            return None
        stop = min(stop, total)
        if start >= stop:
            return ()
        first, last = start // CHUNK_USERS, (stop - 1) // CHUNK_USERS
        rows: list[UserRow] = []
        for index in range(first, last + 1):
            chunk = await self._chunk(name, index)
            if chunk is None:
                return None
            rows.extend(chunk)
        offset = first * CHUNK_USERS
        return tuple(rows[start - offset : stop - offset])

    async def _chunk(self, name: str, index: int) -> tuple[UserRow, ...] | None:
        key = (name, index)
        if (cached := self._chunks.get(key)) is not None:
            return cached
        task = self._loading_chunks.get(key)
        if task is None:
            task = asyncio.create_task(
                self._read_model.country_chunk(self.meta.id, name, index)
            )
            task.add_done_callback(functools.partial(self._chunk_loaded, key))
            self._loading_chunks[key] = task
        # Shielded: a client that goes away must not cancel the shared read.
        return await asyncio.shield(task)

    def _chunk_loaded(
        self, key: tuple[str, int], task: asyncio.Task[tuple[UserRow, ...] | None]
    ) -> None:
        self._loading_chunks.pop(key, None)
        if task.cancelled() or task.exception() is not None:
            return
        if (chunk := task.result()) is not None:
            self._chunks[key] = chunk

    def cancel_loads(self) -> None:
        """Cancel the reads still in flight (on shutdown)."""
        if self._loading_bodies is not None:
            self._loading_bodies.cancel()
        for task in self._loading.values():
            task.cancel()
        for chunk_task in self._loading_chunks.values():
            chunk_task.cancel()


class SnapshotCache:
    """Follows the current-snapshot pointer for one replica."""

    def __init__(
        self,
        read_model: ReadModelReader,
        *,
        poll_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read_model = read_model
        self._poll_seconds = poll_seconds
        self._clock = clock
        self._served: ServedSnapshot | None = None
        self._loaded = False
        self._failing = False
        self._next_check = 0.0
        self._refreshing: asyncio.Task[None] | None = None
        self.on_swap: Callable[[str], None] | None = None
        """Called with the new snapshot's id whenever the replica switches."""

    @property
    def served_id(self) -> str | None:
        """The id of the snapshot in memory now (no read)."""
        return self._served.meta.id if self._served is not None else None

    @property
    def loaded(self) -> bool:
        """True once the pointer was read successfully at least once."""
        return self._loaded

    async def current(self) -> ServedSnapshot | None:
        """The snapshot to serve, or None when none was promoted yet.

        Within the poll interval this answers from memory. After it, requests
        join one shared pointer read (waiting at most REFRESH_WAIT_SECONDS),
        so an answer is never older than the interval, even after an idle
        spell. While the database is known to be down they do not wait: the
        replica keeps serving the snapshot it has.

        Raises:
            ReadModelUnavailable: nothing was ever loaded and the database
                cannot be reached.
        """
        if not self._loaded:
            await self.refresh()
        elif self._clock() >= self._next_check:
            task = self._refresh_task()
            if not self._failing:
                # The task logs its own failure (see _refreshed); a slow or
                # failed refresh leaves the snapshot in memory being served.
                with contextlib.suppress(ReadModelUnavailable, TimeoutError):
                    await asyncio.wait_for(
                        asyncio.shield(task), timeout=REFRESH_WAIT_SECONDS
                    )
        return self._served

    async def refresh(self) -> None:
        """Re-read the pointer now (joining a refresh in flight) and follow it.

        Raises:
            ReadModelUnavailable: the database cannot be reached.
        """
        await asyncio.shield(self._refresh_task())

    async def follow_now(self) -> None:
        """Re-read the pointer with a read that starts now (a refresh already
        in flight may predate a promotion just announced).

        Raises:
            ReadModelUnavailable: the database cannot be reached.
        """
        in_flight = self._refreshing
        if in_flight is not None and not in_flight.done():
            with contextlib.suppress(Exception):
                await asyncio.shield(in_flight)
        await self.refresh()

    async def close(self) -> None:
        """Stop the refresh and the reads in flight."""
        if self._refreshing is not None:
            self._refreshing.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._refreshing
        if self._served is not None:
            self._served.cancel_loads()

    def _refresh_task(self) -> asyncio.Task[None]:
        task = self._refreshing
        if task is None or task.done():
            task = asyncio.create_task(self._follow_pointer())
            task.add_done_callback(self._refreshed)
            self._refreshing = task
        return task

    async def _follow_pointer(self) -> None:
        try:
            # After a rebuild the alias names another database: move with it
            # and read its pointer in the same step.
            await self._read_model.follow_alias()
            pointer = await self._read_model.pointer()
            served = self._served
            if pointer is not None and (
                served is None or served.meta.id != pointer.snapshot_id
            ):
                head = await self._read_model.snapshot_head(pointer.snapshot_id)
                loaded = (
                    None
                    if head is None
                    else await ServedSnapshot.load(head, self._read_model)
                )
                # None: deleted between the two reads, so the pointer moved
                # again; keep what we have and follow it next time.
                if loaded is not None:
                    self._served = loaded
                    logger.info("serving snapshot %s", pointer.snapshot_id)
                    if self.on_swap is not None:
                        self.on_swap(pointer.snapshot_id)
            self._loaded = True
        finally:
            # Also after a failure: an outage costs one attempt per interval.
            self._next_check = self._clock() + self._poll_seconds

    def _refreshed(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        error = task.exception()
        if error is not None and not self._failing:
            self._failing = True
            served = self._served
            logger.warning(
                "cannot refresh the snapshot (%s); serving %s",
                error,
                served.meta.id if served else "nothing",
            )
        elif error is None and self._failing:
            self._failing = False
            logger.info("snapshot refresh works again")
