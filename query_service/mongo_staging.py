"""Staged batches: the users of a sync before it is promoted."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from pymongo import ASCENDING, UpdateOne

from query_service.documents import StagedDoc
from query_service.mongo import (
    Document,
    MongoCollections,
    connection_errors_as_unavailable,
    unavailable_on_connection_errors,
)
from query_service.records import CHUNK_USERS, StagedCountry, chunked, uuid_slice

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Mapping, Sequence

    from contracts.users import Gender
    from query_service.records import UserRow


_GENDERS: Final[dict[str, Gender]] = {"male": "male", "female": "female"}
"""One shared string per gender (and the type the contract gives it)."""


def _staged(doc: Document) -> StagedCountry:
    # Each user re-made with shared keys and gender strings: decoded
    # documents repeat them per user, which for 100,000 users costs tens of
    # MB at the projector's peak.
    return StagedCountry(
        batch_index=doc["batch_index"],
        country=doc["country"],
        users=tuple(
            {
                "name": user["name"],
                "gender": _GENDERS[user["gender"]],
                "email": user["email"],
            }
            for user in doc["users"]
        ),
        uuids=doc.get("uuids", b""),
    )


@unavailable_on_connection_errors
class StagedBatches(MongoCollections):
    """The staging area: one document per (sync, batch, country, chunk)."""

    async def stage_batch(
        self,
        sync_id: str,
        batch_index: int,
        countries: Mapping[str, Sequence[UserRow]],
        *,
        uuids: Mapping[str, bytes] | None = None,
    ) -> None:
        """Upsert one document per country chunk of the batch, in one bulk write."""
        known = uuids or {}
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
                        uuids=uuid_slice(
                            known.get(country, b""), part * CHUNK_USERS, len(chunk)
                        ),
                    )
                },
                upsert=True,
            )
            for country, users in countries.items()
            for part, chunk in enumerate(chunked(users))
        ]
        if writes:
            await self._staged.bulk_write(writes, ordered=False)

    async def discard_batch(self, sync_id: str, batch_index: int) -> None:
        """Delete one staged batch."""
        await self._staged.delete_many({"sync_id": sync_id, "batch_index": batch_index})

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
        return [_staged(doc) async for doc in cursor]

    async def staged_by_country(
        self, sync_id: str
    ) -> AsyncGenerator[tuple[str, list[StagedCountry]], None]:
        """Each country a sync staged users of, with its staged parts (by
        batch index), one country at a time, from one query."""
        cursor = self._staged.find({"sync_id": sync_id}, {"_id": 0, "sync_id": 0}).sort(
            [("country", ASCENDING), ("batch_index", ASCENDING), ("part", ASCENDING)]
        )
        country: str | None = None
        parts: list[StagedCountry] = []
        with connection_errors_as_unavailable():
            async for doc in cursor:
                if doc["country"] != country:
                    if country is not None:
                        yield country, parts
                    country, parts = doc["country"], []
                parts.append(_staged(doc))
        if country is not None:
            yield country, parts
