"""Two sync workers in one stack: one scheduled sync per slot, never two at once.

A dedicated stack runs the schedule every 2 seconds with a second worker
process. A test queue bound to both exchanges sees every command and event
in the order the broker routed them; the read model shows what each
promoted snapshot holds. Halfway, the worker that leads and consumes is
stopped: the other takes over both roles.
"""

from __future__ import annotations

import contextlib
import itertools
import signal
import tempfile
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Final

import aio_pika
import orjson
import pytest

from common.declare import declare_exchanges
from contracts.codec import AnyMessage, decode
from contracts.commands import SyncRequested
from contracts.events import SyncCompleted, SyncFailed, UsersFetched
from contracts.topology import Topology
from devstack.readiness import free_port
from devstack.stack import Stack
from query_service.read_model import MongoReadModel
from tests.e2e.conftest import stack_config
from tests.support.broker import delete_topology
from tests.support.eventually import eventually

if TYPE_CHECKING:
    from aio_pika.abc import AbstractIncomingMessage

    from query_service.records import Snapshot

INTERVAL: Final = 2
SLOTS_PER_LEADER: Final = 3
SYNC_RESULTS: Final = 2500
"""Two batches per sync (at most 2,000 users each), so interleaving would show."""


class Observed:
    """Every command and event, in the order the broker routed them."""

    def __init__(self) -> None:
        self.messages: list[AnyMessage] = []

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        """Record one message."""
        self.messages.append(decode(message.body))
        await message.ack()

    def scheduled(self) -> list[SyncRequested]:
        """The scheduled commands, in order."""
        return [
            m
            for m in self.messages
            if isinstance(m, SyncRequested) and m.trigger == "schedule"
        ]

    def events(self) -> list[UsersFetched | SyncCompleted | SyncFailed]:
        """The sync events, in order."""
        return [
            m
            for m in self.messages
            if isinstance(m, UsersFetched | SyncCompleted | SyncFailed)
        ]

    def outcomes(self, command: SyncRequested) -> list[SyncCompleted | SyncFailed]:
        """The outcome events of the syncs a command started."""
        return [
            e
            for e in self.events()
            if isinstance(e, SyncCompleted | SyncFailed)
            and e.command_id == command.command_id
        ]

    def finished(self, commands: list[SyncRequested]) -> bool:
        """True when every command in `commands` has an outcome."""
        return all(self.outcomes(command) for command in commands)


def _started_syncs(log: Path) -> set[str]:
    """The ids of the syncs a worker's log says it started."""
    started = set()
    for raw in log.read_bytes().splitlines():
        with contextlib.suppress(orjson.JSONDecodeError):
            message = str(orjson.loads(raw).get("message", ""))
            if message.startswith("sync ") and " started: " in message:
                started.add(message.split()[1])
    return started


@pytest.mark.timeout(180)
async def test_two_workers_fire_one_sync_per_slot_and_never_interleave_syncs(
    amqp_url: str, mongo_url: str
) -> None:
    with tempfile.TemporaryDirectory(prefix="e2e-two-workers-") as tmp:
        config = stack_config(amqp_url, mongo_url, Path(tmp))
        config.sync_interval_seconds = INTERVAL
        config.extra_env |= {
            "SYNC_RESULTS": str(SYNC_RESULTS),
            "SCHEDULER_LOCK_RETRY_SECONDS": "0.5",
            "SNAPSHOTS_KEPT": "50",
        }
        topology = Topology(config.amqp_namespace)
        observed = Observed()
        connection = await aio_pika.connect(amqp_url)
        stack = Stack(config)
        try:
            channel = await connection.channel()
            commands, events = await declare_exchanges(channel, topology)
            tap = await channel.declare_queue(exclusive=True)
            await tap.bind(commands, routing_key="sync.requested")
            await tap.bind(events, routing_key="#")
            await tap.consume(observed.on_message)

            stack.start()
            second_port = free_port()
            stack.start_python(
                "sync-worker-2",
                "sync_worker",
                f"http://127.0.0.1:{second_port}/readyz",
                HEALTH_PORT=str(second_port),
            )
            sync_queue = await channel.declare_queue(
                topology.sync_requests_queue, passive=True
            )
            # Both workers consume; a single-active-consumer queue counts
            # only the active one (the other waits, as its log shows below).
            assert sync_queue.declaration_result.consumer_count == 1

            async def slots_done(after: int) -> bool:
                scheduled = observed.scheduled()[after:]
                return len(scheduled) >= SLOTS_PER_LEADER and observed.finished(
                    scheduled
                )

            await eventually(
                lambda: slots_done(0), timeout=40, what="slots of the first leader"
            )
            first = stack.process("sync-worker")
            first.popen.send_signal(signal.SIGTERM)
            assert first.popen.wait(timeout=20) == 0
            handed_over = len(observed.scheduled())
            await eventually(
                lambda: slots_done(handed_over),
                timeout=40,
                what="slots of the second leader",
            )
            completed = [e for e in observed.events() if isinstance(e, SyncCompleted)]
            async with MongoReadModel.open(
                stack.mongo_url,
                config.mongo_database,
                server_timeout=5,
                app_name="two-workers-test",
            ) as read_model:

                async def promoted() -> dict[str, Snapshot] | None:
                    found = {
                        sync.sync_id: await read_model.snapshot(sync.sync_id)
                        for sync in completed
                    }
                    missing = [key for key, value in found.items() if value is None]
                    assert not missing, f"not promoted (yet): {missing}"
                    return {key: v for key, v in found.items() if v is not None}

                snapshots = await eventually(
                    promoted, timeout=20, what="every completed sync promoted"
                )
            logs = {
                name: _started_syncs(stack.process(name).log_path)
                for name in ("sync-worker", "sync-worker-2")
            }
        finally:
            stack.stop()
            await connection.close()
            await delete_topology(amqp_url, topology)

    # One command per slot, on consecutive slots; the handover may skip one.
    scheduled = observed.scheduled()
    slots = [int(c.command_id.removeprefix("schedule-")) for c in scheduled]
    assert len(set(slots)) == len(slots), slots
    steps = Counter(b - a for a, b in itertools.pairwise(slots))
    assert set(steps) <= {INTERVAL, 2 * INTERVAL}, slots
    assert steps[2 * INTERVAL] <= 1, slots
    # Each command ran as exactly one sync.
    for command in scheduled:
        assert len(observed.outcomes(command)) == 1, command.command_id

    # Syncs never interleave: each sync's events are one unbroken run, its
    # batches in order and then its outcome.
    runs: list[str] = []
    for event in observed.events():
        if not runs or runs[-1] != event.sync_id:
            assert event.sync_id not in runs, "sync events interleaved"
            runs.append(event.sync_id)
    for sync in completed:
        batches = [
            e
            for e in observed.events()
            if isinstance(e, UsersFetched) and e.sync_id == sync.sync_id
        ]
        assert [b.batch_index for b in batches] == list(range(sync.batch_count))
        assert sum(len(b.users) for b in batches) == sync.user_count == SYNC_RESULTS
        # Its promoted snapshot holds exactly its own batches' users.
        snapshot = snapshots[sync.sync_id]
        expected = Counter(user.country for b in batches for user in b.users)
        assert {c.name: c.user_count for c in snapshot.countries} == expected

    # One worker at a time consumed: the first until it stopped, then the second.
    started = logs["sync-worker"] | logs["sync-worker-2"]
    assert not logs["sync-worker"] & logs["sync-worker-2"]
    assert logs["sync-worker"]
    assert logs["sync-worker-2"]
    assert {e.sync_id for e in observed.events()} <= started
    first_worker_syncs = [s for s in runs if s in logs["sync-worker"]]
    assert runs[: len(first_worker_syncs)] == first_worker_syncs
