"""The live read side: from promotion to what readers get, and many streams.

    python -m bench.live [--syncs 5] [--users 5000] [--clients 1000] [--hold 60]

1. Promotion to served-by-nginx for a plain reader: after each sync, a client
   that sends no validators polls `GET /queries/countries` through nginx every
   5 ms until the body's ETag names the new snapshot; the figure is that
   moment minus the snapshot's `promoted_at` (sync-status; one machine, one
   clock).
2. `--clients` Server-Sent Events streams held through nginx for `--hold`
   seconds: the replicas' resident memory before and after (VmRSS), then one
   sync, and the time from its `promoted_at` until its `snapshot` event has
   reached each client (median and slowest).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from bench.report import log, machine_description, table
from bench.stack import TOKEN, BenchOptions, BenchStack

POLL_SECONDS = 0.005


def _rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    return int(found[1]) / 1024 if found else float("nan")


def _when(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


async def trigger(
    session: aiohttp.ClientSession, base: str, users: int, seed: str
) -> str:
    async with session.post(
        f"{base}/commands/sync",
        json={"results": users, "seed": seed},
        headers={"Authorization": f"Bearer {TOKEN}"},
    ) as response:
        if response.status != 202:
            raise RuntimeError(f"POST /commands/sync: {await response.text()}")
        command: str = (await response.json())["command_id"]
        return command


async def promoted(
    session: aiohttp.ClientSession, base: str, command: str
) -> dict[str, Any]:
    """The attempt of `command` once promoted (polled from sync-status)."""
    while True:
        async with session.get(f"{base}/queries/sync-status") as response:
            status = await response.json()
        for attempt in status["recent"]:
            if attempt.get("command_id") == command and attempt["state"] == "promoted":
                return dict(attempt)
        await asyncio.sleep(0.05)


async def plain_reader(base: str, syncs: int, users: int) -> list[float]:
    """Seconds from promotion to a plain reader served the new snapshot."""
    late: list[float] = []
    async with aiohttp.ClientSession() as session:
        for index in range(syncs):
            async with session.get(f"{base}/queries/countries") as response:
                before = response.headers.get("ETag")
            command = await trigger(session, base, users, f"bench-live-{index}")
            while True:
                async with session.get(f"{base}/queries/countries") as response:
                    etag = response.headers.get("ETag")
                    body = await response.json()
                if etag not in (None, before):
                    served = time.time()
                    break
                await asyncio.sleep(POLL_SECONDS)
            attempt = await promoted(session, base, command)
            if body["snapshot"]["id"] != attempt["sync_id"]:
                raise RuntimeError(f"served {body['snapshot']}, promoted {attempt}")
            late.append(served - _when(attempt["promoted_at"]))
            log(f"sync {index + 1}: served {late[-1] * 1000:.1f} ms after promotion")
    return late


async def streams(
    bench: BenchStack, clients: int, hold: float, users: int
) -> dict[str, Any]:
    """Hold `clients` streams, then measure one event's fan-out and the RSS."""
    base = bench.base_url
    replicas = {n: p for n, p in bench.pids().items() if n.startswith("query-")}
    before = {name: _rss_mib(pid) for name, pid in replicas.items()}
    # For each client, when each snapshot event reached it.
    arrivals: list[dict[str, float]] = [{} for _ in range(clients)]
    connected = 0
    all_connected = asyncio.Event()

    async def client(session: aiohttp.ClientSession, index: int) -> None:
        nonlocal connected
        async with session.get(f"{base}/queries/events") as response:
            if response.status != 200:
                raise RuntimeError(f"/queries/events answered {response.status}")
            connected += 1
            if connected == clients:
                all_connected.set()
            kind = ""
            async for raw in response.content:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: ") and kind == "snapshot":
                    found = re.search(r'"id":"([^"]+)"', line)
                    if found:
                        arrivals[index][found[1]] = time.time()

    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=None)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        tasks = [asyncio.create_task(client(session, i)) for i in range(clients)]
        await asyncio.wait_for(all_connected.wait(), 120)
        log(f"{clients} streams open; holding them {hold:.0f} s")
        await asyncio.sleep(hold)
        held = {name: _rss_mib(pid) for name, pid in replicas.items()}
        async with aiohttp.ClientSession() as control:
            command = await trigger(control, base, users, "bench-live-fanout")
            # The snapshot id is known only once promoted: clients match it then.
            attempt = await promoted(control, base, command)
        wanted = attempt["sync_id"]
        promoted_at = _when(attempt["promoted_at"])
        deadline = time.monotonic() + 60
        while any(wanted not in seen for seen in arrivals):
            if time.monotonic() > deadline:
                raise RuntimeError("not every client got the snapshot event in 60 s")
            await asyncio.sleep(0.05)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    delays = sorted(seen[wanted] - promoted_at for seen in arrivals)
    return {
        "before": before,
        "held": held,
        "median": statistics.median(delays),
        "slowest": delays[-1],
        "count": len(delays),
    }


def main() -> None:
    """Run the live benchmark and print its report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--syncs", type=int, default=5)
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--hold", type=float, default=60.0)
    args = parser.parse_args()
    started = time.monotonic()
    with BenchStack(BenchOptions(access_log=True)) as bench:
        late = asyncio.run(plain_reader(bench.base_url, args.syncs, args.users))
        fanout = asyncio.run(streams(bench, args.clients, args.hold, args.users))
    print("\n".join(machine_description()))
    print(
        f"\nPromotion to served by nginx, plain reader (no validators), {args.users:,}"
        f" users, {args.syncs} syncs: median {statistics.median(late) * 1000:.1f} ms,"
        f" slowest {max(late) * 1000:.1f} ms"
    )
    print(
        f"\n{fanout['count']} SSE streams through nginx, held {args.hold:.0f} s;"
        f" one snapshot event from promotion to every client: median"
        f" {fanout['median'] * 1000:.1f} ms, slowest {fanout['slowest'] * 1000:.1f} ms"
    )
    rows = [
        [
            name,
            f"{fanout['before'][name]:.1f}",
            f"{fanout['held'][name]:.1f}",
            f"{fanout['held'][name] - fanout['before'][name]:+.1f}",
        ]
        for name in sorted(fanout["before"])
    ]
    print(table(["replica", "RSS before, MiB", "RSS holding, MiB", "extra"], rows))
    print(f"\n(benchmark took {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
