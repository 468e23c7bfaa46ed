"""One snapshot as a replica serves it: its head in memory, its bodies,
countries and chunks read from the database when first needed
(single-flight) and kept for the snapshot's life."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import TYPE_CHECKING, Generic, TypeVar

from query_service import snapshot_files
from query_service.records import CHUNK_USERS

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Hashable

    from query_service.read_model import ReadModelReader
    from query_service.records import (
        CountryUsers,
        Snapshot,
        SnapshotHead,
        SnapshotMeta,
        UserRow,
    )

V = TypeVar("V")


class SingleFlight(Generic[V]):
    """Values read once per key and kept: concurrent callers share one read,
    which a caller going away does not cancel. A read that fails or finds
    nothing (None) is not kept, so the next caller reads again."""

    def __init__(self) -> None:
        self._values: dict[Hashable, V] = {}
        self._reads: dict[Hashable, asyncio.Task[V | None]] = {}

    def put(self, key: Hashable, value: V) -> None:
        """Keep `value` for `key` without reading it."""
        self._values[key] = value

    async def get(
        self, key: Hashable, read: Callable[[], Awaitable[V | None]]
    ) -> V | None:
        """The value of `key`: kept, being read, or read now by `read()`."""
        if (kept := self._values.get(key)) is not None:
            return kept
        task = self._reads.get(key)
        if task is None:
            task = asyncio.ensure_future(read())
            task.add_done_callback(lambda done: self._finished(key, done))
            self._reads[key] = task
        return await asyncio.shield(task)

    def _finished(self, key: Hashable, task: asyncio.Task[V | None]) -> None:
        self._reads.pop(key, None)
        if task.cancelled() or task.exception() is not None:
            return
        if (value := task.result()) is not None:
            self._values[key] = value

    def cancel(self) -> None:
        """Cancel the reads in flight (on shutdown)."""
        for task in self._reads.values():
            task.cancel()


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
        self._bodies: SingleFlight[Snapshot] = SingleFlight()
        self._countries: SingleFlight[CountryUsers] = SingleFlight()
        self._chunks: SingleFlight[tuple[UserRow, ...]] = SingleFlight()

    @classmethod
    async def load(
        cls, head: SnapshotHead, read_model: ReadModelReader
    ) -> ServedSnapshot | None:
        """The snapshot of `head`, ready to serve; its bodies are read now only
        when `head` lacks their sizes. None when it was deleted meanwhile."""
        if head.countries_json_size is None or head.countries_gzip_size is None:
            snapshot = await read_model.snapshot(head.meta.id)
            if snapshot is None:
                return None
            head = dataclasses.replace(
                head,
                countries_json_size=len(snapshot.countries_json),
                countries_gzip_size=len(snapshot.countries_gzip),
            )
            served = cls(head, read_model)
            served._bodies.put(None, snapshot)
            return served
        return cls(head, read_model)

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
        snapshot = await self._bodies.get(
            None, lambda: self._read_model.snapshot(self.meta.id)
        )
        if snapshot is None:
            return None
        return snapshot.countries_gzip if gzipped else snapshot.countries_json

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
        return await self._countries.get(
            name, lambda: self._read_model.country(self.meta.id, name)
        )

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
        return await self._chunks.get(
            (name, index),
            lambda: self._read_model.country_chunk(self.meta.id, name, index),
        )

    def cancel_loads(self) -> None:
        """Cancel the reads still in flight (on shutdown)."""
        for loads in (self._bodies, self._countries, self._chunks):
            loads.cancel()
