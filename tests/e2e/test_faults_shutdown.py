"""SIGTERM with work in flight: finished within the grace period, or handed back."""

from __future__ import annotations

import signal

import pytest

from tests.e2e.test_faults_support import private_stack, rows_of
from tests.support.eventually import eventually

GRACE = 3.0
"""SHUTDOWN_TIMEOUT_SECONDS of the services under test."""


@pytest.mark.timeout(90)
@pytest.mark.parametrize(("outcome", "delay"), [("finished", 1.0), ("requeued", 6.0)])
async def test_a_worker_stopped_mid_sync_finishes_it_or_hands_the_command_back(
    amqp_url: str, mongo_url: str, outcome: str, delay: float
) -> None:
    async with private_stack(
        amqp_url,
        mongo_url,
        label=f"worker-sigterm-{outcome}",
        env={"SHUTDOWN_TIMEOUT_SECONDS": str(GRACE), "HTTP_TIMEOUT_SECONDS": "30"},
    ) as fs:
        client = fs.client
        seed = f"term-{outcome}"
        commands = fs.topology.sync_requests_queue
        # Upstream answers after `delay`: shorter or longer than the grace period.
        await client.fault("slow", count=1, delay=delay)
        command_id = await client.trigger(results=500, seed=seed)

        async def fetching() -> bool:
            return not await fs.faults_pending()

        await eventually(fetching, what="the worker waiting for upstream")
        assert await fs.stop_service("sync-worker", signal.SIGTERM) == 0

        handed_back = "returning unfinished message" in fs.log("sync-worker")
        assert handed_back == (outcome == "requeued")
        # Handed back, the command waits in its queue for the next worker.
        assert await fs.queue_ready(commands) == (1 if handed_back else 0)
        await fs.restart("sync-worker")
        attempt = await client.attempt_of(command_id, timeout=30)
        await fs.all_ready()
        status = await client.get_json("/queries/sync-status")
        served = await fs.served_everywhere(attempt["sync_id"])
        expected = await fs.upstream_rows(seed=seed, results=500)

        assert attempt["state"] == "promoted", attempt
        assert rows_of(served) == expected
        # One attempt: the one cut short published nothing.
        assert [a["sync_id"] for a in status["recent"]] == [attempt["sync_id"]]
        assert "Traceback" not in fs.log("sync-worker")


@pytest.mark.timeout(90)
async def test_a_projector_stopped_mid_stream_loses_no_event(
    amqp_url: str, mongo_url: str
) -> None:
    async with private_stack(
        amqp_url,
        mongo_url,
        label="projector-sigterm",
        env={"SHUTDOWN_TIMEOUT_SECONDS": str(GRACE)},
    ) as fs:
        client = fs.client
        command_id = await client.trigger(results=20_000, seed="term-proj")
        await fs.staging_begun()
        assert await fs.stop_service("projector", signal.SIGTERM) == 0
        stopped_log = len(fs.log("projector"))
        await fs.restart("projector")
        attempt = await client.attempt_of(command_id, timeout=60)
        await fs.all_ready()
        status = await client.get_json("/queries/sync-status")
        served = await fs.served_everywhere(attempt["sync_id"])
        expected = await fs.upstream_rows(seed="term-proj", results=20_000)

        assert attempt["state"] == "promoted", attempt
        # 20,000 users in the worker's batches (chunks of the 5,000-user pages).
        assert attempt["batches_staged"] == attempt["batch_count"] == 12
        assert rows_of(served) == expected
        assert served["snapshot"]["user_count"] == attempt["user_count"]
        assert attempt["user_count"] == sum(expected.values())
        assert status["dead_lettered"] == 0
        # Stopped before promoting: the restarted projector did it.
        assert (
            f"promoted snapshot {attempt['sync_id']}"
            in fs.log("projector")[stopped_log:]
        )
        assert "Traceback" not in fs.log("projector")
