"""Ports for local stacks that no other stack on this machine can be given."""

from __future__ import annotations

import contextlib
import fcntl
import random
import socket
import tempfile
from pathlib import Path
from typing import IO, Final

LOCK_DIR: Final = Path(tempfile.gettempdir()) / "randomuser-connector-ports"
"""One lock file per reserved port; a lock is held by an open file, so it goes
with the process that holds it, whatever way that process ends."""

_FIRST: Final = 20_000
_held: dict[int, IO[bytes]] = {}
"""Ports this process reserved, with their locked files (kept open on purpose)."""


def port_range() -> tuple[int, int]:
    """[low, high) to reserve from: below the kernel's ephemeral range, so that
    no outgoing connection is given the port between reservation and bind."""
    try:
        text = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text()
        ephemeral_low, ephemeral_high = (int(part) for part in text.split())
    except (OSError, ValueError):
        ephemeral_low, ephemeral_high = 32_768, 60_999
    if ephemeral_low - _FIRST >= 1_000:
        return _FIRST, ephemeral_low
    return ephemeral_high + 1, 65_536


def reserve_port(host: str = "127.0.0.1") -> int:
    """A port free on `host` now that no other caller of this function, in any
    process on the machine, gets until `release_port` or this process ends.

    Two stacks started at the same time (other test sessions, other worktrees)
    therefore never share a port, and every port of one stack is distinct.

    Raises:
        RuntimeError: no port could be reserved (the range is exhausted).
    """
    low, high = port_range()
    LOCK_DIR.mkdir(mode=0o1777, exist_ok=True)
    pick = random.SystemRandom()
    for _ in range(500):
        port = pick.randrange(low, high)
        if port in _held:
            continue
        lock = (LOCK_DIR / f"{port}.lock").open("ab")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        if _bindable(host, port):
            _held[port] = lock
            return port
        lock.close()
    raise RuntimeError(f"no free port could be reserved in [{low}, {high})")


def release_port(port: int) -> None:
    """Let other stacks have `port` again (no-op for a port not reserved here)."""
    lock = _held.pop(port, None)
    if lock is not None:
        lock.close()


def reserved(port: int) -> bool:
    """True when this process holds the reservation of `port`."""
    return port in _held


def _bindable(host: str, port: int) -> bool:
    with socket.socket() as sock, contextlib.suppress(OSError):
        sock.bind((host, port))
        return True
    return False
