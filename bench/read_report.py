"""The Markdown report of `bench.read`: its tables and what they measured."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bench.report import machine_description, table

if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

    from bench.wrk import WrkResult


def _cell(result: WrkResult) -> list[str]:
    return [
        f"{result.requests_per_second:,.0f}",
        f"{result.p50_ms:.2f}",
        f"{result.p99_ms:.2f}",
    ]


def comparison_table(rows: list[tuple[int, str, WrkResult, WrkResult]]) -> str:
    """Static against the stack, per size and encoding, with the ratio."""
    body = []
    for users, encoding, static, served in sorted(rows, key=lambda r: (r[0], r[1])):
        ratio = served.requests_per_second / static.requests_per_second
        body.append(
            [
                f"{users:,}",
                encoding,
                f"{static.bytes_per_request:,.0f}",
                *_cell(static),
                *_cell(served),
                f"**{ratio:.2f}**",
                str(static.errors + served.errors),
                f"{static.foreign_cpu:.2f} / {served.foreign_cpu:.2f}",
            ]
        )
    return table(
        [
            "users",
            "encoding",
            "B/response",
            "static req/s",
            "static p50 ms",
            "static p99 ms",
            "nginx→replicas req/s",
            "p50 ms",
            "p99 ms",
            "ratio",
            "errors",
            "foreign load",
        ],
        body,
    )


def tail_table(tails: Sequence[tuple[int, str, list[float], list[float]]]) -> str:
    """The p99 of every round, and the ratio of the medians: one 8 s run's p99
    on a 2-core machine that also runs wrk moves by tens of percent between
    rounds of the same configuration, its median over rounds much less."""
    body = []
    for users, encoding, static, served in sorted(tails, key=lambda r: (r[0], r[1])):
        ratio = statistics.median(served) / statistics.median(static)
        body.append(
            [
                f"{users:,}",
                encoding,
                f"{statistics.median(static):.2f}",
                " / ".join(f"{v:.1f}" for v in static),
                f"{statistics.median(served):.2f}",
                " / ".join(f"{v:.1f}" for v in served),
                f"**{ratio:.2f}**",
            ]
        )
    return table(
        [
            "users",
            "encoding",
            "static p99 ms, median",
            "each round",
            "nginx p99 ms, median",
            "each round",
            "ratio of medians",
        ],
        body,
    )


def results_table(results: Sequence[WrkResult]) -> str:
    """Plain wrk figures."""
    return table(
        ["what", "req/s", "p50 ms", "p99 ms", "B/response", "errors", "foreign load"],
        [
            [
                r.label,
                *_cell(r),
                f"{r.bytes_per_request:,.0f}",
                str(r.errors),
                f"{r.foreign_cpu:.2f}",
            ]
            for r in results
        ],
    )


@dataclass
class Results:
    """Everything one run measured, for the report."""

    comparisons: list[tuple[int, str, WrkResult, WrkResult]] = field(
        default_factory=list
    )
    alone: list[WrkResult] = field(default_factory=list)
    paged: list[WrkResult] = field(default_factory=list)
    paged_path: str = ""
    cold: list[list[str]] = field(default_factory=list)
    scale: list[WrkResult] = field(default_factory=list)
    tails: list[tuple[int, str, list[float], list[float]]] = field(default_factory=list)
    """Per size and encoding, the p99 of every round: static, then nginx."""


def print_report(results: Results, args: argparse.Namespace) -> None:
    """The Markdown report, on stdout."""
    print("## Read path (`make bench-read`)\n")
    print("Machine:\n")
    print("\n".join(f"- {line}" for line in machine_description()))
    print(
        f"\n`wrk -t2 -c64 -d{args.seconds}s --latency`, gzip runs with"
        " `-H 'Accept-Encoding: gzip'`. Static = the same nginx serving the"
        " identical bytes from a file (`gzip_static on`). Ratio = nginx→replicas"
        " req/s ÷ static req/s, same run. At each size static and nginx ran in"
        f" {args.rounds} alternating rounds, best kept. Foreign load = cores used"
        " by processes outside the benchmark during the run (other work on this"
        " shared machine; runs above 0.1 were repeated once)."
        f" Access log (the gateway's JSON format, on disk): stack's nginx"
        f" {'on' if args.access_log else 'off'}, static"
        f" {'on' if args.static_access_log else 'off'}.\n"
    )
    print(comparison_table(results.comparisons))
    print(f"\nTails: the p99 of each of the {args.rounds} rounds, and their medians:\n")
    print(tail_table(results.tails))
    if results.alone:
        print("\nOne query replica alone, without nginx:\n")
        print(results_table(results.alone))
    if results.paged:
        print(f"\nThe paged country endpoint (`{results.paged_path}`):\n")
        print(results_table(results.paged))
    if results.cold:
        print(
            "\nA cold micro-cache entry: concurrent first requests for a URL"
            " nginx has not cached (gzip; ms; nginx's X-Cache status):\n"
        )
        headers = ["nginx", "probe", "clients", "median ms", "slowest ms", "X-Cache"]
        print(table(headers, results.cold))
    if results.scale:
        print("\nReplicas behind nginx, for clients that bypass the micro-cache:\n")
        print(results_table(results.scale))
    if results.comparisons:
        print("\nFor each run, the command was:\n")
        for _, _, static_result, served in results.comparisons[:2]:
            print(f"- `{static_result.command}`\n- `{served.command}`")
