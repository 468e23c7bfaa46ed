"""`make bench-sync`: from `POST /commands/sync` to the new snapshot being served.

Starts a stack on free ports (simulated upstream), runs syncs of growing size,
and prints a Markdown report: the timeline of each size (median of the
repeats), where the time goes (from the services' logs), the rate of the
broker on the same messages, and the peak memory of every service.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import orjson

from bench.broker import broker_rate
from bench.growth import measure_growth
from bench.report import log, machine_description, peak_rss_mib, table
from bench.stack import BenchOptions, BenchStack
from bench.syncs import EventObserver, SyncRun, run_sync
from devstack.rabbit_cluster import RabbitCluster

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

SIZES: Final = (1_000, 2_000, 5_000, 10_000, 20_000)
GROWTH_SIZES: Final = (5_000, 20_000, 100_000, 500_000)
REPEATS: Final = 3


def _median(runs: Sequence[SyncRun], value: Callable[[SyncRun], float | None]) -> str:
    values = [v for run in runs if (v := value(run)) is not None]
    return f"{statistics.median(values) * 1000:,.0f}" if values else "—"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f}"


def _publish_rate(runs: Sequence[SyncRun]) -> str:
    """Events per second and MB/s between the first batch and sync.completed
    arriving at a consumer of the events exchange (median run)."""
    spans = sorted(
        (
            (r.completed_event - r.first_batch, r)
            for r in runs
            if r.completed_event is not None and r.first_batch is not None
        ),
        key=lambda pair: pair[0],
    )
    if not spans:
        return "—"
    span, run = spans[len(spans) // 2]
    span = max(span, 1e-3)
    # The first batch arrives at the start of the span: not counted.
    later = run.messages - 1
    later_bytes = run.message_bytes * later / max(run.messages, 1)
    return f"{later / span:,.0f} msg/s, ~{later_bytes / 1e6 / span:,.0f} MB/s"


def timeline_table(results: dict[int, list[SyncRun]]) -> str:
    """Median timeline per sync size, in ms after the POST."""
    rows = []
    for users, runs in results.items():
        lag = [
            r.visible - r.completed_event for r in runs if r.completed_event is not None
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
                _publish_rate(runs),
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
            "publish rate (1st batch → sync.completed)",
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
        for mark in (
            "started",
            "fetched page",
            "completed",
            "projected users.fetched",
            "promoted snapshot",
        ):
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
        if {"started", "fetched page", "completed"} - set(worker) or {
            "projected users.fetched",
            "promoted snapshot",
        } - set(projector):
            continue
        staged = max(projector["projected users.fetched"], worker["completed"])
        rows.append(
            [
                f"{users:,}",
                _ms(worker["started"] - run.started_at),
                _ms(worker["fetched page"] - worker["started"]),
                _ms(worker["completed"] - worker["fetched page"]),
                _ms(staged - worker["completed"]),
                _ms(projector["promoted snapshot"] - staged),
                _ms(run.started_at + run.visible - projector["promoted snapshot"]),
            ]
        )
    return table(
        [
            "users",
            "POST → worker starts",
            "fetch (→ last page)",
            "validate + publish",
            "projector still staging after the last publish",
            "promote (read staged, build, write, move pointer)",
            "promoted → every replica serves it",
        ],
        rows,
    )


async def staleness(bench: BenchStack, runs: int) -> str:
    """How long a plain (non-revalidating) client keeps seeing the previous
    snapshot through nginx, while wrk keeps the micro-cache hot."""
    seconds = 60
    load = await asyncio.create_subprocess_exec(
        "wrk",
        "-t1",
        "-c8",
        f"-d{seconds}s",
        "-H",
        "Accept-Encoding: gzip",
        f"{bench.base_url}/queries/countries",
        stdout=asyncio.subprocess.DEVNULL,
    )
    rows = []
    try:
        await asyncio.sleep(1)
        for index in range(runs):
            run = await run_sync(
                bench, 200, f"bench-stale-{index}", revalidating_poll=False
            )
            first = min(run.replicas_visible)
            plain = run.nginx_plain or 0.0
            rows.append(
                [
                    index + 1,
                    _ms(first),
                    _ms(run.visible),
                    _ms(plain),
                    f"{(plain - first) * 1000:,.0f}",
                ]
            )
    finally:
        load.terminate()
        await load.wait()
    return table(
        [
            "run",
            "first replica serves it",
            "every replica",
            "nginx, plain client",
            "plain client behind the first replica",
        ],
        rows,
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
    parser.add_argument("--stale-runs", type=int, default=5)
    parser.add_argument(
        "--growth",
        type=int,
        nargs="*",
        metavar="USERS",
        help=f"only the growth table: one fresh stack per size (default {GROWTH_SIZES})",
    )
    parser.add_argument(
        "--broker-nodes",
        type=int,
        default=1,
        help="1: the machine's RabbitMQ; more: a local cluster of that many nodes",
    )
    args = parser.parse_args()
    started = time.monotonic()
    if args.growth is not None:
        report = measure_growth(args.growth or GROWTH_SIZES)
        print("## Sync growth (`make bench-sync-growth`)\n")
        print("\n".join(f"- {line}" for line in machine_description()))
        print("\nOne sync per size, each on a fresh stack, budget lifted:\n")
        print(report)
        print(f"\n(benchmark took {time.monotonic() - started:.0f} s)")
        return
    with contextlib.ExitStack() as resources:
        options = BenchOptions()
        if args.broker_nodes > 1:
            log(f"starting a {args.broker_nodes}-node RabbitMQ cluster")
            root = Path(resources.enter_context(tempfile.TemporaryDirectory()))
            cluster = RabbitCluster(root, size=args.broker_nodes)
            cluster.start()
            resources.callback(cluster.stop)
            options = BenchOptions(amqp_url=cluster.amqp_url)
        _run(args, options, started)


def _run(args: argparse.Namespace, options: BenchOptions, started: float) -> None:
    log("starting the stack")
    with BenchStack(options) as bench:
        results = asyncio.run(measure(bench, args.sizes, args.repeats))
        stale = (
            asyncio.run(staleness(bench, args.stale_runs)) if args.stale_runs else ""
        )
        memory = [
            [name, f"{peak_rss_mib(pid):,.0f}"] for name, pid in bench.pids().items()
        ]
        breakdown = breakdown_table(bench, results)
        broker = asyncio.run(
            broker_rate(bench.config.amqp_url, bench.config.amqp_namespace)
        )
    nodes = len(options.amqp_url.split(","))
    print(f"## Sync path (`make bench-sync`), RabbitMQ nodes: {nodes}\n")
    print("Machine:\n")
    print("\n".join(f"- {line}" for line in machine_description()))
    print(
        f"\nMedian of {args.repeats} syncs per size, ms after `POST /commands/sync`"
        " was sent (through nginx):\n"
    )
    print(timeline_table(results))
    print(
        "\nWhere the time goes (last run of each size, from the services' logs, ms):\n"
    )
    print(breakdown)
    if stale:
        print(
            "\nNon-revalidating clients through nginx (200-user syncs, ms after the"
            " POST, while `wrk -t1 -c8` reads `/queries/countries` with gzip):\n"
        )
        print(stale)
    print("\nRabbitMQ alone, the same 2,000-user `users.fetched` messages:\n")
    print(broker)
    print("\nPeak RSS (VmHWM) of each service over the whole run, MiB:\n")
    print(table(["service", "peak RSS"], memory))
    print(f"\n(benchmark took {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
