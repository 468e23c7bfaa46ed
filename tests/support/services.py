"""Real RabbitMQ and MongoDB for tests: containers, the environment, or local servers.

Order of preference for each service: a testcontainers container when a
Docker engine answers; else the URL in `AMQP_URL` / `MONGO_URL`; else a local
server (the machine's RabbitMQ, started if it is down; `nx-27017`, a MongoDB
wire-protocol server, on a free port). Each source waits on a readiness probe.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from devstack.processes import die_with_parent
from devstack.rabbitmq import enable_management
from devstack.readiness import free_port
from tests.support.eventually import wait_until

if TYPE_CHECKING:
    from collections.abc import Iterator


@dataclass(frozen=True)
class ServiceSource:
    """Where a service for the test session came from."""

    url: str
    source: str


def docker_engine_available() -> bool:
    """True when a Docker engine answers `/_ping` (not just the client)."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    parts = urlsplit(host)
    try:
        if parts.scheme == "unix":
            if not Path(parts.path).exists():
                return False
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(2)
            sock.connect(parts.path)
        else:
            sock = socket.create_connection(
                (parts.hostname or "127.0.0.1", parts.port or 2375), timeout=2
            )
        with sock:
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            answer = sock.recv(4096)
    except OSError:
        return False
    return answer.startswith(b"HTTP/1.") and b" 200 " in answer.split(b"\r\n", 1)[0]


def port_open(host: str, port: int) -> bool:
    """True when something accepts TCP connections on host:port."""
    with (
        contextlib.suppress(OSError),
        socket.create_connection((host, port), timeout=0.5),
    ):
        return True
    return False


def _url_reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    return port_open(parts.hostname or "127.0.0.1", parts.port or default_port)


@contextlib.contextmanager
def rabbitmq() -> Iterator[ServiceSource]:
    """Yield a RabbitMQ URL for the session."""
    if docker_engine_available():
        from testcontainers.rabbitmq import RabbitMqContainer

        with RabbitMqContainer("rabbitmq:3.13-management") as container:
            host = container.get_container_host_ip()
            port = container.get_exposed_port(5672)
            yield ServiceSource(f"amqp://guest:guest@{host}:{port}/", "testcontainers")
        return
    if env_url := os.environ.get("AMQP_URL"):
        wait_until(
            lambda: _url_reachable(env_url, 5672),
            timeout=30,
            what=f"RabbitMQ at {env_url}",
        )
        yield ServiceSource(env_url, "environment (AMQP_URL)")
        return
    url = "amqp://guest:guest@127.0.0.1:5672/"
    if not port_open("127.0.0.1", 5672):
        server = shutil.which("rabbitmq-server")
        if server is None:
            raise RuntimeError(
                "no RabbitMQ: no Docker, no AMQP_URL, no rabbitmq-server"
            )
        subprocess.run([server, "-detached"], check=True)
    wait_until(lambda: port_open("127.0.0.1", 5672), timeout=60, what="local RabbitMQ")
    # As `make run` does: the e2e tests reach the management UI through nginx.
    if enable_management(url):
        wait_until(
            lambda: port_open("127.0.0.1", 15672),
            timeout=60,
            what="RabbitMQ's management API",
        )
    yield ServiceSource(url, "local rabbitmq-server")


def nx_27017_command(port: int, data_dir: Path) -> list[str]:
    """The command line that runs nx-27017 on `port` with its files in `data_dir`."""
    return [
        sys.executable,
        "-c",
        "import sys; from nx_27017.nx_27017 import main; sys.exit(main())",
        "--data-dir",
        str(data_dir),
        "--host",
        "127.0.0.1",
        "-p",
        str(port),
        "--log-file",
        str(data_dir / "nx-27017.log"),
        "--pid-file",
        str(data_dir / "nx-27017.pid"),
    ]


@contextlib.contextmanager
def mongodb() -> Iterator[ServiceSource]:
    """Yield a MongoDB URL for the session."""
    if docker_engine_available():
        from testcontainers.mongodb import MongoDbContainer

        with MongoDbContainer("mongo:7") as container:
            yield ServiceSource(container.get_connection_url(), "testcontainers")
        return
    if url := os.environ.get("MONGO_URL"):
        wait_until(
            lambda: _url_reachable(url, 27017), timeout=30, what=f"MongoDB at {url}"
        )
        yield ServiceSource(url, "environment (MONGO_URL)")
        return
    with tempfile.TemporaryDirectory(prefix="nx27017-") as tmp:
        port = free_port()
        process = subprocess.Popen(
            nx_27017_command(port, Path(tmp)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
        )
        try:
            wait_until(
                lambda: port_open("127.0.0.1", port), timeout=30, what="nx-27017"
            )
            yield ServiceSource(
                f"mongodb://127.0.0.1:{port}/?directConnection=true", "local nx-27017"
            )
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
