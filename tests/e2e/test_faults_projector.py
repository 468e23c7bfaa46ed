"""The projector SIGKILLed in the middle of a snapshot: readers only ever see whole ones."""

from __future__ import annotations

import signal

import pytest

from tests.e2e.test_faults_support import (
    FaultStack,
    Readers,
    private_stack,
    rows_of,
)
from tests.support.eventually import eventually

BIG = 20_000


async def _promoting(fs: FaultStack) -> None:
    """Return once sync.completed is recorded: the promotion is running."""
    async with fs.read_model() as model:

        async def completed() -> bool:
            status = await model.sync_status(recent=5)
            return any(record.state == "completed" for record in status.recent)

        await eventually(completed, interval=0.005, what="the promotion running")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("moment", ["staging", "promoting"])
async def test_a_projector_killed_mid_snapshot_finishes_it_after_a_restart(
    amqp_url: str, mongo_url: str, moment: str
) -> None:
    async with private_stack(
        amqp_url, mongo_url, label=f"projector-kill-{moment}"
    ) as fs:
        client = fs.client
        seed = f"pk-{moment[:4]}"
        before = await client.sync(results=300, seed=f"{seed}-before")
        async with Readers((client.base_url, *client.replica_urls)) as readers:
            command_id = await client.trigger(results=BIG, seed=seed)
            await (fs.staging_begun() if moment == "staging" else _promoting(fs))
            assert await fs.stop_service("projector", signal.SIGKILL) == -signal.SIGKILL
            # Readers keep polling while no projector runs.
            assert (await fs.readiness())["projector"] == 0
            killed_log = len(fs.log("projector"))
            async with fs.read_model() as model:
                status_at_kill = await model.sync_status(recent=1)
            [state_at_kill] = [record.state for record in status_at_kill.recent]
            await fs.restart("projector")
            attempt = await client.attempt_of(command_id, timeout=60)
            await fs.all_ready()
            served = await fs.served_everywhere(attempt["sync_id"])
        status = await client.get_json("/queries/sync-status")
        ids_seen = readers.check(await fs.upstream_counts())
        expected = await fs.upstream_rows(seed=seed, results=BIG)

        assert attempt["state"] == "promoted", attempt
        # Killed mid-snapshot (always while staging; while promoting unless
        # the kill landed in the last milliseconds of a ~300 ms promotion),
        # the restarted projector is the one that made it current.
        assert state_at_kill in {"staging", "completed", "promoted"}
        if state_at_kill != "promoted":
            promoted_by_restarted = fs.log("projector")[killed_log:]
            assert f"promoted snapshot {attempt['sync_id']}" in promoted_by_restarted
        if moment == "staging":
            assert state_at_kill == "staging"
        assert ids_seen <= {before["snapshot"]["id"], attempt["sync_id"]}
        assert served["snapshot"]["user_count"] == attempt["user_count"]
        assert attempt["user_count"] == sum(expected.values())
        assert rows_of(served) == expected
        assert [a["sync_id"] for a in status["recent"]] == [
            attempt["sync_id"],
            before["snapshot"]["id"],
        ]
