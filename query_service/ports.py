"""The read model's ports: what replicas read and the projector writes, as protocols.

`read_model.MongoReadModel` and `memory.InMemoryReadModel` implement them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from common.delivery import TransientError

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Mapping, Sequence
    from datetime import datetime

    from query_service.records import (
        Completion,
        CountryUsers,
        DeadLetter,
        Failure,
        Pointer,
        Snapshot,
        SnapshotHead,
        SnapshotMeta,
        StagedCountry,
        SyncRecord,
        SyncStatus,
        UserRow,
    )


class ReadModelUnavailable(TransientError):
    """The database cannot be reached; the same call may succeed later."""


class ReadModelReader(Protocol):
    """What a query replica reads."""

    async def ping(self) -> None:
        """Return when the database answers; raise ReadModelUnavailable otherwise."""

    async def follow_alias(self, *, wait_for_switch: bool = False) -> str:
        """Move to the read model the alias names (after a rebuild) and name it;
        with `wait_for_switch`, first wait out a switch under way."""

    async def pointer(self) -> Pointer | None:
        """The current snapshot, or None before the first promotion."""

    async def snapshot(self, snapshot_id: str) -> Snapshot | None:
        """A promoted snapshot's bodies, or None when it was deleted."""

    async def snapshot_head(self, snapshot_id: str) -> SnapshotHead | None:
        """A promoted snapshot without its bodies, or None when it was deleted."""

    async def country(self, snapshot_id: str, name: str) -> CountryUsers | None:
        """One country of a snapshot with all its users, or None."""

    async def country_chunk(
        self, snapshot_id: str, name: str, chunk: int
    ) -> tuple[UserRow, ...] | None:
        """Users `chunk * CHUNK_USERS` onwards (at most CHUNK_USERS) of a country,
        or None when the snapshot, the country or the chunk does not exist."""

    async def snapshots(
        self, *, skip: int, limit: int
    ) -> tuple[list[SnapshotMeta], int]:
        """Promoted snapshots still kept, newest first: `limit` of them after
        the first `skip`, and how many are kept in all."""

    async def sync_status(self, *, recent: int) -> SyncStatus:
        """The current snapshot, the last `recent` sync attempts and dead letters."""

    async def sync(self, sync_id: str) -> SyncRecord | None:
        """The record of one sync attempt, or None when nothing was seen of it."""


class ReadModelWriter(Protocol):
    """What the projector writes. Every method may be repeated safely."""

    async def prepare(self) -> None:
        """Create collections and indexes (idempotent)."""

    async def stage_batch(
        self,
        sync_id: str,
        batch_index: int,
        countries: Mapping[str, Sequence[UserRow]],
        *,
        uuids: Mapping[str, bytes] | None = None,
    ) -> None:
        """Write one batch's users, grouped by country, in one grouped write;
        `uuids` holds their login uuids (16 bytes each, same order)."""

    async def mark_batch_staged(
        self,
        sync_id: str,
        batch_index: int,
        *,
        now: datetime,
        batch_count: int | None = None,
    ) -> bool:
        """Record that a batch is staged, and how many the sync announced
        (its progress); False when the sync is no longer active."""

    async def discard_batch(self, sync_id: str, batch_index: int) -> None:
        """Delete one staged batch."""

    async def record_completion(
        self, sync_id: str, completion: Completion, *, now: datetime
    ) -> bool:
        """Record sync.completed; False when the sync is no longer active."""

    async def record_failure(
        self, sync_id: str, failure: Failure, *, now: datetime
    ) -> bool:
        """Record sync.failed; False when the sync was already promoted."""

    async def staged_countries(
        self, sync_id: str, *, country: str | None = None
    ) -> list[StagedCountry]:
        """Every staged (batch, country) of a sync, or of one of its countries,
        by batch index then country."""

    def staged_by_country(
        self, sync_id: str
    ) -> AsyncGenerator[tuple[str, list[StagedCountry]], None]:
        """Each country a sync staged users of, in any order, with its staged
        parts by batch index: one country held at a time."""

    async def write_country(self, snapshot_id: str, country: CountryUsers) -> None:
        """Write one country of a snapshot; invisible until the pointer moves."""

    async def write_snapshot(
        self, snapshot: Snapshot, countries: Sequence[CountryUsers]
    ) -> None:
        """Write a snapshot's documents; invisible until the pointer moves to it."""

    async def move_pointer(self, snapshot_id: str, order_key: str) -> bool:
        """Compare-and-set the pointer to a newer snapshot.

        Returns:
            True when the pointer is at `snapshot_id` afterwards (moved now or
            before); False when a snapshot with a greater order key is current.
        """

    async def mark_promoted(self, sync_id: str, *, now: datetime) -> None:
        """Record that the sync's snapshot became current."""

    async def mark_superseded(
        self, sync_id: str, reason: str, *, now: datetime
    ) -> None:
        """Retire an active sync that will never become current."""

    async def abandon_stale_syncs(self, *, before: datetime, now: datetime) -> int:
        """Retire active syncs first seen before `before`; return how many."""

    async def discard_snapshot(self, snapshot_id: str) -> None:
        """Delete a snapshot that never became current."""

    async def collect_garbage(self, *, snapshots_kept: int) -> None:
        """Delete snapshots beyond the newest `snapshots_kept` (never the current
        one) and the staged data of every sync that is no longer active."""

    async def prune_syncs(self, *, before: datetime) -> int:
        """Delete the records of finished syncs first seen before `before`
        (never the newest promoted one); return how many."""

    async def record_dead_letter(self, letter: DeadLetter) -> None:
        """Count a dead-lettered message and remember the latest one."""


class ReadModel(ReadModelReader, ReadModelWriter, Protocol):
    """The whole read model."""
