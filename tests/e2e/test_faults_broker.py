"""RabbitMQ restarted in the middle of a sync: nothing lost, duplicated or half-visible.

The broker really restarts (`rabbitmqctl stop_app` / `start_app`): a private
node of this module's own (tests/support/rabbit_node.py), so the machine's
broker, which other test runs share, is never touched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from query_service.records import ACTIVE_STATES
from tests.e2e.test_faults_support import (
    FaultStack,
    Readers,
    broker_stopped,
    private_stack,
    rows_of,
)
from tests.support.eventually import eventually
from tests.support.rabbit_node import RabbitNode, rabbit_node
from tests.support.rabbit_node import available as rabbit_node_available

if TYPE_CHECKING:
    from collections.abc import Iterator

BIG = 20_000
BROKER_CLIENTS = ("projector", "sync-worker", "command-service")


@pytest.fixture(scope="module")
def private_node() -> Iterator[RabbitNode]:
    """A RabbitMQ node of this module's own, to restart at will."""
    if (missing := rabbit_node_available()) is not None:
        pytest.fail(missing)
    with rabbit_node() as node:
        yield node


@pytest.fixture
def node(private_node: RabbitNode) -> Iterator[RabbitNode]:
    """The private node, its application running again after the test whatever
    happened (a timeout in the middle of the restart included)."""
    yield private_node
    private_node.start_app()


async def _in_fetch(fs: FaultStack) -> None:
    async def upstream_answering_slowly() -> bool:
        return not await fs.faults_pending()

    await eventually(upstream_answering_slowly, what="the slow page requested")


async def _broker_clients_not_ready(fs: FaultStack) -> bool:
    statuses = await fs.readiness()
    for name, status in statuses.items():
        expected = 503 if name in BROKER_CLIENTS else 200
        assert status == expected, statuses
    return True


async def _served_attempt_of(fs: FaultStack, command_id: str) -> dict[str, Any] | None:
    """The body every origin serves, once it is a promoted attempt of the command."""
    status = await fs.client.get_json("/queries/sync-status")
    promoted = {
        attempt["sync_id"]
        for attempt in status["recent"]
        if attempt["command_id"] == command_id and attempt["state"] == "promoted"
    }
    bodies = [
        await fs.client.get_json("/queries/countries", origin=origin)
        for origin in (*fs.client.replica_urls, fs.client.base_url)
    ]
    ids = {(body.get("snapshot") or {}).get("id") for body in bodies}
    if len(ids) == 1 and ids <= promoted:
        return dict(bodies[-1])
    return None


@pytest.mark.timeout(150)
@pytest.mark.parametrize("phase", ["fetching", "projecting"])
async def test_a_broker_restart_mid_sync_loses_duplicates_and_shows_nothing_half_done(
    node: RabbitNode, mongo_url: str, phase: str
) -> None:
    async with private_stack(
        node.amqp_url,
        mongo_url,
        label=f"broker-restart-{phase}",
        # The slow upstream answer must outlast the broker's restart.
        env={"HTTP_TIMEOUT_SECONDS": "30"},
    ) as fs:
        client = fs.client
        seed = f"rs-{phase[:5]}"
        before = await client.sync(results=200, seed=f"{seed}-before")
        async with Readers((client.base_url, *client.replica_urls)) as readers:
            if phase == "fetching":
                await client.fault("slow", count=1, delay=8)
            command_id = await client.trigger(results=BIG, seed=seed)
            await (_in_fetch(fs) if phase == "fetching" else fs.staging_begun())
            async with broker_stopped(node):
                await eventually(
                    lambda: _broker_clients_not_ready(fs),
                    timeout=15,
                    what="broker clients report not ready",
                )
            await fs.all_ready(timeout=60)
            served = await eventually(
                lambda: _served_attempt_of(fs, command_id),
                timeout=60,
                what="the big sync served",
            )
            # A new sync succeeds. Commands and events are handled in order,
            # so it also waits out a redelivered command's second attempt.
            after = await client.sync(results=100, seed=f"{seed}-after")
        status = await client.get_json("/queries/sync-status")
        readers.check(await fs.upstream_counts())
        expected = await fs.upstream_rows(seed=seed, results=BIG)

        total = sum(expected.values())
        assert served["snapshot"]["user_count"] == total
        assert rows_of(served) == expected
        # The command may have run twice (its ack was lost with the channel):
        # every attempt that completed holds exactly what upstream sent.
        ours = [a for a in status["recent"] if a["command_id"] == command_id]
        for attempt in ours:
            assert attempt["state"] in {"promoted", "superseded"}, attempt
            assert attempt["user_count"] == total, attempt
        # An attempt cut short by the restart never completed: never visible.
        for attempt in status["recent"]:
            if attempt["user_count"] is None and attempt["state"] != "failed":
                assert attempt["state"] in {*ACTIVE_STATES, "superseded"}, attempt
        assert status["current_snapshot"]["id"] == after["snapshot"]["id"]
        assert before["snapshot"]["id"] not in {a["sync_id"] for a in ours}
