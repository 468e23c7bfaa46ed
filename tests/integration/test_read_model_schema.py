"""The read model's MongoDB schema: the indexes `prepare` leaves, and what
the stored documents hold.

The indexes the server lists are compared by fields, in order, and
uniqueness: nx-27017 names every index itself (`idx_<collection>_<fields>`)
and reports every field ascending, where MongoDB keeps the name and
direction given. So the names, the directions and the indexes of earlier
schemas that `prepare` drops are read from the commands the server is sent
(pymongo's command monitoring), which a real MongoDB would carry out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from pymongo import AsyncMongoClient, monitoring

from query_service.read_model import MongoReadModel
from query_service.records import CHUNK_USERS, CountryUsers
from tests.integration.test_read_model_contract import rows, snapshot

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


class CommandLog(monitoring.CommandListener):
    """Every command a client sends, as sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.sent.append((event.command_name, dict(event.command)))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def commands(self, name: str) -> list[dict[str, Any]]:
        return [command for sent, command in self.sent if sent == name]


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


async def test_deleted_snapshots_leave_no_documents_behind(
    mongo_url: str, mongo_database: str, database: AsyncDatabase[dict[str, Any]]
) -> None:
    """What garbage collection and a discard delete, counted in the
    collections themselves: no API of the read model lists orphans."""
    body = b'{"countries":[' + b"z" * 600_000 + b"]}"
    async with MongoReadModel.open(
        mongo_url, mongo_database, server_timeout=5.0, app_name="schema-test"
    ) as model:
        await model.prepare()
        for number in range(3):
            await model.write_snapshot(
                snapshot(f"s{number}", f"k{number}", body),
                [CountryUsers("Norway", rows(CHUNK_USERS + 1))],
            )
        await model.move_pointer("s2", "k2")

        await model.collect_garbage(snapshots_kept=1)
        await model.discard_snapshot("s1")  # already gone: nothing to do

    files = (
        await database["snapshot_bodies.files"]
        .find({}, {"filename": 1, "metadata": 1})
        .to_list()
    )
    assert sorted(f["filename"] for f in files) == ["s2/gzip", "s2/json"]
    # Each body file names its snapshot, for whoever walks the bucket.
    assert [f["metadata"] for f in files] == [{"snapshot_id": "s2"}] * 2
    # The GridFS chunks are not counted here: nx-27017 fails every query on
    # them (`no such column: id`) and hangs on a find; against MongoDB their
    # deletion is pymongo's own (`AsyncGridFSBucket.delete`).
    countries = (
        await database["snapshot_countries"].find({}, {"snapshot_id": 1}).to_list()
    )
    assert {c["snapshot_id"] for c in countries} == {"s2"}
    assert len(countries) == 2  # the country's two chunks
    snapshots = await database["snapshots"].find({}, {"_id": 1}).to_list()
    assert [doc["_id"] for doc in snapshots] == ["s2"]


async def test_prepare_asks_for_each_index_by_name_direction_and_uniqueness(
    mongo_url: str, mongo_database: str, database: AsyncDatabase[dict[str, Any]]
) -> None:
    log = CommandLog()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        mongo_url, serverSelectionTimeoutMS=5000, event_listeners=[log]
    )
    try:
        model = MongoReadModel(client[mongo_database])
        await model.ping()
        await model.prepare()
    finally:
        await client.close()

    asked = {
        (command["createIndexes"], index["name"]): (
            list(index["key"].items()),
            index.get("unique", False),
        )
        for command in log.commands("createIndexes")
        for index in command["indexes"]
    }
    assert asked == {
        (collection, name): spec
        for collection, specs in INDEXES.items()
        for name, spec in specs.items()
        if name != "_id_"
    }
    # The indexes of earlier schemas, which a newer one's prefix or chunk
    # key replaced, are dropped by name.
    assert sorted(
        (command["dropIndexes"], command["index"])
        for command in log.commands("dropIndexes")
    ) == [("snapshot_countries", "snapshot_country"), ("staged_users", "sync_country")]
    assert len(log.commands("ping")) == 1


async def stored_last(
    database: AsyncDatabase[dict[str, Any]], collection: str, doc_id: str
) -> None:
    """Store one document again, after the others: MongoDB promises no order
    without a sort, and nx-27017 returns documents in the order stored."""
    doc = await database[collection].find_one({"_id": doc_id})
    assert doc is not None, doc_id
    await database[collection].delete_one({"_id": doc_id})
    await database[collection].insert_one(doc)


async def test_chunks_and_staged_parts_read_in_order_whatever_order_they_are_stored(
    mongo_url: str, mongo_database: str, database: AsyncDatabase[dict[str, Any]]
) -> None:
    users = rows(CHUNK_USERS + 1)
    async with MongoReadModel.open(
        mongo_url, mongo_database, server_timeout=5.0, app_name="schema-test"
    ) as model:
        await model.prepare()
        await model.stage_batch("s1", 0, {"Norway": users})
        await model.write_snapshot(
            snapshot("s1", "k1"), [CountryUsers("Norway", users)]
        )
        await stored_last(database, "staged_users", "s1/0/Norway/0")
        await stored_last(database, "snapshot_countries", "s1/Norway/0")

        staged = await model.staged_countries("s1")
        by_country = [
            (country, [part.users for part in parts])
            async for country, parts in model.staged_by_country("s1")
        ]
        country = await model.country("s1", "Norway")

    assert [part.users for part in staged] == [users[:CHUNK_USERS], users[-1:]]
    assert by_country == [("Norway", [users[:CHUNK_USERS], users[-1:]])]
    assert country is not None
    assert country.users == users


async def test_documents_stored_before_uuids_existed_read_without_them(
    mongo_url: str, mongo_database: str, database: AsyncDatabase[dict[str, Any]]
) -> None:
    users = rows(3)
    uuids = bytes(range(16 * 3))
    async with MongoReadModel.open(
        mongo_url, mongo_database, server_timeout=5.0, app_name="schema-test"
    ) as model:
        await model.prepare()
        await model.stage_batch("s1", 0, {"Norway": users}, uuids={"Norway": uuids})
        await model.write_snapshot(
            snapshot("s1", "k1"), [CountryUsers("Norway", users, uuids)]
        )
        for collection in ("staged_users", "snapshot_countries"):
            await database[collection].update_many({}, {"$unset": {"uuids": ""}})

        staged = await model.staged_countries("s1")
        country = await model.country("s1", "Norway")

    assert [(part.users, part.uuids) for part in staged] == [(users, b"")]
    assert country is not None
    assert (country.users, country.uuids) == (users, b"")
