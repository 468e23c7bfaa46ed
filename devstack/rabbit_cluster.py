"""A local RabbitMQ cluster of N nodes beside the machine's own broker, for make run and tests."""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from devstack.config import ROOT
from devstack.processes import system_tool
from devstack.readiness import StackError, free_port, port_open, wait_for

START_TIMEOUT = 90.0
"""Seconds one node may take to start (about 10 s on an idle machine)."""


@dataclass
class Node:
    """One RabbitMQ node of the cluster: its name, ports and files."""

    name: str
    port: int
    dist_port: int
    base: Path
    popen: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The node's AMQP URL (guest may connect: loopback_users = none)."""
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def beam_pid(self) -> int | None:
        """The Erlang VM's process id (from the node's pid file), if it runs."""
        try:
            return int((self.base / "pid").read_text().strip())
        except (OSError, ValueError):
            return None


@dataclass
class RabbitCluster:
    """N clustered nodes named `<prefix>-a@localhost`, ... on free ports.

    Nothing here touches the machine's own broker (its node name, ports and
    files stay its own). Start with `start()`, end with `stop()`.
    """

    root: Path
    size: int = 3
    prefix: str = field(default_factory=lambda: f"rmq{uuid.uuid4().hex[:6]}")
    nodes: list[Node] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.nodes:
            self.nodes = [
                Node(
                    name=f"{self.prefix}-{chr(ord('a') + index)}@localhost",
                    port=free_port(),
                    dist_port=free_port(),
                    base=self.root / chr(ord("a") + index),
                )
                for index in range(self.size)
            ]

    @property
    def amqp_url(self) -> str:
        """Every node's URL, comma-separated: the AMQP_URL of a cluster."""
        return ",".join(node.url for node in self.nodes)

    def node(self, name: str) -> Node:
        """The node called `name`."""
        return next(node for node in self.nodes if node.name == name)

    def start(self) -> None:
        """Start every node and join b, c, ... to a; stop everything on failure."""
        try:
            for node in self.nodes:
                self.start_node(node)
            for node in self.nodes[1:]:
                for command in (
                    ("stop_app",),
                    ("join_cluster", self.nodes[0].name),
                    ("start_app",),
                ):
                    self.ctl(node, *command)
        except BaseException:
            self.stop()
            raise

    def start_node(self, node: Node) -> None:
        """Start one node (again, after a kill) and wait until it serves AMQP."""
        for sub in ("log", "mnesia"):
            (node.base / sub).mkdir(parents=True, exist_ok=True)
        (node.base / "enabled_plugins").write_text("[].\n")
        (node.base / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{node.port}\nloopback_users = none\n"
        )
        _own_by_rabbitmq(self.root)
        env = {
            **os.environ,
            "RABBITMQ_NODENAME": node.name,
            "RABBITMQ_NODE_PORT": str(node.port),
            "RABBITMQ_DIST_PORT": str(node.dist_port),
            "RABBITMQ_MNESIA_BASE": str(node.base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(node.base / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(node.base / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(node.base / "rabbitmq"),
            "RABBITMQ_PID_FILE": str(node.base / "pid"),
        }
        server = system_tool("rabbitmq-server") or "rabbitmq-server"
        with (node.base / "stdout.log").open("ab") as log:
            # `rabbitmq-server -detached` exits silently here: run it in the
            # background, in a session of its own so `stop` can end it all.
            node.popen = subprocess.Popen(
                [server],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        # await_startup fails at once while the node is not yet known to epmd;
        # `wait` on the pid file waits for the node to appear and boot.
        (node.base / "pid").unlink(missing_ok=True)
        self.ctl(node, "wait", str(node.base / "pid"), "-t", str(int(START_TIMEOUT)))
        self.ctl(node, "await_startup", "-t", str(int(START_TIMEOUT)))
        wait_for(lambda: port_open("127.0.0.1", node.port), node.name, 30)

    def ctl(self, node: Node, *args: str, timeout: float = START_TIMEOUT) -> str:
        """Run `rabbitmqctl -n NODE args`; its output. Raises StackError on failure."""
        try:
            done = subprocess.run(
                ["rabbitmqctl", "-n", node.name, *args],
                capture_output=True,
                timeout=timeout + 30,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise StackError(f"rabbitmqctl {' '.join(args)} timed out") from None
        if done.returncode != 0:
            raise StackError(
                f"rabbitmqctl -n {node.name} {' '.join(args)} failed:"
                f" {done.stderr.decode(errors='replace')[-500:]}"
            )
        return done.stdout.decode(errors="replace")

    def kill(self, node: Node, sig: signal.Signals = signal.SIGKILL) -> None:
        """Send `sig` to the node's Erlang VM (SIGKILL: it dies at once)."""
        pid = node.beam_pid()
        if pid is None:
            raise StackError(f"{node.name} has no pid file")
        os.kill(pid, sig)
        if sig == signal.SIGKILL:
            wait_for(lambda: not port_open("127.0.0.1", node.port), node.name, 10)
            self._reap(node)

    def stop(self) -> None:
        """End every node (the whole process group of each), whatever its state."""
        for node in self.nodes:
            pid = node.beam_pid()
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)
                    os.kill(pid, signal.SIGKILL)
            if node.popen is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(node.popen.pid, signal.SIGKILL)
            self._reap(node)

    @staticmethod
    def _reap(node: Node) -> None:
        if node.popen is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                node.popen.wait(timeout=10)
            node.popen = None


def _own_by_rabbitmq(root: Path) -> None:
    """Started as root, the server drops to the `rabbitmq` user: it must own its files."""
    if os.geteuid() != 0:
        return
    user = pwd.getpwnam("rabbitmq")
    for path in (root, *root.rglob("*")):
        os.chown(path, user.pw_uid, user.pw_gid)
    for parent in root.parents:
        if parent in {ROOT, Path(tempfile.gettempdir()), Path("/")}:
            break
        # A temporary directory is 0700: the rabbitmq user must pass through it.
        parent.chmod(parent.stat().st_mode | 0o001)
