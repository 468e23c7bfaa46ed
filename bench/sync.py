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
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Final

from bench.broker import broker_rate
from bench.growth import measure_growth
from bench.report import (
    broker_pids,
    cpu_seconds,
    log,
    machine_description,
    peak_rss_mib,
    table,
)
from bench.stack import BenchOptions, BenchStack
from bench.sync_report import breakdown_table, cpu_table, ms, timeline_table
from bench.syncs import EventObserver, SyncRun, run_sync
from devstack.rabbit_cluster import RabbitCluster

if TYPE_CHECKING:
    from collections.abc import Sequence

SIZES: Final = (1_000, 2_000, 5_000, 10_000, 20_000)
GROWTH_SIZES: Final = (5_000, 20_000, 100_000, 500_000)
REPEATS: Final = 3


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
                    ms(first),
                    ms(run.visible),
                    ms(plain),
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


def cpu_by_process(bench: BenchStack) -> dict[str, float]:
    """CPU seconds used so far by each service, and by the RabbitMQ nodes."""
    used = {name: cpu_seconds(pid) for name, pid in bench.pids().items()}
    used["rabbitmq"] = sum(cpu_seconds(pid) for pid in broker_pids())
    return used


async def measure(
    bench: BenchStack,
    sizes: Sequence[int],
    repeats: int,
    cpu: dict[int, dict[str, float]],
) -> dict[int, list[SyncRun]]:
    """Run the syncs: a warm-up, then `repeats` of each size, smallest first;
    `cpu` gets each size's CPU seconds per sync by process."""
    observer = EventObserver(bench.config.amqp_url, bench.config.amqp_namespace)
    await observer.start()
    try:
        await run_sync(bench, 100, "bench-warm-up", observer)
        results: dict[int, list[SyncRun]] = {}
        for users in sizes:
            before = cpu_by_process(bench)
            for repeat in range(repeats):
                run = await run_sync(bench, users, f"bench{users}r{repeat}", observer)
                log(
                    f"{users} users: served by every replica after"
                    f" {run.visible * 1000:.0f} ms ({run.user_count} users)"
                )
                results.setdefault(users, []).append(run)
            after = cpu_by_process(bench)
            cpu[users] = {
                name: (after[name] - before.get(name, 0.0)) / repeats for name in after
            }
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
        cpu: dict[int, dict[str, float]] = {}
        results = asyncio.run(measure(bench, args.sizes, args.repeats, cpu))
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
    print(
        "\nCPU per sync by process (user + system, ms, mean of the repeats; the"
        " machine has 2 cores, so a sync cannot take less wall time than half"
        " the total):\n"
    )
    print(cpu_table(cpu))
    print("\nRabbitMQ alone, the same 2,000-user `users.fetched` messages:\n")
    print(broker)
    print("\nPeak RSS (VmHWM) of each service over the whole run, MiB:\n")
    print(table(["service", "peak RSS"], memory))
    print(f"\n(benchmark took {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
