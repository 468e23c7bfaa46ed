"""The pid file of a running `make run` stack, and stopping what an earlier one left."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

    from devstack.processes import Process


@dataclass(frozen=True)
class Recorded:
    """One process of a stack as the state file lists it."""

    name: str
    pid: int
    started: int
    """Its start time in clock ticks since boot: tells it from a later process
    that was given the same pid."""


def start_time(pid: int) -> int | None:
    """The start time of `pid` (field 22 of /proc/PID/stat), or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after it.
    return int(stat.rsplit(")", 1)[1].split()[19])


def alive(process: Recorded) -> bool:
    """True while the recorded process (not a later one with its pid) runs."""
    return start_time(process.pid) == process.started


def write(path: Path, parent: int, processes: Iterable[Process]) -> None:
    """Record the stack's parent and every child, for the next `make run`."""
    entries = [
        Recorded(p.name, p.popen.pid, start_time(p.popen.pid) or 0) for p in processes
    ]
    parent_entry = Recorded("make run", parent, start_time(parent) or 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "parent": vars(parent_entry),
                "children": [vars(e) for e in entries],
            },
            indent=2,
        )
    )


def read(path: Path) -> tuple[Recorded | None, list[Recorded]]:
    """The parent and children a state file lists; (None, []) without one."""
    try:
        data = json.loads(path.read_text())
        return Recorded(**data["parent"]), [Recorded(**c) for c in data["children"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None, []


def leftovers(path: Path) -> tuple[Recorded | None, list[Recorded]]:
    """(the earlier parent if it still runs, its children that still run)."""
    parent, children = read(path)
    running_parent = parent if parent is not None and alive(parent) else None
    return running_parent, [c for c in children if alive(c)]


def stop(processes: Iterable[Recorded], timeout: float = 15) -> None:
    """SIGTERM each process group, then SIGKILL what still runs after `timeout`."""
    processes = list(processes)
    for process in processes:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while any(alive(p) for p in processes) and time.monotonic() < deadline:
        time.sleep(0.1)
    for process in processes:
        if alive(process):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
