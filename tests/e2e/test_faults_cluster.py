"""Losing or freezing a broker node of a three-node cluster loses and doubles nothing.

Every case runs a stack of its own on the session's cluster (AMQP_URL lists
the three nodes), breaks the node that leads the sync queues at a chosen
moment and checks: each command answered 202 has exactly one outcome, the
promoted snapshot holds exactly the users the simulator serves for the seed,
and every process is on a surviving node within 10 s. Killed nodes are
started again after each case, so each case starts with three.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest

from tests.e2e.conftest import ARTIFACTS, TOKEN
from tests.e2e.test_faults_support import FaultStack, private_stack, rows_of
from tests.support.cluster import ClusterControl, cluster_url
from tests.support.eventually import eventually

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from devstack.rabbit_cluster import Node, RabbitCluster

AMQP_CLIENTS = ("projector", "sync-worker", "command-service")
"""The stack's processes that hold a RabbitMQ connection."""

FAILOVER_DEADLINE = 10.0
"""Seconds from a node's death until every process is on a surviving node."""

RECOVERY_LOG = ARTIFACTS / "cluster-failover.txt"
"""Where each case appends its measured failover time (for docs/RELIABILITY.md)."""


def _record(case: str, seconds: float) -> None:
    RECOVERY_LOG.parent.mkdir(parents=True, exist_ok=True)
    with RECOVERY_LOG.open("a") as log:
        log.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {case}: {seconds:.2f}s\n")


@pytest.fixture
async def control(rabbit_cluster: RabbitCluster) -> AsyncIterator[ClusterControl]:
    """The session's cluster, with every node running again after the test."""
    control = ClusterControl(rabbit_cluster)
    try:
        yield control
    finally:
        for node in rabbit_cluster.nodes:
            control.thaw(node)
        await control.revive()


async def _metrics(fs: FaultStack) -> dict[str, str]:
    """The /metrics text of every AMQP client of the stack, by process name."""
    urls = fs.ready_urls()
    texts: dict[str, str] = {}
    async with aiohttp.ClientSession() as session:
        for name in AMQP_CLIENTS:
            url = urls[name].replace("/readyz", "/metrics")
            async with session.get(url) as response:
                texts[name] = await response.text()
    return texts


def _node_in_use(text: str) -> str | None:
    found = re.search(r'randomuser_amqp_node_info\{node="([^"]+)"\} 1\.0', text)
    return found.group(1) if found else None


def _events(text: str, event: str) -> float:
    found = re.search(
        rf'randomuser_amqp_connection_events_total\{{event="{event}"\}} (\S+)', text
    )
    return float(found.group(1)) if found else 0.0


async def _everyone_moved(
    fs: FaultStack,
    control: ClusterControl,
    lost: Node,
    since: float,
    deadline: float = FAILOVER_DEADLINE,
) -> float:
    """Wait until every AMQP client is on a surviving node; seconds since `since`.

    Each process reports its node on /metrics; the broker's own list of
    connections must agree.
    """
    dead = f"127.0.0.1:{lost.port}"

    async def moved() -> bool:
        texts = await _metrics(fs)
        for name, text in texts.items():
            node = _node_in_use(text)
            assert node is not None, f"{name} is not connected"
            assert node != dead, f"{name} is still on {dead}"
        return True

    await eventually(
        moved,
        timeout=deadline - (time.monotonic() - since),
        interval=0.1,
        what="failover",
    )
    took = time.monotonic() - since
    connections = await control.connections()
    clients = {
        name: nodes
        for name, nodes in connections.items()
        if name.startswith(
            ("query_service.projector", "command_service", "sync_worker")
        )
    }
    assert len(clients) == len(AMQP_CLIENTS), connections
    assert all(lost.name not in nodes for nodes in clients.values()), connections
    # The incident shows on every process's /metrics: lost, then restored.
    for name, text in (await _metrics(fs)).items():
        assert _events(text, "lost") >= 1, name
        assert _events(text, "restored") >= 1, name
    return took


async def _outcomes(fs: FaultStack) -> Counter[str]:
    """Sync outcomes (sync.completed or sync.failed recorded) by command id."""
    async with fs.read_model() as model:
        status = await model.sync_status(recent=1000)
    outcomes: Counter[str] = Counter()
    for record in status.recent:
        part = record.completion or record.failure
        if part is not None and part.command_id is not None:
            outcomes[part.command_id] += 1
    return outcomes


async def _one_outcome_each(
    fs: FaultStack,
    commands: list[str],
    timeout: float = 120,
    *,
    maybe: list[str] | None = None,
) -> None:
    """Each of `commands` has exactly one outcome; those `maybe` run have at
    most one; nothing else has any."""

    started = time.monotonic()
    progress = {"count": -1, "changed": 0.0}

    async def settled() -> bool:
        outcomes = await _outcomes(fs)
        if len(outcomes) != progress["count"]:
            progress.update(count=len(outcomes), changed=time.monotonic() - started)
        missing = [c for c in commands if c not in outcomes]
        # Stalled or slow: the message says when the count last moved.
        assert not missing, (
            f"{len(missing)} commands without an outcome; {len(outcomes)} outcomes,"
            f" the last new one {progress['changed']:.1f}s into the wait"
        )
        return True

    await eventually(settled, timeout=timeout, interval=0.5, what="every outcome")
    outcomes = await _outcomes(fs)
    doubled = {c: n for c, n in outcomes.items() if n != 1}
    assert not doubled, f"commands with more than one outcome: {doubled}"
    strangers = set(outcomes) - set(commands) - set(maybe or ())
    assert not strangers, f"outcomes of commands never sent: {strangers}"


async def _command_of_current_snapshot(fs: FaultStack) -> str:
    """The command whose sync made the snapshot readers are pointed at."""
    async with fs.read_model() as model:
        status = await model.sync_status(recent=1000)
    assert status.current is not None, "no snapshot promoted"
    (record,) = [r for r in status.recent if r.sync_id == status.current.id]
    assert record.completion is not None, record
    assert record.completion.command_id is not None, record
    return record.completion.command_id


async def _check_snapshot(
    fs: FaultStack, command_id: str, *, results: int, seed: str
) -> None:
    attempt = await fs.client.attempt_of(command_id, timeout=120)
    assert attempt["state"] == "promoted", attempt
    served = await fs.served_everywhere(attempt["sync_id"])
    await _check_users(fs, served, results=results, seed=seed)


async def _check_users(
    fs: FaultStack, served: dict[str, Any], *, results: int, seed: str
) -> None:
    """`served` holds exactly the users upstream served for `seed`."""
    expected = await fs.upstream_rows(results=results, seed=seed)
    assert rows_of(served) == expected  # nobody lost, nobody doubled


async def _check_current_snapshot(
    fs: FaultStack, commands: list[str], *, results: int, seed: str
) -> None:
    """The current snapshot, made by one of `commands`, is served everywhere
    with the users upstream served. Read again until it is: a command whose
    confirm was lost may still run after the others, and move it on."""

    async def served_now() -> dict[str, Any]:
        current = await _command_of_current_snapshot(fs)
        assert current in commands, current
        attempt = await fs.client.attempt_of(current, timeout=10)
        assert attempt["state"] == "promoted", attempt
        return await fs.served_by_all(attempt["sync_id"])

    served = await eventually(served_now, timeout=30, what="current snapshot served")
    await _check_users(fs, served, results=results, seed=seed)


@pytest.mark.timeout(240)
async def test_killing_the_sync_queue_leader_while_the_worker_fetches_loses_nothing(
    control: ClusterControl, mongo_url: str
) -> None:
    url = cluster_url(control.cluster)
    env = {"HTTP_TIMEOUT_SECONDS": "15"}
    async with private_stack(url, mongo_url, label="cluster-fetch", env=env) as fs:
        seed, results = "cluster-fetch", 2000
        await fs.client.fault("slow", 1, delay=4)
        command_id = await fs.client.trigger(results=results, seed=seed)

        async def fetching() -> bool:
            return not await fs.faults_pending()  # the slow answer has begun

        await eventually(fetching, timeout=30, interval=0.02, what="fetch begun")
        leader = await control.leader_of(fs.topology.sync_requests_queue)
        killed_at = time.monotonic()
        await control.kill(leader)
        _record(
            "kill while fetching", await _everyone_moved(fs, control, leader, killed_at)
        )
        await _check_snapshot(fs, command_id, results=results, seed=seed)
        await _one_outcome_each(fs, [command_id])


@pytest.mark.timeout(240)
async def test_killing_the_projector_queue_leader_while_staging_loses_nothing(
    control: ClusterControl, mongo_url: str
) -> None:
    url = cluster_url(control.cluster)
    async with private_stack(url, mongo_url, label="cluster-staging") as fs:
        seed, results = "cluster-staging", 20_000
        command_id = await fs.client.trigger(results=results, seed=seed)
        await fs.staging_begun()
        leader = await control.leader_of(fs.topology.projector_queue)
        killed_at = time.monotonic()
        await control.kill(leader)
        _record(
            "kill while staging", await _everyone_moved(fs, control, leader, killed_at)
        )
        await _check_snapshot(fs, command_id, results=results, seed=seed)
        await _one_outcome_each(fs, [command_id])


@pytest.mark.timeout(300)
async def test_killing_the_leader_during_100_concurrent_commands_keeps_every_accepted_one(
    control: ClusterControl, mongo_url: str
) -> None:
    url = cluster_url(control.cluster)
    async with private_stack(url, mongo_url, label="cluster-commands") as fs:
        seed, results = "cluster-commands", 5
        answered = 0
        some_answered = asyncio.Event()
        # Straight to the command service: nginx's rate limit is not under test.
        endpoint = f"{fs.stack.command_url}/commands/sync"

        async def post(session: aiohttp.ClientSession) -> tuple[int, str | None]:
            nonlocal answered
            async with session.post(
                endpoint,
                json={"results": results, "seed": seed},
                headers={"Authorization": f"Bearer {TOKEN}"},
            ) as response:
                body = await response.json(content_type=None)
            answered += 1
            if answered >= 20:
                some_answered.set()
            return response.status, (body or {}).get("command_id")

        leader = await control.leader_of(fs.topology.sync_requests_queue)
        async with aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=60)
        ) as session:
            posts = [asyncio.create_task(post(session)) for _ in range(100)]
            await some_answered.wait()
            killed_at = time.monotonic()
            await control.kill(leader)
            answers = await asyncio.gather(*posts)
        _record(
            "kill during 100 POSTs",
            await _everyone_moved(fs, control, leader, killed_at),
        )
        # Each POST is answered 202 (confirmed) or 503 naming a command whose
        # confirm was lost (it may or may not run), never a 4xx.
        assert all(status in (202, 503) for status, _ in answers), answers
        assert all(command for _, command in answers), answers
        accepted = [command for status, command in answers if status == 202 and command]
        unconfirmed = [
            command for status, command in answers if status == 503 and command
        ]
        assert accepted, answers
        with RECOVERY_LOG.open("a") as log:
            log.write(
                f"{time.strftime('%Y-%m-%dT%H:%M:%S')} kill during 100 POSTs:"
                f" {len(accepted)} answered 202, {len(unconfirmed)} answered 503\n"
            )
        await _one_outcome_each(fs, accepted, maybe=unconfirmed)
        # The last command to run may be one whose confirm was lost: the
        # snapshot to check is the current one, whichever command made it.
        await _check_current_snapshot(
            fs, accepted + unconfirmed, results=results, seed=seed
        )


@pytest.mark.timeout(300)
async def test_freezing_the_sync_queue_leader_for_30_seconds_loses_and_doubles_nothing(
    control: ClusterControl, mongo_url: str
) -> None:
    url = cluster_url(control.cluster)
    async with private_stack(url, mongo_url, label="cluster-freeze") as fs:
        seed, results = "cluster-freeze", 5000
        leader = await control.leader_of(fs.topology.sync_requests_queue)
        first = await fs.client.trigger(results=results, seed=seed)
        control.freeze(leader)
        frozen_at = time.monotonic()
        try:
            # The fault is a 30 s freeze: this wait is its length, not a guess.
            await asyncio.sleep(30)
        finally:
            control.thaw(leader)
        thawed_at = time.monotonic()
        # A frozen node keeps its sockets open: clients notice only when its
        # heartbeats stop, and its queues' leaders move only when the other
        # nodes give up on it; so this case asserts no failover deadline.
        await fs.all_ready(timeout=90)
        _record(
            "freeze 30 s: every process ready after thaw", time.monotonic() - thawed_at
        )
        _record("freeze 30 s: frozen to ready", time.monotonic() - frozen_at)
        second = await fs.client.trigger(results=results, seed=seed)
        await _one_outcome_each(fs, [first, second], timeout=60)
        await _check_snapshot(fs, second, results=results, seed=seed)
