"""Reporting: progress lines, Markdown tables, the machine, peak memory."""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence


NGINX: Final = shutil.which("nginx") or "/usr/sbin/nginx"


def log(message: str) -> None:
    """Progress on stderr, so stdout carries only the report."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A Markdown table."""
    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
    ]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _first_line(argv: Sequence[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return (done.stdout or done.stderr).strip().splitlines()[0]


def _package(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def machine_description() -> list[str]:
    """One line per fact about this machine and the versions under test."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    meminfo = Path("/proc/meminfo").read_text()
    memory = re.search(r"^MemTotal:\s+(\d+) kB", meminfo, re.MULTILINE)
    rabbitmq = _first_line(["dpkg-query", "-W", "-f=${Version}", "rabbitmq-server"])
    return [
        f"nproc: {os.cpu_count()}; CPU: {model[1] if model else 'unknown'}",
        f"RAM: {int(memory[1]) / 1024**2:.1f} GiB" if memory else "RAM: unknown",
        f"kernel: {platform.system()} {platform.release()}",
        f"Python {platform.python_version()}; aiohttp {_package('aiohttp')},"
        f" aio-pika {_package('aio-pika')}, pymongo {_package('pymongo')},"
        f" orjson {_package('orjson')}, nx-27017 {_package('nx-27017')}",
        f"{_first_line([NGINX, '-v'])}; {_first_line(['wrk', '--version'])};"
        f" RabbitMQ {rabbitmq}",
    ]


def peak_rss_mib(pid: int) -> float:
    """Peak resident memory (VmHWM) of a process and its children, in MiB.

    For nginx this is the master plus its workers; Python services are one
    process each.
    """
    total = 0
    for one in (pid, *_children(pid)):
        with contextlib.suppress(OSError):
            status = Path(f"/proc/{one}/status").read_text()
            if match := re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE):
                total += int(match[1])
    return total / 1024


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process and its children have used, in s."""
    total = 0
    for one in (pid, *_children(pid)):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
            # utime and stime: fields 14 and 15 of proc(5), 12 and 13 after ")".
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def broker_pids() -> list[int]:
    """The Erlang VMs of the machine's RabbitMQ nodes."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/comm"):
        with contextlib.suppress(OSError):
            if stat.read_text().strip() == "beam.smp":
                pids.append(int(stat.parent.name))
    return pids


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    with contextlib.suppress(OSError):
        return [int(child) for child in path.read_text().split()]
    return []
