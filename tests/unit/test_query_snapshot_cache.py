"""A replica's snapshot cache: freshness, single-flight reads, outages."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from contracts.events import SyncCompleted, UsersFetched
from contracts.users import User
from query_service.projection import ProjectionConfig, projection_handler
from query_service.read_model import ReadModelUnavailable
from query_service.snapshot_cache import REFRESH_WAIT_SECONDS, SnapshotCache
from query_service.snapshot_files import stamp
from tests.support.memory_read_model import InMemoryReadModel

if TYPE_CHECKING:
    from query_service.records import Pointer, SnapshotHead

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class Ticks:
    """A manual monotonic clock."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def promote(model: InMemoryReadModel, sync_id: str, minutes: int) -> None:
    users = (User(name="Ann", gender="female", email="a@x", country="Chile"),)
    handle = projection_handler(model, ProjectionConfig())
    await handle(
        UsersFetched(sync_id=sync_id, batch_index=0, batch_count=1, users=users)
    )
    await handle(
        SyncCompleted(
            sync_id=sync_id,
            batch_count=1,
            user_count=1,
            fetched_at=T0 + timedelta(minutes=minutes),
        )
    )


@pytest.fixture
async def model() -> InMemoryReadModel:
    model = InMemoryReadModel()
    await promote(model, "s1", 0)
    return model


@pytest.fixture
def ticks() -> Ticks:
    return Ticks()


@pytest.fixture
async def cache(model, ticks):
    cache = SnapshotCache(model, poll_seconds=1.0, clock=ticks)
    yield cache
    await cache.close()


async def served_id(cache: SnapshotCache) -> str | None:
    served = await cache.current()
    return None if served is None else served.meta.id


async def test_within_the_poll_interval_answers_come_from_memory(cache, model, ticks):
    assert await served_id(cache) == "s1"
    await promote(model, "s2", 1)
    calls = model.calls["pointer"]
    ticks.now = 0.9

    assert await served_id(cache) == "s1"
    assert model.calls["pointer"] == calls


async def test_after_an_idle_spell_the_first_answer_is_already_fresh(
    cache, model, ticks
):
    assert await served_id(cache) == "s1"
    await promote(model, "s2", 1)
    ticks.now = 3600.0

    assert await served_id(cache) == "s2"


async def test_concurrent_requests_share_one_pointer_read(cache, model, ticks):
    await cache.current()
    ticks.now = 5.0
    calls = model.calls["pointer"]

    await asyncio.gather(*(cache.current() for _ in range(50)))

    assert model.calls["pointer"] == calls + 1


async def test_the_first_load_fails_loudly_without_the_database(ticks):
    model = InMemoryReadModel()
    model.available = False
    cache = SnapshotCache(model, poll_seconds=1.0, clock=ticks)

    with pytest.raises(ReadModelUnavailable):
        await cache.current()

    assert not cache.loaded
    await cache.close()


async def test_during_an_outage_the_snapshot_in_memory_is_served_until_recovery(
    cache, model, ticks
):
    assert await served_id(cache) == "s1"
    model.available = False
    ticks.now = 5.0
    assert await served_id(cache) == "s1"
    model.available = True
    await promote(model, "s2", 1)
    ticks.now = 10.0

    # While failing, a due request starts the refresh but does not wait for it.
    assert await served_id(cache) == "s1"
    await cache.refresh()

    assert await served_id(cache) == "s2"


class HangingReadModel(InMemoryReadModel):
    """Its pointer read hangs while `hang` is set, like a stalled database."""

    def __init__(self) -> None:
        super().__init__()
        self.hang = False
        self.release = asyncio.Event()

    async def pointer(self) -> Pointer | None:
        if self.hang:
            await self.release.wait()
        return await super().pointer()


async def test_a_stalled_database_delays_an_answer_by_the_refresh_wait_at_most(ticks):
    model = HangingReadModel()
    await promote(model, "s1", 0)
    cache = SnapshotCache(model, poll_seconds=1.0, clock=ticks)
    assert await served_id(cache) == "s1"
    model.hang = True
    ticks.now = 5.0

    started = time.monotonic()
    assert await served_id(cache) == "s1"

    assert time.monotonic() - started < REFRESH_WAIT_SECONDS + 0.5
    model.release.set()
    await cache.close()


async def test_a_country_is_read_once_per_snapshot(cache, model):
    served = await cache.current()
    assert served is not None

    countries = await asyncio.gather(*(served.country("Chile") for _ in range(10)))

    assert {c.name for c in countries if c} == {"Chile"}
    assert model.calls["country"] == 1
    assert await served.country("Atlantis") is None


async def test_switching_to_a_snapshot_reads_its_head_not_its_bodies(cache, model):
    served = await cache.current()
    assert served is not None

    assert model.calls["snapshot_head"] == 1
    assert model.calls["snapshot"] == 0
    stored = await model.snapshot("s1")
    assert stored is not None
    # The tags come from the recorded sizes: nginx's, for the same bytes.
    assert served.countries_tags == (
        f"{stamp('s1'):x}-{len(stored.countries_json):x}",
        f"{stamp('s1'):x}-{len(stored.countries_gzip):x}",
    )


async def test_the_bodies_are_read_once_when_first_needed(cache, model):
    served = await cache.current()
    assert served is not None
    stored = await model.snapshot("s1")
    assert stored is not None
    reads = model.calls["snapshot"]

    bodies = await asyncio.gather(
        *(served.countries_body(gzipped=bool(i % 2)) for i in range(10))
    )

    assert model.calls["snapshot"] == reads + 1
    assert set(bodies) == {stored.countries_json, stored.countries_gzip}
    assert await served.countries_body(gzipped=True) == stored.countries_gzip
    assert model.calls["snapshot"] == reads + 1


async def test_a_failed_body_read_is_tried_again_by_the_next_request(cache, model):
    served = await cache.current()
    assert served is not None
    model.available = False
    with pytest.raises(ReadModelUnavailable):
        await served.countries_body(gzipped=False)
    model.available = True

    assert await served.countries_body(gzipped=False) is not None


async def test_bodies_of_a_snapshot_deleted_meanwhile_are_none(cache, model):
    served = await cache.current()
    assert served is not None
    await model.discard_snapshot("s1")

    assert await served.countries_body(gzipped=False) is None


async def test_a_head_without_sizes_has_its_bodies_read_at_once(ticks):
    """A snapshot written before the sizes were recorded."""

    class Unsized(InMemoryReadModel):
        async def snapshot_head(self, snapshot_id: str) -> SnapshotHead | None:
            head = await super().snapshot_head(snapshot_id)
            if head is None:
                return None
            return dataclasses.replace(
                head, countries_json_size=None, countries_gzip_size=None
            )

    model = Unsized()
    await promote(model, "s1", 0)
    cache = SnapshotCache(model, poll_seconds=1.0, clock=ticks)
    served = await cache.current()
    await cache.close()

    assert served is not None
    stored = await model.snapshot("s1")
    assert stored is not None
    assert served.countries_tags[0] == f"{stamp('s1'):x}-{len(stored.countries_json):x}"
    reads = model.calls["snapshot"]
    assert await served.countries_body(gzipped=False) == stored.countries_json
    assert model.calls["snapshot"] == reads
