"""A three-node RabbitMQ cluster for tests: start it once, find leaders, kill and revive nodes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import signal
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from devstack.rabbit_cluster import Node, RabbitCluster
from devstack.readiness import StackError
from tests.support.eventually import eventually

if TYPE_CHECKING:
    from collections.abc import Iterator

HEARTBEAT_SECONDS = 2
"""Client heartbeat on the test URLs: a frozen node's clients give up on it
within two missed heartbeats (aio-pika's default, 60 s, outlasts the freeze)."""


@contextlib.contextmanager
def running_cluster(size: int = 3) -> Iterator[RabbitCluster]:
    """A fresh cluster of `size` nodes on free ports; always torn down after."""
    if shutil.which("rabbitmq-server") is None or shutil.which("rabbitmqctl") is None:
        pytest.skip("rabbitmq-server is not installed: run `make test`")
    with tempfile.TemporaryDirectory(prefix="rabbit-cluster-") as tmp:
        cluster = RabbitCluster(Path(tmp), size=size)
        try:
            cluster.start()
        except StackError as exc:
            cluster.stop()
            pytest.fail(f"the RabbitMQ cluster did not start: {exc}")
        try:
            yield cluster
        finally:
            cluster.stop()


def cluster_url(cluster: RabbitCluster) -> str:
    """The cluster's AMQP_URL for services under test (short heartbeats)."""
    return ",".join(
        f"{node.url}?heartbeat={HEARTBEAT_SECONDS}" for node in cluster.nodes
    )


class ClusterControl:
    """What a fault test does to the cluster, each step awaited with a deadline."""

    def __init__(self, cluster: RabbitCluster) -> None:
        self.cluster = cluster
        self.down: set[str] = set()
        self.frozen: set[str] = set()

    def alive(self) -> list[Node]:
        """Nodes neither killed nor frozen by this test."""
        gone = self.down | self.frozen
        return [node for node in self.cluster.nodes if node.name not in gone]

    async def ctl(self, *args: str) -> str:
        """rabbitmqctl on a live node; its output."""
        node = self.alive()[0]
        return await asyncio.to_thread(self.cluster.ctl, node, *args, timeout=30)

    async def leader_of(self, queue: str) -> Node:
        """The node whose Raft member currently leads quorum queue `queue`."""
        rows = json.loads(
            await self.ctl("list_queues", "name", "leader", "--formatter", "json")
        )
        for row in rows:
            if row["name"] == queue:
                return self.cluster.node(str(row["leader"]))
        raise AssertionError(f"no queue {queue}: {rows}")

    async def members_online(self, queue: str) -> list[str]:
        """Members of quorum queue `queue` that are online."""
        rows = json.loads(
            await self.ctl("list_queues", "name", "online", "--formatter", "json")
        )
        for row in rows:
            if row["name"] == queue:
                return [str(member) for member in row["online"]]
        raise AssertionError(f"no queue {queue}")

    async def connections(self) -> dict[str, list[str]]:
        """Client connections by connection name: the nodes each is open on."""
        rows: list[dict[str, Any]] = json.loads(
            await self.ctl(
                "list_connections", "client_properties", "port", "--formatter", "json"
            )
        )
        by_port = {node.port: node.name for node in self.cluster.nodes}
        found: dict[str, list[str]] = {}
        for row in rows:
            properties = row["client_properties"]
            # The JSON formatter gives a field table as [name, type, value] rows.
            name = next(
                (str(p[2]) for p in properties if p[0] == "connection_name"), "?"
            )
            found.setdefault(name, []).append(by_port.get(int(row["port"]), "?"))
        return found

    async def kill(self, node: Node) -> None:
        """kill -9 the node's Erlang VM."""
        self.down.add(node.name)
        await asyncio.to_thread(self.cluster.kill, node, signal.SIGKILL)

    def freeze(self, node: Node) -> None:
        """SIGSTOP the node's Erlang VM (it keeps its sockets, answers nothing)."""
        self.frozen.add(node.name)
        self.cluster.kill(node, signal.SIGSTOP)

    def thaw(self, node: Node) -> None:
        """SIGCONT a frozen node (a no-op for one that is not frozen)."""
        if node.name in self.frozen:
            self.cluster.kill(node, signal.SIGCONT)
            self.frozen.discard(node.name)

    async def revive(self) -> None:
        """Start every killed node again; wait until all nodes run the app."""
        for name in sorted(self.down):
            await asyncio.to_thread(self.cluster.start_node, self.cluster.node(name))
        self.down.clear()

        async def all_running() -> bool:
            status = json.loads(await self.ctl("cluster_status", "--formatter", "json"))
            running = set(status["running_nodes"])
            assert running == {n.name for n in self.cluster.nodes}, running
            return True

        await eventually(all_running, timeout=60, interval=0.5, what="all nodes up")
