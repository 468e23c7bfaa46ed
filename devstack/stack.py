"""Starts the whole system as local processes, waits until it is ready, stops it."""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Final

from devstack import gateway, tls
from devstack.ports import release_port, reserve_port

if TYPE_CHECKING:
    from collections.abc import Callable

ROOT = Path(__file__).resolve().parent.parent


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


@dataclass
class Process:
    """One running child process and where its output goes."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]
    ready_url: str | None = None
    service: str | None = None
    """The name its health body must give."""
    instance: str | None = None
    """The instance id it was given (INSTANCE_ID); its health body must give it."""


@dataclass
class StackConfig:
    """What to run and where. Every port defaults to a fixed local one."""

    run_dir: Path = ROOT / ".run"
    http_port: int = 8080
    command_port: int = 8001
    query_ports: tuple[int, ...] = (8101, 8102)
    projector_health_port: int = 8201
    worker_health_port: int = 8301
    sim_port: int = 8400
    mongo_port: int = 27017
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    mongo_url: str | None = None
    mongo_database: str = "randomuser"
    randomuser_url: str | None = None
    offline: bool = False
    amqp_namespace: str = ""
    command_token: str | None = None
    sync_interval_seconds: int = 3600
    rabbitmq_management: str = "127.0.0.1:15672"
    nginx: bool = True
    log_format: str = "json"
    access_log: bool = True
    command_rate: str = "5r/s"
    command_burst: int = 10
    sim_args: tuple[str, ...] = ()
    """Extra command-line arguments of the simulator (e.g. its rate limit)."""
    nginx_cache_dir: Path | None = None
    """nginx's micro-cache directory; `run_dir/nginx-cache` when None. A tmpfs
    directory keeps cache refreshes off the disk."""
    extra_env: dict[str, str] = field(default_factory=dict)
    https_port: int | None = None
    """HTTPS of nginx with a generated local certificate (make run TLS=1);
    `http_port` then only redirects to it. None: plain HTTP."""


class Stack:
    """The local system: nx-27017 (unless MONGO_URL), the simulator (offline),
    the projector, the query replicas, the command service, the sync worker
    and nginx, each started only after the one before it is ready.
    """

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.processes: list[Process] = []
        self.mongo_url = config.mongo_url or (
            f"mongodb://127.0.0.1:{config.mongo_port}/?directConnection=true"
        )
        if config.randomuser_url:
            self.randomuser_url = config.randomuser_url
        elif config.offline:
            self.randomuser_url = f"http://127.0.0.1:{config.sim_port}/api/"
        else:
            self.randomuser_url = "https://randomuser.me/api/"

    @property
    def base_url(self) -> str:
        """The nginx origin (or the first query replica without nginx)."""
        if self.config.https_port is not None:
            return f"https://127.0.0.1:{self.config.https_port}"
        return f"http://127.0.0.1:{self.config.http_port}"

    @property
    def sim_url(self) -> str:
        """The simulator's origin."""
        return f"http://127.0.0.1:{self.config.sim_port}"

    @property
    def command_url(self) -> str:
        """The command service's own origin."""
        return f"http://127.0.0.1:{self.config.command_port}"

    def query_url(self, index: int = 0) -> str:
        """A query replica's own origin."""
        return f"http://127.0.0.1:{self.config.query_ports[index]}"

    def _env(self, **overrides: str) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"HTTP_PORT", "HEALTH_PORT", "HTTP_HOST", "HEALTH_HOST"}
        }
        env.update(
            {
                "AMQP_URL": self.config.amqp_url,
                "AMQP_NAMESPACE": self.config.amqp_namespace,
                "MONGO_URL": self.mongo_url,
                "MONGO_DATABASE": self.config.mongo_database,
                "RANDOMUSER_URL": self.randomuser_url,
                "SYNC_INTERVAL_SECONDS": str(self.config.sync_interval_seconds),
                "LOG_FORMAT": self.config.log_format,
                "PYTHONUNBUFFERED": "1",
            }
        )
        if self.config.command_token:
            env["COMMAND_TOKEN"] = self.config.command_token
        env.update(self.config.extra_env)
        env.update(overrides)
        return env

    def _spawn(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str],
        ready_url: str | None = None,
    ) -> Process:
        logs = self.config.run_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log_path = logs / f"{name}.log"
        log_file = log_path.open("ab")
        popen = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        process = Process(name, popen, log_path, log_file, ready_url)
        self.processes.append(process)
        return process

    def start_python(
        self,
        name: str,
        module: str,
        ready_url: str | None,
        timeout: float = 60,
        **env: str,
    ) -> Process:
        """Start `python -m module` and wait until its readiness URL answers 200
        as this very process (its service name and the instance id given to it).

        Raises:
            StackError: it exited, was not ready in time, or its port is answered
                by another process.
        """
        instance = uuid.uuid4().hex
        service = SERVICE_OF_MODULE.get(module, module)
        process = self._spawn(
            name,
            [sys.executable, "-m", module],
            self._env(INSTANCE_ID=instance, **env),
            ready_url,
        )
        process.service, process.instance = service, instance
        if ready_url:
            wait_for(
                lambda: answers_as(ready_url, service, instance),
                name,
                timeout,
                process,
            )
        return process

    def start(self) -> None:
        """Start every part, in dependency order; stop what started on failure."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        config = self.config
        config.run_dir.mkdir(parents=True, exist_ok=True)
        if config.mongo_url is None:
            data_dir = config.run_dir / "mongo-data"
            data_dir.mkdir(parents=True, exist_ok=True)
            process = self._spawn(
                "nx-27017",
                [
                    sys.executable, "-c",
                    "import sys; from nx_27017.nx_27017 import main; sys.exit(main())",
                    "--data-dir", str(data_dir), "--host", "127.0.0.1",
                    "-p", str(config.mongo_port),
                    "--log-file", str(config.run_dir / "logs" / "nx-27017-server.log"),
                    "--pid-file", str(config.run_dir / "nx-27017.pid"),
                ],
                self._env(),
            )  # fmt: skip
            wait_for(
                lambda: port_open("127.0.0.1", config.mongo_port),
                "nx-27017",
                30,
                process,
            )
        if config.offline and not config.randomuser_url:
            instance = uuid.uuid4().hex
            process = self._spawn(
                "randomuser-sim",
                [sys.executable, "-m", "randomuser_sim", "--host", "127.0.0.1",
                 "--port", str(config.sim_port), "--instance-id", instance,
                 *config.sim_args],
                self._env(),
            )  # fmt: skip
            process.service, process.instance = "randomuser_sim", instance
            wait_for(
                lambda: answers_as(
                    f"{self.sim_url}/_sim/healthz", "randomuser_sim", instance
                ),
                "simulator",
                30,
                process,
            )
        self.start_python(
            "projector",
            "query_service.projector",
            f"http://127.0.0.1:{config.projector_health_port}/readyz",
            HEALTH_PORT=str(config.projector_health_port),
        )
        for index, port in enumerate(config.query_ports, start=1):
            self.start_python(
                f"query-{index}",
                "query_service",
                f"http://127.0.0.1:{port}/readyz",
                HTTP_PORT=str(port),
            )
        self.start_python(
            "command-service",
            "command_service",
            f"{self.command_url}/readyz",
            HTTP_PORT=str(config.command_port),
        )
        self.start_python(
            "sync-worker",
            "sync_worker",
            f"http://127.0.0.1:{config.worker_health_port}/readyz",
            HEALTH_PORT=str(config.worker_health_port),
        )
        if config.nginx:
            self.start_nginx()
        # Last, once everything listens: each port still answers as the process
        # started there (one that lost its port to another would fail here).
        self.check_identities()

    def start_nginx(self) -> Process:
        """Start nginx for this configuration and wait until it proxies reads."""
        config = self.config
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(nginx).exists():
            raise StackError("nginx is not installed (apt-get install -y nginx)")
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (config.run_dir / "nginx-tmp" / sub).mkdir(parents=True, exist_ok=True)
        cache_dir = nginx_cache_dir(config)
        cache_dir.mkdir(parents=True, exist_ok=True)
        _let_nginx_workers_write(config.run_dir, cache_dir)
        (config.run_dir / "logs").mkdir(parents=True, exist_ok=True)
        conf = config.run_dir / "nginx.conf"
        conf.write_text(render_nginx_conf(config))
        process = self._spawn(
            "nginx", [nginx, "-c", str(conf), "-p", str(config.run_dir)], {}
        )
        ready = f"{self.base_url}/queries/sync-status"
        if config.https_port is not None:
            certificate = tls.ensure_certificate(config.run_dir / "tls")[0]
            wait_for(lambda: tls.https_ok(ready, certificate), "nginx", 30, process)
        else:
            wait_for(lambda: http_ok(ready), "nginx", 30, process)
        return process

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM every process in reverse start order; SIGKILL what lingers."""
        for process in reversed(self.processes):
            if process.popen.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    # nginx: QUIT is its graceful stop; Python services: TERM.
                    sig = signal.SIGQUIT if process.name == "nginx" else signal.SIGTERM
                    process.popen.send_signal(sig)
                try:
                    process.popen.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.popen.pid, signal.SIGKILL)
                    process.popen.wait(timeout=5)
            process.log_file.close()
        self.processes.clear()
        config = self.config
        for port in (
            config.http_port,
            config.command_port,
            *config.query_ports,
            config.projector_health_port,
            config.worker_health_port,
            config.sim_port,
            config.mongo_port,
        ):
            release_port(port)

    def check_identities(self) -> None:
        """Check that every Python service's port still answers as the process the
        stack started there.

        Raises:
            StackError: a port answers as another process, or not at all.
        """
        for process in self.processes:
            if process.ready_url and process.service and process.instance:
                health = process.ready_url.rsplit("/", 1)[0] + "/healthz"
                if not answers_as(health, process.service, process.instance):
                    raise StackError(f"{process.name} does not answer at {health}")

    def process(self, name: str) -> Process:
        """The running process called `name`."""
        for process in self.processes:
            if process.name == name:
                return process
        raise KeyError(name)


def die_with_parent() -> None:
    """In a child, before exec: ask Linux to SIGTERM it when its parent dies.

    So a stack whose parent is killed (kill -9, a crashed test run) does not
    leave its services behind. Linux delivers the signal when the parent
    *thread* ends: start stacks from a thread that outlives them. A no-op
    where prctl is missing.
    """
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


_PR_SET_PDEATHSIG: Final = 1


def nginx_cache_dir(config: StackConfig) -> Path:
    """Where nginx keeps its micro-cache for `config`."""
    return config.nginx_cache_dir or config.run_dir / "nginx-cache"


def _let_nginx_workers_write(run_dir: Path, cache_dir: Path) -> None:
    """Started as root, nginx runs its workers as `nobody`: they must reach the
    run directory and own their cache and temporary files.
    """
    if os.geteuid() != 0:
        return
    nobody = pwd.getpwnam("nobody")
    run_dir.chmod(0o755)
    for top in (cache_dir, run_dir / "nginx-tmp"):
        for path in (top, *top.rglob("*")):
            os.chown(path, nobody.pw_uid, nobody.pw_gid)


def swagger_ui_dir() -> Path:
    """Swagger UI's static files, from the swagger-ui-py package (the `local` extra).

    Found without importing the package (its framework adapters are not needed).
    Without it, /docs/ serves our page and its assets answer 404.
    """
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        return ROOT / "web" / "docs" / "swagger-ui-not-installed"
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def render_nginx_conf(config: StackConfig) -> str:
    """The nginx configuration for `config`, from nginx/gateway.conf.in."""
    local_tls = (
        None
        if config.https_port is None
        else tls.local_tls(
            config.run_dir / "tls",
            http_port=config.http_port,
            https_port=config.https_port,
        )
    )
    return gateway.render_local_stack(
        config,
        cache_dir=nginx_cache_dir(config),
        swagger_ui=swagger_ui_dir(),
        tls=local_tls,
    )
