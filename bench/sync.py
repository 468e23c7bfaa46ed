"""`make bench-sync`: from `POST /commands/sync` to the new snapshot being served.

Starts a stack on free ports (simulated upstream), runs syncs of growing size,
and prints a Markdown report: the timeline of each size (median of the
repeats), where the time goes (from the services' logs), the rate of the
broker on the same messages, and the peak memory of every service.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

import aio_pika
import orjson

from bench.harness import (
    BenchStack,
    EventObserver,
    SyncRun,
    log,
    machine_description,
    peak_rss_mib,
    run_sync,
    table,
)
from common.amqp import AmqpPublisher, declare_projector_queue
from contracts.events import MAX_BATCH_USERS, UsersFetched
from contracts.topology import Topology
from contracts.users import User
from tests.support.broker import delete_topology

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

SIZES: Final = (1_000, 2_000, 5_000, 10_000, 20_000)
REPEATS: Final = 3
BROKER_MESSAGES: Final = 60


def _median(runs: Sequence[SyncRun], value: Callable[[SyncRun], float | None]) -> str:
    values = [v for run in runs if (v := value(run)) is not None]
    return f"{statistics.median(values) * 1000:,.0f}" if values else "—"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f}"


def timeline_table(results: dict[int, list[SyncRun]]) -> str:
    """Median timeline per sync size, in ms after the POST."""
    rows = []
    for users, runs in results.items():
        lag = [
            r.visible - r.completed_event
            for r in runs
            if r.completed_event is not None
        ]
        rows.append(
            [
                f"{users:,}",
                _median(runs, lambda r: r.accepted),
                _median(runs, lambda r: r.first_batch),
                _median(runs, lambda r: r.completed_event),
                _median(runs, lambda r: r.visible),
                " / ".join(_ms(r.visible) for r in runs),
                _median(runs, lambda r: r.nginx_revalidating),
                _median(runs, lambda r: r.nginx_plain),
                f"{statistics.median(lag) * 1000:,.0f}" if lag else "—",
                f"{runs[0].messages} / {runs[0].message_bytes / 1e6:.2f} MB",
            ]
        )
    return table(
        [
            "users",
            "202 accepted",
            "1st batch published",
            "sync.completed published",
            "**served by every replica**",
            "(each run)",
            "nginx, revalidating client",
            "nginx, plain client",
            "projection lag",
            "events / bytes",
        ],
        rows,
    )


def _log_times(path: Path, correlation_id: str) -> dict[str, float]:
    """Epoch seconds of the log lines of one sync, by what they say."""
    marks: dict[str, float] = {}
    for line in path.read_text().splitlines():
        if correlation_id not in line:
            continue
        try:
            entry: dict[str, Any] = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if entry.get("correlation_id") != correlation_id:
            continue
        at = datetime.fromisoformat(entry["time"]).timestamp()
        message = str(entry.get("message", ""))
        for mark in ("started", "fetched page", "completed", "promoted snapshot"):
            if mark in message:
                marks[mark] = at
    return marks


def breakdown_table(bench: BenchStack, results: dict[int, list[SyncRun]]) -> str:
    """Where the time of the last run of each size went, from the logs (ms)."""
    logs = bench.config.run_dir / "logs"
    rows = []
    for users, runs in results.items():
        run = runs[-1]
        worker = _log_times(logs / "sync-worker.log", run.correlation_id)
        projector = _log_times(logs / "projector.log", run.correlation_id)
        if {"started", "fetched page", "completed"} - set(worker) or (
            "promoted snapshot" not in projector
        ):
            continue
        rows.append(
            [
                f"{users:,}",
                _ms(worker["started"] - run.started_at),
                _ms(worker["fetched page"] - worker["started"]),
                _ms(worker["completed"] - worker["fetched page"]),
                _ms(projector["promoted snapshot"] - worker["completed"]),
                _ms(run.started_at + run.visible - projector["promoted snapshot"]),
            ]
        )
    return table(
        [
            "users",
            "POST → worker starts",
            "fetch (→ last page)",
            "validate + publish",
            "project + promote (after sync.completed)",
            "promoted → every replica serves it",
        ],
        rows,
    )


async def broker_rate(amqp_url: str, namespace: str) -> str:
    """Publish full 2,000-user batches with confirms into a quorum queue like the
    projector's, consume and ack them meanwhile: the broker's own ceiling."""
    topology = Topology(f"{namespace}_raw")
    users = tuple(
        User(
            name=f"User Number{i}",
            gender="female" if i % 2 else "male",
            email=f"user.number{i}@example.com",
            country="Switzerland",
            title="Ms",
            nat="CH",
            uuid=f"00000000-0000-4000-8000-{i:012d}",
        )
        for i in range(MAX_BATCH_USERS)
    )
    batches = [
        UsersFetched(
            sync_id="raw",
            batch_index=i,
            batch_count=BROKER_MESSAGES,
            users=users,
            correlation_id="raw",
        )
        for i in range(BROKER_MESSAGES)
    ]
    size = len(batches[0].model_dump_json())
    connection = await aio_pika.connect_robust(amqp_url)
    try:
        publisher = await AmqpPublisher.open(connection, topology)
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=16)
        queue = await declare_projector_queue(channel, topology, delivery_limit=5)
        done = asyncio.Event()
        received = 0

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            nonlocal received
            await message.ack()
            received += 1
            if received == BROKER_MESSAGES:
                done.set()

        await queue.consume(on_message)
        started = time.perf_counter()
        for batch in batches:
            await publisher.publish(batch)
        published = time.perf_counter() - started
        await asyncio.wait_for(done.wait(), timeout=60)
        elapsed = time.perf_counter() - started
    finally:
        await connection.close()
        await delete_topology(amqp_url, topology)
    rate = BROKER_MESSAGES / elapsed
    return table(
        ["messages", "bytes each", "publish with confirms", "until all acked", "msg/s", "MB/s"],
        [
            [
                BROKER_MESSAGES,
                f"{size:,}",
                f"{published * 1000:,.0f} ms",
                f"{elapsed * 1000:,.0f} ms",
                f"{rate:,.0f}",
                f"{rate * size / 1e6:,.0f}",
            ]
        ],
    )


async def measure(
    bench: BenchStack, sizes: Sequence[int], repeats: int
) -> dict[int, list[SyncRun]]:
    """Run the syncs: a warm-up, then `repeats` of each size, smallest first."""
    observer = EventObserver(bench.config.amqp_url, bench.config.amqp_namespace)
    await observer.start()
    try:
        await run_sync(bench, 100, "bench-warm-up", observer)
        results: dict[int, list[SyncRun]] = {}
        for users in sizes:
            for repeat in range(repeats):
                run = await run_sync(bench, users, f"bench{users}r{repeat}", observer)
                log(
                    f"{users} users: served by every replica after"
                    f" {run.visible * 1000:.0f} ms ({run.user_count} users)"
                )
                results.setdefault(users, []).append(run)
        return results
    finally:
        await observer.close()


def main() -> None:
    """Run the sync benchmark and print its report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--repeats", type=int, default=REPEATS)
    args = parser.parse_args()
    started = time.monotonic()
    log("starting the stack")
    with BenchStack() as bench:
        results = asyncio.run(measure(bench, args.sizes, args.repeats))
        memory = [
            [name, f"{peak_rss_mib(pid):,.0f}"] for name, pid in bench.pids().items()
        ]
        breakdown = breakdown_table(bench, results)
        broker = asyncio.run(
            broker_rate(bench.config.amqp_url, bench.config.amqp_namespace)
        )
    print("## Sync path (`make bench-sync`)\n")
    print("Machine:\n")
    print("\n".join(f"- {line}" for line in machine_description()))
    print(
        f"\nMedian of {args.repeats} syncs per size, ms after `POST /commands/sync`"
        " was sent (through nginx):\n"
    )
    print(timeline_table(results))
    print("\nWhere the time goes (last run of each size, from the services' logs, ms):\n")
    print(breakdown)
    print("\nRabbitMQ alone, the same 2,000-user `users.fetched` messages:\n")
    print(broker)
    print("\nPeak RSS (VmHWM) of each service over the whole run, MiB:\n")
    print(table(["service", "peak RSS"], memory))
    print(f"\n(benchmark took {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
