"""Reads and writes of promoted snapshots: the pointer, bodies, countries, garbage."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from pymongo import DESCENDING
from pymongo.errors import DuplicateKeyError

from query_service.documents import meta_from, snapshot_doc, summaries_from
from query_service.mongo import (
    CURRENT,
    TERMINAL,
    MongoCollections,
    unavailable_on_connection_errors,
)
from query_service.records import (
    CountryUsers,
    Pointer,
    Snapshot,
    SnapshotHead,
    SnapshotMeta,
)

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from query_service.records import UserRow


@unavailable_on_connection_errors
class SnapshotDocuments(MongoCollections):
    """Snapshots: what readers follow, and what the projector writes for them."""

    async def pointer(self) -> Pointer | None:
        """The current snapshot, or None before the first promotion."""
        doc = await self._pointers.find_one({"_id": CURRENT})
        if doc is None:
            return None
        return Pointer(snapshot_id=doc["snapshot_id"], order_key=doc["order_key"])

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

    async def snapshot_head(self, snapshot_id: str) -> SnapshotHead | None:
        """A promoted snapshot without its bodies, or None when it was deleted."""
        doc = await self._snapshots.find_one({"_id": snapshot_id})
        if doc is None:
            return None
        sizes = doc.get("body_sizes") or {}
        return SnapshotHead(
            meta=meta_from(doc["meta"]),
            countries=summaries_from(doc["countries"]),
            names_json=bytes(doc["names_json"]),
            countries_json_size=sizes.get("json"),
            countries_gzip_size=sizes.get("gzip"),
        )

    async def snapshots(
        self, *, skip: int, limit: int
    ) -> tuple[list[SnapshotMeta], int]:
        """Promoted snapshots still kept, newest first, and how many there are.

        Only those up to the current one: a snapshot written but not yet
        promoted (or about to be discarded as superseded) is not listed.
        """
        pointer = await self.pointer()
        if pointer is None:
            return [], 0
        kept = {"order_key": {"$lte": pointer.order_key}}
        total = await self._snapshots.count_documents(kept)
        docs = (
            await self._snapshots.find(kept, {"meta": 1})
            .sort([("order_key", DESCENDING)])
            .skip(skip)
            .limit(limit)
            .to_list()
        )
        return [meta_from(doc["meta"]) for doc in docs], total

    async def country(self, snapshot_id: str, name: str) -> CountryUsers | None:
        """One country of a snapshot with all its users, or None."""
        return await self._store.country(snapshot_id, name)

    async def country_chunk(
        self, snapshot_id: str, name: str, chunk: int
    ) -> tuple[UserRow, ...] | None:
        """One chunk of a country's users: a page reads only what it shows."""
        return await self._store.chunk(snapshot_id, name, chunk)

    async def write_country(self, snapshot_id: str, country: CountryUsers) -> None:
        """Upsert one country's chunks."""
        await self._store.write(snapshot_id, [country], {})

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

    async def discard_snapshot(self, snapshot_id: str) -> None:
        """Delete a snapshot that never became current."""
        await self._snapshots.delete_one({"_id": snapshot_id})
        await self._store.delete([snapshot_id])

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
