"""SIGUSR1's task dump: where each task of a worker waits."""

from __future__ import annotations

import asyncio
import logging
import os
import signal

from common.lifecycle import log_tasks, stop_event_on_signals
from tests.support.eventually import eventually


async def _waits_for(event: asyncio.Event, reached: asyncio.Event) -> None:
    await _inner_wait(event, reached)


async def _inner_wait(event: asyncio.Event, reached: asyncio.Event) -> None:
    reached.set()
    await event.wait()


async def test_the_dump_names_every_coroutine_a_task_waits_in(caplog) -> None:
    release, reached = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(_waits_for(release, reached), name="stuck-one")
    # The task sets `reached` and suspends in event.wait() in one step, so
    # once this wait returns it is parked in _inner_wait.
    async with asyncio.timeout(5):
        await reached.wait()
    caplog.set_level(logging.WARNING, logger="common.lifecycle")

    log_tasks()

    (line,) = [m for m in caplog.messages if m.startswith("task stuck-one ")]
    assert "_waits_for -> " in line
    assert "_inner_wait -> " in line
    assert line.index("_waits_for") < line.index("_inner_wait")
    release.set()
    await task


async def test_sigusr1_dumps_the_tasks_and_stops_nothing(caplog) -> None:
    stop = stop_event_on_signals()
    caplog.set_level(logging.WARNING, logger="common.lifecycle")
    loop = asyncio.get_running_loop()
    try:
        os.kill(os.getpid(), signal.SIGUSR1)

        async def dumped() -> bool:
            assert any("waits in" in m for m in caplog.messages)
            return True

        await eventually(dumped, timeout=5, interval=0.01, what="task dump")
        assert not stop.is_set()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1):
            loop.remove_signal_handler(sig)
