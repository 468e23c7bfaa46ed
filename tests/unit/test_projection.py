"""Projection logic on the in-memory read model: idempotence, order, promotion."""

from __future__ import annotations

import asyncio
import gzip
import itertools
import random
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import orjson
import pytest
from prometheus_client import REGISTRY

from common.delivery import PoisonMessage, TransientError
from contracts.commands import SyncRequested
from contracts.events import SyncCompleted, SyncFailed, UsersFetched
from contracts.users import User
from query_service import views
from query_service.projection import (
    ProjectionConfig,
    dead_letter_recorder,
    projection_handler,
)
from query_service.read_model import ReadModelUnavailable
from query_service.records import StagedCountry, UserRow
from query_service.snapshot_build import build_countries, build_snapshot, order_key
from tests.support.memory_read_model import InMemoryReadModel

if TYPE_CHECKING:
    from common.consuming import Handler
    from contracts.codec import AnyMessage

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class Clock:
    """A settable clock for the projection."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def person(
    name: str, country: str = "Norway", gender: str = "female", email: str = ""
) -> User:
    return User.model_validate(
        {
            "name": name,
            "gender": gender,
            "email": email or f"{name.lower().replace(' ', '.')}@example.com",
            "country": country,
        }
    )


def sync_events(
    sync_id: str,
    users: list[User],
    *,
    batch_size: int,
    fetched_at: datetime = T0,
) -> tuple[list[UsersFetched], SyncCompleted]:
    chunks = [users[i : i + batch_size] for i in range(0, len(users), batch_size)]
    chunks = chunks or [[]]
    batches = [
        UsersFetched(
            sync_id=sync_id,
            batch_index=index,
            batch_count=len(chunks),
            users=tuple(chunk),
        )
        for index, chunk in enumerate(chunks)
    ]
    completed = SyncCompleted(
        sync_id=sync_id,
        batch_count=len(chunks),
        user_count=len(users),
        fetched_at=fetched_at,
    )
    return batches, completed


PEOPLE = [
    person("Zoe Alder", "Norway"),
    person("adam Berg", "Norway", "male"),
    person("Åsa Lind", "Sweden"),
    person("Adam Berg", "Norway", "male", email="a.berg@example.com"),
    person("Émile Roux", "France", "male"),
    person("Ola Nordmann", "Norway", "male"),
    person("Jean Dupont", "France", "male"),
    person("Kari Nordmann", "Norway"),
    person("Bo Ek", "United Kingdom", "male"),
]


@pytest.fixture
def model() -> InMemoryReadModel:
    return InMemoryReadModel()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def handle(model: InMemoryReadModel, clock: Clock) -> Handler:
    return projection_handler(model, ProjectionConfig(snapshots_kept=2, clock=clock))


async def deliver(handle: Handler, *messages: AnyMessage) -> None:
    for message in messages:
        await handle(message)


async def countries_of(model: InMemoryReadModel) -> dict[str, list[str]]:
    pointer = await model.pointer()
    assert pointer is not None
    snapshot = await model.snapshot(pointer.snapshot_id)
    assert snapshot is not None
    body = orjson.loads(snapshot.countries_json)
    return {c["name"]: [u["name"] for u in c["users"]] for c in body["countries"]}


async def test_a_sync_in_order_becomes_the_current_snapshot(model, handle):
    batches, completed = sync_events("s1", PEOPLE, batch_size=3)

    await deliver(handle, *batches, completed)

    pointer = await model.pointer()
    assert pointer is not None
    assert pointer.snapshot_id == "s1"
    record = await model.sync("s1")
    assert record is not None
    assert record.state == "promoted"


async def test_countries_are_sorted_by_name_and_users_by_folded_name_then_email(
    model, handle
):
    batches, completed = sync_events("s1", PEOPLE, batch_size=4)

    await deliver(handle, *batches, completed)

    assert await countries_of(model) == {
        # Code-point order of the case-folded names: no locale collation.
        "France": ["Jean Dupont", "Émile Roux"],
        "Norway": [
            "Adam Berg",  # a.berg@ sorts before adam.berg@
            "adam Berg",
            "Kari Nordmann",
            "Ola Nordmann",
            "Zoe Alder",
        ],
        "Sweden": ["Åsa Lind"],
        "United Kingdom": ["Bo Ek"],
    }
    snapshot = await model.snapshot("s1")
    assert snapshot is not None
    assert [c["name"] for c in orjson.loads(snapshot.countries_json)["countries"]] == [
        "France",
        "Norway",
        "Sweden",
        "United Kingdom",
    ]


async def test_every_delivery_order_with_duplicates_gives_the_same_snapshot(
    model, clock
):
    batches, completed = sync_events("s1", PEOPLE, batch_size=2)
    reference = InMemoryReadModel()
    await deliver(
        projection_handler(reference, ProjectionConfig(clock=clock)),
        *batches,
        completed,
    )
    expected = await reference.snapshot("s1")
    assert expected is not None
    shuffler = random.Random(7)
    for _ in range(20):
        messages: list[AnyMessage] = [*batches, completed, *batches, completed]
        shuffler.shuffle(messages)
        fresh = InMemoryReadModel()
        await deliver(
            projection_handler(fresh, ProjectionConfig(clock=clock)), *messages
        )
        snapshot = await fresh.snapshot("s1")
        assert snapshot == expected
        assert (await fresh.pointer()) == (await reference.pointer())


async def test_nothing_is_visible_until_the_last_batch_arrives(model, handle):
    batches, completed = sync_events("s1", PEOPLE, batch_size=2)

    await deliver(handle, completed, *batches[:-1])

    assert await model.pointer() is None
    record = await model.sync("s1")
    assert record is not None
    assert record.state == "completed"
    await deliver(handle, batches[-1])
    assert await model.pointer() is not None


async def test_nothing_is_visible_until_sync_completed_arrives(model, handle):
    batches, _ = sync_events("s1", PEOPLE, batch_size=2)

    await deliver(handle, *batches)

    assert await model.pointer() is None
    record = await model.sync("s1")
    assert record is not None
    assert record.staged_batches == frozenset(range(len(batches)))


async def test_a_redelivered_batch_is_not_written_twice(model, handle):
    batches, _ = sync_events("s1", PEOPLE, batch_size=3)

    await deliver(handle, batches[0], batches[0])

    assert model.calls["stage_batch"] == 1


async def test_redeliveries_after_promotion_change_nothing(model, handle):
    batches, completed = sync_events("s1", PEOPLE, batch_size=3)
    await deliver(handle, *batches, completed)
    before = await model.snapshot("s1")
    writes = model.calls["write_snapshot"]

    await deliver(handle, completed, *batches, completed)

    assert model.calls["write_snapshot"] == writes
    assert await model.snapshot("s1") == before
    assert await model.staged_countries("s1") == []


async def test_a_failed_sync_keeps_the_previous_snapshot_and_records_why(
    model, handle, clock
):
    batches, completed = sync_events("s1", PEOPLE, batch_size=3)
    await deliver(handle, *batches, completed)
    later_batches, _ = sync_events("s2", PEOPLE[:2], batch_size=1)
    clock.now = T0 + timedelta(minutes=5)

    failed = SyncFailed(sync_id="s2", reason="upstream 503", attempts=4)
    await deliver(handle, later_batches[0], failed, later_batches[1], failed)

    pointer = await model.pointer()
    assert pointer is not None
    assert pointer.snapshot_id == "s1"
    record = await model.sync("s2")
    assert record is not None
    assert record.state == "failed"
    assert record.failure is not None
    assert record.failure.reason == "upstream 503"
    assert record.failure.attempts == 4
    assert await model.staged_countries("s2") == []


async def test_a_failure_reported_for_a_promoted_sync_is_ignored(model, handle):
    batches, completed = sync_events("s1", PEOPLE, batch_size=3)
    await deliver(handle, *batches, completed)

    await deliver(handle, SyncFailed(sync_id="s1", reason="late", attempts=1))

    record = await model.sync("s1")
    assert record is not None
    assert record.state == "promoted"


async def test_an_older_sync_completing_late_never_replaces_a_newer_one(model, handle):
    old_batches, old_completed = sync_events("old", PEOPLE[:3], batch_size=2)
    new_batches, new_completed = sync_events(
        "new", PEOPLE[3:], batch_size=2, fetched_at=T0 + timedelta(minutes=1)
    )

    await deliver(handle, *new_batches, new_completed, *old_batches, old_completed)

    pointer = await model.pointer()
    assert pointer is not None
    assert pointer.snapshot_id == "new"
    record = await model.sync("old")
    assert record is not None
    assert record.state == "superseded"
    assert await model.snapshot("old") is None


@pytest.mark.parametrize("first", ["a", "b"])
async def test_syncs_fetched_at_the_same_instant_are_ordered_by_sync_id(
    model, handle, first
):
    syncs = {
        "a": sync_events("a", PEOPLE[:3], batch_size=3),
        "b": sync_events("b", PEOPLE[3:], batch_size=3),
    }
    second = "b" if first == "a" else "a"

    for sync_id in (first, second):
        batches, completed = syncs[sync_id]
        await deliver(handle, *batches, completed)

    pointer = await model.pointer()
    assert pointer is not None
    assert pointer.snapshot_id == "b"


async def test_only_the_newest_snapshots_are_kept(model, handle):
    for minute in range(4):
        batches, completed = sync_events(
            f"s{minute}",
            PEOPLE,
            batch_size=5,
            fetched_at=T0 + timedelta(minutes=minute),
        )
        await deliver(handle, *batches, completed)

    kept = [sid for sid in ("s0", "s1", "s2", "s3") if await model.snapshot(sid)]
    assert kept == ["s2", "s3"]
    assert await model.country("s0", "Norway") is None
    assert await model.country("s3", "Norway") is not None


async def test_a_sync_that_never_completes_is_abandoned_after_the_stale_delay(
    model, handle, clock
):
    stuck, _ = sync_events("stuck", PEOPLE, batch_size=2)
    await deliver(handle, stuck[0])
    clock.now = T0 + timedelta(hours=2)
    batches, completed = sync_events(
        "fresh", PEOPLE, batch_size=5, fetched_at=clock.now
    )

    await deliver(handle, *batches, completed)

    record = await model.sync("stuck")
    assert record is not None
    assert record.state == "superseded"
    assert await model.staged_countries("stuck") == []
    await deliver(handle, *stuck[1:])
    assert await model.staged_countries("stuck") == []


async def test_the_gzip_body_is_the_json_body_compressed(model, handle):
    batches, completed = sync_events("s1", PEOPLE, batch_size=3)
    await deliver(handle, *batches, completed)

    snapshot = await model.snapshot("s1")

    assert snapshot is not None
    assert gzip.decompress(snapshot.countries_gzip) == snapshot.countries_json
    body = orjson.loads(snapshot.countries_json)
    assert body["snapshot"] == {
        "id": "s1",
        "synced_at": "2026-01-01T12:00:00+00:00",
        "user_count": len(PEOPLE),
        "country_count": 4,
    }
    assert set(body["countries"][0]["users"][0]) == {"name", "gender", "email"}


async def test_the_names_body_counts_users_and_genders(model, handle):
    batches, completed = sync_events("s1", PEOPLE, batch_size=3)
    await deliver(handle, *batches, completed)

    snapshot = await model.snapshot("s1")

    assert snapshot is not None
    names = orjson.loads(snapshot.names_json)["countries"]
    assert names[1] == {
        "name": "Norway",
        "user_count": 5,
        "genders": {"male": 3, "female": 2},
    }


async def test_a_sync_with_an_empty_batch_is_still_promoted(model, handle):
    batches, completed = sync_events("s1", [], batch_size=3)

    await deliver(handle, *batches, completed)

    snapshot = await model.snapshot("s1")
    assert snapshot is not None
    assert orjson.loads(snapshot.countries_json)["countries"] == []


async def test_a_command_on_the_event_queue_is_poison(handle):
    with pytest.raises(PoisonMessage, match=r"^sync\.requested is a command, not"):
        await handle(SyncRequested())


async def test_an_unavailable_read_model_is_a_transient_error(model, handle):
    batches, _ = sync_events("s1", PEOPLE, batch_size=3)
    model.available = False

    with pytest.raises(TransientError):
        await handle(batches[0])

    assert issubclass(ReadModelUnavailable, TransientError)


def test_order_keys_sort_by_fetch_time_then_sync_id():
    times = [T0, T0 + timedelta(microseconds=1), T0 + timedelta(days=400)]
    keys = [order_key(t, s) for t, s in itertools.product(times, ["a", "b", "b0"])]

    assert keys == sorted(keys)
    assert order_key(T0.astimezone(), "a") == order_key(T0, "a")


def test_batches_beyond_the_announced_count_are_left_out():
    row: UserRow = {"name": "A", "gender": "male", "email": "a@x"}
    staged = [
        StagedCountry(batch_index=1, country="X", users=(row,)),
        StagedCountry(batch_index=0, country="X", users=(row,)),
        StagedCountry(batch_index=2, country="Y", users=(row,)),
    ]

    countries = build_countries(staged, batch_count=2)

    assert [(c.name, len(c.users)) for c in countries] == [("X", 2)]


async def test_months_of_hourly_syncs_keep_the_read_model_bounded(model, clock):
    handle = projection_handler(
        model,
        ProjectionConfig(
            snapshots_kept=2, sync_retention=timedelta(days=7), clock=clock
        ),
    )
    hours = 24 * 60
    for hour in range(hours):
        clock.now = T0 + timedelta(hours=hour)
        sync_id = f"s{hour:05d}"
        if hour % 5 == 4:
            await handle(SyncFailed(sync_id=sync_id, reason="upstream 500", attempts=1))
            continue
        batches, completed = sync_events(
            sync_id, PEOPLE[:3], batch_size=2, fetched_at=clock.now
        )
        for batch in batches:
            await handle(batch)
        await handle(completed)

    status = await model.sync_status(recent=10_000)
    # A week of records (hourly, one extra at the boundary), two snapshots.
    assert len(status.recent) <= 7 * 24 + 1
    assert min(r.first_seen_at for r in status.recent) >= clock.now - timedelta(days=7)
    assert status.current is not None
    assert status.current.id == f"s{hours - 2:05d}"
    assert await model.snapshot(f"s{hours - 3:05d}") is not None
    assert await model.snapshot(f"s{hours - 4:05d}") is None
    assert await model.staged_countries(f"s{hours - 2:05d}") == []


async def test_retention_keeps_the_newest_promoted_sync_however_old(model, clock):
    handle = projection_handler(
        model,
        ProjectionConfig(sync_retention=timedelta(days=1), clock=clock),
    )
    batches, completed = sync_events("old", PEOPLE, batch_size=5)
    for batch in batches:
        await handle(batch)
    await handle(completed)
    for day in range(1, 5):
        clock.now = T0 + timedelta(days=day)
        await handle(SyncFailed(sync_id=f"f{day}", reason="down", attempts=1))

    status = await model.sync_status(recent=100)

    assert status.last_success is not None
    assert status.last_success.sync_id == "old"
    assert {r.sync_id for r in status.recent} == {"old", "f3", "f4"}


async def test_a_running_sync_shows_its_progress_in_batches(model, handle):
    batches, _ = sync_events("running", PEOPLE, batch_size=2)
    for batch in batches[:2]:
        await handle(batch)

    [record] = (await model.sync_status(recent=5)).recent
    body = views.sync_body(record)

    assert (body["state"], body["batches_staged"], body["batch_count"]) == (
        "staging",
        2,
        5,
    )


def test_a_body_assembled_country_by_country_is_the_whole_body_byte_for_byte():
    countries = build_countries(
        [
            StagedCountry(
                0, "Norway", ({"name": "Ola", "gender": "male", "email": "o@x"},)
            ),
            StagedCountry(
                0, "Chile", ({"name": "Ana", "gender": "female", "email": "a@x"},)
            ),
        ],
        batch_count=1,
    )

    snapshot = build_snapshot("s1", T0, countries, order_key="k", gzip_level=1)

    assert snapshot.countries_json == orjson.dumps(
        views.countries_body(snapshot.meta, countries)
    )


async def test_the_completion_is_recorded_whole(model, handle):
    batches, _ = sync_events("s1", PEOPLE[:3], batch_size=3)
    completed = SyncCompleted(
        sync_id="s1",
        batch_count=1,
        user_count=3,
        dropped_count=2,
        dropped_reasons={"email.invalid": 2},
        fetched_at=T0,
        started_at=T0 - timedelta(seconds=3),
        command_id="cmd-7",
        seed="seed-7",
    )

    await deliver(handle, *batches, completed)

    record = await model.sync("s1")
    assert record is not None
    assert record.state == "promoted"
    completion = record.completion
    assert completion is not None
    assert (completion.dropped_count, completion.dropped_reasons) == (
        2,
        (("email.invalid", 2),),
    )
    assert (completion.started_at, completion.command_id, completion.seed) == (
        T0 - timedelta(seconds=3),
        "cmd-7",
        "seed-7",
    )


async def test_an_older_sync_is_superseded_without_writing_a_snapshot(model, handle):
    new_batches, new_completed = sync_events(
        "new", PEOPLE[3:], batch_size=3, fetched_at=T0 + timedelta(minutes=1)
    )
    old_batches, old_completed = sync_events("old", PEOPLE[:3], batch_size=3)
    await deliver(handle, *new_batches, new_completed)
    written = model.calls["write_snapshot"]

    await deliver(handle, *old_batches, old_completed)

    # The pointer is read first: the older sync is not even rendered.
    assert model.calls["write_snapshot"] == written
    record = await model.sync("old")
    assert record is not None
    assert record.superseded_reason == "a newer snapshot is current"


class RaceModel(InMemoryReadModel):
    """A read model whose sync stops being active between the batch's write
    and the recording of its index (a sync.failed handled in between)."""

    async def mark_batch_staged(self, sync_id, batch_index, *, now, batch_count=None):
        return False


async def test_a_batch_of_a_sync_that_ended_meanwhile_is_discarded(clock, caplog):
    caplog.set_level("INFO", logger="query_service")
    model = RaceModel()
    handle = projection_handler(model, ProjectionConfig(clock=clock))
    batches, _ = sync_events("s1", PEOPLE[:4], batch_size=2)

    await deliver(handle, batches[0])

    assert model.calls["discard_batch"] == 1
    assert await model.staged_countries("s1") == []
    assert "ignoring batch 0 of sync s1: no longer active" in caplog.messages


async def test_a_dead_letter_is_recorded_with_a_bounded_reason(model, clock):
    class Delivery:
        message_id = "m-9"
        type = "users.fetched"

    record = dead_letter_recorder(model, clock)

    await record(Delivery(), "x" * 1500)  # type: ignore[arg-type]

    status = await model.sync_status(recent=5)
    assert status.dead_lettered == 1
    letter = status.last_dead_letter
    assert letter is not None
    assert (letter.message_id, letter.message_type) == ("m-9", "users.fetched")
    assert letter.reason == "x" * 1000
    assert letter.at == clock()


async def test_a_failure_records_when_the_sync_started_and_its_command(model, handle):
    started = T0 - timedelta(seconds=9)
    await deliver(
        handle,
        SyncFailed(
            sync_id="s1",
            reason="HTTP 500",
            attempts=2,
            started_at=started,
            command_id="cmd-1",
            kind="rate_limited",
        ),
    )

    record = await model.sync("s1")
    assert record is not None
    assert record.failure is not None
    assert (record.failure.started_at, record.failure.command_id) == (started, "cmd-1")
    assert record.failure.kind == "rate_limited"


async def test_a_sync_still_running_is_not_abandoned_by_another_one(
    model, handle, clock
):
    running, _ = sync_events("running", PEOPLE, batch_size=2)
    await deliver(handle, running[0])
    clock.now = T0 + timedelta(minutes=1)
    batches, completed = sync_events("other", PEOPLE, batch_size=5, fetched_at=T0)

    await deliver(handle, *batches, completed)

    record = await model.sync("running")
    assert record is not None
    assert record.state == "staging"


async def test_countries_sort_by_folded_name_in_the_snapshot(model, handle):
    people = [
        person("P One", "bolivia"),
        person("P Two", "Chile"),
        person("P Three", "Argentina"),
    ]
    batches, completed = sync_events("s1", people, batch_size=3)

    await deliver(handle, *batches, completed)

    assert list(await countries_of(model)) == ["Argentina", "bolivia", "Chile"]


async def test_a_country_only_in_a_batch_beyond_the_count_is_left_out(model, handle):
    batches, completed = sync_events("s1", PEOPLE[:3], batch_size=3)
    # A batch that announced two batches, where sync.completed says one.
    extra = UsersFetched(
        sync_id="s1",
        batch_index=1,
        batch_count=2,
        users=(person("Early Bird", "Albania"),),
    )

    await deliver(handle, extra, *batches, completed)

    countries = await countries_of(model)
    assert "Albania" not in countries
    assert set(countries) == {p.country for p in PEOPLE[:3]}


async def test_the_promoted_snapshot_is_handed_to_on_promoted(model, clock):
    promoted = []

    async def on_promoted(snapshot):
        promoted.append(snapshot.meta.id)

    handle = projection_handler(
        model, ProjectionConfig(clock=clock, on_promoted=on_promoted)
    )
    batches, completed = sync_events("s1", PEOPLE[:3], batch_size=3)

    await deliver(handle, *batches, completed)

    assert promoted == ["s1"]


class LostRaceModel(InMemoryReadModel):
    """A read model whose pointer another projector moved between the read of
    the pointer and the compare-and-set."""

    async def move_pointer(self, snapshot_id, order_key):
        return False


async def test_a_sync_that_loses_the_pointer_race_is_superseded(clock):
    model = LostRaceModel()
    handle = projection_handler(model, ProjectionConfig(clock=clock))
    batches, completed = sync_events("s1", PEOPLE[:3], batch_size=3)
    superseded = {"outcome": "superseded"}
    name = "randomuser_snapshot_promotions_total"
    before = REGISTRY.get_sample_value(name, superseded) or 0.0

    await deliver(handle, *batches, completed)

    assert REGISTRY.get_sample_value(name, superseded) == before + 1

    record = await model.sync("s1")
    assert record is not None
    assert record.state == "superseded"
    assert await model.snapshot("s1") is None


async def test_what_the_projector_logs_names_the_sync_and_its_numbers(
    model, handle, clock, caplog
):
    caplog.set_level("INFO", logger="query_service")
    batches, completed = sync_events("s1", PEOPLE[:4], batch_size=2)
    announced = completed.model_copy(update={"user_count": 5})
    await deliver(handle, batches[0], announced)
    await deliver(handle, batches[1], batches[0])
    old, old_completed = sync_events(
        "s0", PEOPLE[:1], batch_size=1, fetched_at=T0 - timedelta(minutes=1)
    )
    await deliver(handle, *old, old_completed)
    await deliver(handle, SyncFailed(sync_id="s2", reason="HTTP 500", attempts=4))
    await deliver(handle, SyncFailed(sync_id="s1", reason="late", attempts=1))
    await deliver(handle, old_completed)
    stuck, _ = sync_events("stuck", PEOPLE, batch_size=2)
    await deliver(handle, stuck[0])
    clock.now = T0 + timedelta(days=400)
    await deliver(handle, SyncFailed(sync_id="s3", reason="x", attempts=1))

    countries = len({p.country for p in PEOPLE[:4]})
    for line in (
        "projected users.fetched of sync s1",
        "sync s1 waits for 1 of 2 batches",
        "sync s1 announced 5 users but staged 4",
        f"promoted snapshot s1: 4 users in {countries} countries",
        "ignoring batch 0 of promoted sync s1",
        "sync s0 is older than the current snapshot; not promoted",
        "sync s2 failed after 4 attempts (unknown): HTTP 500",
        "ignoring sync.failed of promoted sync s1",
        "ignoring sync.completed of inactive sync s0",
        "abandoned 1 syncs that never completed",
    ):
        assert line in caplog.messages, line
    assert any(
        re.fullmatch(r"deleted [1-9][0-9]* sync records older than the retention", m)
        for m in caplog.messages
    )


class LostMidPromotion(InMemoryReadModel):
    """A read model lost while the promotion reads the second country, with
    the first country's write still in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.write_started = asyncio.Event()
        self.write_cancelled = False

    async def staged_by_country(self, sync_id):
        async for entry in super().staged_by_country(sync_id):
            yield entry
            await asyncio.wait_for(self.write_started.wait(), timeout=5)
            raise ReadModelUnavailable("MongoDB unavailable (AutoReconnect)")

    async def write_country(self, snapshot_id, country):
        self.write_started.set()
        try:
            await asyncio.Event().wait()  # never done: still in flight
        except asyncio.CancelledError:
            self.write_cancelled = True
            raise


async def test_a_failure_mid_promotion_stops_the_write_in_flight_and_is_what_raises(
    clock,
):
    model = LostMidPromotion()
    handle = projection_handler(model, ProjectionConfig(clock=clock))
    batches, completed = sync_events("s1", PEOPLE, batch_size=len(PEOPLE))
    await deliver(handle, *batches)

    with pytest.raises(ReadModelUnavailable, match=r"AutoReconnect"):
        await asyncio.wait_for(handle(completed), timeout=10)

    assert model.write_cancelled
    assert await model.pointer() is None
