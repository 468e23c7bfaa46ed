"""A rebuild that switches readers: while a 20,000-user sync is being projected,
and after the read model database was dropped. Graded by what the simulator
recorded serving and by the bytes readers were served before."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from pymongo import AsyncMongoClient

from query_service.read_model import MongoReadModel
from query_service.rebuild import Rebuilt, rebuild, report
from query_service.settings import ProjectorSettings
from tests.e2e.test_faults_support import FaultStack, Readers, private_stack, rows_of
from tests.support.eventually import eventually

BIG = 20_000


def _settings(fs: FaultStack) -> ProjectorSettings:
    config = fs.stack.config
    return ProjectorSettings.model_validate(
        {
            "_env_file": None,
            "amqp_url": fs.amqp_url,
            "amqp_namespace": config.amqp_namespace,
            "mongo_url": fs.stack.mongo_url,
            "mongo_database": config.mongo_database,
        }
    )


async def _bytes(origin: str, path: str) -> tuple[int, bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{origin}{path}", headers={"Accept-Encoding": "identity"}) as r,
    ):
        return r.status, await r.read()


async def _switched(fs: FaultStack, target: str, **options: Any) -> Rebuilt:
    outcome = await rebuild(_settings(fs), target, switch=True, **options)
    assert outcome.switched, report(outcome)
    return outcome


@pytest.mark.timeout(180)
async def test_a_rebuild_switches_readers_mid_sync_and_loses_nothing(
    amqp_url: str, mongo_url: str
) -> None:
    async with private_stack(
        amqp_url, mongo_url, label="rebuild-switch", env={"HTTP_TIMEOUT_SECONDS": "30"}
    ) as fs:
        client = fs.client
        target = f"{fs.stack.config.mongo_database[:50]}_rb"
        before = await client.sync(results=300, seed="rs-before")
        try:
            async with Readers((client.base_url, *client.replica_urls)) as readers:
                # The last of the four pages comes 6 s late: the sync is
                # still arriving while the rebuild replays, verifies, switches.
                await client.fault("slow", count=3, delay=0)
                await client.fault("slow", count=1, delay=6)
                command_id = await client.trigger(results=BIG, seed="rs-live")
                await fs.staging_begun()
                outcome = await _switched(fs, target)
                attempt = await client.attempt_of(command_id, timeout=60)
                served = await fs.served_everywhere(attempt["sync_id"])
            # The projector goes on in the rebuilt database.
            after = await client.sync(results=200, seed="rs-after")
            async with MongoReadModel.open(
                fs.stack.mongo_url, target, server_timeout=5, app_name="test"
            ) as rebuilt:
                rebuilt_pointer = await rebuilt.pointer()
            async with fs.read_model() as home:
                alias = await home.alias.read()
                home_pointer = await home.pointer()
                home_record = await home.sync(attempt["sync_id"])
            ids_seen = readers.check(await fs.upstream_counts())
        finally:
            await _drop(fs, target)

        assert outcome.verified.mismatches == []
        assert before["snapshot"]["id"] in outcome.verified.compared
        assert attempt["state"] == "promoted", attempt
        assert rows_of(served) == await fs.upstream_rows(seed="rs-live", results=BIG)
        assert ids_seen <= {before["snapshot"]["id"], attempt["sync_id"]}
        assert (alias.database, alias.switching_to) == (target, None)
        assert rebuilt_pointer is not None
        assert rebuilt_pointer.snapshot_id == after["snapshot"]["id"]
        # The live sync was promoted after the switch, in the rebuilt database
        # only; nothing went into the retired one after the switch.
        assert home_record is not None
        assert home_record.state == "staging", home_record
        assert home_pointer is not None
        assert home_pointer.snapshot_id == before["snapshot"]["id"]
        assert f"the read model moved to database {target}" in fs.log("projector")


@pytest.mark.timeout(120)
async def test_a_dropped_read_model_is_rebuilt_and_served_byte_for_byte(
    amqp_url: str, mongo_url: str
) -> None:
    async with private_stack(amqp_url, mongo_url, label="rebuild-dropped") as fs:
        client = fs.client
        target = f"{fs.stack.config.mongo_database[:50]}_rd"
        old = await client.sync(results=60, seed="rd-old")
        new = await client.sync(results=40, seed="rd-new")
        ids = (old["snapshot"]["id"], new["snapshot"]["id"])
        replica = client.replica_urls[0]
        # The oracle: the bytes a replica served before the loss.
        before = {
            path: await _bytes(replica, path)
            for path in (
                "/queries/countries",
                *(f"/queries/snapshots/{i}/countries" for i in ids),
            )
        }
        status_before = await client.get_json("/queries/snapshots")
        await _drop(fs, fs.stack.config.mongo_database)
        try:
            outcome = await _switched(fs, target)

            async def serving_again() -> bool:
                listed = await client.get_json("/queries/snapshots", origin=replica)
                return bool(listed.get("total") == status_before["total"])

            await eventually(serving_again, timeout=10, what="the rebuild served")
            after = {path: await _bytes(replica, path) for path in before}
            others = {
                origin: await _bytes(origin, "/queries/countries")
                for origin in (*client.replica_urls, client.base_url)
            }
        finally:
            await _drop(fs, target)

        assert outcome.verified.compared == []
        assert sorted(outcome.verified.only_rebuilt) == sorted(ids)
        assert after == before
        assert set(others.values()) == {before["/queries/countries"]}
        assert [s["id"] for s in status_before["snapshots"]] == list(reversed(ids))


async def _drop(fs: FaultStack, database: str) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(fs.stack.mongo_url)
    try:
        await client.drop_database(database)
    finally:
        await client.close()
