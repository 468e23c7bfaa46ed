"""Shared parts of the benchmarks: a stack on free ports, syncs, wrk, the machine.

Everything runs on this machine, load generator included, so a figure means
something only next to another one from the same run.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib.metadata
import os
import platform
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final, Self

import aio_pika
import aiohttp

from contracts.topology import Topology
from devstack.stack import Stack, StackConfig, free_port, port_open, wait_for
from tests.support.broker import delete_topology

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from types import TracebackType

    from aio_pika.abc import AbstractIncomingMessage

TOKEN: Final = "bench-command-token-0123456789"
WRK_THREADS: Final = 2
WRK_CONNECTIONS: Final = 64
WRK_SECONDS: Final = 8
GZIP: Final = ("Accept-Encoding: gzip",)
IDENTITY: Final = ()
REVALIDATE: Final = ("Cache-Control: no-cache",)
NGINX: Final = shutil.which("nginx") or "/usr/sbin/nginx"
CLOCK_TICKS: Final = os.sysconf("SC_CLK_TCK")
QUIET_CORES: Final = 0.1
"""Foreign load above which a run is not trusted (in cores, of two)."""

_TIME_UNITS: Final = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4, "h": 3.6e6}
_SIZE_UNITS: Final = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}


def log(message: str) -> None:
    """Progress on stderr, so stdout carries only the report."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- wrk


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


def wait_for_quiet(limit: float = QUIET_CORES, patience: float = 60) -> float:
    """Wait until foreign processes use less than `limit` cores; the last figure."""
    deadline = time.monotonic() + patience
    while True:
        probe = ForeignLoad()
        time.sleep(1)
        load = probe.cores()
        if load < limit or time.monotonic() > deadline:
            return load
        log(f"waiting: other processes use {load:.2f} cores")


def run_wrk(
    label: str,
    url: str,
    headers: Sequence[str] = (),
    *,
    seconds: int = WRK_SECONDS,
    connections: int = WRK_CONNECTIONS,
    attempts: int = 3,
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
    best: WrkResult | None = None
    for _ in range(attempts):
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
        if best is None or result.foreign_cpu < best.foreign_cpu:
            best = result
        if result.foreign_cpu < QUIET_CORES:
            break
    assert best is not None
    return best


# ---------------------------------------------------------------- the machine


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


# ---------------------------------------------------------------- processes


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


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    with contextlib.suppress(OSError):
        return [int(child) for child in path.read_text().split()]
    return []


class StaticNginx:
    """The best possible answer: nginx serving the same bytes from files.

    `/queries/countries` is a file, and `/queries/countries.gz` its gzip
    twin for `gzip_static`. Same nginx binary and the same connection
    settings as the stack's nginx.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
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
        for sub in ("tmp", "www"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        for path in (root, root / "www", root / "tmp"):
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
    access_log off;
    server_tokens off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 10000;
    client_body_temp_path {root}/tmp;
    proxy_temp_path {root}/tmp;
    fastcgi_temp_path {root}/tmp;
    uwsgi_temp_path {root}/tmp;
    scgi_temp_path {root}/tmp;
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

    def stop(self) -> None:
        """Stop nginx gracefully."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGQUIT)
            self._process.wait(timeout=15)


# ---------------------------------------------------------------- the stack


@dataclass
class BenchOptions:
    """How the benchmarked stack is set up."""

    replicas: int = 2
    cache_on_tmpfs: bool = True
    access_log: bool = False
    extra_env: dict[str, str] = field(default_factory=dict)


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

    def nginx_for(self, ports: Iterable[int]) -> str:
        """Start another nginx with the stack's configuration over `ports`; its origin."""
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
        extra.start_nginx()
        return extra.base_url

    def pids(self) -> dict[str, int]:
        """Every service's process id, by name."""
        return {p.name: p.popen.pid for p in self.stack.processes}


# ---------------------------------------------------------------- syncs


@dataclass
class SyncRun:
    """The timeline of one sync, in seconds after the POST was sent."""

    users: int
    started_at: float = 0.0
    """Epoch seconds when the POST was sent."""
    accepted: float = 0.0
    first_batch: float | None = None
    completed_event: float | None = None
    replicas_visible: list[float] = field(default_factory=list)
    nginx_revalidating: float | None = None
    nginx_plain: float | None = None
    messages: int = 0
    message_bytes: int = 0
    user_count: int = 0
    snapshot_id: str = ""
    correlation_id: str = ""

    @property
    def visible(self) -> float:
        """When every replica served the new snapshot."""
        return max(self.replicas_visible)


class EventObserver:
    """Sees every event the stack publishes, with the time it arrived here."""

    def __init__(self, amqp_url: str, namespace: str) -> None:
        self._url = amqp_url
        self._topology = Topology(namespace)
        self.events: list[tuple[float, str, str, int]] = []
        self._connection: aio_pika.abc.AbstractConnection | None = None

    async def start(self) -> None:
        """Bind a private queue to the events exchange and start consuming."""
        self._connection = await aio_pika.connect(self._url)
        channel = await self._connection.channel()
        exchange = await channel.get_exchange(self._topology.events_exchange)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, routing_key="#")
        await queue.consume(self._on_message, no_ack=True)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        self.events.append(
            (
                time.time(),
                message.routing_key or "",
                message.correlation_id or "",
                len(message.body),
            )
        )

    async def close(self) -> None:
        """Stop consuming."""
        if self._connection is not None:
            await self._connection.close()


async def _etag(session: aiohttp.ClientSession, url: str) -> str | None:
    async with session.get(f"{url}/queries/countries/names") as response:
        return response.headers.get("ETag")


async def _wait_visible(
    session: aiohttp.ClientSession,
    url: str,
    old: str | None,
    t0: float,
    headers: dict[str, str],
    *,
    timeout: float,
) -> float:
    """Poll `url` until it serves a snapshot other than `old`; seconds after t0.

    `If-None-Match` makes every poll of the old snapshot a small 304.
    """
    request_headers = {"Accept-Encoding": "gzip", **headers}
    if old is not None:
        request_headers["If-None-Match"] = old
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with session.get(
            f"{url}/queries/countries", headers=request_headers
        ) as response:
            await response.read()
            etag = response.headers.get("ETag")
            if response.status == 200 and etag is not None and etag != old:
                return time.time() - t0
        await asyncio.sleep(0.01)
    raise TimeoutError(f"{url} did not serve a new snapshot within {timeout}s")


async def run_sync(
    bench: BenchStack,
    users: int,
    seed: str,
    observer: EventObserver | None = None,
    *,
    timeout: float = 60,
) -> SyncRun:
    """POST /commands/sync through nginx and time it until the snapshot is served.

    Visible means: each replica, nginx for a revalidating client (it bypasses
    the micro-cache) and nginx for a plain client (the micro-cache may hold
    the previous snapshot for up to its validity).
    """
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(
        connector=connector, auto_decompress=False
    ) as session:
        old = await _etag(session, bench.replica_urls[0])
        seen = len(observer.events) if observer else 0
        t0 = time.time()
        async with session.post(
            f"{bench.base_url}/commands/sync",
            json={"results": users, "seed": seed},
            headers={"Authorization": f"Bearer {TOKEN}"},
        ) as response:
            body = await response.json()
            if response.status != 202:
                raise RuntimeError(f"sync refused: {response.status} {body}")
        run = SyncRun(users=users, started_at=t0, accepted=time.time() - t0)
        run.correlation_id = body["correlation_id"]
        targets = [
            *[(url, {}) for url in bench.replica_urls],
            (bench.base_url, {"Cache-Control": "no-cache"}),
            (bench.base_url, {}),
        ]
        times = await asyncio.gather(
            *[
                _wait_visible(session, url, old, t0, headers, timeout=timeout)
                for url, headers in targets
            ]
        )
        run.replicas_visible = list(times[: len(bench.replica_urls)])
        run.nginx_revalidating, run.nginx_plain = times[-2], times[-1]
        async with session.get(
            f"{bench.replica_urls[0]}/queries/countries/names"
        ) as response:
            names = await response.json()
        run.user_count = names["snapshot"]["user_count"]
        run.snapshot_id = names["snapshot"]["id"]
    if observer is not None:
        # The last event may arrive here a moment after the snapshot is served.
        await asyncio.sleep(0.05)
        mine = [e for e in observer.events[seen:] if e[2] == run.correlation_id]
        batches = [e for e in mine if e[1] == "users.fetched"]
        completed = [e for e in mine if e[1] == "sync.completed"]
        run.messages = len(mine)
        run.message_bytes = sum(e[3] for e in mine)
        if batches:
            run.first_batch = batches[0][0] - t0
        if completed:
            run.completed_event = completed[0][0] - t0
    return run


async def countries_bytes(url: str) -> tuple[bytes, bytes]:
    """The identity and gzip bodies of `GET url/queries/countries`, as sent."""
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        async with session.get(
            f"{url}/queries/countries", headers={"Accept-Encoding": "identity"}
        ) as response:
            identity = await response.read()
        async with session.get(
            f"{url}/queries/countries", headers={"Accept-Encoding": "gzip"}
        ) as response:
            if response.headers.get("Content-Encoding") != "gzip":
                raise RuntimeError("the replica did not send gzip when asked")
            gzipped = await response.read()
    return identity, gzipped


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A Markdown table."""
    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
    ]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)
