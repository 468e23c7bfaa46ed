"""Port reservations: distinct within a process, exclusive across processes."""

from __future__ import annotations

import socket
import subprocess
import sys

from devstack.ports import port_range, release_port, reserve_port, reserved

CHILD = """
import sys
from devstack import ports
port = int(sys.argv[1])
ports.port_range = lambda: (port, port + 1)  # only the port the parent holds
try:
    print(ports.reserve_port())
except RuntimeError:
    print("refused")
"""


def test_reserved_ports_are_distinct_bindable_and_outside_the_ephemeral_range():
    ports = [reserve_port() for _ in range(100)]
    low, high = port_range()
    try:
        assert len(set(ports)) == 100
        assert all(low <= port < high for port in ports)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", ports[0]))
    finally:
        for port in ports:
            release_port(port)
    assert not any(reserved(port) for port in ports)


def child_reserves(port: int) -> str:
    """What a second process gets when `port` is the only one it may reserve."""
    return subprocess.run(
        [sys.executable, "-c", CHILD, str(port)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_another_process_is_refused_a_port_reserved_here_until_it_is_released():
    port = reserve_port()
    try:
        while_held = child_reserves(port)
    finally:
        release_port(port)
    after = child_reserves(port)

    assert while_held == "refused"
    assert after == str(port)
