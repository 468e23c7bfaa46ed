"""The read model alias on a real MongoDB-protocol server: one switch at a time,
a lease that releases a stalled one, and a model that follows it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from pymongo import AsyncMongoClient

from query_service.read_model import MongoReadModel
from tests.unit.test_history import BEFORE, project

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

T0 = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


@pytest.fixture
async def home(mongo_url: str, mongo_database: str) -> AsyncIterator[MongoReadModel]:
    names = [mongo_database[:55], f"{mongo_database[:55]}_new"]
    async with MongoReadModel.open(
        mongo_url, names[0], server_timeout=5, app_name="alias-test"
    ) as model:
        try:
            yield model
        finally:
            client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
            try:
                for name in names:
                    await client.drop_database(name)
            finally:
                await client.close()


async def test_without_an_alias_the_home_database_is_the_read_model(
    home: MongoReadModel,
) -> None:
    alias = await home.alias.read()

    assert (alias.database, alias.switching_to) == (home.database_name, None)
    assert await home.follow_alias() == home.database_name


async def test_one_switch_at_a_time_and_a_completed_one_moves_the_alias(
    home: MongoReadModel,
) -> None:
    old, new = home.database_name, f"{home.database_name}_new"

    first = await home.alias.begin_switch(old, new, now=T0, until=T0 + LEASE)
    second = await home.alias.begin_switch(old, "other", now=T0, until=T0 + LEASE)
    pending = await home.alias.read()
    done = await home.alias.complete_switch(old, new, now=T0 + timedelta(seconds=1))
    settled = await home.alias.read()
    stale = await home.alias.begin_switch(old, "other", now=T0, until=T0 + LEASE)

    assert (first, second, done, stale) == (True, False, True, False)
    assert (pending.database, pending.switching_to) == (old, new)
    assert pending.pending(T0)
    assert not pending.pending(T0 + LEASE)
    assert (settled.database, settled.switching_to) == (new, None)


async def test_a_lease_that_ran_out_frees_the_alias_and_cannot_complete(
    home: MongoReadModel,
) -> None:
    old, new = home.database_name, f"{home.database_name}_new"
    await home.alias.begin_switch(old, "stalled", now=T0, until=T0 + LEASE)
    later = T0 + LEASE + timedelta(seconds=1)

    too_late = await home.alias.complete_switch(old, "stalled", now=later)
    taken_over = await home.alias.begin_switch(old, new, now=later, until=later + LEASE)
    await home.alias.abandon_switch(new)
    abandoned = await home.alias.read()

    assert (too_late, taken_over) == (False, True)
    assert (abandoned.database, abandoned.switching_to) == (old, None)


async def test_a_model_follows_the_alias_with_everything_it_reads(
    home: MongoReadModel, mongo_url: str
) -> None:
    new = f"{home.database_name}_new"
    await home.prepare()
    await project(home, "old-sync", BEFORE, 0)
    async with MongoReadModel.open(
        mongo_url, new, server_timeout=5, app_name="alias-test"
    ) as rebuilt:
        await rebuilt.prepare()
        await project(rebuilt, "rebuilt-sync", BEFORE[:2], 0)
    now = datetime.now(UTC)
    await home.alias.begin_switch(home.database_name, new, now=now, until=now + LEASE)
    await home.alias.complete_switch(home.database_name, new, now=now)

    moved_to = await home.follow_alias(wait_for_switch=True)
    pointer = await home.pointer()

    assert moved_to == new == home.database_name
    assert pointer is not None
    assert pointer.snapshot_id == "rebuilt-sync"


async def test_a_projector_finding_the_lease_run_out_calls_the_switch_off(
    home: MongoReadModel,
) -> None:
    old, new = home.database_name, f"{home.database_name}_new"
    now = datetime.now(UTC)
    await home.alias.begin_switch(old, new, now=now - LEASE, until=now)

    followed = await home.follow_alias(wait_for_switch=True)
    late = await home.alias.complete_switch(old, new, now=now - LEASE)
    alias = await home.alias.read()

    # The rebuild's clock may lag: its completion must still fail now.
    assert (followed, late) == (old, False)
    assert (alias.database, alias.switching_to) == (old, None)


async def test_following_without_waiting_does_not_wait_for_a_switch_under_way(
    home: MongoReadModel,
) -> None:
    old, new = home.database_name, f"{home.database_name}_new"
    now = datetime.now(UTC)
    await home.alias.begin_switch(old, new, now=now, until=now + LEASE)

    followed = await asyncio.wait_for(home.follow_alias(), timeout=5)

    assert followed == old == home.database_name
