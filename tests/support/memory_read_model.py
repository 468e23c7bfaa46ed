"""A dict-backed ReadModel with MongoReadModel's semantics, for unit tests."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import TYPE_CHECKING

from query_service.read_model import (
    FAILABLE,
    SUPERSEDABLE,
    TERMINAL,
    ReadModelUnavailable,
)
from query_service.records import (
    ACTIVE_STATES,
    Pointer,
    SnapshotHead,
    StagedCountry,
    SyncRecord,
    SyncStatus,
    chunked,
)

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
    from datetime import datetime

    from query_service.records import (
        Completion,
        CountryUsers,
        DeadLetter,
        Failure,
        Snapshot,
        SnapshotMeta,
        SyncState,
        UserRow,
    )


def _to_bson_time(value: datetime) -> datetime:
    """BSON dates hold milliseconds; the in-memory model stores the same."""
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


class InMemoryReadModel:
    """A dict-backed ReadModel with the same semantics, for unit tests.

    Set `available = False` to make every call raise ReadModelUnavailable;
    `calls` counts calls by method name.
    """

    def __init__(self) -> None:
        self.available = True
        self.calls: Counter[str] = Counter()
        self._syncs: dict[str, SyncRecord] = {}
        self._cleared: set[str] = set()
        self._staged: dict[tuple[str, int, str], tuple[UserRow, ...]] = {}
        self._staged_uuids: dict[tuple[str, int, str], bytes] = {}
        self._snapshots: dict[str, Snapshot] = {}
        self._countries: dict[tuple[str, str], CountryUsers] = {}
        self._pointer: Pointer | None = None
        self._dead_lettered = 0
        self._last_dead_letter: DeadLetter | None = None

    def _enter(self, name: str) -> None:
        self.calls[name] += 1
        if not self.available:
            raise ReadModelUnavailable("in-memory read model switched off")

    async def ping(self) -> None:
        """Return unless switched off."""
        self._enter("ping")

    async def follow_alias(self, *, wait_for_switch: bool = False) -> str:
        """One model in memory: nothing to follow."""
        self._enter("follow_alias")
        return "memory"

    async def pointer(self) -> Pointer | None:
        """The current snapshot, or None."""
        self._enter("pointer")
        return self._pointer

    async def snapshot(self, snapshot_id: str) -> Snapshot | None:
        """A stored snapshot, or None."""
        self._enter("snapshot")
        return self._snapshots.get(snapshot_id)

    async def snapshot_head(self, snapshot_id: str) -> SnapshotHead | None:
        """A stored snapshot without its bodies, or None."""
        self._enter("snapshot_head")
        snapshot = self._snapshots.get(snapshot_id)
        if snapshot is None:
            return None
        return SnapshotHead(
            meta=snapshot.meta,
            countries=snapshot.countries,
            names_json=snapshot.names_json,
            countries_json_size=len(snapshot.countries_json),
            countries_gzip_size=len(snapshot.countries_gzip),
        )

    async def snapshots(
        self, *, skip: int, limit: int
    ) -> tuple[list[SnapshotMeta], int]:
        """Promoted snapshots still kept, newest first, as MongoReadModel lists them."""
        self._enter("snapshots")
        if self._pointer is None:
            return [], 0
        current = self._pointer.order_key
        kept = sorted(
            (s for s in self._snapshots.values() if s.order_key <= current),
            key=lambda s: s.order_key,
            reverse=True,
        )
        return [s.meta for s in kept[skip : skip + limit]], len(kept)

    async def country(self, snapshot_id: str, name: str) -> CountryUsers | None:
        """One country of a snapshot, or None."""
        self._enter("country")
        return self._countries.get((snapshot_id, name))

    async def country_chunk(
        self, snapshot_id: str, name: str, chunk: int
    ) -> tuple[UserRow, ...] | None:
        """One chunk of a country's users, as MongoReadModel stores them."""
        self._enter("country_chunk")
        country = self._countries.get((snapshot_id, name))
        if country is None:
            return None
        chunks = chunked(country.users)
        return tuple(chunks[chunk]) if 0 <= chunk < len(chunks) else None

    async def sync_status(self, *, recent: int) -> SyncStatus:
        """Status as MongoReadModel computes it."""
        self._enter("sync_status")
        newest = sorted(
            self._syncs.values(),
            key=lambda r: (r.first_seen_at, r.sync_id),
            reverse=True,
        )
        current = None
        if self._pointer is not None and (
            snapshot := self._snapshots.get(self._pointer.snapshot_id)
        ):
            current = snapshot.meta
        return SyncStatus(
            current=current,
            recent=tuple(newest[:recent]),
            last_success=next((r for r in newest if r.state == "promoted"), None),
            last_failure=next((r for r in newest if r.state == "failed"), None),
            dead_lettered=self._dead_lettered,
            last_dead_letter=self._last_dead_letter,
        )

    async def prepare(self) -> None:
        """Nothing to create."""
        self._enter("prepare")

    async def sync(self, sync_id: str) -> SyncRecord | None:
        """The record of one sync, or None."""
        self._enter("sync")
        return self._syncs.get(sync_id)

    async def stage_batch(
        self,
        sync_id: str,
        batch_index: int,
        countries: Mapping[str, Sequence[UserRow]],
        *,
        uuids: Mapping[str, bytes] | None = None,
    ) -> None:
        """Store one batch's users (and their uuids) by country."""
        self._enter("stage_batch")
        for country, users in countries.items():
            self._staged[sync_id, batch_index, country] = tuple(users)
            self._staged_uuids[sync_id, batch_index, country] = (uuids or {}).get(
                country, b""
            )

    def _upsert_if_state(
        self,
        sync_id: str,
        states: Sequence[SyncState],
        change: Callable[[SyncRecord], SyncRecord],
        now: datetime,
    ) -> bool:
        record = self._syncs.get(sync_id)
        if record is None:
            record = SyncRecord(sync_id, "staging", _to_bson_time(now))
        elif record.state not in states:
            return False
        self._syncs[sync_id] = change(record)
        return True

    async def mark_batch_staged(
        self,
        sync_id: str,
        batch_index: int,
        *,
        now: datetime,
        batch_count: int | None = None,
    ) -> bool:
        """Add the batch index to the sync's set, and note the announced count."""
        self._enter("mark_batch_staged")
        return self._upsert_if_state(
            sync_id,
            ACTIVE_STATES,
            lambda r: replace(
                r,
                staged_batches=r.staged_batches | {batch_index},
                announced_batches=batch_count or r.announced_batches,
            ),
            now,
        )

    async def discard_batch(self, sync_id: str, batch_index: int) -> None:
        """Delete one staged batch."""
        self._enter("discard_batch")
        for key in [k for k in self._staged if k[:2] == (sync_id, batch_index)]:
            del self._staged[key]

    async def record_completion(
        self, sync_id: str, completion: Completion, *, now: datetime
    ) -> bool:
        """Set the sync completed."""
        self._enter("record_completion")
        completion = replace(
            completion,
            fetched_at=_to_bson_time(completion.fetched_at),
            started_at=None
            if completion.started_at is None
            else _to_bson_time(completion.started_at),
        )
        return self._upsert_if_state(
            sync_id,
            ACTIVE_STATES,
            lambda r: replace(r, state="completed", completion=completion),
            now,
        )

    async def record_failure(
        self, sync_id: str, failure: Failure, *, now: datetime
    ) -> bool:
        """Set the sync failed, unless it was promoted."""
        self._enter("record_failure")
        failure = replace(
            failure,
            failed_at=_to_bson_time(failure.failed_at),
            started_at=None
            if failure.started_at is None
            else _to_bson_time(failure.started_at),
        )
        return self._upsert_if_state(
            sync_id,
            FAILABLE,
            lambda r: replace(r, state="failed", failure=failure),
            now,
        )

    async def staged_countries(
        self, sync_id: str, *, country: str | None = None
    ) -> list[StagedCountry]:
        """Every staged (batch, country) of a sync, by batch index then country."""
        self._enter("staged_countries")
        return [
            StagedCountry(
                batch_index=index,
                country=name,
                users=users,
                uuids=self._staged_uuids.get((sync, index, name), b""),
            )
            for (sync, index, name), users in sorted(self._staged.items())
            if sync == sync_id and country in (None, name)
        ]

    async def staged_by_country(
        self, sync_id: str
    ) -> AsyncGenerator[tuple[str, list[StagedCountry]], None]:
        """Each staged country of a sync with its parts, by batch index."""
        self._enter("staged_by_country")
        names = {name for (sync, _, name) in self._staged if sync == sync_id}
        for name in sorted(names):
            yield name, await self.staged_countries(sync_id, country=name)

    async def write_country(self, snapshot_id: str, country: CountryUsers) -> None:
        """Store one country of a snapshot."""
        self._enter("write_country")
        self._countries[snapshot_id, country.name] = country

    async def write_snapshot(
        self, snapshot: Snapshot, countries: Sequence[CountryUsers]
    ) -> None:
        """Store a snapshot and its countries."""
        self._enter("write_snapshot")
        meta = replace(snapshot.meta, synced_at=_to_bson_time(snapshot.meta.synced_at))
        for country in countries:
            self._countries[meta.id, country.name] = country
        self._snapshots[meta.id] = replace(snapshot, meta=meta)

    async def move_pointer(self, snapshot_id: str, order_key: str) -> bool:
        """Move the pointer only forward."""
        self._enter("move_pointer")
        if self._pointer is None or self._pointer.order_key < order_key:
            self._pointer = Pointer(snapshot_id, order_key)
            return True
        return self._pointer.snapshot_id == snapshot_id

    async def mark_promoted(self, sync_id: str, *, now: datetime) -> None:
        """Record that the sync's snapshot became current."""
        self._enter("mark_promoted")
        if record := self._syncs.get(sync_id):
            self._syncs[sync_id] = replace(
                record, state="promoted", promoted_at=_to_bson_time(now)
            )

    async def mark_superseded(
        self, sync_id: str, reason: str, *, now: datetime
    ) -> None:
        """Retire an active sync."""
        self._enter("mark_superseded")
        record = self._syncs.get(sync_id)
        if record is not None and record.state in SUPERSEDABLE:
            self._syncs[sync_id] = replace(
                record,
                state="superseded",
                superseded_at=_to_bson_time(now),
                superseded_reason=reason,
            )

    async def abandon_stale_syncs(self, *, before: datetime, now: datetime) -> int:
        """Retire active syncs first seen before `before`."""
        self._enter("abandon_stale_syncs")
        stale = [
            r
            for r in self._syncs.values()
            if r.state in SUPERSEDABLE and r.first_seen_at < before
        ]
        for record in stale:
            self._syncs[record.sync_id] = replace(
                record,
                state="superseded",
                superseded_at=_to_bson_time(now),
                superseded_reason="abandoned: never completed",
            )
        return len(stale)

    async def discard_snapshot(self, snapshot_id: str) -> None:
        """Delete a snapshot."""
        self._enter("discard_snapshot")
        self._drop_snapshots({snapshot_id})

    def _drop_snapshots(self, ids: set[str]) -> None:
        for snapshot_id in ids:
            self._snapshots.pop(snapshot_id, None)
        for key in [k for k in self._countries if k[0] in ids]:
            del self._countries[key]

    async def collect_garbage(self, *, snapshots_kept: int) -> None:
        """Delete old snapshots and the staged data of inactive syncs."""
        self._enter("collect_garbage")
        ranked = sorted(
            self._snapshots.values(), key=lambda s: s.order_key, reverse=True
        )
        old = {s.meta.id for s in ranked[snapshots_kept:]}
        if self._pointer is not None:
            old.discard(self._pointer.snapshot_id)
        self._drop_snapshots(old)
        done = {
            r.sync_id
            for r in self._syncs.values()
            if r.state in TERMINAL and r.sync_id not in self._cleared
        }
        for key in [k for k in self._staged if k[0] in done]:
            del self._staged[key]
        self._cleared |= done

    async def prune_syncs(self, *, before: datetime) -> int:
        """Delete finished sync records first seen before `before`."""
        self._enter("prune_syncs")
        promoted = [r for r in self._syncs.values() if r.state == "promoted"]
        keep = max(promoted, key=lambda r: (r.first_seen_at, r.sync_id), default=None)
        old = [
            r.sync_id
            for r in self._syncs.values()
            if r.state in TERMINAL and r.first_seen_at < before and r is not keep
        ]
        for sync_id in old:
            del self._syncs[sync_id]
            self._cleared.discard(sync_id)
        for key in [k for k in self._staged if k[0] in old]:
            del self._staged[key]
        return len(old)

    async def record_dead_letter(self, letter: DeadLetter) -> None:
        """Count a dead-lettered message."""
        self._enter("record_dead_letter")
        self._dead_lettered += 1
        self._last_dead_letter = replace(letter, at=_to_bson_time(letter.at))
