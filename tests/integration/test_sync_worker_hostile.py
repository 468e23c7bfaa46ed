"""Hostile upstream bodies: the worker's loop keeps answering, and each sync fails."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from typing import TYPE_CHECKING, Any, Final

import aiohttp
from aiohttp import web

from contracts.commands import SyncRequested
from contracts.events import SyncFailed
from tests.integration import test_sync_worker as worker_tests
from tests.integration.test_sync_worker import (
    record,
    running,
    send,
    worker_settings,
)
from tests.support.eventually import eventually

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

connection = worker_tests.connection
"""The test connection fixture of the worker's other tests."""

TEN_MB: Final = 10_000_000
BODIES: Final[dict[str, tuple[int, str, bytes]]] = {
    # The error page that froze the loop for 30 s at 480 KB, now over 10 MB.
    "unterminated_title": (502, "text/html", (b"<html><title " * (TEN_MB // 13))),
    "unterminated_tag_200": (200, "text/html", b"<title" + b"<a " * (TEN_MB // 3)),
    "deeply_nested": (200, "application/json", b"[" * TEN_MB),
    "huge_number": (
        200,
        "application/json",
        b'{"results":[' + b"9" * (TEN_MB - 20) + b"]}",
    ),
    "tiny_objects": (
        200,
        "application/json",
        b'{"results":[' + b"{}," * 99_999 + b"{}]}",
    ),
    "far_too_large": (200, "application/json", b" " * (3 * TEN_MB)),
}
"""Status, content type and body of each hostile answer, served for one sync."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class HealthProbe:
    """Asks /healthz again as soon as it answers, and keeps the slowest answer:
    one request always in flight, so no stall of the worker's loop falls
    between two probes."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.slowest = 0.0
        self.answers = 0

    async def run(self) -> None:
        async with aiohttp.ClientSession() as session:
            while True:
                started = time.perf_counter()
                async with session.get(self.url) as response:
                    assert response.status == 200
                    await response.read()
                self.slowest = max(self.slowest, time.perf_counter() - started)
                self.answers += 1


@contextlib.asynccontextmanager
async def probing(url: str) -> AsyncIterator[HealthProbe]:
    probe = HealthProbe(url)
    task = asyncio.create_task(probe.run())
    try:
        yield probe
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_hostile_bodies_fail_their_sync_while_health_answers_within_100_ms(
    amqp_url, topology, connection, aiohttp_server: Any
):
    served: list[str] = []

    async def hostile(request: web.Request) -> web.Response:
        kind = request.query["seed"]
        served.append(kind)
        status, content_type, body = BODIES[kind]
        return web.Response(status=status, body=body, content_type=content_type)

    app = web.Application()
    app.router.add_get("/api/", hostile)
    server = await aiohttp_server(app)
    port = free_port()
    settings = worker_settings(
        amqp_url,
        topology,
        randomuser_url=str(server.make_url("/api/")),
        fetch_max_attempts=1,
        health_port=port,
        # A self-hosted upstream: no budget waits between the hostile answers.
        upstream_users_per_window=1_000_000,
    )
    events = await record(connection, topology.events_exchange, "sync.failed")

    async with (
        running(settings, connection, topology),
        probing(f"http://127.0.0.1:{port}/healthz") as probe,
    ):
        for kind in BODIES:
            await send(connection, topology, SyncRequested(results=5_000, seed=kind))

        async def all_failed() -> bool:
            return len(events.of_type(SyncFailed)) == len(BODIES)

        await eventually(
            all_failed,
            timeout=40,
            what="one sync.failed per hostile body",
        )

    reasons = {f.reason for f in events.of_type(SyncFailed)}
    assert served == list(BODIES)
    assert any("HTML page" in r for r in reasons)
    assert any("oversized body" in r for r in reasons)
    assert any("invalid JSON" in r for r in reasons)
    assert any("asked for 5000 users, got 100000" in r for r in reasons)
    assert probe.answers >= 3
    assert probe.slowest < 0.1, f"/healthz took {probe.slowest * 1000:.0f} ms"
