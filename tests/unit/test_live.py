"""The replica's event stream: events derived from sync records, the hub's
history and resume, and /queries/events over HTTP on the in-memory read model."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson
import pytest

from query_service.app import LIVE_FEED, create_app
from query_service.live import LiveEvent, LiveHub, TooManyClients, event_id, events_of
from query_service.records import Completion, Failure, SnapshotMeta, SyncRecord
from tests.support.memory_read_model import InMemoryReadModel
from tests.unit.test_query_app import T0, people, project_sync, settings

if TYPE_CHECKING:
    from aiohttp import ClientResponse


MS = timedelta(milliseconds=1)


def promoted(sync_id: str, at: datetime, users: int = 3) -> SyncRecord:
    return SyncRecord(
        sync_id=sync_id,
        state="promoted",
        first_seen_at=at,
        completion=Completion(
            batch_count=1,
            user_count=users,
            dropped_count=0,
            dropped_reasons=(),
            fetched_at=at,
            command_id="c-" + sync_id,
        ),
        promoted_at=at + 5 * MS,
    )


def meta(sync_id: str, at: datetime) -> SnapshotMeta:
    return SnapshotMeta(id=sync_id, synced_at=at, user_count=3, country_count=2)


def test_a_promoted_current_sync_is_started_completed_and_a_snapshot_in_order():
    events = events_of(promoted("s1", T0), meta("s1", T0))
    assert [(e.kind, e.data.get("state")) for e in events] == [
        ("sync", "started"),
        ("sync", "completed"),
        ("snapshot", None),
    ]
    assert [e.id for e in events] == sorted(e.id for e in events)
    assert events[1].data["command_id"] == "c-s1"
    assert events[2].data == {
        "id": "s1",
        "synced_at": "2026-01-01T12:00:00Z",
        "user_count": 3,
        "country_count": 2,
    }


def test_a_promoted_sync_that_is_no_longer_current_gives_no_snapshot_event():
    events = events_of(promoted("s1", T0), meta("s2", T0 + MS))
    assert [e.kind for e in events] == ["sync", "sync"]


def test_a_failed_sync_says_why():
    record = SyncRecord(
        sync_id="s9",
        state="failed",
        first_seen_at=T0,
        failure=Failure(
            reason="upstream answered 500",
            attempts=4,
            failed_at=T0 + 2 * MS,
            kind="http_error",
        ),
    )
    started, failed = events_of(record, None)
    assert started.data["state"] == "started"
    assert failed.data == {
        "sync_id": "s9",
        "command_id": None,
        "state": "failed",
        "at": "2026-01-01T12:00:00.002000Z",
        "kind": "http_error",
        "reason": "upstream answered 500",
        "attempts": 4,
    }


def test_ids_are_the_same_wherever_they_are_derived():
    # Two replicas (or one after a restart) derive the same ids from one record.
    assert [e.id for e in events_of(promoted("s1", T0), None)] == [
        e.id for e in events_of(promoted("s1", T0), None)
    ]
    assert event_id(T0, "started", "s1") < event_id(T0, "failed", "s1")
    assert event_id(T0, "completed", "s1") < event_id(T0, "snapshot", "s1")
    assert event_id(T0, "snapshot", "s1") < event_id(T0 + MS, "started", "s2")


def hub_with(*records: SyncRecord, current: SnapshotMeta | None = None) -> LiveHub:
    hub = LiveHub(max_clients=2, client_queue=4)
    for record in records:
        hub.publish(events_of(record, current))
    return hub


def test_publishing_an_event_twice_sends_it_once():
    hub = hub_with()
    client = hub.connect()
    events = events_of(promoted("s1", T0), None)
    assert hub.publish(events) == events
    assert hub.publish(events) == []
    assert client.queue.qsize() == len(events)


def test_a_client_that_resumes_gets_exactly_what_it_missed():
    hub = hub_with(promoted("s1", T0), promoted("s2", T0 + timedelta(seconds=1)))
    everything = list(hub)
    assert hub.since(everything[1].id) == everything[2:]
    assert hub.since(everything[-1].id) == []
    # An id older than the history (another replica's, long ago): by order.
    assert hub.since("0000000000000.0.x") == everything


def test_a_new_client_gets_where_things_stand():
    current = meta("s2", T0 + timedelta(seconds=1))
    hub = hub_with(
        promoted("s1", T0), promoted("s2", T0 + timedelta(seconds=1)), current=current
    )
    latest = hub.since(None)
    assert [(e.kind, e.data.get("state")) for e in latest] == [
        ("sync", "completed"),
        ("snapshot", None),
    ]
    assert latest[1].data["id"] == "s2"


def test_a_client_that_falls_a_whole_queue_behind_is_cut_off():
    hub = hub_with()
    slow = hub.connect()
    for second in range(3):
        hub.publish(
            events_of(promoted(f"s{second}", T0 + timedelta(seconds=second)), None)
        )
    assert slow.dropped
    queued = [slow.queue.get_nowait() for _ in range(slow.queue.qsize())]
    assert len(queued) == 4
    assert queued[-1] is None or all(isinstance(e, LiveEvent) for e in queued)


def test_clients_beyond_the_limit_are_refused():
    hub = hub_with()
    hub.connect()
    hub.connect()
    with pytest.raises(TooManyClients):
        hub.connect()


# -- over HTTP ------------------------------------------------------------------


async def read_events(response: ClientResponse, count: int) -> list[dict[str, Any]]:
    """The next `count` events of a stream, as {id, event, data} dicts."""
    events: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    async with asyncio.timeout(5):
        while len(events) < count:
            line = (await response.content.readline()).decode().rstrip("\n")
            if line == "":
                if "event" in current:
                    events.append(current)
                current = {}
            elif line.startswith(":") or line.startswith("retry:"):
                continue
            else:
                field, _, value = line.partition(": ")
                current[field] = orjson.loads(value) if field == "data" else value
    return events


@pytest.fixture
async def model() -> InMemoryReadModel:
    model = InMemoryReadModel()
    await project_sync(model, "s1", people(12), T0)
    return model


@pytest.fixture
async def live_client(aiohttp_client, model: InMemoryReadModel):
    return await aiohttp_client(
        create_app(
            settings(live_max_clients=1, live_heartbeat_seconds=0.2), read_model=model
        )
    )


async def test_the_stream_starts_with_where_things_stand_and_a_retry_hint(live_client):
    async with live_client.get("/queries/events") as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/event-stream; charset=utf-8"
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Accel-Buffering"] == "no"
        assert "X-Request-ID" in response.headers
        first = (await response.content.readline()).decode()
        assert first == "retry: 2000\n"
        sync, snapshot = await read_events(response, 2)
        assert (sync["event"], sync["data"]["state"]) == ("sync", "completed")
        assert snapshot["event"] == "snapshot"
        assert snapshot["data"]["id"] == "s1"


async def test_a_new_snapshot_reaches_an_open_stream(live_client, model):
    async with live_client.get("/queries/events") as response:
        await read_events(response, 2)
        await project_sync(model, "s2", people(10), T0 + timedelta(minutes=1))
        # What the projector's notice would do (the test has no broker).
        await live_client.app[LIVE_FEED].on_notice("s2")
        events = await read_events(response, 3)
    assert [(e["event"], e["data"].get("state")) for e in events] == [
        ("sync", "started"),
        ("sync", "completed"),
        ("snapshot", None),
    ]
    assert events[-1]["data"]["id"] == "s2"


async def test_an_idle_stream_gets_heartbeats(live_client):
    async with live_client.get("/queries/events") as response:
        await read_events(response, 2)
        async with asyncio.timeout(5):
            line = await response.content.readline()
            while line == b"\n":
                line = await response.content.readline()
        assert line == b": heartbeat\n"


async def test_a_resumed_stream_sends_only_what_came_after(live_client):
    async with live_client.get("/queries/events") as response:
        first = await read_events(response, 2)
    async with live_client.get(
        "/queries/events", headers={"Last-Event-ID": first[0]["id"]}
    ) as response:
        (rest,) = await read_events(response, 1)
    assert rest["id"] == first[1]["id"]


async def test_a_malformed_last_event_id_is_a_400_problem(live_client):
    response = await live_client.get(
        "/queries/events", headers={"Last-Event-ID": "<script>"}
    )
    assert response.status == 400
    assert response.content_type == "application/problem+json"
    assert "Last-Event-ID" in (await response.json())["detail"]


async def test_clients_beyond_the_limit_get_a_503_problem(live_client):
    async with live_client.get("/queries/events") as held:
        await read_events(held, 2)
        response = await live_client.get("/queries/events")
        assert response.status == 503
        assert response.content_type == "application/problem+json"
        assert response.headers["Retry-After"] == "5"
        assert "1 clients" in (await response.json())["detail"]
