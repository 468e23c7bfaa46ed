"""The benchmarked system: the stack on free ports, and nginx serving static files."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final, Self

from bench.report import NGINX, log
from contracts.topology import Topology
from devstack.config import ROOT, StackConfig
from devstack.readiness import free_port, port_open, wait_for
from devstack.stack import Stack
from tests.support.broker import delete_topology

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from types import TracebackType


TOKEN: Final = "bench-command-token-0123456789"  # noqa: S105 (a local stack)


class StaticNginx:
    """The best possible answer: nginx serving the same bytes from files.

    `/queries/countries` is a file, and `/queries/countries.gz` its gzip
    twin for `gzip_static`. Same nginx binary and the same connection
    settings as the stack's nginx.
    """

    def __init__(
        self,
        directory: Path,
        *,
        open_file_cache: bool = False,
        access_log: Path | None = None,
    ) -> None:
        self.directory = directory
        self.port = free_port()
        self.open_file_cache = open_file_cache
        self.access_log = access_log
        """Log every request there as the gateway does (its format), or not."""
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The static twin of the stack's `/queries/countries`."""
        return f"http://127.0.0.1:{self.port}/queries/countries"

    def publish(self, identity: bytes, gzipped: bytes) -> None:
        """Place the body and its gzip where nginx serves them (write + rename)."""
        target = self.directory / "www" / "queries"
        target.mkdir(parents=True, exist_ok=True)
        for name, body in (("countries", identity), ("countries.gz", gzipped)):
            partial = target / f".{name}.partial"
            partial.write_bytes(body)
            partial.chmod(0o644)
            partial.replace(target / name)

    def start(self) -> None:
        """Start nginx and wait until it answers."""
        root = self.directory
        for sub in ("scratch", "www"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        for path in (root, root / "www", root / "scratch"):
            path.chmod(0o755)
        conf = root / "nginx.conf"
        conf.write_text(
            f"""
worker_processes auto;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    {self._logging()}
    server_tokens off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 10000;
    {"open_file_cache max=1000 inactive=60s;" if self.open_file_cache else ""}
    client_body_temp_path {root}/scratch;
    proxy_temp_path {root}/scratch;
    fastcgi_temp_path {root}/scratch;
    uwsgi_temp_path {root}/scratch;
    scgi_temp_path {root}/scratch;
    types {{ }}
    default_type application/json;
    gzip off;
    gzip_static on;
    gzip_vary on;
    server {{
        listen 127.0.0.1:{self.port};
        root {root}/www;
        location / {{ }}
    }}
}}
"""
        )
        self._process = subprocess.Popen(
            [NGINX, "-c", str(conf), "-p", str(root)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for(lambda: port_open("127.0.0.1", self.port), "static nginx", 10)

    def _logging(self) -> str:
        if self.access_log is None:
            return "access_log off;"
        gateway = (ROOT / "nginx" / "gateway.conf.in").read_text()
        # The gateway's format, and the map of the correlation id it logs.
        blocks = [
            re.search(pattern, gateway, re.MULTILINE | re.DOTALL)
            for pattern in (
                r"^map \$http_x_correlation_id .*?^}",
                r"^log_format gateway .*?;$",
            )
        ]
        if not all(blocks):
            raise RuntimeError("nginx/gateway.conf.in has no gateway log format")
        text = "\n".join(block.group(0) for block in blocks if block)
        return f"{text}\naccess_log {self.access_log} gateway;"

    def stop(self) -> None:
        """Stop nginx gracefully."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGQUIT)
            self._process.wait(timeout=15)


@dataclass
class BenchOptions:
    """How the benchmarked stack is set up."""

    replicas: int = 2
    cache_on_tmpfs: bool = True
    access_log: bool = False
    extra_env: dict[str, str] = field(default_factory=dict)
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    """The broker: the machine's own, or every node of a cluster (comma-separated)."""


class BenchStack:
    """The whole system on free ports in temporary directories, offline.

    The simulator runs without its per-IP limit and the worker without its
    upstream budget: a benchmark asks for more users in five minutes than
    randomuser.me would give one client.
    """

    def __init__(self, options: BenchOptions | None = None) -> None:
        self.options = options or BenchOptions()
        self._temp = Path(tempfile.mkdtemp(prefix="bench-stack-"))
        self._shm = Path(tempfile.mkdtemp(prefix="bench-cache-", dir="/dev/shm"))
        name = f"bench_{uuid.uuid4().hex[:8]}"
        self.config = StackConfig(
            run_dir=self._temp / "stack",
            http_port=free_port(),
            command_port=free_port(),
            query_ports=tuple(free_port() for _ in range(self.options.replicas)),
            projector_health_port=free_port(),
            worker_health_port=free_port(),
            sim_port=free_port(),
            mongo_port=free_port(),
            mongo_database=name,
            offline=True,
            amqp_url=self.options.amqp_url,
            amqp_namespace=name,
            command_token=TOKEN,
            sync_interval_seconds=0,
            access_log=self.options.access_log,
            command_rate="50r/s",
            command_burst=50,
            sim_args=("--rate-limit-users", "0", "--log-level", "WARNING"),
            nginx_cache_dir=self._shm / "nginx-cache"
            if self.options.cache_on_tmpfs
            else None,
            extra_env={
                "UPSTREAM_USERS_PER_WINDOW": "1000000",
                "SYNC_MAX_RESULTS": "1000000",
                **self.options.extra_env,
            },
        )
        self.stack = Stack(self.config)
        self._extra: list[Stack] = []

    @property
    def base_url(self) -> str:
        """The stack's nginx."""
        return self.stack.base_url

    @property
    def replica_urls(self) -> list[str]:
        """Every query replica's own origin."""
        return [f"http://127.0.0.1:{port}" for port in self.config.query_ports]

    def __enter__(self) -> Self:
        self._temp.chmod(0o755)
        self._shm.chmod(0o755)
        self.stack.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for extra in self._extra:
            extra.stop()
        self.stack.stop()
        asyncio.run(
            delete_topology(self.config.amqp_url, Topology(self.config.amqp_namespace))
        )
        if exc is not None:
            kept = Path(tempfile.mkdtemp(prefix="bench-logs-"))
            shutil.copytree(self.config.run_dir / "logs", kept, dirs_exist_ok=True)
            log(f"logs kept in {kept}")
        shutil.rmtree(self._temp, ignore_errors=True)
        shutil.rmtree(self._shm, ignore_errors=True)

    def add_replica(self) -> str:
        """Start one more query replica; its origin."""
        port = free_port()
        index = len(self.config.query_ports) + 1
        self.stack.start_python(
            f"query-{index}",
            "query_service",
            f"http://127.0.0.1:{port}/readyz",
            HTTP_PORT=str(port),
        )
        self.config.query_ports = (*self.config.query_ports, port)
        return f"http://127.0.0.1:{port}"

    def nginx_for(
        self, ports: Iterable[int], edit: Callable[[str], str] | None = None
    ) -> str:
        """Start another nginx with the stack's configuration over `ports`; its origin.

        `edit` rewrites the rendered configuration (nginx reloads it), to
        compare a variant in the same run.
        """
        index = len(self._extra) + 1
        config = dataclasses.replace(
            self.config,
            run_dir=self._temp / f"nginx-{index}",
            http_port=free_port(),
            query_ports=tuple(ports),
            nginx_cache_dir=self._shm / f"nginx-cache-{index}",
        )
        extra = Stack(config)
        self._extra.append(extra)
        process = extra.start_nginx()
        if edit is not None:
            conf = config.run_dir / "nginx.conf"
            conf.write_text(edit(conf.read_text()))
            process.popen.send_signal(signal.SIGHUP)
            # The old workers finish their requests and exit; new ones serve.
            time.sleep(1.5)
        return extra.base_url

    def pids(self) -> dict[str, int]:
        """Every service's process id, by name."""
        return {p.name: p.popen.pid for p in self.stack.processes}
