"""`python -m randomuser_sim` as a process: the URL line, serving, a clean SIGTERM."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
import time
from typing import TYPE_CHECKING

import aiohttp
import pytest

from tests.support.eventually import eventually

if TYPE_CHECKING:
    from asyncio.subprocess import Process


async def url_from_log(process: Process) -> str:
    assert process.stderr is not None
    while True:
        line = (await asyncio.wait_for(process.stderr.readline(), 20)).decode()
        assert line, "the simulator exited before logging its URL"
        if found := re.search(r"http://\S+/api/", line):
            return found.group()


async def test_the_module_serves_on_the_logged_url_and_stops_cleanly_with_a_hang_open():
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "randomuser_sim",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--log-format",
        "text",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        url = await url_from_log(process)
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{url}?results=3&seed=cli") as response:
                assert response.status == 200
                assert len((await response.json())["results"]) == 3
            root = url.removesuffix("/api/")
            async with session.post(f"{root}/_sim/faults", json={"mode": "hang"}):
                pass
            hung = asyncio.create_task(session.get(url))

            async def hang_arrived() -> bool:
                async with session.get(f"{root}/_sim/stats") as stats:
                    return bool((await stats.json())["requests"] == 2)

            await eventually(hang_arrived, timeout=10, what="the hung request arrived")
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)

            assert await asyncio.wait_for(process.wait(), 10) == 0
            assert time.monotonic() - started < 3  # not the 5 s shutdown timeout
            with pytest.raises(aiohttp.ClientError):
                await hung
        assert process.stdout is not None
        assert await process.stdout.read() == b""
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
