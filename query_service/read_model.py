"""The read model's storage: the only module that names collections and indexes.

MongoDB compatibility notes (the code targets real MongoDB; `nx-27017`, the
embedded server used for development, differs in the ways listed here, and
every write below is chosen to behave the same on both):

- Upserts use `UpdateOne` + `$set`, never `ReplaceOne`: nx-27017 ignores the
  filter's `_id` on a replace-upsert and cannot replace documents holding bytes.
- Datetimes written on the update path are nested in a subdocument
  (`completed.fetched_at`, ...): nx-27017 turns a top-level datetime `$set` on
  an existing document into a string. Top-level datetimes are written only
  when a document is inserted (`$setOnInsert`).
- `$addToSet` targets an array created with the document: nx-27017 ignores it
  on a missing field of an existing document. `$push`, `$max` and `$slice`
  (projection) are not used: nx-27017 gets them wrong.
- Pointer order keys start `YYYYMMDDTHHMMSS...`, not ISO 8601 with dashes:
  nx-27017 compares strings that look like ISO dates as dates.
- Booleans come back as 0/1 from nx-27017: the one flag (`staged_cleared`)
  is only ever matched with `$ne: True`, never read.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Final, ParamSpec, TypeVar

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, UpdateOne
from pymongo.errors import ConnectionFailure, DuplicateKeyError

from query_service.documents import (
    StagedDoc,
    completion_doc,
    dead_letter_doc,
    dead_letter_from,
    failure_doc,
    meta_from,
    snapshot_doc,
    summaries_from,
    sync_record_from,
)
from query_service.ports import (
    ReadModel,
    ReadModelReader,
    ReadModelUnavailable,
    ReadModelWriter,
)
from query_service.records import (
    ACTIVE_STATES,
    CountryUsers,
    Pointer,
    Snapshot,
    StagedCountry,
    SyncState,
    SyncStatus,
    chunked,
)
from query_service.snapshot_store import (
    SNAPSHOT_BODIES,
    SNAPSHOT_COUNTRIES,
    SnapshotStore,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
    from datetime import datetime

    from pymongo.asynchronous.collection import AsyncCollection
    from pymongo.asynchronous.database import AsyncDatabase

    from query_service.records import (
        Completion,
        DeadLetter,
        Failure,
        SyncRecord,
        UserRow,
    )

logger = logging.getLogger(__name__)

__all__ = [
    "FAILABLE",
    "SUPERSEDABLE",
    "TERMINAL",
    "MongoReadModel",
    "ReadModel",
    "ReadModelReader",
    "ReadModelUnavailable",
    "ReadModelWriter",
]

Document = dict[str, Any]

STAGED_USERS: Final = "staged_users"
SYNCS: Final = "syncs"
SNAPSHOTS: Final = "snapshots"
POINTERS: Final = "pointers"
PROJECTOR_STATUS: Final = "projector_status"
CURRENT: Final = "current"
DEAD_LETTERS: Final = "dead_letters"
STORED_COLLECTIONS: Final = (
    SYNCS,
    SNAPSHOTS,
    SNAPSHOT_COUNTRIES,
    POINTERS,
    f"{SNAPSHOT_BODIES}.files",
)
"""What a promoted sync leaves behind and a reader of the database can walk.
Staged batches are gone by then; GridFS chunks are 255 kB by construction
(and nx-27017 hangs on a find of them)."""
SUPERSEDABLE: Final = ACTIVE_STATES
FAILABLE: Final[tuple[SyncState, ...]] = (*ACTIVE_STATES, "failed", "superseded")
TERMINAL: Final[tuple[SyncState, ...]] = ("promoted", "failed", "superseded")


P = ParamSpec("P")
R = TypeVar("R")


def _unavailable_on_connection_errors(
    method: Callable[P, Coroutine[Any, Any, R]],
) -> Callable[P, Coroutine[Any, Any, R]]:
    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await method(*args, **kwargs)
        except ConnectionFailure as exc:
            # AutoReconnect, ServerSelectionTimeoutError and NetworkTimeout are
            # all ConnectionFailures: the database is down or unreachable.
            raise ReadModelUnavailable(
                f"MongoDB unavailable ({type(exc).__name__})"
            ) from exc

    return wrapper


class MongoReadModel:
    """The read model in MongoDB (or any server speaking its wire protocol)."""

    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._db = database
        self._staged: AsyncCollection[Document] = database[STAGED_USERS]
        self._syncs: AsyncCollection[Document] = database[SYNCS]
        self._store = SnapshotStore(database)
        self._snapshots: AsyncCollection[Document] = database[SNAPSHOTS]
        self._pointers: AsyncCollection[Document] = database[POINTERS]
        self._status: AsyncCollection[Document] = database[PROJECTOR_STATUS]

    @classmethod
    @asynccontextmanager
    async def open(
        cls, url: str, database: str, *, server_timeout: float, app_name: str
    ) -> AsyncIterator[MongoReadModel]:
        """Yield a read model on a new client; close the client on exit.

        The client connects lazily; a short server-selection timeout makes an
        outage surface as ReadModelUnavailable within `server_timeout` seconds.
        """
        client: AsyncMongoClient[Document] = AsyncMongoClient(
            url,
            tz_aware=True,
            appname=app_name,
            serverSelectionTimeoutMS=int(server_timeout * 1000),
            connectTimeoutMS=int(server_timeout * 1000),
            socketTimeoutMS=int(max(10.0, 5 * server_timeout) * 1000),
            # A replica set: a write is acknowledged once a majority of members
            # has it (it survives a primary failover), and a write cut off by
            # a failover is retried once on the new primary. nx-27017 (one
            # node) accepts both and acknowledges as a standalone would.
            w="majority",
            retryWrites=True,
        )
        try:
            yield cls(client[database])
        finally:
            await client.close()

    # -- reader -------------------------------------------------------------

    @_unavailable_on_connection_errors
    async def ping(self) -> None:
        """Return when the database answers."""
        await self._db.command("ping")

    @_unavailable_on_connection_errors
    async def pointer(self) -> Pointer | None:
        """The current snapshot, or None before the first promotion."""
        doc = await self._pointers.find_one({"_id": CURRENT})
        if doc is None:
            return None
        return Pointer(snapshot_id=doc["snapshot_id"], order_key=doc["order_key"])

    @_unavailable_on_connection_errors
    async def snapshot(self, snapshot_id: str) -> Snapshot | None:
        """A promoted snapshot's bodies, or None when it was deleted."""
        doc = await self._snapshots.find_one({"_id": snapshot_id})
        if doc is None:
            return None
        bodies = await self._store.bodies(snapshot_id)
        if bodies is None:
            return None
        return Snapshot(
            meta=meta_from(doc["meta"]),
            order_key=doc["order_key"],
            countries=summaries_from(doc["countries"]),
            countries_json=bodies["json"],
            countries_gzip=bodies["gzip"],
            names_json=bytes(doc["names_json"]),
        )

    @_unavailable_on_connection_errors
    async def country(self, snapshot_id: str, name: str) -> CountryUsers | None:
        """One country of a snapshot with all its users, or None."""
        users = await self._store.country(snapshot_id, name)
        return None if users is None else CountryUsers(name=name, users=users)

    @_unavailable_on_connection_errors
    async def country_chunk(
        self, snapshot_id: str, name: str, chunk: int
    ) -> tuple[UserRow, ...] | None:
        """One chunk of a country's users: a page reads only what it shows."""
        return await self._store.chunk(snapshot_id, name, chunk)

    @_unavailable_on_connection_errors
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

    # -- writer -------------------------------------------------------------

    @_unavailable_on_connection_errors
    async def prepare(self) -> None:
        """Create collections and indexes (idempotent)."""
        await self._staged.create_index(
            [("sync_id", ASCENDING), ("batch_index", ASCENDING)], name="sync_batch"
        )
        await self._staged.create_index(
            [("sync_id", ASCENDING), ("country", ASCENDING)], name="sync_country"
        )
        await self._syncs.create_index([("first_seen_at", DESCENDING)], name="recent")
        await self._syncs.create_index(
            [("state", ASCENDING), ("first_seen_at", DESCENDING)], name="state_recent"
        )
        await self._store.prepare()
        await self._snapshots.create_index(
            [("order_key", DESCENDING)], name="order_key"
        )

    @_unavailable_on_connection_errors
    async def sync(self, sync_id: str) -> SyncRecord | None:
        """The record of one sync attempt, or None."""
        doc = await self._syncs.find_one({"_id": sync_id})
        return None if doc is None else sync_record_from(doc)

    @_unavailable_on_connection_errors
    async def stage_batch(
        self,
        sync_id: str,
        batch_index: int,
        countries: Mapping[str, Sequence[UserRow]],
    ) -> None:
        """Upsert one document per country chunk of the batch, in one bulk write."""
        writes = [
            UpdateOne(
                {"_id": f"{sync_id}/{batch_index}/{country}/{part}"},
                {
                    "$set": StagedDoc(
                        sync_id=sync_id,
                        batch_index=batch_index,
                        country=country,
                        part=part,
                        users=list(chunk),
                    )
                },
                upsert=True,
            )
            for country, users in countries.items()
            for part, chunk in enumerate(chunked(users))
        ]
        if writes:
            await self._staged.bulk_write(writes, ordered=False)

    @_unavailable_on_connection_errors
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

    @_unavailable_on_connection_errors
    async def discard_batch(self, sync_id: str, batch_index: int) -> None:
        """Delete one staged batch."""
        await self._staged.delete_many({"sync_id": sync_id, "batch_index": batch_index})

    @_unavailable_on_connection_errors
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

    @_unavailable_on_connection_errors
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

    @_unavailable_on_connection_errors
    async def staged_country_names(self, sync_id: str) -> set[str]:
        """The countries a sync has staged users of (one small field per document)."""
        cursor = self._staged.find({"sync_id": sync_id}, {"_id": 0, "country": 1})
        return {doc["country"] async for doc in cursor}

    @_unavailable_on_connection_errors
    async def write_country(self, snapshot_id: str, country: CountryUsers) -> None:
        """Upsert one country's chunks."""
        await self._store.write(snapshot_id, [country], {})

    @_unavailable_on_connection_errors
    async def staged_countries(
        self, sync_id: str, *, country: str | None = None
    ) -> list[StagedCountry]:
        """Every staged (batch, country) of a sync, by batch index then country."""
        query: Document = {"sync_id": sync_id}
        if country is not None:
            query["country"] = country
        cursor = self._staged.find(query, {"_id": 0, "sync_id": 0}).sort(
            [("batch_index", ASCENDING), ("country", ASCENDING), ("part", ASCENDING)]
        )
        # One document at a time, each user re-made with shared keys and
        # gender strings: decoded documents repeat them per user, which for
        # 100,000 users costs tens of MB at the projector's peak.
        return [
            StagedCountry(
                batch_index=doc["batch_index"],
                country=doc["country"],
                users=tuple(
                    {
                        "name": user["name"],
                        "gender": sys.intern(user["gender"]),
                        "email": user["email"],
                    }
                    for user in doc["users"]
                ),
            )
            async for doc in cursor
        ]

    @_unavailable_on_connection_errors
    async def write_snapshot(
        self, snapshot: Snapshot, countries: Sequence[CountryUsers]
    ) -> None:
        """Write the country chunks and the bodies, then the snapshot document."""
        snapshot_id = snapshot.meta.id
        await self._store.write(
            snapshot_id,
            countries,
            {"json": snapshot.countries_json, "gzip": snapshot.countries_gzip},
        )
        # Last: a reader that finds the snapshot document finds all its parts.
        await self._snapshots.update_one(
            {"_id": snapshot_id},
            {"$set": snapshot_doc(snapshot)},
            upsert=True,
        )

    @_unavailable_on_connection_errors
    async def move_pointer(self, snapshot_id: str, order_key: str) -> bool:
        """Move the pointer only forward, by a compare-and-set on the order key."""
        try:
            await self._pointers.update_one(
                {"_id": CURRENT, "order_key": {"$lt": order_key}},
                {"$set": {"snapshot_id": snapshot_id, "order_key": order_key}},
                upsert=True,
            )
        except DuplicateKeyError:
            current = await self.pointer()
            return current is not None and current.snapshot_id == snapshot_id
        return True

    @_unavailable_on_connection_errors
    async def mark_promoted(self, sync_id: str, *, now: datetime) -> None:
        """Record that the sync's snapshot became current."""
        await self._syncs.update_one(
            {"_id": sync_id},
            {"$set": {"state": "promoted", "promoted": {"at": now}}},
        )

    @_unavailable_on_connection_errors
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

    @_unavailable_on_connection_errors
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

    @_unavailable_on_connection_errors
    async def discard_snapshot(self, snapshot_id: str) -> None:
        """Delete a snapshot that never became current."""
        await self._snapshots.delete_one({"_id": snapshot_id})
        await self._store.delete([snapshot_id])

    @_unavailable_on_connection_errors
    async def collect_garbage(self, *, snapshots_kept: int) -> None:
        """Delete old snapshots and the staged data of inactive syncs."""
        pointer = await self.pointer()
        ranked = (
            await self._snapshots.find({}, {"_id": 1})
            .sort([("order_key", DESCENDING)])
            .to_list()
        )
        old = [doc["_id"] for doc in ranked[snapshots_kept:]]
        if pointer is not None and pointer.snapshot_id in old:
            old.remove(pointer.snapshot_id)
        if old:
            # The snapshot document first: a reader that still finds it also
            # finds its countries.
            await self._snapshots.delete_many({"_id": {"$in": old}})
            await self._store.delete(old)
        finished = await self._syncs.find(
            {"state": {"$in": list(TERMINAL)}, "staged_cleared": {"$ne": True}},
            {"_id": 1},
        ).to_list()
        done = [doc["_id"] for doc in finished]
        if done:
            await self._staged.delete_many({"sync_id": {"$in": done}})
            await self._syncs.update_many(
                {"_id": {"$in": done}}, {"$set": {"staged_cleared": True}}
            )
        logger.debug("deleted %d snapshots, cleared %d syncs", len(old), len(done))

    @_unavailable_on_connection_errors
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

    @_unavailable_on_connection_errors
    async def record_dead_letter(self, letter: DeadLetter) -> None:
        """Count a dead-lettered message and remember the latest one."""
        await self._status.update_one(
            {"_id": DEAD_LETTERS},
            {"$inc": {"count": 1}, "$set": {"last": dead_letter_doc(letter)}},
            upsert=True,
        )
