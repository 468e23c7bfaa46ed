"""Duplicated and out-of-order events through the real broker change nothing.

The test publishes the sync worker's events itself, with `AmqpPublisher`
into the stack's namespace, in orders and multiplicities the worker never
produces but a broker may deliver (redelivery, a republished batch).
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest

from contracts.base import new_id, utc_now
from contracts.events import SyncCompleted, SyncFailed, UsersFetched
from sync_worker.batches import make_batches
from tests.e2e.test_faults_support import Readers, completed_counts, private_stack
from tests.support.eventually import eventually

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from common.amqp import AmqpPublisher
    from contracts.codec import AnyMessage
    from contracts.users import User
    from tests.e2e.test_faults_support import FaultStack

USERS = 3000
BATCH = 500
"""Six batches per sync."""

BARRIER = "barrier: every event published before this one was handled"

COMPARED = ("state", "batches_staged", "batch_count", "user_count", "dropped_count")
"""What a sync's record must show the same however its events arrived."""


def _events(
    users: Sequence[User], fetched_at: datetime
) -> tuple[list[UsersFetched], SyncCompleted]:
    sync_id = new_id()
    batches = make_batches(
        sync_id, users, correlation_id=sync_id, causation_id=None, size=BATCH
    )
    completed = SyncCompleted(
        sync_id=sync_id,
        batch_count=len(batches),
        user_count=len(users),
        seed="dup",
        fetched_at=fetched_at,
        correlation_id=sync_id,
    )
    return batches, completed


async def _deliver(
    fs: FaultStack, publisher: AmqpPublisher, messages: Sequence[AnyMessage]
) -> dict[str, Any]:
    """Publish in this order, then a barrier; the sync status once it is handled.

    The barrier is the failure of a sync of its own. The projector handles its
    deliveries one at a time, in queue order: once the barrier shows, every
    message published before it was handled, those that change nothing too.
    """
    barrier = SyncFailed(sync_id=new_id(), reason=BARRIER, attempts=1)
    for message in (*messages, barrier):
        await publisher.publish(message)

    async def handled() -> dict[str, Any] | None:
        status: dict[str, Any] = await fs.client.get_json("/queries/sync-status")
        states = {r["sync_id"]: r["state"] for r in status["recent"]}
        return status if states.get(barrier.sync_id) == "failed" else None

    return await eventually(handled, what="every event handled")


def _record(status: dict[str, Any], sync_id: str) -> dict[str, Any]:
    [record] = [r for r in status["recent"] if r["sync_id"] == sync_id]
    return dict(record)


@pytest.mark.timeout(90)
async def test_shuffled_duplicated_events_of_a_sync_end_as_one_in_order_delivery(
    amqp_url: str, mongo_url: str
) -> None:
    async with private_stack(amqp_url, mongo_url, label="delivery-shuffled") as fs:
        users = await fs.sim_users(results=USERS, seed="dupshuffle")
        start = utc_now() - timedelta(minutes=10)
        in_order, in_order_done = _events(users, start)
        shuffled, shuffled_done = _events(users, start + timedelta(minutes=1))
        twice: list[AnyMessage] = [*shuffled, *shuffled]
        random.Random(7).shuffle(twice)
        client = fs.client
        async with (
            fs.publisher() as publisher,
            Readers((client.base_url, *client.replica_urls)) as readers,
        ):
            status = await _deliver(fs, publisher, [*in_order, in_order_done])
            reference = await fs.served_everywhere(in_order_done.sync_id)
            expected = _record(status, in_order_done.sync_id)

            # sync.completed first, every batch twice in random order, and
            # sync.completed again at the end.
            status = await _deliver(
                fs, publisher, [shuffled_done, *twice, shuffled_done]
            )
            served = await fs.served_everywhere(shuffled_done.sync_id)
            record = _record(status, shuffled_done.sync_id)

            # Late duplicates of a promoted sync: nothing changes at all.
            late: list[AnyMessage] = [
                shuffled[0],
                shuffled_done,
                shuffled[-1],
                shuffled_done,
            ]
            status = await _deliver(fs, publisher, late)
        readers.check(await completed_counts(client))

        assert served["countries"] == reference["countries"]
        for key in ("user_count", "country_count"):
            assert (
                served["snapshot"][key]
                == reference["snapshot"][key]
                == (USERS if key == "user_count" else len(reference["countries"]))
            )
        assert {k: record[k] for k in COMPARED} == {k: expected[k] for k in COMPARED}
        assert record["state"] == "promoted"
        assert _record(status, shuffled_done.sync_id) == record
        assert status["current_snapshot"] == served["snapshot"]
        assert await client.get_json("/queries/countries") == served
        assert status["dead_lettered"] == 0


@pytest.mark.timeout(90)
async def test_a_duplicated_failure_and_a_late_older_sync_leave_the_snapshot_alone(
    amqp_url: str, mongo_url: str
) -> None:
    async with private_stack(amqp_url, mongo_url, label="delivery-failures") as fs:
        users = await fs.sim_users(results=USERS, seed="dupfailure")
        start = utc_now() - timedelta(minutes=10)
        current, current_done = _events(users, start)
        failing, _ = _events(users[:1500], start + timedelta(minutes=1))
        failed = SyncFailed(
            sync_id=failing[0].sync_id, reason="upstream gave up", attempts=3
        )
        older, older_done = _events(users[:1000], start - timedelta(minutes=1))
        client = fs.client
        async with fs.publisher() as publisher:
            await _deliver(fs, publisher, [*current, current_done])
            before = await fs.served_everywhere(current_done.sync_id)
            async with Readers((client.base_url, *client.replica_urls)) as readers:
                # A batch, the failure, a batch, the failure again, a batch.
                status = await _deliver(
                    fs,
                    publisher,
                    [failing[0], failed, failing[1], failed, failing[2]],
                )
                failure = _record(status, failed.sync_id)
                # A sync older than the current one completes late, batches
                # reversed, its completion twice.
                status = await _deliver(
                    fs, publisher, [*reversed(older), older_done, older_done]
                )
        superseded = _record(status, older_done.sync_id)
        seen = readers.check(await completed_counts(client))

        assert seen == {current_done.sync_id}
        assert failure["state"] == "failed"
        assert failure["reason"] == "upstream gave up"
        assert _record(status, failed.sync_id) == failure
        assert superseded["state"] == "superseded", superseded
        assert status["last_success"]["sync_id"] == current_done.sync_id
        assert status["current_snapshot"] == before["snapshot"]
        assert await fs.served_everywhere(current_done.sync_id) == before
        async with fs.read_model() as model:
            # Nothing of either sync stays staged.
            assert await model.staged_countries(failed.sync_id) == []
            assert await model.staged_countries(older_done.sync_id) == []
