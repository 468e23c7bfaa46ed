"""Events recorded by the version 1 sync worker (tests/fixtures/events/v1/)
decode into today's messages, and a rebuild replays them from the event log
into today's read model.

The oracle for each upcast failure is what today's worker publishes for the
same scenario (tests/support/event_scenarios.py, run now against the
simulator), not the upcaster's own table."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import aio_pika
import orjson
import pytest
from pymongo import AsyncMongoClient

from common.amqp import connect
from common.declare import (
    EventLogRetention,
    declare_projector_queue,
    declare_sync_requests_queue,
)
from contracts.codec import decode
from contracts.events import SyncCompleted, SyncFailed, UsersFetched
from query_service.read_model import MongoReadModel
from query_service.rebuild import rebuild
from query_service.settings import ProjectorSettings
from tests.support.broker import delete_topology
from tests.support.event_scenarios import SCENARIOS, run_scenario

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from contracts.topology import Topology

V1 = Path(__file__).parents[1] / "fixtures" / "events" / "v1"


def recorded(name: str) -> list[bytes]:
    return (V1 / f"{name}.jsonl").read_bytes().splitlines()


def test_every_scenario_has_a_version_1_recording() -> None:
    assert sorted(p.stem for p in V1.glob("*.jsonl")) == sorted(SCENARIOS)
    for name in SCENARIOS:
        raw = [orjson.loads(line) for line in recorded(name)]
        assert raw, name
        assert {data["schema_version"] for data in raw} == {1}, name


@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_a_version_1_event_reads_as_todays_worker_would_publish_it(
    name: str,
) -> None:
    old = [decode(line) for line in recorded(name)]
    today = await run_scenario(name, SCENARIOS[name])

    assert [type(m) for m in old] == [type(m) for m in today]
    for before, now in zip(old, today, strict=True):
        raw: dict[str, Any] = orjson.loads(recorded(name)[old.index(before)])
        # Nothing the old producer wrote is lost or changed by the upcast...
        kept = before.model_dump(mode="json")
        assert {k: kept[k] for k in raw if k != "schema_version"} == {
            k: v for k, v in raw.items() if k != "schema_version"
        }
        # ...and what was added is what today's producer says.
        if isinstance(before, SyncFailed):
            assert isinstance(now, SyncFailed)
            assert before.kind == now.kind != "unknown", (name, before.reason)


def _sync_id(name: str) -> str:
    last = decode(recorded(name)[-1])
    assert isinstance(last, SyncCompleted | SyncFailed)
    return last.sync_id


@pytest.fixture
async def log(amqp_url: str, topology: Topology) -> AsyncIterator[None]:
    """The event log of the test's namespace, holding every v1 recording."""
    connection = await connect(amqp_url, name="test-upcasting", within=10)
    try:
        channel = await connection.channel(publisher_confirms=True)
        await declare_sync_requests_queue(channel, topology, delivery_limit=3)
        await declare_projector_queue(
            channel,
            topology,
            delivery_limit=3,
            event_log=EventLogRetention("1D", 50_000_000),
        )
        for name in sorted(SCENARIOS):
            for line in recorded(name):
                await channel.default_exchange.publish(
                    aio_pika.Message(line), routing_key=topology.event_log_queue
                )
        yield
    finally:
        await connection.close()
        await delete_topology(amqp_url, topology)


@pytest.mark.usefixtures("log")
async def test_a_rebuild_replays_version_1_events_into_todays_read_model(
    amqp_url: str, mongo_url: str, mongo_database: str, topology: Topology
) -> None:
    home, target = mongo_database[:55], f"{mongo_database[:55]}_up"
    settings = ProjectorSettings.model_validate(
        {
            "_env_file": None,
            "amqp_url": amqp_url,
            "amqp_namespace": topology.prefix,
            "mongo_url": mongo_url,
            "mongo_database": home,
        }
    )
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    try:
        outcome = await rebuild(settings, target)
        async with MongoReadModel.open(
            mongo_url, target, server_timeout=5, app_name="test"
        ) as model:
            records = {name: await model.sync(_sync_id(name)) for name in SCENARIOS}
            completed = decode(recorded("completed")[-1])
            assert isinstance(completed, SyncCompleted)
            snapshot = await model.snapshot(completed.sync_id)
    finally:
        for database in (home, target):
            await client.drop_database(database)
        await client.close()

    assert outcome.replayed.unreadable == []
    assert outcome.replayed.events == sum(len(recorded(n)) for n in SCENARIOS)
    batch = decode(recorded("completed")[0])
    assert isinstance(batch, UsersFetched)
    assert snapshot is not None
    served = orjson.loads(snapshot.countries_json)
    assert sorted(
        u["email"] for c in served["countries"] for u in c["users"]
    ) == sorted(u.email for u in batch.users)
    for name, record in records.items():
        assert record is not None, name
        if name == "completed":
            assert record.state == "promoted"
            continue
        assert record.state == "failed", name
        assert record.failure is not None
        last = decode(recorded(name)[-1])
        assert isinstance(last, SyncFailed)
        assert record.failure.kind == last.kind != "unknown", name
