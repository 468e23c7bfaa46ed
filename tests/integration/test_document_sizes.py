"""Every document the projector writes stays under 1 MB, however large the sync."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import bson
import pytest
from pymongo import AsyncMongoClient, monitoring

from contracts.events import MAX_BATCH_USERS, SyncCompleted, UsersFetched
from contracts.users import User
from query_service.projection import ProjectionConfig, projection_handler
from query_service.read_model import MongoReadModel

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

LIMIT: Final = 1_000_000
T0: Final = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
COUNTRIES: Final = ("Norway", "Chile", "Japan", "Kenya", "Brazil", "Canada")


class WrittenSizes(monitoring.CommandListener):
    """Records the BSON size of every document inserted, or set by an update."""

    def __init__(self) -> None:
        self.sizes: dict[str, int] = {}
        self.count = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        command = event.command
        if event.command_name == "insert":
            docs = list(command.get("documents", ()))
        elif event.command_name == "update":
            docs = [statement["u"] for statement in command.get("updates", ())]
        else:
            return
        collection = str(command[event.command_name])
        for doc in docs:
            self.count += 1
            size = len(bson.encode(doc))
            self.sizes[collection] = max(self.sizes.get(collection, 0), size)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        """Nothing to record."""

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        """Nothing to record."""


@pytest.fixture
async def listened(
    mongo_url: str, mongo_database: str
) -> AsyncIterator[tuple[MongoReadModel, WrittenSizes, Any]]:
    sizes = WrittenSizes()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        mongo_url, tz_aware=True, event_listeners=[sizes]
    )
    try:
        model = MongoReadModel(client[mongo_database])
        await model.prepare()
        yield model, sizes, client[mongo_database]
        await client.drop_database(mongo_database)
    finally:
        await client.close()


def typical(count: int) -> Iterator[User]:
    for i in range(count):
        yield User(
            name=f"Person {i:06d} Nordmann",
            gender="female" if i % 2 else "male",
            email=f"person.{i:06d}@example.com",
            country=COUNTRIES[i % len(COUNTRIES)],
        )


def longest(count: int) -> Iterator[User]:
    """Every field at the contract's maximum length, in four-byte characters."""
    country = "C" * 127 + "ö"
    for i in range(count):
        yield User(
            name=f"{i:06d}" + "\U0001d538" * 250,  # four UTF-8 bytes each
            gender="male",
            email=f"{i:06d}@" + "é" * 313,
            country=country,
        )


async def project(model: MongoReadModel, users: Iterator[User], count: int) -> None:
    handle = projection_handler(model, ProjectionConfig(clock=lambda: T0))
    batch_count = -(-count // MAX_BATCH_USERS)
    left = count
    for index in range(batch_count):
        batch = tuple(next(users) for _ in range(min(MAX_BATCH_USERS, left)))
        left -= len(batch)
        await handle(
            UsersFetched(
                sync_id="big",
                batch_index=index,
                batch_count=batch_count,
                users=batch,
            )
        )
    await handle(
        SyncCompleted(
            sync_id="big",
            batch_count=batch_count,
            user_count=count,
            fetched_at=T0,
        )
    )


READ_BACK: Final = (
    "syncs",
    "snapshots",
    "snapshot_countries",
    "pointers",
    "snapshot_bodies.files",
)
"""Collections read back after the sync. Not the GridFS chunks: nx-27017 stores
GridFS collections its own way (it lists them as `snapshot_bodies_chunks` and
hangs on a find there); the listener sees every chunk written."""


async def read_back_largest(database: Any) -> dict[str, int]:
    """The largest stored document of each collection in READ_BACK."""
    largest: dict[str, int] = {}
    for name in READ_BACK:
        async for doc in database[name].find({}):
            largest[name] = max(largest.get(name, 0), len(bson.encode(doc)))
    return largest


@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    ("users", "count"),
    [(typical, 100_000), (longest, 20_000)],
    ids=["100000_typical_users", "20000_longest_users_in_one_country"],
)
async def test_every_document_written_holds_at_most_1_mb(listened, users, count):
    model, written, database = listened

    await project(model, users(count), count)

    pointer = await model.pointer()
    assert pointer is not None
    assert pointer.snapshot_id == "big"
    snapshot = await model.snapshot("big")
    assert snapshot is not None
    assert snapshot.meta.user_count == count
    assert written.count > count // 1_000
    assert {"staged_users", "snapshot_countries", "snapshot_bodies.chunks"} <= set(
        written.sizes
    )
    assert max(written.sizes.values()) <= LIMIT, written.sizes
    stored = await read_back_largest(database)
    assert "snapshot_countries" in stored
    assert max(stored.values()) <= LIMIT, stored
