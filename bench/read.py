"""`make bench-read`: `GET /queries/countries` through nginx against nginx static.

Starts a stack on free ports (2 query replicas behind nginx, simulated
upstream), seeds snapshots of 100, 20,000 and 5,000 users with
`POST /commands/sync`, and for each one runs `wrk -t2 -c64 -d8s --latency`
against, in the same run:

- static: the same nginx binary serving the identical bytes from a file
  (`gzip_static on` with the same gzip bytes): the best possible answer;
- the stack's nginx (`/queries/` micro-cache in front of the replicas);
- one query replica alone, without nginx.

Then the paged country endpoint, and read throughput with 1, 2 and 4
replicas for clients that bypass the micro-cache (`Cache-Control: no-cache`,
what a browser's reload sends). Prints a Markdown report on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Final

import aiohttp

from bench.harness import (
    GZIP,
    IDENTITY,
    REVALIDATE,
    BenchOptions,
    BenchStack,
    StaticNginx,
    WrkResult,
    countries_bytes,
    log,
    machine_description,
    run_sync,
    run_wrk,
    table,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

SIZES: Final = (100, 20_000, 5_000)
"""5,000 last: the target size stays current for the paged and scale runs."""
REPLICA_COUNTS: Final = (1, 2, 4)


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
        ],
        body,
    )


def results_table(results: Sequence[WrkResult]) -> str:
    """Plain wrk figures."""
    return table(
        ["what", "req/s", "p50 ms", "p99 ms", "B/response", "errors"],
        [
            [
                r.label,
                *_cell(r),
                f"{r.bytes_per_request:,.0f}",
                str(r.errors),
            ]
            for r in results
        ],
    )


def _get(url: str, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 (local)
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return response.read(), dict(response.headers)


def check_same_bytes(url: str, identity: bytes, gzipped: bytes) -> None:
    """Fail unless `url` sends exactly these bodies (what wrk will measure)."""
    for body, headers in (
        (identity, {"Accept-Encoding": "identity"}),
        (gzipped, {"Accept-Encoding": "gzip"}),
    ):
        got, _ = _get(url, headers)
        if got != body:
            raise RuntimeError(f"{url} sent {len(got)} B, expected {len(body)} B")


async def _largest_country(url: str) -> str:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{url}/queries/countries/names") as response,
    ):
        names = await response.json()
    largest = max(names["countries"], key=lambda c: c["user_count"])
    return str(largest["name"])


def main() -> None:
    """Run the read benchmark and print its report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--no-replica", action="store_true")
    parser.add_argument("--no-extras", action="store_true", help="skip paged, scale")
    parser.add_argument("--cache-on-disk", action="store_true")
    args = parser.parse_args()
    seconds: int = args.seconds
    started = time.monotonic()
    comparisons: list[tuple[int, str, WrkResult, WrkResult]] = []
    alone: list[WrkResult] = []
    paged: list[WrkResult] = []
    scale: list[WrkResult] = []
    static_dir = Path(tempfile.mkdtemp(prefix="bench-static-", dir="/dev/shm"))
    static = StaticNginx(static_dir)
    log("starting the stack")
    options = BenchOptions(cache_on_tmpfs=not args.cache_on_disk)
    try:
        with BenchStack(options) as bench:
            static.start()
            nginx_url = f"{bench.base_url}/queries/countries"
            replica_url = f"{bench.replica_urls[0]}/queries/countries"
            for users in args.sizes:
                run = asyncio.run(run_sync(bench, users, f"bench-read-{users}"))
                log(f"snapshot of {run.user_count} users served")
                identity, gzipped = asyncio.run(countries_bytes(bench.replica_urls[0]))
                static.publish(identity, gzipped)
                check_same_bytes(static.url, identity, gzipped)
                check_same_bytes(nginx_url, identity, gzipped)
                for encoding, headers in (("identity", IDENTITY), ("gzip", GZIP)):
                    label = f"{users:,} users, {encoding}"
                    static_result = run_wrk(
                        f"static, {label}", static.url, headers, seconds=seconds
                    )
                    served = run_wrk(
                        f"nginx, {label}", nginx_url, headers, seconds=seconds
                    )
                    comparisons.append((users, encoding, static_result, served))
                    if not args.no_replica:
                        alone.append(
                            run_wrk(
                                f"one replica alone, {label}",
                                replica_url,
                                headers,
                                seconds=seconds,
                            )
                        )
            if not args.no_extras:
                country = urllib.parse.quote(
                    asyncio.run(_largest_country(bench.base_url))
                )
                path = f"/queries/countries/{country}/users?page=2&size=50"
                paged += [
                    run_wrk(
                        "paged, nginx, gzip",
                        f"{bench.base_url}{path}",
                        GZIP,
                        seconds=seconds,
                    ),
                    run_wrk(
                        "paged, nginx, identity",
                        f"{bench.base_url}{path}",
                        IDENTITY,
                        seconds=seconds,
                    ),
                    run_wrk(
                        "paged, one replica alone, identity",
                        f"{bench.replica_urls[0]}{path}",
                        IDENTITY,
                        seconds=seconds,
                    ),
                ]
                while len(bench.config.query_ports) < max(REPLICA_COUNTS):
                    bench.add_replica()
                for count in REPLICA_COUNTS:
                    origin = bench.nginx_for(bench.config.query_ports[:count])
                    scale.append(
                        run_wrk(
                            f"{count} replica(s), gzip, revalidating (bypasses the"
                            " micro-cache)",
                            f"{origin}/queries/countries",
                            (*GZIP, *REVALIDATE),
                            seconds=seconds,
                        )
                    )
    finally:
        static.stop()
        shutil.rmtree(static_dir, ignore_errors=True)
    print("## Read path (`make bench-read`)\n")
    print("Machine:\n")
    print("\n".join(f"- {line}" for line in machine_description()))
    print(
        f"\n`wrk -t2 -c64 -d{seconds}s --latency`, gzip runs with"
        " `-H 'Accept-Encoding: gzip'`. Static = the same nginx serving the"
        " identical bytes from a file (`gzip_static on`). Ratio = nginx→replicas"
        " req/s ÷ static req/s, same run.\n"
    )
    print(comparison_table(comparisons))
    if alone:
        print("\nOne query replica alone, without nginx:\n")
        print(results_table(alone))
    if paged:
        print(f"\nThe paged country endpoint (`{path}`):\n")
        print(results_table(paged))
    if scale:
        print("\nReplicas behind nginx, for clients that bypass the micro-cache:\n")
        print(results_table(scale))
    if comparisons:
        print("\nFor each run, the command was:\n")
        for _, _, static_result, served in comparisons[:2]:
            print(f"- `{static_result.command}`\n- `{served.command}`")
    print(f"\n(benchmark took {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
