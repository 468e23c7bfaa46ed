"""The record of every sync attempt and what /queries/sync-status shows."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from pymongo import DESCENDING
from pymongo.errors import DuplicateKeyError

from query_service.documents import (
    completion_doc,
    dead_letter_doc,
    dead_letter_from,
    failure_doc,
    meta_from,
    sync_record_from,
)
from query_service.mongo import (
    CURRENT,
    DEAD_LETTERS,
    FAILABLE,
    SUPERSEDABLE,
    TERMINAL,
    Document,
    MongoCollections,
    unavailable_on_connection_errors,
)
from query_service.records import ACTIVE_STATES, SyncState, SyncStatus

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from query_service.records import Completion, DeadLetter, Failure, SyncRecord


@unavailable_on_connection_errors
class SyncRecords(MongoCollections):
    """Sync attempts: their states (compare-and-set), outcomes, pruning, dead letters."""

    async def sync(self, sync_id: str) -> SyncRecord | None:
        """The record of one sync attempt, or None."""
        doc = await self._syncs.find_one({"_id": sync_id})
        return None if doc is None else sync_record_from(doc)

    async def sync_status(self, *, recent: int) -> SyncStatus:
        """The current snapshot, the last `recent` sync attempts and dead letters."""
        newest_first = [("first_seen_at", DESCENDING), ("_id", DESCENDING)]
        pointer, history, success, failure, dead = await asyncio.gather(
            self._pointers.find_one({"_id": CURRENT}),
            self._syncs.find({}).sort(newest_first).limit(recent).to_list(),
            self._syncs.find_one({"state": "promoted"}, sort=newest_first),
            self._syncs.find_one({"state": "failed"}, sort=newest_first),
            self._status.find_one({"_id": DEAD_LETTERS}),
        )
        current = None
        if pointer is not None:
            doc = await self._snapshots.find_one(
                {"_id": pointer["snapshot_id"]}, {"meta": 1}
            )
            current = None if doc is None else meta_from(doc["meta"])
        return SyncStatus(
            current=current,
            recent=tuple(sync_record_from(doc) for doc in history),
            last_success=None if success is None else sync_record_from(success),
            last_failure=None if failure is None else sync_record_from(failure),
            dead_lettered=0 if dead is None else int(dead["count"]),
            last_dead_letter=None if dead is None else dead_letter_from(dead["last"]),
        )

    async def mark_batch_staged(
        self,
        sync_id: str,
        batch_index: int,
        *,
        now: datetime,
        batch_count: int | None = None,
    ) -> bool:
        """Add the batch index to the sync's set, creating the sync if new."""
        update: Document = {
            "$addToSet": {"staged_batches": batch_index},
            "$setOnInsert": {"state": "staging", "first_seen_at": now},
        }
        if batch_count is not None:
            # Nested, like every field set on an existing document (see top).
            update["$set"] = {"announced": {"batch_count": batch_count}}
        return await self._update_if_state(sync_id, ACTIVE_STATES, update)

    async def record_completion(
        self, sync_id: str, completion: Completion, *, now: datetime
    ) -> bool:
        """Set the sync completed with the event's facts."""
        return await self._update_if_state(
            sync_id,
            ACTIVE_STATES,
            {
                "$set": {"state": "completed", "completed": completion_doc(completion)},
                "$setOnInsert": {"first_seen_at": now, "staged_batches": []},
            },
        )

    async def record_failure(
        self, sync_id: str, failure: Failure, *, now: datetime
    ) -> bool:
        """Set the sync failed with the event's facts, unless it was promoted."""
        return await self._update_if_state(
            sync_id,
            FAILABLE,
            {
                "$set": {"state": "failed", "failure": failure_doc(failure)},
                "$setOnInsert": {"first_seen_at": now, "staged_batches": []},
            },
        )

    async def _update_if_state(
        self, sync_id: str, states: Sequence[SyncState], update: Document
    ) -> bool:
        # A compare-and-set by upsert: when the sync exists in another state
        # the filter misses, the upsert tries to insert a second `_id` and the
        # unique `_id` index refuses it. No read-then-write race.
        try:
            await self._syncs.update_one(
                {"_id": sync_id, "state": {"$in": list(states)}}, update, upsert=True
            )
        except DuplicateKeyError:
            return False
        return True

    async def mark_promoted(self, sync_id: str, *, now: datetime) -> None:
        """Record that the sync's snapshot became current."""
        await self._syncs.update_one(
            {"_id": sync_id},
            {"$set": {"state": "promoted", "promoted": {"at": now}}},
        )

    async def mark_superseded(
        self, sync_id: str, reason: str, *, now: datetime
    ) -> None:
        """Retire an active sync that will never become current."""
        await self._syncs.update_one(
            {"_id": sync_id, "state": {"$in": list(SUPERSEDABLE)}},
            {
                "$set": {
                    "state": "superseded",
                    "superseded": {"at": now, "reason": reason},
                }
            },
        )

    async def abandon_stale_syncs(self, *, before: datetime, now: datetime) -> int:
        """Retire active syncs first seen before `before`; return how many."""
        result = await self._syncs.update_many(
            {"state": {"$in": list(SUPERSEDABLE)}, "first_seen_at": {"$lt": before}},
            {
                "$set": {
                    "state": "superseded",
                    "superseded": {"at": now, "reason": "abandoned: never completed"},
                }
            },
        )
        return result.modified_count

    async def prune_syncs(self, *, before: datetime) -> int:
        """Delete finished sync records first seen before `before`."""
        keep = await self._syncs.find_one(
            {"state": "promoted"},
            {"_id": 1},
            sort=[("first_seen_at", DESCENDING), ("_id", DESCENDING)],
        )
        query: Document = {
            "state": {"$in": list(TERMINAL)},
            "first_seen_at": {"$lt": before},
        }
        if keep is not None:
            query["_id"] = {"$ne": keep["_id"]}
        old = [
            doc["_id"] for doc in await self._syncs.find(query, {"_id": 1}).to_list()
        ]
        if not old:
            return 0
        # Staged data first: a record is never gone while its data remains.
        await self._staged.delete_many({"sync_id": {"$in": old}})
        result = await self._syncs.delete_many({"_id": {"$in": old}})
        return result.deleted_count

    async def record_dead_letter(self, letter: DeadLetter) -> None:
        """Count a dead-lettered message and remember the latest one."""
        await self._status.update_one(
            {"_id": DEAD_LETTERS},
            {"$inc": {"count": 1}, "$set": {"last": dead_letter_doc(letter)}},
            upsert=True,
        )
