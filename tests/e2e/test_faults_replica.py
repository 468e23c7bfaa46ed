"""One query replica SIGKILLed under load: nginx routes around it, no request fails."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from urllib.parse import quote

import aiohttp
import pytest

from tests.e2e.test_faults_support import private_stack

REQUESTS = 1200
CLIENTS = 8
KILL_AFTER = 300


@pytest.mark.timeout(90)
async def test_a_replica_killed_under_load_fails_no_request_through_nginx(
    amqp_url: str, mongo_url: str
) -> None:
    async with private_stack(amqp_url, mongo_url, label="replica-kill") as fs:
        client = fs.client
        body = await client.sync(results=500, seed="replica-kill")
        country = quote(body["countries"][0]["name"])
        paths = (
            "/queries/countries",
            "/queries/countries/names",
            f"/queries/countries/{country}/users?page=1&size=20",
            "/queries/sync-status",
        )
        # "no-cache" makes nginx pass every read to a replica (no micro-cache).
        headers = {"Cache-Control": "no-cache"}
        statuses: Counter[int] = Counter()
        sent = 0
        killed = asyncio.Event()

        async def reader(session: aiohttp.ClientSession) -> None:
            nonlocal sent
            while sent < REQUESTS:
                path = paths[sent % len(paths)]
                sent += 1
                if sent == KILL_AFTER:
                    killed.set()
                async with session.get(
                    f"{client.base_url}{path}", headers=headers
                ) as response:
                    await response.read()
                    statuses[response.status] += 1

        async with aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=10)
        ) as session:
            readers = [asyncio.create_task(reader(session)) for _ in range(CLIENTS)]
            await killed.wait()
            # Requests are in flight on both replicas when one dies.
            assert await fs.stop_service("query-1", signal.SIGKILL) == -signal.SIGKILL
            await asyncio.gather(*readers)

        assert statuses == {200: REQUESTS}, statuses
        # nginx did meet the dead replica (in flight or connecting) and retried.
        dead = f'upstream: "{client.replica_urls[0]}/'
        assert dead in fs.log("nginx-error")
        readiness = await fs.readiness()
        assert readiness["query-1"] == 0
        assert readiness["query-2"] == 200
