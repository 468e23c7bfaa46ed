"""A private RabbitMQ node for tests that stop or restart their broker.

Started beside the machine's broker (own port, node name and directories), so
restarting it disturbs no one else. As measured in MEASURED.md: plain
`rabbitmq-server` in the background (`-detached` exits silently here), its
directories owned by the `rabbitmq` user it drops to when started as root.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from devstack.ports import release_port, reserve_port
from devstack.processes import die_with_parent
from devstack.readiness import port_open
from tests.support.eventually import wait_until

if TYPE_CHECKING:
    from collections.abc import Iterator


@dataclass(frozen=True)
class RabbitNode:
    """A running private node: where to connect and how to name it to rabbitmqctl."""

    amqp_url: str
    nodename: str
    port: int

    def ctl(self, *args: str, timeout: float = 90) -> str:
        """Run `rabbitmqctl -n NODE args`; its output. Raises CalledProcessError."""
        done = subprocess.run(
            ["rabbitmqctl", "-n", self.nodename, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )
        return done.stdout

    def stop_app(self) -> None:
        """Stop the RabbitMQ application (the node stays up, connections drop)."""
        self.ctl("stop_app")

    def start_app(self) -> None:
        """Start the application again and wait until it accepts AMQP."""
        self.ctl("start_app")
        self.ctl("await_startup", "--timeout", "60")
        wait_until(
            lambda: port_open("127.0.0.1", self.port),
            timeout=30,
            what=f"{self.nodename} listening",
        )


def available() -> str | None:
    """None when a private node can start here, else why not."""
    if shutil.which("rabbitmq-server") is None or shutil.which("rabbitmqctl") is None:
        return "rabbitmq-server is not installed (make test installs it)"
    return None


@contextlib.contextmanager
def rabbit_node(timeout: float = 120) -> Iterator[RabbitNode]:
    """Start a private RabbitMQ node; stop it and delete its files after."""
    port, dist_port = reserve_port(), reserve_port()
    nodename = f"rmq-test-{uuid.uuid4().hex[:8]}@localhost"
    base = Path(tempfile.mkdtemp(prefix="rabbit-node-"))
    (base / "log").mkdir()
    (base / "mnesia").mkdir()
    (base / "enabled_plugins").write_text("[].\n")
    (base / "rabbitmq.conf").write_text(
        f"listeners.tcp.default = 127.0.0.1:{port}\nloopback_users = none\n"
    )
    if os.geteuid() == 0:
        rabbit = pwd.getpwnam("rabbitmq")
        base.chmod(0o755)
        for path in (base, *base.rglob("*")):
            os.chown(path, rabbit.pw_uid, rabbit.pw_gid)
    env = {
        **os.environ,
        "RABBITMQ_NODENAME": nodename,
        "RABBITMQ_NODE_PORT": str(port),
        "RABBITMQ_DIST_PORT": str(dist_port),
        "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
        "RABBITMQ_LOG_BASE": str(base / "log"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
        "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq"),
        "RABBITMQ_PID_FILE": str(base / "pid"),
    }
    with (base / "stdout.log").open("ab") as log:
        server = subprocess.Popen(
            ["rabbitmq-server"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
    node = RabbitNode(f"amqp://guest:guest@127.0.0.1:{port}/", nodename, port)
    try:

        def started() -> bool:
            code = server.poll()
            assert code is None, f"rabbitmq-server exited {code}; see {base}/log"
            try:
                node.ctl("await_startup", "--timeout", "10", timeout=40)
            except subprocess.CalledProcessError:
                return False  # not yet reachable by rabbitmqctl
            return True

        wait_until(started, timeout=timeout, what=f"{nodename} started")
        wait_until(
            lambda: port_open("127.0.0.1", port), timeout=30, what=f"{nodename} AMQP"
        )
        yield node
    finally:
        with contextlib.suppress(subprocess.SubprocessError):
            node.ctl("stop", timeout=60)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, 9)
            server.wait(timeout=10)
        shutil.rmtree(base, ignore_errors=True)
        release_port(port)
        release_port(dist_port)
