"""/queries/events through nginx: pushed snapshot and sync events, on time, and
resumed with Last-Event-ID after a replica restart without missing any."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

import aiohttp
import orjson
import pytest

from tests.e2e.test_faults_support import private_stack

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from tests.e2e.conftest import StackClient

PUSH_DEADLINE: Final = 1.0
"""Seconds from promotion (or sync.failed recorded) to the event at a client."""


class EventStream:
    """One SSE client through nginx: a task reads the stream as it arrives and
    notes the wall-clock time of each event."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.seen: list[tuple[dict[str, Any], float]] = []
        self._arrived = asyncio.Condition()
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        event: dict[str, Any] = {}
        while line := (await self.response.content.readline()).decode():
            line = line.rstrip("\n")
            if line == "" and "event" in event:
                async with self._arrived:
                    self.seen.append((event, time.time()))
                    self._arrived.notify_all()
                event = {}
            elif line and not line.startswith((":", "retry:")):
                name, _, value = line.partition(": ")
                event[name] = orjson.loads(value) if name == "data" else value

    async def until(
        self, wanted: Callable[[dict[str, Any]], bool], timeout: float = 30
    ) -> tuple[dict[str, Any], float]:
        """The first event for which `wanted(event)` holds, and when it arrived."""

        def found() -> tuple[dict[str, Any], float] | None:
            return next(((e, t) for e, t in self.seen if wanted(e)), None)

        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(
                lambda: found() is not None or self._reader.done()
            )
        result = found()
        assert result is not None, f"the stream ended; it sent {self.seen}"
        return result

    async def snapshot(
        self, snapshot_id: str, timeout: float = 30
    ) -> tuple[dict[str, Any], float]:
        """The `snapshot` event of `snapshot_id`, and when it arrived."""
        return await self.until(
            lambda e: e["event"] == "snapshot" and e["data"]["id"] == snapshot_id,
            timeout,
        )

    async def first(self, count: int, timeout: float = 30) -> list[dict[str, Any]]:
        """The first `count` events of the stream."""
        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(
                lambda: len(self.seen) >= count or self._reader.done()
            )
        return [event for event, _ in self.seen[:count]]

    def close(self) -> None:
        self._reader.cancel()


@contextlib.asynccontextmanager
async def events(
    base_url: str, last_event_id: str | None = None
) -> AsyncIterator[EventStream]:
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as session,
        session.get(f"{base_url}/queries/events", headers=headers) as response,
    ):
        assert response.status == 200, await response.text()
        assert response.headers["Content-Type"].startswith("text/event-stream")
        stream = EventStream(response)
        try:
            yield stream
        finally:
            stream.close()


def _when(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


async def test_a_snapshot_event_arrives_within_a_second_of_promotion(
    stack: StackClient,
) -> None:
    async with events(stack.base_url) as stream:
        command = await stack.trigger(results=40, seed="live-snapshot")
        attempt = await stack.attempt_of(command)
        event, arrived = await stream.snapshot(attempt["sync_id"])
    assert attempt["state"] == "promoted", attempt
    late = arrived - _when(attempt["promoted_at"])
    assert late <= PUSH_DEADLINE, f"snapshot event {late:.3f}s after promotion"
    assert event["data"]["user_count"] == 40
    # The snapshot the event names is what readers get now.
    body = await stack.get_json("/queries/countries")
    assert body["snapshot"]["id"] == attempt["sync_id"]


@pytest.mark.usefixtures("clean_faults")
async def test_a_failed_sync_event_arrives_within_a_second_with_its_reason(
    stack: StackClient,
) -> None:
    async with events(stack.base_url) as stream:
        await stack.fault("http_500", count=None)
        command = await stack.trigger(results=30, seed="live-failure")
        event, arrived = await stream.until(
            lambda e: (
                e["event"] == "sync"
                and e["data"].get("command_id") == command
                and e["data"]["state"] == "failed"
            )
        )
    attempt = await stack.attempt_of(command)
    assert attempt["state"] == "failed", attempt
    assert event["data"]["reason"] == attempt["reason"]
    # failed_at is the worker's time of giving up: the event comes after the
    # projector recorded it, so this bounds the whole path.
    late = arrived - _when(attempt["failed_at"])
    assert late <= PUSH_DEADLINE, f"failure event {late:.3f}s after sync.failed"


@pytest.mark.timeout(240)
async def test_after_a_replica_restart_a_resumed_client_misses_nothing(
    amqp_url: str, mongo_url: str
) -> None:
    async with private_stack(amqp_url, mongo_url, label="live-resume") as fs:
        client = fs.client
        first = await client.sync(results=20, seed="live-resume-1")
        async with events(client.base_url) as stream:
            seen, _ = await stream.snapshot(first["snapshot"]["id"])
        last_id = seen["id"]
        # Every replica restarts (their histories are gone) while a sync runs.
        replicas = [name for name in fs.ready_urls() if name.startswith("query-")]
        for name in replicas:
            await fs.stop_service(name, signal.SIGKILL)
        second = await client.trigger(results=25, seed="live-resume-2")
        for name in replicas:
            await fs.restart(name)
        attempt = await client.attempt_of(second)
        assert attempt["state"] == "promoted", attempt
        async with events(client.base_url, last_id) as stream:
            missed = await stream.first(3)
    kinds = [(e["event"], e["data"].get("state")) for e in missed]
    assert kinds == [("sync", "started"), ("sync", "completed"), ("snapshot", None)]
    assert {e["data"].get("sync_id", e["data"].get("id")) for e in missed} == {
        attempt["sync_id"]
    }
    assert all(e["id"] > last_id for e in missed)
