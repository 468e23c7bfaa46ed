"""Whether a stack's processes are up: ports, health bodies that name the service, waiting."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Final

from devstack.ports import reserve_port

if TYPE_CHECKING:
    from collections.abc import Callable

    from devstack.processes import Process

SERVICE_OF_MODULE: Final[dict[str, str]] = {
    "command_service": "command_service",
    "query_service": "query_service",
    "query_service.projector": "projector",
    "sync_worker": "sync_worker",
}
"""The service name each module's /healthz and /readyz bodies give."""


def free_port() -> int:
    """A port on 127.0.0.1 reserved for this process: no other stack on the machine
    is given it until `release_port` (see devstack.ports)."""
    return reserve_port()


def port_open(host: str, port: int) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def http_ok(url: str) -> bool:
    """True when GET `url` answers 2xx."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (local URLs)
            return 200 <= int(response.status) < 300
    except (urllib.error.URLError, OSError):
        return False


def answers_as(url: str, service: str, instance: str) -> bool:
    """True when `url` answers 2xx as `service` with `instance`; False while
    nothing answers or the process is not ready yet.

    Raises:
        StackError: the port is answered by another process (another service, or
            another instance of it): it was taken by someone else, so the stack
            would send its traffic to the wrong process.
    """
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (local URLs)
            status, raw = int(response.status), response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    except (urllib.error.URLError, OSError):
        return False
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    who = (
        (body.get("service"), body.get("instance")) if isinstance(body, dict) else None
    )
    if who != (service, instance):
        if status == 503 and who is None:
            return False
        raise StackError(
            f"{url} answers {status} as {who or raw[:80]!r}, not as {service}"
            f" instance {instance}: another process holds that port"
        )
    return 200 <= status < 300


def wait_for(
    check: Callable[[], bool], what: str, timeout: float, process: Process | None = None
) -> None:
    """Poll `check()` until true; fail early if `process` died, or after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return
        if process is not None and process.popen.poll() is not None:
            raise StackError(
                f"{process.name} exited with {process.popen.returncode} while starting;"
                f" see {process.log_path}"
            )
        if time.monotonic() > deadline:
            raise StackError(f"{what} not ready within {timeout:.0f}s")
        time.sleep(0.05)


class StackError(RuntimeError):
    """The stack could not be started."""
