"""wrk runs, parsed, on a quiet machine: other processes' CPU is measured."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import resource
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from bench.report import log

if TYPE_CHECKING:
    from collections.abc import Sequence


WRK_THREADS: Final = 2
WRK_CONNECTIONS: Final = 64
WRK_SECONDS: Final = 8
GZIP: Final = ("Accept-Encoding: gzip",)
IDENTITY: Final = ()
REVALIDATE: Final = ("Cache-Control: no-cache",)
CLOCK_TICKS: Final = os.sysconf("SC_CLK_TCK")
QUIET_CORES: Final = 0.1
"""Foreign load above which a run is not trusted (in cores, of two)."""

_TIME_UNITS: Final = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4, "h": 3.6e6}
_SIZE_UNITS: Final = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}


@dataclass(frozen=True, slots=True)
class WrkResult:
    """One wrk run, as parsed from its `--latency` report."""

    label: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    bytes_per_request: float
    errors: int
    command: str
    foreign_cpu: float = 0.0
    """Cores used by processes outside this benchmark during the run."""


def _duration_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if match is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match[1]) * _TIME_UNITS[match[2]]


def parse_wrk(label: str, command: str, output: str) -> WrkResult:
    """The figures of one `wrk --latency` report.

    Raises:
        ValueError: the output is not a complete wrk report.
    """
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", output, re.MULTILINE))
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    total = re.search(
        r"^\s+(\d+) requests in [\d.]+\w+, ([\d.]+)(B|KB|MB|GB|TB) read",
        output,
        re.MULTILINE,
    )
    if rate is None or total is None or set(percentiles) != {"50", "99"}:
        raise ValueError(f"unexpected wrk output:\n{output}")
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    bad_status = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = sum(int(n) for n in socket_errors.groups()) if socket_errors else 0
    errors += int(bad_status[1]) if bad_status else 0
    requests = int(total[1])
    return WrkResult(
        label=label,
        requests_per_second=float(rate[1]),
        p50_ms=_duration_ms(percentiles["50"]),
        p99_ms=_duration_ms(percentiles["99"]),
        bytes_per_request=float(total[2]) * _SIZE_UNITS[total[3]] / max(requests, 1),
        errors=errors,
        command=command,
    )


def _busy_ticks() -> int:
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    return int(fields[1]) + int(fields[2]) + int(fields[3])  # user, nice, system


def _own_ticks() -> int:
    """CPU ticks of this process, its live descendants and its reaped children.

    BENCH_ROOT_PIDS names more process trees to count as ours (a stack
    started by another process, when experimenting).
    """
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            text = stat.read_text()
            fields = text[text.rindex(")") + 2 :].split()
            pid = int(stat.parent.name)
            parents[pid] = int(fields[1])
            ticks[pid] = int(fields[11]) + int(fields[12])  # utime, stime
    mine = {os.getpid()} | {
        int(pid) for pid in os.environ.get("BENCH_ROOT_PIDS", "").split(",") if pid
    }
    grew = True
    while grew:
        found = {pid for pid, ppid in parents.items() if ppid in mine} - mine
        grew = bool(found)
        mine |= found
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    return sum(ticks.get(pid, 0) for pid in mine) + round(
        (reaped.ru_utime + reaped.ru_stime) * CLOCK_TICKS
    )


class ForeignLoad:
    """Measures the CPU other people's processes used meanwhile, in cores.

    Load generator and servers share two cores: a run during which
    something else was busy is not comparable, so it is repeated.
    """

    def __init__(self) -> None:
        self._start = (time.monotonic(), _busy_ticks(), _own_ticks())

    def cores(self) -> float:
        """Cores used by foreign processes since this object was made."""
        started, busy, own = self._start
        elapsed = time.monotonic() - started
        foreign = (_busy_ticks() - busy) - (_own_ticks() - own)
        return max(foreign, 0) / CLOCK_TICKS / max(elapsed, 1e-3)


class QuietWaits:
    """How long runs may still wait for other processes to go quiet, in total,
    so that a benchmark stays within its few minutes on a busy machine."""

    budget: float = float(os.environ.get("BENCH_WAIT_BUDGET_SECONDS", "60"))


def wait_for_quiet(limit: float = QUIET_CORES) -> float:
    """Wait (within the remaining budget) until foreign processes use less
    than `limit` cores; the last figure."""
    while True:
        probe = ForeignLoad()
        time.sleep(1)
        load = probe.cores()
        if load < limit or QuietWaits.budget <= 0:
            return load
        QuietWaits.budget -= 1
        log(f"waiting: other processes use {load:.2f} cores")


def run_wrk(
    label: str,
    url: str,
    headers: Sequence[str] = (),
    *,
    seconds: int = WRK_SECONDS,
    connections: int = WRK_CONNECTIONS,
    attempts: int = 2,
) -> WrkResult:
    """Run `wrk -t2 -c64 -d8s --latency` against `url` and parse the report.

    Waits for a quiet machine first, and repeats a run during which other
    processes were busy (at most `attempts` runs; the quietest is kept).
    """
    argv = ["wrk", f"-t{WRK_THREADS}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for header in headers:
        argv += ["-H", header]
    argv.append(url)
    command = " ".join(f"'{a}'" if " " in a else a for a in argv)
    runs: list[WrkResult] = []
    while True:
        wait_for_quiet()
        probe = ForeignLoad()
        output = subprocess.run(
            argv, check=True, capture_output=True, text=True, timeout=seconds + 60
        ).stdout
        result = dataclasses.replace(
            parse_wrk(label, command, output), foreign_cpu=probe.cores()
        )
        log(
            f"{label}: {result.requests_per_second:,.0f} req/s, p50"
            f" {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms,"
            f" {result.bytes_per_request:,.0f} B/req, {result.errors} errors,"
            f" foreign load {result.foreign_cpu:.2f} cores"
        )
        runs.append(result)
        quiet = result.foreign_cpu < QUIET_CORES
        if quiet or len(runs) >= attempts or QuietWaits.budget <= 0:
            return min(runs, key=lambda r: r.foreign_cpu)
