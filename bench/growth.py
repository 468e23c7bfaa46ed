"""`make bench-sync` growth: one fresh stack per size, time, peak RSS and largest document.

Each size runs on its own stack, so the peak RSS (VmHWM) of every process is
that size's peak, not the peak of everything run before.
"""

from __future__ import annotations

import asyncio
import time
import urllib.parse
from typing import TYPE_CHECKING, Any

import aiohttp
import bson
from pymongo import AsyncMongoClient

from bench.probes import largest_country
from bench.report import log, peak_rss_mib, table
from bench.stack import BenchStack
from bench.syncs import run_sync
from query_service.read_model import STORED_COLLECTIONS

if TYPE_CHECKING:
    from collections.abc import Sequence


async def page_latency(replica_url: str) -> tuple[int, float, float]:
    """The largest country's size, and the time of its last page of 50 users:
    first read (its chunk from the database) and again (from the replica)."""
    name = await largest_country(replica_url)
    url = f"{replica_url}/queries/countries/{urllib.parse.quote(name)}/users"
    async with aiohttp.ClientSession() as session:
        async with session.get(url, params={"size": "50"}) as response:
            total = int((await response.json())["total"])
        times = []
        for _ in range(2):
            started = time.perf_counter()
            params = {"page": str(max(1, -(-total // 50))), "size": "50"}
            async with session.get(url, params=params) as response:
                await response.read()
            times.append(time.perf_counter() - started)
    return total, times[0], times[1]


async def largest_document(mongo_url: str, database: str) -> tuple[str, int]:
    """The collection and BSON size of the largest document read back."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    largest = ("", 0)
    try:
        for name in STORED_COLLECTIONS:
            async for doc in client[database][name].find({}):
                size = len(bson.encode(doc))
                if size > largest[1]:
                    largest = (name, size)
    finally:
        await client.close()
    return largest


def measure_growth(sizes: Sequence[int]) -> str:
    """Run one sync of each size on a fresh stack; a Markdown table of results."""
    rows = []
    names: list[str] = []
    for users in sizes:
        log(f"growth: starting a stack for {users:,} users")
        with BenchStack() as bench:
            within = max(60.0, users / 2_000)
            asyncio.run(run_sync(bench, 100, "growth-warm-up"))
            run = asyncio.run(run_sync(bench, users, f"growth{users}", within=within))
            peaks = {name: peak_rss_mib(pid) for name, pid in bench.pids().items()}
            country, first, again = asyncio.run(page_latency(bench.replica_urls[0]))
            config = bench.config
            collection, size = asyncio.run(
                largest_document(
                    f"mongodb://127.0.0.1:{config.mongo_port}/?directConnection=true",
                    config.mongo_database,
                )
            )
        names = names or list(peaks)
        revalidating = run.nginx_revalidating or run.visible
        log(f"growth: {users:,} users served after {revalidating:.2f} s")
        rows.append(
            [
                f"{users:,}",
                f"{revalidating:.2f}",
                f"{run.visible:.2f}",
                *(f"{peaks.get(name, 0):,.0f}" for name in names),
                f"{size / 1e6:.2f} ({collection})",
                f"{first * 1000:.1f} / {again * 1000:.1f} ({country:,} users)",
            ]
        )
    return table(
        [
            "users",
            "202 → revalidating read serves it (s)",
            "→ every replica (s)",
            *(f"{name} peak RSS (MiB)" for name in names),
            "largest document read back (MB)",
            "last page of the largest country, first / again (ms)",
        ],
        rows,
    )
