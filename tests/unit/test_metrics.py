"""Prometheus metrics: /metrics on every service, labels by route template."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from prometheus_client import REGISTRY

from command_service.app import create_app as create_command_app
from command_service.settings import CommandSettings
from common.delivery import PoisonMessage
from contracts.events import SyncCompleted, SyncFailed, UsersFetched
from query_service.app import create_app as create_query_app
from query_service.projection import ProjectionConfig, projection_handler
from sync_worker.fetching import FetchFailed
from sync_worker.sync import SyncService
from tests.support.fakes import FakePublisher
from tests.support.memory_read_model import InMemoryReadModel
from tests.unit.test_query_app import T0, people, settings
from tests.unit.test_sync_service import FakeRandomuser, command

if TYPE_CHECKING:
    from collections.abc import Mapping


def sample(name: str, labels: Mapping[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, dict(labels or {})) or 0.0


async def test_query_requests_are_counted_by_route_template(aiohttp_client):
    client = await aiohttp_client(
        create_query_app(settings(), read_model=InMemoryReadModel())
    )
    route = {
        "route": "/queries/countries/{name}/users",
        "method": "GET",
        "status": "404",
    }
    before = sample("randomuser_http_requests_total", route)
    unmatched = {"route": "unmatched", "method": "GET", "status": "404"}
    before_unmatched = sample("randomuser_http_requests_total", unmatched)

    await client.get("/queries/countries/Atlantis/users")
    await client.get("/queries/countries/Utopia/users")
    await client.get("/no/such/path/1")

    assert sample("randomuser_http_requests_total", route) == before + 2
    assert sample("randomuser_http_requests_total", unmatched) == before_unmatched + 1
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.content_type == "text/plain"
    text = await response.text()
    assert 'route="/queries/countries/{name}/users"' in text
    assert "Atlantis" not in text
    assert "randomuser_http_request_duration_seconds_bucket" in text


async def test_the_command_service_serves_metrics_and_counts_statuses(aiohttp_client):
    client = await aiohttp_client(
        create_command_app(
            CommandSettings(_env_file=None, command_token="s3cret-token-for-tests"),
            publisher=FakePublisher(),
        )
    )
    labels = {"route": "/commands/sync", "method": "POST", "status": "401"}
    before = sample("randomuser_http_requests_total", labels)

    await client.post("/commands/sync")

    assert sample("randomuser_http_requests_total", labels) == before + 1
    response = await client.get("/metrics")
    assert "randomuser_http_requests_total" in await response.text()


async def test_the_query_replica_sends_request_and_correlation_ids(aiohttp_client):
    client = await aiohttp_client(
        create_query_app(settings(), read_model=InMemoryReadModel())
    )

    first = await client.get("/queries/countries")
    second = await client.get("/queries/countries")

    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]
    assert first.headers["X-Correlation-ID"]


async def test_a_sync_counts_its_outcome_and_its_users():
    completed = sample("randomuser_syncs_total", {"outcome": "completed"})
    failed = sample("randomuser_syncs_total", {"outcome": "failed"})
    fetched = sample("randomuser_users_fetched_total")
    timed = sample("randomuser_sync_duration_seconds_count", {"outcome": "failed"})
    service = SyncService(FakeRandomuser(), FakePublisher())

    await service.handle(command(results=30))
    await SyncService(
        FakeRandomuser(failure=FetchFailed("http_error", "upstream 500", attempts=2)),
        FakePublisher(),
    ).handle(command(results=30))

    assert sample("randomuser_syncs_total", {"outcome": "completed"}) == completed + 1
    assert sample("randomuser_syncs_total", {"outcome": "failed"}) == failed + 1
    assert sample("randomuser_users_fetched_total") == fetched + 30
    assert (
        sample("randomuser_sync_duration_seconds_count", {"outcome": "failed"})
        == timed + 1
    )


async def test_a_sync_that_cannot_publish_counts_as_an_error():
    errors = sample("randomuser_syncs_total", {"outcome": "error"})
    service = SyncService(FakeRandomuser(), FakePublisher(error=ConnectionError()))

    with pytest.raises(ConnectionError):
        await service.handle(command(results=3))

    assert sample("randomuser_syncs_total", {"outcome": "error"}) == errors + 1


async def test_the_projector_counts_events_users_and_promotions():
    model = InMemoryReadModel()
    handle = projection_handler(model, ProjectionConfig())
    fetched = {"type": "users.fetched"}
    events = sample("randomuser_events_projected_total", fetched)
    users = sample("randomuser_users_projected_total")
    promoted = sample("randomuser_snapshot_promotions_total", {"outcome": "promoted"})
    lags = sample("randomuser_projection_lag_seconds_count", fetched)
    batch = UsersFetched(
        sync_id="m1", batch_index=0, batch_count=1, users=tuple(people(12))
    )

    await handle(batch)
    await handle(batch)  # a redelivery stages nothing twice
    await handle(
        SyncCompleted(sync_id="m1", batch_count=1, user_count=12, fetched_at=T0)
    )
    await handle(SyncFailed(sync_id="m2", reason="upstream 500", attempts=1))

    assert sample("randomuser_events_projected_total", fetched) == events + 2
    assert sample("randomuser_users_projected_total") == users + 12
    assert (
        sample("randomuser_snapshot_promotions_total", {"outcome": "promoted"})
        == promoted + 1
    )
    assert sample("randomuser_snapshot_users") == 12
    # One lag observation per users.fetched handled (the redelivery included).
    assert sample("randomuser_projection_lag_seconds_count", fetched) == lags + 2


async def test_a_command_on_the_event_queue_is_not_counted_as_projected():
    handle = projection_handler(InMemoryReadModel(), ProjectionConfig())
    labels = {"type": "sync.requested"}

    with pytest.raises(PoisonMessage):
        await handle(command())

    assert sample("randomuser_events_projected_total", labels) == 0
