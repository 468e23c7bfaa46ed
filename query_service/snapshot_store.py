"""A snapshot's bulk in bounded documents: country users in chunks, bodies in GridFS.

No document written here exceeds about 1 MB, whatever the size of the sync:
a country's sorted users are split into chunks of CHUNK_USERS (at most
`records.MAX_DOCUMENT_BYTES` even at the contract's maxima), keyed by
(snapshot, country, chunk), so one page of a large country reads one or two
chunks; the rendered `/queries/countries` bodies (JSON and gzip) go to a
GridFS bucket in 255 kB chunks, which replicas reassemble when they load the
snapshot. Checked on nx-27017: GridFS upload and download work as on MongoDB;
its differences are noted where they matter (`_delete_file`).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Final

from gridfs import AsyncGridFSBucket
from gridfs.errors import NoFile
from pymongo import ASCENDING, UpdateOne
from pymongo.errors import OperationFailure

from query_service.documents import CountryChunkDoc
from query_service.records import (
    CHUNK_USERS,
    UUID_BYTES,
    CountryUsers,
    chunked,
    uuid_slice,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from pymongo.asynchronous.collection import AsyncCollection
    from pymongo.asynchronous.database import AsyncDatabase

    from query_service.records import UserRow

Document = dict[str, Any]

SNAPSHOT_COUNTRIES: Final = "snapshot_countries"
SNAPSHOT_BODIES: Final = "snapshot_bodies"
"""GridFS bucket: collections `snapshot_bodies.files` and `snapshot_bodies.chunks`."""
BODY_CHUNK_BYTES: Final = 255 * 1024
BODY_KINDS: Final = ("json", "gzip")
WRITE_GROUP: Final = 64
"""Chunk documents per bulk write: bounds the size of one request."""


def body_id(snapshot_id: str, kind: str) -> str:
    """The GridFS file id of one rendered body of a snapshot."""
    return f"{snapshot_id}/{kind}"


def chunk_id(snapshot_id: str, country: str, chunk: int) -> str:
    """The `_id` of one chunk of a country's users."""
    # "/" never occurs in a sync id (contracts.base.Identifier); the chunk
    # number goes last, so the key is unambiguous whatever the name holds.
    return f"{snapshot_id}/{country}/{chunk}"


class SnapshotStore:
    """Writes, reads and deletes the chunked parts of snapshots."""

    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._countries: AsyncCollection[Document] = database[SNAPSHOT_COUNTRIES]
        self._files: AsyncCollection[Document] = database[f"{SNAPSHOT_BODIES}.files"]
        self._chunks: AsyncCollection[Document] = database[f"{SNAPSHOT_BODIES}.chunks"]
        self._bodies = AsyncGridFSBucket(
            database, bucket_name=SNAPSHOT_BODIES, chunk_size_bytes=BODY_CHUNK_BYTES
        )

    async def prepare(self) -> None:
        """Create the chunk index (idempotent); drop the one-document-per-country one."""
        with contextlib.suppress(OperationFailure):
            # Before chunks, (snapshot_id, country) was unique.
            await self._countries.drop_index("snapshot_country")
        await self._countries.create_index(
            [("snapshot_id", ASCENDING), ("country", ASCENDING), ("chunk", ASCENDING)],
            name="snapshot_country_chunk",
            unique=True,
        )

    async def write(
        self,
        snapshot_id: str,
        countries: Sequence[CountryUsers],
        bodies: dict[str, bytes],
    ) -> None:
        """Upsert every country chunk, then (re)write the bodies. Repeatable."""
        writes = [
            UpdateOne(
                {"_id": chunk_id(snapshot_id, country.name, index)},
                {
                    "$set": CountryChunkDoc(
                        snapshot_id=snapshot_id,
                        country=country.name,
                        chunk=index,
                        users=list(users),
                        uuids=uuid_slice(
                            country.uuids, index * CHUNK_USERS, len(users)
                        ),
                    )
                },
                upsert=True,
            )
            for country in countries
            for index, users in enumerate(chunked(country.users))
        ]
        for start in range(0, len(writes), WRITE_GROUP):
            await self._countries.bulk_write(
                writes[start : start + WRITE_GROUP], ordered=False
            )
        for kind, data in bodies.items():
            file_id = body_id(snapshot_id, kind)
            # A promotion interrupted after some chunks left a partial file:
            # delete removes its chunks even without the files document.
            await self._delete_file(file_id)
            await self._bodies.upload_from_stream_with_id(
                file_id, file_id, data, metadata={"snapshot_id": snapshot_id}
            )

    async def bodies(self, snapshot_id: str) -> dict[str, bytes] | None:
        """Both rendered bodies, reassembled; None when either is gone."""
        found: dict[str, bytes] = {}
        for kind in BODY_KINDS:
            try:
                stream = await self._bodies.open_download_stream(
                    body_id(snapshot_id, kind)
                )
            except NoFile:
                return None
            found[kind] = await stream.read()
        return found

    async def country(self, snapshot_id: str, name: str) -> CountryUsers | None:
        """Every user of one country, in order, with their uuids (b"" unless
        every chunk has them); None when it has no chunk."""
        docs = (
            await self._countries.find(
                {"snapshot_id": snapshot_id, "country": name},
                {"users": 1, "chunk": 1, "uuids": 1},
            )
            .sort([("chunk", ASCENDING)])
            .to_list()
        )
        if not docs:
            return None
        users = tuple(user for doc in docs for user in doc["users"])
        uuids = b"".join(doc.get("uuids", b"") for doc in docs)
        if len(uuids) != len(users) * UUID_BYTES:
            uuids = b""
        return CountryUsers(name=name, users=users, uuids=uuids)

    async def chunk(
        self, snapshot_id: str, name: str, index: int
    ) -> tuple[UserRow, ...] | None:
        """Users `index * CHUNK_USERS` onwards of one country; None when missing."""
        doc = await self._countries.find_one(
            {"_id": chunk_id(snapshot_id, name, index)}, {"users": 1}
        )
        return None if doc is None else tuple(doc["users"])

    async def delete(self, snapshot_ids: Iterable[str]) -> None:
        """Delete the chunks and bodies of these snapshots."""
        ids = list(snapshot_ids)
        if not ids:
            return
        await self._countries.delete_many({"snapshot_id": {"$in": ids}})
        for snapshot_id in ids:
            for kind in BODY_KINDS:
                await self._delete_file(body_id(snapshot_id, kind))

    async def _delete_file(self, file_id: str) -> None:
        # nx-27017 answers a GridFS delete of a missing file with an error
        # of its own (MongoDB deletes nothing and pymongo raises NoFile), so
        # the files document is looked up first. Without one, any chunks are
        # leftovers of an interrupted upload.
        if await self._files.find_one({"_id": file_id}) is None:
            await self._chunks.delete_many({"files_id": file_id})
            return
        with contextlib.suppress(NoFile):
            await self._bodies.delete(file_id)
