"""MongoDB down: replicas serve what they hold, the projector waits, nothing is lost."""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING
from urllib.parse import quote

import aiohttp
import pytest

from tests.e2e.test_faults_support import local_broker, private_stack, rows_of
from tests.support.eventually import eventually

if TYPE_CHECKING:
    from tests.e2e.test_faults_support import FaultStack


async def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, dict(response.headers), await response.read()


async def _projector_readiness(fs: FaultStack) -> tuple[int, dict[str, bool]]:
    url = fs.ready_urls()["projector"]
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, (await response.json())["checks"]


def _assert_unavailable(status: int, headers: dict[str, str], body: bytes) -> None:
    """A 503 problem+json that says the database is unreachable."""
    assert status == 503, body
    assert headers["Content-Type"].startswith("application/problem+json"), headers
    assert headers["Retry-After"] == "2", headers
    assert b'"status":503' in body, body
    assert b"database" in body, body


@pytest.mark.timeout(120)
async def test_a_database_outage_serves_what_replicas_hold_and_projects_after_it(
    amqp_url: str, mongo_url: str
) -> None:
    local_broker(amqp_url)  # rabbitmqctl shows what the projector holds
    async with private_stack(
        amqp_url, mongo_url, label="mongo-outage", own_mongo=True
    ) as fs:
        client = fs.client
        before = await client.sync(results=400, seed="mo-before")
        names = [country["name"] for country in before["countries"]]
        loaded, unloaded = (f"/queries/countries/{quote(n)}/users" for n in names[:2])
        for origin in client.replica_urls:
            # Each replica now holds this country's users in memory, not the other's.
            assert (await _get(f"{origin}{loaded}"))[0] == 200

        assert await fs.stop_service("nx-27017", signal.SIGKILL) == -signal.SIGKILL

        async def projector_not_ready() -> bool:
            status, checks = await _projector_readiness(fs)
            assert (status, checks["mongo"]) == (503, False), checks
            return True

        await eventually(projector_not_ready, timeout=20, what="projector not ready")
        for origin in client.replica_urls:
            # What the replica holds in memory: served as before.
            assert await client.get_json("/queries/countries", origin=origin) == before
            names_status, _, _ = await _get(f"{origin}/queries/countries/names")
            assert names_status == 200
            loaded_status, _, page = await _get(f"{origin}{loaded}")
            assert loaded_status == 200, page
            # What it would have to read: a clear 503.
            _assert_unavailable(*await _get(f"{origin}{unloaded}"))
            _assert_unavailable(*await _get(f"{origin}/queries/sync-status"))
            # Still ready: its load balancer keeps sending the reads it can serve.
            assert (await _get(f"{origin}/readyz"))[0] == 200
        # nginx keeps serving: the dashboard, and reads the replicas hold.
        assert (await _get(f"{client.base_url}/"))[0] == 200
        assert await client.get_json("/queries/countries") == before
        _assert_unavailable(*await _get(f"{client.base_url}/queries/sync-status"))

        # A sync during the outage: published, then held unacked by the projector.
        command_id = await client.trigger(results=500, seed="mo-during")

        async def held_by_the_projector() -> bool:
            ready, unacked = await fs.queue_counts(fs.topology.projector_queue)
            assert unacked >= 1, (ready, unacked)
            assert ready + unacked == 2, (ready, unacked)  # one batch, sync.completed
            return True

        await eventually(held_by_the_projector, timeout=20, what="events held")
        assert await client.get_json("/queries/countries") == before

        await fs.restart_mongo()
        attempt = await client.attempt_of(command_id, timeout=60)
        await fs.all_ready()
        served = await fs.served_everywhere(attempt["sync_id"])

        assert attempt["state"] == "promoted", attempt
        assert rows_of(served) == await fs.upstream_rows(seed="mo-during", results=500)
        assert served["snapshot"]["user_count"] == attempt["user_count"]
        status, checks = await _projector_readiness(fs)
        assert status == 200, checks
