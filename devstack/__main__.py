"""`python -m devstack`: bring the whole system up locally until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import threading
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from devstack import runstate
from devstack.config import ROOT, StackConfig
from devstack.rabbit_cluster import RabbitCluster
from devstack.rabbitmq import (
    AdminCredentials,
    ManagementError,
    enable_management,
    ensure_admin,
)
from devstack.readiness import StackError, port_open, wait_for
from devstack.stack import Stack

if TYPE_CHECKING:
    from pathlib import Path


def _local_rabbitmq(amqp_url: str) -> None:
    """Start the machine's RabbitMQ if the URL points here and nothing answers."""
    parts = urlsplit(amqp_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 5672
    if port_open(host, port) or host not in {"127.0.0.1", "localhost"}:
        return
    server = shutil.which("rabbitmq-server")
    if server is None:
        raise StackError(
            f"nothing answers at {host}:{port} and rabbitmq-server is missing"
        )
    print("starting the local RabbitMQ ...", flush=True)
    subprocess.run([server, "-detached"], check=True)
    wait_for(lambda: port_open(host, port), "RabbitMQ", 90)


def _management_admin(config: StackConfig) -> AdminCredentials | None:
    """The local broker's management administrator (see devstack.rabbitmq),
    or None when the broker is not local or its management API refuses.
    """
    if (urlsplit(config.amqp_url).hostname or "127.0.0.1") not in {
        "127.0.0.1",
        "localhost",
    }:
        return None
    host, _, port = config.rabbitmq_management.partition(":")
    try:
        wait_for(
            lambda: port_open(host, int(port or "15672")), "RabbitMQ management", 60
        )
        return ensure_admin(
            f"http://{config.rabbitmq_management}",
            config.amqp_url,
            config.run_dir / "rabbitmq-admin",
        )
    except (StackError, ManagementError) as exc:
        print(f"warning: no RabbitMQ management user: {exc}", file=sys.stderr)
        return None


def local_cluster(nodes: int, root: Path) -> RabbitCluster | None:
    """A cluster of `nodes` local RabbitMQ nodes (not started), or None for one node.

    The hook that picks the broker for `make run BROKER_NODES=N`: the stack
    then gets every node's URL in AMQP_URL.
    """
    if nodes < 1:
        raise SystemExit(f"BROKER_NODES must be 1 or more, not {nodes}")
    if nodes == 1:
        return None
    shutil.rmtree(root, ignore_errors=True)  # a fresh cluster on every run
    return RabbitCluster(root, size=nodes)


def _broker_line(amqp_url: str, cluster: RabbitCluster | None) -> str:
    if cluster is None:
        parts = urlsplit(amqp_url.split(",")[0])
        return f"{parts.hostname}:{parts.port or 5672}"
    return ", ".join(f"{node.name} :{node.port}" for node in cluster.nodes)


def _stop_earlier_stack(state_file: Path) -> None:
    """Stop what an earlier `make run` left running (its parent killed or crashed);
    refuse to start beside one that still runs."""
    parent, children = runstate.leftovers(state_file)
    if parent is not None and parent.pid != os.getpid():
        print(
            f"make run failed: another stack runs (make run pid {parent.pid});"
            " stop it first (Ctrl-C in its terminal, or kill it)",
            file=sys.stderr,
        )
        raise SystemExit(1)
    if children:
        listed = ", ".join(f"{c.name} (pid {c.pid})" for c in children)
        print(
            f"an earlier stack is still running: {listed}; stopping it ...",
            flush=True,
        )
        runstate.stop(children)
    state_file.unlink(missing_ok=True)


def main() -> None:
    """Start the stack from the environment, print its URLs, stop on a signal."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--offline", action="store_true", help="use the Randomuser simulator"
    )
    parser.add_argument(
        "--broker-nodes",
        type=int,
        default=int(os.environ.get("BROKER_NODES") or 1),
        help="RabbitMQ nodes: 1 uses AMQP_URL or the machine's broker; more"
        " start a local cluster of that many nodes (BROKER_NODES)",
    )
    args = parser.parse_args()
    env = os.environ
    offline = args.offline or env.get("OFFLINE", "") not in {"", "0", "false", "no"}
    cluster = local_cluster(args.broker_nodes, ROOT / ".run" / "rabbit-cluster")
    amqp_url = (
        cluster.amqp_url
        if cluster
        else env.get("AMQP_URL") or "amqp://guest:guest@127.0.0.1:5672/"
    )
    config = StackConfig(
        http_port=int(env.get("HTTP_PORT", "8080")),
        amqp_url=amqp_url,
        mongo_url=env.get("MONGO_URL") or None,
        mongo_database=env.get("MONGO_DATABASE", "randomuser"),
        randomuser_url=env.get("RANDOMUSER_URL") or None,
        offline=offline,
        command_token=env.get("COMMAND_TOKEN") or None,
        sync_interval_seconds=int(env.get("SYNC_INTERVAL_SECONDS", "3600")),
        log_format=env.get("LOG_FORMAT", "json"),
        # TLS=1: HTTPS on HTTPS_PORT with a generated local certificate.
        https_port=int(env.get("HTTPS_PORT", "8443"))
        if env.get("TLS", "") not in {"", "0", "false", "no"}
        else None,
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    state_file = config.run_dir / "stack.json"
    _stop_earlier_stack(state_file)
    stack = Stack(config)
    admin = None
    try:
        if cluster:
            print(f"starting a {cluster.size}-node RabbitMQ cluster ...", flush=True)
            cluster.start()
        else:
            _local_rabbitmq(amqp_url)
            enable_management(amqp_url)
            admin = _management_admin(config)
        print("starting the stack (logs in .run/logs/) ...", flush=True)
        stack.start()
    except StackError as exc:
        if cluster:
            cluster.stop()
        print(f"make run failed: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    runstate.write(state_file, os.getpid(), stack.processes)
    base = stack.base_url
    management = (
        "no management UI on the local cluster's nodes"
        if cluster
        else f"user {admin.username}, password {admin.password}"
        f" (kept in {config.run_dir / 'rabbitmq-admin'})"
        if admin
        else "your broker's credentials (guest is refused)"
    )
    token_hint = (
        " -H 'Authorization: Bearer $COMMAND_TOKEN'" if config.command_token else ""
    )
    tls_hint = (
        f"\n  TLS certificate      {config.run_dir / 'tls' / 'localhost.crt'}"
        f" (curl --cacert it; http://127.0.0.1:{config.http_port}/ redirects)"
        if config.https_port is not None
        else ""
    )
    print(
        f"""
The Randomuser connector is up{" (offline: simulated Randomuser)" if offline else ""}.
  Dashboard            {base}/
  API docs             {base}/docs/
  Countries            {base}/queries/countries
  Sync status          {base}/queries/sync-status
  Trigger a sync       curl -X POST{token_hint} {base}/commands/sync
  RabbitMQ management  {base}/rabbitmq/
                       {management}
  Randomuser upstream  {stack.randomuser_url}{tls_hint}
  RabbitMQ             {_broker_line(config.amqp_url, cluster)}
Press Ctrl-C to stop.""",
        flush=True,
    )
    try:
        while not stop.wait(0.5):
            for process in stack.processes:
                if process.popen.poll() is not None:
                    print(
                        f"{process.name} exited with {process.popen.returncode};"
                        f" see {process.log_path}. Stopping.",
                        file=sys.stderr,
                    )
                    stop.set()
                    break
    finally:
        print("stopping ...", flush=True)
        stack.stop()
        if cluster:
            cluster.stop()
        state_file.unlink(missing_ok=True)
        print("stopped.", flush=True)


if __name__ == "__main__":
    main()
