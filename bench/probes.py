"""Probes of the read path besides wrk: same bytes everywhere, cold cache entries."""

from __future__ import annotations

import asyncio
import time
import urllib.request

import aiohttp


def _get(url: str, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 (local)
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return response.read(), dict(response.headers)


def check_same_bytes(url: str, identity: bytes, gzipped: bytes) -> None:
    """Fail unless `url` sends exactly these bodies (what wrk will measure)
    within 3 s (nginx's micro-cache may hold the previous snapshot for 1 s)."""
    deadline = time.monotonic() + 3
    for body, headers in (
        (identity, {"Accept-Encoding": "identity"}),
        (gzipped, {"Accept-Encoding": "gzip"}),
    ):
        while (got := _get(url, headers)[0]) != body:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} sent {len(got)} B, expected {len(body)} B")
            time.sleep(0.05)


async def largest_country(url: str) -> str:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{url}/queries/countries/names") as response,
    ):
        names = await response.json()
    largest = max(names["countries"], key=lambda c: c["user_count"])
    return str(largest["name"])


async def cold_entry(base_url: str, index: int, clients: int = 64) -> list[str]:
    """`clients` concurrent first requests for a URL nginx has not cached yet
    (a fresh query string): what the micro-cache does on a miss."""
    url = f"{base_url}/queries/countries?cold={index}-{time.time_ns()}"
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one() -> tuple[float, str]:
            started = time.perf_counter()
            async with session.get(url, headers={"Accept-Encoding": "gzip"}) as r:
                await r.read()
                return time.perf_counter() - started, r.headers.get("X-Cache", "-")

        answers = await asyncio.gather(*(one() for _ in range(clients)))
    latencies = sorted(seconds for seconds, _ in answers)
    statuses = sorted({status for _, status in answers})
    return [
        str(index + 1),
        str(clients),
        f"{latencies[len(latencies) // 2] * 1000:.1f}",
        f"{latencies[-1] * 1000:.1f}",
        ", ".join(
            f"{sum(1 for _, s in answers if s == status)} {status}"
            for status in statuses
        ),
    ]
