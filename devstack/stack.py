"""Starts the whole system as local processes, waits until it is ready, stops it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import uuid

from devstack import tls
from devstack.config import (
    ROOT,
    StackConfig,
    let_nginx_workers_write,
    nginx_cache_dir,
    render_nginx_conf,
)
from devstack.ports import release_port
from devstack.processes import Process, die_with_parent, system_tool
from devstack.readiness import (
    SERVICE_OF_MODULE,
    StackError,
    answers_as,
    http_ok,
    port_open,
    wait_for,
)


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
                # The projector's (others ignore it); here, so that a
                # projector started again writes the files nginx serves.
                # Empty: no files (settings ignore empty values).
                "SNAPSHOT_FILES_DIR": str(self.config.snapshot_files_dir or ""),
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
        nginx = system_tool("nginx")
        if nginx is None:
            raise StackError("nginx is not installed (apt-get install -y nginx)")
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (config.run_dir / "nginx-tmp" / sub).mkdir(parents=True, exist_ok=True)
        cache_dir = nginx_cache_dir(config)
        cache_dir.mkdir(parents=True, exist_ok=True)
        let_nginx_workers_write(config.run_dir, cache_dir)
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
