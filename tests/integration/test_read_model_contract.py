"""The ReadModel contract: one test class, run on the in-memory model and on MongoDB."""

from __future__ import annotations

import gzip
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import quote

import pytest
from pymongo import AsyncMongoClient

from contracts.events import SyncCompleted, SyncFailed, UsersFetched
from contracts.users import User
from query_service.projection import ProjectionConfig, projection_handler
from query_service.read_model import MongoReadModel, ReadModel, ReadModelUnavailable
from query_service.records import (
    CHUNK_USERS,
    Completion,
    CountrySummary,
    CountryUsers,
    DeadLetter,
    Failure,
    Snapshot,
    SnapshotHead,
    SnapshotMeta,
    UserRow,
)
from tests.support.memory_read_model import InMemoryReadModel

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from contracts.codec import AnyMessage

T0 = datetime(2026, 3, 1, 8, 30, 15, 123000, tzinfo=UTC)
HOSTILE: tuple[UserRow, ...] = (
    {"name": "<script>alert(1)</script>", "gender": "male", "email": "x@example.com"},
    {"name": "Ольга Петрова", "gender": "female", "email": "olga@example.com"},
    {"name": "محمد", "gender": "male", "email": "m@example.com"},
    {"name": "Zoë 🙂 $set.x", "gender": "female", "email": "z@example.com"},
)


def rows(count: int, prefix: str = "User") -> tuple[UserRow, ...]:
    return tuple(
        {"name": f"{prefix} {i}", "gender": "male", "email": f"{prefix}{i}@x"}
        for i in range(count)
    )


def completion(batch_count: int = 1, fetched_at: datetime = T0) -> Completion:
    return Completion(
        batch_count=batch_count,
        user_count=3,
        dropped_count=2,
        dropped_reasons=(("bad.email", 1), ("$missing name", 1)),
        fetched_at=fetched_at,
        started_at=fetched_at - timedelta(seconds=2),
        command_id="cmd-1",
        seed="abc",
    )


def snapshot(
    snapshot_id: str, order_key: str, body: bytes = b'{"countries":[]}'
) -> Snapshot:
    return Snapshot(
        meta=SnapshotMeta(id=snapshot_id, synced_at=T0, user_count=3, country_count=1),
        order_key=order_key,
        countries=(CountrySummary(name="Norway", user_count=3, male=2, female=1),),
        countries_json=body,
        countries_gzip=gzip.compress(body, mtime=0),
        names_json=b'{"countries":[{"name":"Norway"}]}',
    )


@pytest.fixture(params=["in-memory", "mongodb"])
async def read_model(
    request: pytest.FixtureRequest, mongo_database: str
) -> AsyncIterator[ReadModel]:
    if request.param == "in-memory":
        yield InMemoryReadModel()
        return
    url: str = request.getfixturevalue("mongo_url")
    async with MongoReadModel.open(
        url, mongo_database, server_timeout=5.0, app_name=request.node.name[:100]
    ) as model:
        await model.prepare()
        try:
            yield model
        finally:
            client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(url)
            try:
                await client.drop_database(mongo_database)
            finally:
                await client.close()


class TestReadModelContract:
    """Every ReadModel behaves like this, whatever stores it."""

    async def test_preparing_again_keeps_the_data_and_the_one_batch_guarantee(
        self, read_model: ReadModel
    ) -> None:
        await read_model.stage_batch("s1", 0, {"Norway": rows(2)})

        await read_model.prepare()
        await read_model.stage_batch("s1", 0, {"Norway": rows(2)})

        staged = await read_model.staged_countries("s1")
        assert [(s.batch_index, s.country, s.users) for s in staged] == [
            (0, "Norway", rows(2))
        ]

    async def test_an_unknown_sync_has_no_record(self, read_model: ReadModel) -> None:
        assert await read_model.sync("nope") is None
        assert await read_model.pointer() is None

    async def test_staged_batches_round_trip_in_order_with_hostile_strings(
        self, read_model: ReadModel
    ) -> None:
        await read_model.stage_batch("s1", 1, {"Norway": rows(2), "Åland": HOSTILE})
        await read_model.stage_batch("s1", 0, {"Norway": HOSTILE, "A.$b": rows(1)})
        await read_model.stage_batch("other", 0, {"Norway": rows(5)})

        staged = await read_model.staged_countries("s1")

        assert [(s.batch_index, s.country) for s in staged] == [
            (0, "A.$b"),
            (0, "Norway"),
            (1, "Norway"),
            (1, "Åland"),
        ]
        assert staged[1].users == HOSTILE
        assert staged[3].users == HOSTILE
        # Staged without uuids: none read back.
        assert {s.uuids for s in staged} == {b""}
        norway = await read_model.staged_countries("s1", country="Norway")
        assert [(s.batch_index, s.country, s.users) for s in norway] == [
            (0, "Norway", HOSTILE),
            (1, "Norway", rows(2)),
        ]

    async def test_staging_a_batch_again_rewrites_the_same_documents(
        self, read_model: ReadModel
    ) -> None:
        await read_model.stage_batch("s1", 0, {"Norway": rows(3)})
        await read_model.stage_batch("s1", 0, {"Norway": rows(3)})

        staged = await read_model.staged_countries("s1")

        assert len(staged) == 1
        assert len(staged[0].users) == 3

    async def test_marking_batches_creates_the_sync_and_collects_indexes(
        self, read_model: ReadModel
    ) -> None:
        for index in (2, 0, 2):
            assert await read_model.mark_batch_staged("s1", index, now=T0)

        record = await read_model.sync("s1")

        assert record is not None
        assert record.state == "staging"
        assert record.staged_batches == {0, 2}
        assert record.first_seen_at == T0
        assert record.completion is None

    async def test_completion_before_batches_keeps_both(
        self, read_model: ReadModel
    ) -> None:
        assert await read_model.record_completion("s1", completion(2), now=T0)
        assert await read_model.mark_batch_staged("s1", 1, now=T0)
        assert await read_model.record_completion("s1", completion(2), now=T0)

        record = await read_model.sync("s1")

        assert record is not None
        assert record.state == "completed"
        assert record.staged_batches == {1}
        assert record.completion == completion(2)

    async def test_batches_before_completion_keep_both(
        self, read_model: ReadModel
    ) -> None:
        assert await read_model.mark_batch_staged("s1", 0, now=T0)

        assert await read_model.record_completion("s1", completion(1), now=T0)

        record = await read_model.sync("s1")
        assert record is not None
        assert (record.state, record.staged_batches) == ("completed", frozenset({0}))

    async def test_a_failed_sync_takes_no_more_batches_or_completion(
        self, read_model: ReadModel
    ) -> None:
        failure = Failure(reason="timeout", attempts=3, failed_at=T0)
        assert await read_model.mark_batch_staged("s1", 0, now=T0)
        assert await read_model.record_failure("s1", failure, now=T0)
        assert await read_model.record_failure("s1", failure, now=T0)

        assert not await read_model.mark_batch_staged("s1", 1, now=T0)
        assert not await read_model.record_completion("s1", completion(), now=T0)
        record = await read_model.sync("s1")
        assert record is not None
        assert (record.state, record.failure) == ("failed", failure)
        assert record.staged_batches == {0}

    async def test_a_promoted_sync_refuses_failure_batches_and_completion(
        self, read_model: ReadModel
    ) -> None:
        await read_model.record_completion("s1", completion(), now=T0)
        await read_model.mark_promoted("s1", now=T0)

        failure = Failure(reason="late", attempts=1, failed_at=T0)
        assert not await read_model.record_failure("s1", failure, now=T0)
        assert not await read_model.mark_batch_staged("s1", 0, now=T0)
        assert not await read_model.record_completion("s1", completion(), now=T0)
        record = await read_model.sync("s1")
        assert record is not None
        assert (record.state, record.promoted_at) == ("promoted", T0)

    async def test_a_failure_may_be_the_first_thing_seen_of_a_sync(
        self, read_model: ReadModel
    ) -> None:
        failure = Failure(
            reason="x", attempts=1, failed_at=T0, started_at=T0, command_id="c"
        )
        assert await read_model.record_failure("s1", failure, now=T0)

        record = await read_model.sync("s1")
        assert record is not None
        assert record.failure == failure

    async def test_staged_users_are_read_country_by_country_in_batch_order(
        self, read_model: ReadModel
    ) -> None:
        big = rows(CHUNK_USERS + 3)
        # Written out of order: the order read back is the read's own.
        await read_model.stage_batch("s1", 1, {"Norway": rows(2), "Chile": big})
        await read_model.stage_batch("s1", 0, {"Norway": HOSTILE})
        await read_model.stage_batch("other", 0, {"Brazil": rows(1)})

        # How a batch's users are split into parts is the store's own;
        # their order, batch by batch, is the contract.
        read = [
            (country, [(p.batch_index, user) for p in parts for user in p.users])
            async for country, parts in read_model.staged_by_country("s1")
        ]

        assert read == [
            ("Chile", [(1, user) for user in big]),
            ("Norway", [(0, user) for user in HOSTILE] + [(1, u) for u in rows(2)]),
        ]
        assert [c async for c in read_model.staged_by_country("none")] == []

    async def test_a_failure_keeps_its_kind(self, read_model: ReadModel) -> None:
        failure = Failure("HTTP 502", 3, T0, kind="http_error", command_id="c1")

        await read_model.record_failure("s1", failure, now=T0)

        record = await read_model.sync("s1")
        assert record is not None
        assert record.failure == failure

    async def test_discarding_a_batch_leaves_the_others(
        self, read_model: ReadModel
    ) -> None:
        await read_model.stage_batch("s1", 0, {"Norway": rows(1), "Chile": rows(1)})
        await read_model.stage_batch("s1", 1, {"Norway": rows(1)})

        await read_model.discard_batch("s1", 0)

        assert [s.batch_index for s in await read_model.staged_countries("s1")] == [1]

    async def test_a_snapshot_round_trips_its_bytes_and_countries(
        self, read_model: ReadModel
    ) -> None:
        body = b'{"countries":[' + b"x" * 300_000 + b"]}"
        written = snapshot("s1", "k1", body)
        uk = CountryUsers(name="United Kingdom", users=rows(2000))
        # Another snapshot first: a read that ignored the id would find it.
        await read_model.write_snapshot(snapshot("s0", "k0"), [])

        await read_model.write_snapshot(written, [uk, CountryUsers("Ísland", HOSTILE)])
        await read_model.write_snapshot(written, [uk, CountryUsers("Ísland", HOSTILE)])

        assert await read_model.snapshot("s1") == written
        assert await read_model.country("s1", "United Kingdom") == uk
        iceland = await read_model.country("s1", "Ísland")
        assert iceland is not None
        assert iceland.users == HOSTILE
        assert await read_model.country("s1", "Atlantis") is None
        assert await read_model.country("s2", "United Kingdom") is None
        assert await read_model.snapshot("s2") is None

    async def test_a_snapshot_head_has_everything_but_the_bodies_and_their_sizes(
        self, read_model: ReadModel
    ) -> None:
        body = b'{"countries":[' + b"y" * 200_000 + b"]}"
        written = snapshot("s1", "k1", body)
        await read_model.write_snapshot(written, [])

        head = await read_model.snapshot_head("s1")

        assert head == SnapshotHead(
            meta=written.meta,
            countries=written.countries,
            names_json=written.names_json,
            countries_json_size=len(body),
            countries_gzip_size=len(written.countries_gzip),
        )
        assert await read_model.snapshot_head("s2") is None

    async def test_the_pointer_only_moves_forward(self, read_model: ReadModel) -> None:
        assert await read_model.move_pointer("b", "20260101T000000000000Z/b")
        assert not await read_model.move_pointer("a", "20251231T235959999999Z/z")
        assert await read_model.move_pointer("b", "20260101T000000000000Z/b")
        assert await read_model.move_pointer("c", "20260101T000000000000Z/c")
        assert not await read_model.move_pointer("b", "20260101T000000000000Z/b")
        assert await read_model.move_pointer("d", "20260101T000000000001Z/a")

        pointer = await read_model.pointer()

        assert pointer is not None
        assert (pointer.snapshot_id, pointer.order_key) == (
            "d",
            "20260101T000000000001Z/a",
        )

    async def test_only_active_syncs_are_superseded(
        self, read_model: ReadModel
    ) -> None:
        await read_model.mark_batch_staged("active", 0, now=T0)
        await read_model.record_completion("done", completion(), now=T0)
        await read_model.mark_promoted("done", now=T0)

        await read_model.mark_superseded("active", "newer exists", now=T0)
        await read_model.mark_superseded("done", "newer exists", now=T0)

        active = await read_model.sync("active")
        done = await read_model.sync("done")
        assert active is not None
        assert done is not None
        assert (active.state, active.superseded_reason) == (
            "superseded",
            "newer exists",
        )
        assert active.superseded_at == T0
        assert done.state == "promoted"

    async def test_stale_active_syncs_are_abandoned(
        self, read_model: ReadModel
    ) -> None:
        await read_model.mark_batch_staged("old", 0, now=T0)
        await read_model.mark_batch_staged("young", 0, now=T0 + timedelta(hours=1))
        await read_model.record_failure(
            "old-failed", Failure("x", 1, T0), now=T0 - timedelta(days=1)
        )

        abandoned = await read_model.abandon_stale_syncs(
            before=T0 + timedelta(minutes=1), now=T0 + timedelta(hours=2)
        )

        assert abandoned == 1
        states = {
            sid: record.state
            for sid in ("old", "young", "old-failed")
            if (record := await read_model.sync(sid))
        }
        assert states == {
            "old": "superseded",
            "young": "staging",
            "old-failed": "failed",
        }

    async def test_garbage_collection_keeps_the_newest_and_the_current_snapshot(
        self, read_model: ReadModel
    ) -> None:
        for number in range(5):
            sid = f"s{number}"
            await read_model.write_snapshot(
                snapshot(sid, f"k{number}"), [CountryUsers("Norway", rows(1))]
            )
        await read_model.move_pointer("s1", "k1")

        await read_model.collect_garbage(snapshots_kept=2)

        kept = [
            sid
            for sid in ("s0", "s1", "s2", "s3", "s4")
            if await read_model.snapshot(sid)
        ]
        assert kept == ["s1", "s3", "s4"]
        heads = [
            sid
            for sid in ("s0", "s1", "s2", "s3", "s4")
            if await read_model.snapshot_head(sid)
        ]
        assert heads == ["s1", "s3", "s4"]
        listed, total = await read_model.snapshots(skip=0, limit=10)
        assert ([meta.id for meta in listed], total) == (["s1"], 1)
        assert await read_model.country("s0", "Norway") is None
        assert await read_model.country("s1", "Norway") is not None

    async def test_the_kept_snapshots_are_listed_newest_first_up_to_the_current(
        self, read_model: ReadModel
    ) -> None:
        assert await read_model.snapshots(skip=0, limit=10) == ([], 0)
        for number in (3, 1, 4, 2):
            await read_model.write_snapshot(
                snapshot(f"s{number}", f"k{number}"), [CountryUsers("Norway", rows(1))]
            )
        # s4 is written but not promoted: not part of the history yet.
        await read_model.move_pointer("s3", "k3")

        first, total = await read_model.snapshots(skip=0, limit=2)
        rest, _ = await read_model.snapshots(skip=2, limit=2)

        assert total == 3
        assert [meta.id for meta in first] == ["s3", "s2"]
        assert [meta.id for meta in rest] == ["s1"]
        assert first[0] == SnapshotMeta(
            id="s3", synced_at=T0, user_count=3, country_count=1
        )

    async def test_garbage_collection_clears_staged_data_of_finished_syncs_only(
        self, read_model: ReadModel
    ) -> None:
        for sid in ("failed", "promoted", "active"):
            await read_model.stage_batch(sid, 0, {"Norway": rows(1)})
            await read_model.mark_batch_staged(sid, 0, now=T0)
        await read_model.record_failure("failed", Failure("x", 1, T0), now=T0)
        await read_model.record_completion("promoted", completion(), now=T0)
        await read_model.mark_promoted("promoted", now=T0)

        await read_model.collect_garbage(snapshots_kept=3)
        await read_model.collect_garbage(snapshots_kept=3)

        assert await read_model.staged_countries("failed") == []
        assert await read_model.staged_countries("promoted") == []
        assert len(await read_model.staged_countries("active")) == 1

    async def test_discarding_a_snapshot_removes_its_countries(
        self, read_model: ReadModel
    ) -> None:
        await read_model.write_snapshot(
            snapshot("s1", "k1"), [CountryUsers("Norway", rows(1))]
        )

        await read_model.discard_snapshot("s1")

        assert await read_model.snapshot("s1") is None
        assert await read_model.snapshot_head("s1") is None
        assert await read_model.country("s1", "Norway") is None

    async def test_a_large_country_is_read_back_whole_and_by_chunk(
        self, read_model: ReadModel
    ) -> None:
        users = rows(2 * CHUNK_USERS + 5)
        await read_model.write_snapshot(
            snapshot("s1", "k1"), [CountryUsers("Norway", users)]
        )

        whole = await read_model.country("s1", "Norway")
        assert whole == CountryUsers("Norway", users)
        assert await read_model.country_chunk("s1", "Norway", 0) == users[:CHUNK_USERS]
        assert await read_model.country_chunk("s1", "Norway", 2) == users[-5:]
        assert await read_model.country_chunk("s1", "Norway", 3) is None
        assert await read_model.country_chunk("s1", "Atlantis", 0) is None

    async def test_a_staged_batch_records_the_announced_batch_count(
        self, read_model: ReadModel
    ) -> None:
        await read_model.mark_batch_staged("s1", 0, now=T0, batch_count=7)
        await read_model.mark_batch_staged("s1", 3, now=T0, batch_count=7)

        record = await read_model.sync("s1")

        assert record is not None
        assert record.announced_batches == 7
        assert record.staged_batches == frozenset({0, 3})

    async def test_old_finished_syncs_are_pruned_but_the_newest_success_stays(
        self, read_model: ReadModel
    ) -> None:
        day = timedelta(days=1)
        assert await read_model.prune_syncs(before=T0) == 0
        # An older success whose id sorts after the newest one's.
        await read_model.record_completion("zz-older", completion(), now=T0 - day)
        await read_model.mark_promoted("zz-older", now=T0 - day)
        await read_model.record_completion("promoted", completion(), now=T0)
        await read_model.mark_promoted("promoted", now=T0)
        await read_model.record_failure("failed", Failure("x", 1, T0), now=T0)
        await read_model.stage_batch("gone", 0, {"Norway": rows(1)})
        await read_model.mark_batch_staged("gone", 0, now=T0)
        await read_model.record_failure("gone", Failure("x", 1, T0), now=T0)
        await read_model.mark_batch_staged("active", 0, now=T0)
        await read_model.record_failure("recent", Failure("x", 1, T0), now=T0 + day)

        pruned = await read_model.prune_syncs(before=T0 + day / 2)

        assert pruned == 3
        assert await read_model.sync("zz-older") is None
        assert await read_model.sync("failed") is None
        assert await read_model.sync("gone") is None
        assert await read_model.staged_countries("gone") == []
        for kept in ("promoted", "active", "recent"):
            assert await read_model.sync(kept) is not None

    async def test_dead_letters_are_counted_and_the_latest_kept(
        self, read_model: ReadModel
    ) -> None:
        first = DeadLetter(None, None, "unsupported schema_version 9", T0)
        second = DeadLetter("m1", "users.fetched", "body is not JSON", T0)

        await read_model.record_dead_letter(first)
        await read_model.record_dead_letter(second)

        status = await read_model.sync_status(recent=5)
        assert status.dead_lettered == 2
        assert status.last_dead_letter == second
        assert status.current is None  # nothing promoted yet

    async def test_sync_status_lists_recent_attempts_newest_first(
        self, read_model: ReadModel
    ) -> None:
        # Ids sort against time: newest first must come from first_seen_at.
        ids = ["e", "d", "c", "b", "a"]
        for minute, sid in enumerate(ids):
            await read_model.mark_batch_staged(
                sid, 0, now=T0 + timedelta(minutes=minute)
            )
        for sid in ("e", "c"):
            await read_model.record_failure(sid, Failure("boom", 2, T0), now=T0)
        for number, sid in ((1, "d"), (3, "b")):
            await read_model.record_completion(sid, completion(), now=T0)
            await read_model.mark_promoted(sid, now=T0)
            await read_model.write_snapshot(snapshot(sid, f"k{number}"), [])
        await read_model.move_pointer("b", "k3")

        status = await read_model.sync_status(recent=3)

        assert [r.sync_id for r in status.recent] == ["a", "b", "c"]
        assert status.last_failure is not None
        assert status.last_failure.sync_id == "c"
        assert status.last_success is not None
        assert status.last_success.sync_id == "b"
        assert status.last_success.completion == completion()
        assert status.current == snapshot("b", "k3").meta
        assert status.dead_lettered == 0
        assert status.recent[0].first_seen_at.utcoffset() == timedelta(0)

    async def test_any_delivery_order_projects_the_same_snapshot(
        self, read_model: ReadModel
    ) -> None:
        users = [
            User(
                name=f"{'Åbcdefgh'[i % 8]}person {i}",
                gender="male" if i % 3 else "female",
                email=f"p{i}@x",
                country=("Norway", "Brazil", "India")[i % 3],
            )
            for i in range(60)
        ]
        batches: list[AnyMessage] = [
            UsersFetched(
                sync_id="s1",
                batch_index=i,
                batch_count=4,
                users=tuple(users[i * 15 : (i + 1) * 15]),
            )
            for i in range(4)
        ]
        done = SyncCompleted(sync_id="s1", batch_count=4, user_count=60, fetched_at=T0)
        messages = [*batches, done, *batches[:2], done]
        random.Random(3).shuffle(messages)
        reference = InMemoryReadModel()
        await _deliver(reference, [*batches, done])

        await _deliver(read_model, messages)

        expected = await reference.snapshot("s1")
        assert await read_model.snapshot("s1") == expected
        assert await read_model.staged_countries("s1") == []
        pointer = await read_model.pointer()
        assert pointer is not None
        assert pointer.snapshot_id == "s1"
        await _deliver(read_model, [SyncFailed(sync_id="s1", reason="x", attempts=1)])
        record = await read_model.sync("s1")
        assert record is not None
        assert record.state == "promoted"

    async def test_each_user_keeps_its_uuid_through_staging_order_and_chunks(
        self, read_model: ReadModel
    ) -> None:
        # More than one chunk, over two batches, names out of order, one
        # user without a uuid: each stored uuid still belongs to its user.
        count = CHUNK_USERS + 7
        users = [
            User(
                name=f"Person {(i * 7919) % count:05d}",
                gender="female",
                email=f"p{i}@x",
                country="Norway",
                uuid=None if i == 3 else str(uuid.UUID(int=i + 1)),
            )
            for i in range(count)
        ]
        half = count // 2
        await _deliver(
            read_model,
            [
                UsersFetched(
                    sync_id="s1",
                    batch_index=1,
                    batch_count=2,
                    users=tuple(users[half:]),
                ),
                UsersFetched(
                    sync_id="s1",
                    batch_index=0,
                    batch_count=2,
                    users=tuple(users[:half]),
                ),
                SyncCompleted(
                    sync_id="s1", batch_count=2, user_count=count, fetched_at=T0
                ),
            ],
        )

        country = await read_model.country("s1", "Norway")

        assert country is not None
        by_email = {u.email: u.uuid for u in users}
        expected = b"".join(
            uuid.UUID(by_email[row["email"]]).bytes
            if by_email[row["email"]]
            else bytes(16)
            for row in country.users
        )
        assert len(country.users) == count
        assert country.uuids == expected


async def _deliver(read_model: ReadModel, messages: list[AnyMessage]) -> None:
    handle = projection_handler(read_model, ProjectionConfig())
    for message in messages:
        await handle(message)


async def test_an_unreachable_mongodb_is_reported_as_unavailable_quickly(
    tmp_path: Path,
) -> None:
    # A Unix socket that does not exist, rather than a closed TCP port: pymongo
    # 4.20 leaks the socket when client.close() cancels its monitor in the
    # middle of a TCP connect, which pytest reports as an unraisable warning.
    missing = quote(str(tmp_path / "mongodb-27017.sock"), safe="")
    url = f"mongodb://{missing}/?directConnection=true"
    async with MongoReadModel.open(
        url, "nowhere", server_timeout=0.3, app_name="unreachable"
    ) as model:
        started = time.monotonic()
        with pytest.raises(ReadModelUnavailable):
            await model.pointer()
        assert time.monotonic() - started < 3
