"""Hostile upstream bodies: the worker's loop keeps answering, and each sync fails.

The worker and the hostile upstream each run as a process of their own, as in
production: the probe times the worker's loop alone, not a test process that
also writes 30 MB bodies and holds the heap of every test run before it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp

from contracts.commands import SyncRequested
from contracts.events import SyncFailed
from devstack.processes import die_with_parent
from devstack.readiness import free_port
from tests.integration import test_sync_worker as worker_tests
from tests.integration.test_sync_worker import consuming, record, send
from tests.support.eventually import eventually
from tests.support.hostile_upstream import BODIES

if TYPE_CHECKING:
    from asyncio.subprocess import Process
    from collections.abc import AsyncIterator, Mapping

    from aio_pika.abc import AbstractConnection

    from contracts.topology import Topology

connection = worker_tests.connection
"""The test connection fixture of the worker's other tests."""

ROOT = Path(__file__).resolve().parents[2]


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


@contextlib.asynccontextmanager
async def process(
    module: str, *arguments: str, log: Path, env: Mapping[str, str] | None = None
) -> AsyncIterator[Process]:
    """`python -m module` from the repository root until the block ends; then
    SIGTERM, and it must exit 0 within 15 s."""
    with log.open("wb") as sink:
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            module,
            *arguments,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdout=sink,
            stderr=sink,
            preexec_fn=die_with_parent,
        )
    try:
        yield child
    finally:
        if child.returncode is None:
            child.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(child.wait(), 15)
            except TimeoutError:
                child.kill()
                await child.wait()
    assert child.returncode == 0, f"{module} exited {child.returncode}:\n{output(log)}"


def output(log: Path) -> str:
    """What a child process printed, for a failure message."""
    return log.read_text(errors="replace")


async def answering(url: str, child: Process, log: Path) -> bool:
    assert child.returncode is None, output(log)
    try:
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            return response.status == 200
    except aiohttp.ClientError:
        return False


async def test_hostile_bodies_fail_their_sync_while_health_answers_within_100_ms(
    amqp_url: str,
    topology: Topology,
    connection: AbstractConnection,
    tmp_path: Path,
) -> None:
    upstream_port, health_port = free_port(), free_port()
    upstream = f"http://127.0.0.1:{upstream_port}"
    worker_env = {
        "AMQP_URL": amqp_url,
        "AMQP_NAMESPACE": topology.prefix,
        "RANDOMUSER_URL": f"{upstream}/api/",
        "RANDOMUSER_VERSION": "latest",
        "SYNC_INTERVAL_SECONDS": "0",
        "HEALTH_PORT": str(health_port),
        "FETCH_MAX_ATTEMPTS": "1",
        "FETCH_BACKOFF_SECONDS": "0",
        # A self-hosted upstream: no budget waits between the hostile answers.
        "UPSTREAM_USERS_PER_WINDOW": "1000000",
        "LOG_FORMAT": "text",
        "SHUTDOWN_TIMEOUT_SECONDS": "5",
    }
    events = await record(connection, topology.events_exchange, "sync.failed")
    upstream_log, worker_log = tmp_path / "upstream.log", tmp_path / "worker.log"

    async with (
        process(
            "tests.support.hostile_upstream",
            "--port",
            str(upstream_port),
            log=upstream_log,
        ) as upstream_process,
        process("sync_worker", log=worker_log, env=worker_env) as worker,
    ):
        await eventually(
            lambda: answering(f"{upstream}/_served", upstream_process, upstream_log),
            timeout=20,
            what="the hostile upstream answering",
        )
        health = f"http://127.0.0.1:{health_port}/healthz"
        await eventually(
            lambda: answering(health, worker, worker_log),
            timeout=20,
            what="the worker's health endpoint answering",
        )
        await eventually(
            lambda: consuming(connection, topology),
            timeout=20,
            what="the worker consuming",
        )
        async with probing(health) as probe:
            for kind in BODIES:
                await send(
                    connection, topology, SyncRequested(results=5_000, seed=kind)
                )

            async def all_failed() -> bool:
                return len(events.of_type(SyncFailed)) == len(BODIES)

            await eventually(
                all_failed, timeout=40, what="one sync.failed per hostile body"
            )
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{upstream}/_served") as response,
        ):
            served = await response.json()

    reasons = {f.reason for f in events.of_type(SyncFailed)}
    assert served == list(BODIES)
    assert any("HTML page" in r for r in reasons)
    assert any("oversized body" in r for r in reasons)
    assert any("invalid JSON" in r for r in reasons)
    assert any("asked for 5000 users, got 100000" in r for r in reasons)
    assert probe.answers >= 3
    assert probe.slowest < 0.1, f"/healthz took {probe.slowest * 1000:.0f} ms"
