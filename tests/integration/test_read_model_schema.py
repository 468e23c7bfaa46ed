"""The read model's MongoDB schema: the indexes `prepare` leaves.

Compared by fields, in order, and uniqueness: nx-27017 names every index
itself (`idx_<collection>_<fields>`) and reports every field ascending, where
MongoDB keeps the name and direction given. So the names, the directions and
`prepare` dropping the indexes of earlier schemas by name can be checked only
against a real MongoDB (MONGO_URL); the table keeps them for that reader."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from pymongo import AsyncMongoClient

from query_service.read_model import MongoReadModel

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from pymongo.asynchronous.database import AsyncDatabase

Fields = tuple[str, ...]
INDEXES: dict[str, dict[str, tuple[list[tuple[str, int]], bool]]] = {
    "staged_users": {
        "_id_": ([("_id", 1)], False),
        "sync_batch": ([("sync_id", 1), ("batch_index", 1)], False),
        "sync_country_batch_part": (
            [("sync_id", 1), ("country", 1), ("batch_index", 1), ("part", 1)],
            False,
        ),
    },
    "syncs": {
        "_id_": ([("_id", 1)], False),
        "recent": ([("first_seen_at", -1)], False),
        "state_recent": ([("state", 1), ("first_seen_at", -1)], False),
    },
    "snapshots": {
        "_id_": ([("_id", 1)], False),
        "order_key": ([("order_key", -1)], False),
    },
    "snapshot_countries": {
        "_id_": ([("_id", 1)], False),
        "snapshot_country_chunk": (
            [("snapshot_id", 1), ("country", 1), ("chunk", 1)],
            True,
        ),
    },
}
"""Per collection: each index's name, keys (1 ascending, -1 descending) and
whether it is unique."""


@pytest.fixture
async def database(
    mongo_url: str, mongo_database: str
) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        mongo_url, serverSelectionTimeoutMS=5000
    )
    try:
        yield client[mongo_database]
        await client.drop_database(mongo_database)
    finally:
        await client.close()


async def indexes(
    database: AsyncDatabase[dict[str, Any]], collection: str
) -> dict[Fields, bool]:
    """Each index of `collection`: its fields, in order, and whether it is unique."""
    found = {}
    async for index in await database[collection].list_indexes():
        found[tuple(index["key"])] = bool(index.get("unique", False))
    return found


async def prepared(url: str, name: str) -> None:
    async with MongoReadModel.open(
        url, name, server_timeout=5.0, app_name="schema-test"
    ) as model:
        await model.ping()
        await model.prepare()


async def test_prepare_creates_every_index_and_is_repeatable(
    mongo_url: str, mongo_database: str, database: AsyncDatabase[dict[str, Any]]
) -> None:
    await prepared(mongo_url, mongo_database)
    await prepared(mongo_url, mongo_database)

    for collection, expected in INDEXES.items():
        assert await indexes(database, collection) == {
            tuple(field for field, _ in keys): unique
            for keys, unique in expected.values()
        }, collection
