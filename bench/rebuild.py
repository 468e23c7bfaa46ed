"""Rebuilding the read model from the event log: time and peak memory.

    python -m bench.rebuild [--snapshots 48] [--users 5000]

Starts a stack on free ports, runs `--snapshots` syncs of `--users` users
one after another (each promoted before the next), then runs
`randomuser-rebuild` in a process of its own, which replays the whole event
log into a fresh database and verifies every snapshot against the live read
model. Reported: the rebuild's wall time, its peak resident memory (the
process's ru_maxrss from wait4) and what it printed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time

import aiohttp

from bench.live import promoted, trigger
from bench.report import log, machine_description, table
from bench.stack import BenchOptions, BenchStack


async def _syncs(base: str, count: int, users: int) -> None:
    async with aiohttp.ClientSession() as session:
        for index in range(count):
            command = await trigger(session, base, users, f"bench-rebuild-{index}")
            await promoted(session, base, command)
            log(f"sync {index + 1}/{count} promoted")


def _rebuild(
    bench: BenchStack, database: str, *options: str
) -> tuple[float, float, str, int]:
    """Run randomuser-rebuild; wall seconds, peak RSS MiB, its output, exit status."""
    config = bench.config
    env = {
        **os.environ,
        "AMQP_URL": config.amqp_url,
        "AMQP_NAMESPACE": config.amqp_namespace,
        "MONGO_URL": bench.stack.mongo_url,
        "MONGO_DATABASE": config.mongo_database,
        "LOG_LEVEL": "WARNING",
    }
    started = time.monotonic()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "query_service.rebuild",
            "--database",
            database,
            *options,
        ],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    output = process.stdout.read() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return seconds, usage.ru_maxrss / 1024, output.strip(), process.returncode


def main() -> None:
    """Run the rebuild benchmark and print its report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--snapshots", type=int, default=48)
    parser.add_argument("--users", type=int, default=5000)
    args = parser.parse_args()
    extra = {"SNAPSHOTS_KEPT": str(max(48, args.snapshots))}
    with BenchStack(BenchOptions(extra_env=extra)) as bench:
        started = time.monotonic()
        asyncio.run(_syncs(bench.base_url, args.snapshots, args.users))
        syncing = time.monotonic() - started
        log("rebuilding")
        database = f"{bench.config.mongo_database}_rebuilt"
        seconds, rss, output, status = _rebuild(bench, database)
        log("rebuilding again, and switching readers to it")
        switched = _rebuild(
            bench, f"{bench.config.mongo_database}_switched", "--switch"
        )
    print("## Rebuilding the read model (`python -m bench.rebuild`)\n")
    print("\n".join(f"- {line}" for line in machine_description()))
    print(
        f"\n{args.snapshots} syncs of {args.users:,} users (taking {syncing:.0f} s),"
        " then `randomuser-rebuild` replays the event log into a fresh database"
        " and verifies every snapshot against the live one:\n"
    )
    print(
        table(
            ["snapshots", "users each", "rebuild wall s", "peak RSS MiB", "exit"],
            [
                [
                    f"{args.snapshots}{label}",
                    f"{args.users:,}",
                    f"{run_seconds:.1f}",
                    f"{run_rss:.0f}",
                    str(run_status),
                ]
                for label, (run_seconds, run_rss, _, run_status) in (
                    ("", (seconds, rss, output, status)),
                    (" (--switch)", switched),
                )
            ],
        )
    )
    print(f"\nIt printed:\n\n```\n{output}\n```")
    print(f"\nand with `--switch`:\n\n```\n{switched[2]}\n```")


if __name__ == "__main__":
    main()
