"""SyncService with a fake upstream and a FakePublisher: what a sync publishes."""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any

import orjson
import pytest

from common.delivery import PoisonMessage
from contracts.codec import encode
from contracts.commands import SyncRequested
from contracts.events import SyncCompleted, SyncFailed, UsersFetched
from sync_worker.batches import make_batches
from sync_worker.fetching import FetchedPage, FetchFailed, FetchRequest, page_sizes
from sync_worker.sync import SyncService
from sync_worker.validation import validate_users
from tests.support.fakes import FakePublisher
from tests.support.samples import sample_bytes

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

SAMPLE_USERS: list[dict[str, Any]] = orjson.loads(
    sample_bytes("v1.4_seed-b92435b8050047da_results-111.json")
)["results"]


def raw_users(count: int) -> list[dict[str, Any]]:
    return [SAMPLE_USERS[i % len(SAMPLE_USERS)] for i in range(count)]


class FakeRandomuser:
    """Serves the sample users in pages, or fails after some, and records requests."""

    def __init__(
        self,
        users: list[Any] | None = None,
        *,
        failure: FetchFailed | None = None,
        fail_after_pages: int = 0,
        per_page: int = 5_000,
    ) -> None:
        self.users = users
        self.failure = failure
        self.fail_after_pages = fail_after_pages
        self.per_page = per_page
        self.requests: list[FetchRequest] = []

    def page_sizes(self, results: int) -> list[int]:
        return page_sizes(results, self.per_page)

    async def pages(self, request: FetchRequest) -> AsyncGenerator[FetchedPage, None]:
        self.requests.append(request)
        users = self.users if self.users is not None else raw_users(request.results)
        for number, start in enumerate(range(0, len(users), self.per_page), 1):
            if self.failure is not None and number > self.fail_after_pages:
                raise self.failure
            page = users[start : start + self.per_page]
            yield FetchedPage(
                number=number, users=page, attempts=2 if number == 1 else 1
            )


def command(**fields: Any) -> SyncRequested:
    return SyncRequested(correlation_id="corr-1", **fields)


async def test_a_sync_publishes_its_batches_then_completed():
    publisher = FakePublisher()
    service = SyncService(FakeRandomuser(), publisher)
    request = command(results=4_500, seed="fixed")

    outcome = await service.run(request)

    *published, completed = publisher.published
    batches = [message for message in published if isinstance(message, UsersFetched)]
    assert completed == outcome
    assert isinstance(completed, SyncCompleted)
    assert len(batches) == len(published)
    assert [(b.batch_index, b.batch_count, len(b.users)) for b in batches] == [
        (0, 3, 2_000),
        (1, 3, 2_000),
        (2, 3, 500),
    ]
    assert completed.batch_count == 3
    assert completed.user_count == 4_500
    assert completed.dropped_count == 0
    assert completed.command_id == request.command_id
    assert completed.seed == "fixed"
    assert completed.started_at is not None
    assert completed.started_at <= completed.fetched_at


async def test_every_event_of_a_sync_shares_its_sync_id_and_the_command_ids():
    publisher = FakePublisher()
    request = command(results=2_500)

    await SyncService(FakeRandomuser(), publisher).run(request)

    sync_ids = {getattr(message, "sync_id", None) for message in publisher.published}
    assert len(sync_ids) == 1
    assert None not in sync_ids
    for message in publisher.published:
        assert message.correlation_id == "corr-1"
        assert message.causation_id == request.message_id


async def test_a_command_run_again_is_the_same_sync_with_the_same_users():
    # A run whose last confirm was lost (the events were stored) runs again:
    # the projector must see the same sync, not a second one.
    upstream = FakeRandomuser()
    service = SyncService(upstream, FakePublisher())
    request = command(results=1)

    first = await service.run(request)
    second = await service.run(request)
    other = await service.run(command(results=1))

    assert first.sync_id == second.sync_id
    assert other.sync_id != first.sync_id
    seeds = [request.seed for request in upstream.requests]
    assert seeds[0] == seeds[1] != seeds[2]


async def test_the_command_is_passed_on_to_upstream():
    upstream = FakeRandomuser()

    await SyncService(upstream, FakePublisher()).run(
        command(results=30, seed="s33d", nationalities=("FR", "DE"))
    )

    assert upstream.requests == [
        FetchRequest(results=30, seed="s33d", nationalities=("FR", "DE"))
    ]


async def test_without_a_seed_a_random_one_is_chosen_and_reported():
    upstream = FakeRandomuser()

    outcome = await SyncService(upstream, FakePublisher()).run(command(results=1))

    [request] = upstream.requests
    assert re.fullmatch(r"[0-9a-f]{16}", request.seed)
    assert isinstance(outcome, SyncCompleted)
    assert outcome.seed == request.seed


async def test_an_upstream_failure_publishes_only_sync_failed():
    publisher = FakePublisher()
    upstream = FakeRandomuser(
        failure=FetchFailed("rate_limited", "rate-limited by Randomuser", 4)
    )
    request = command(results=10)

    outcome = await SyncService(upstream, publisher).run(request)

    assert publisher.published == [outcome]
    assert isinstance(outcome, SyncFailed)
    assert outcome.reason == "rate-limited by Randomuser"
    assert outcome.kind == "rate_limited"
    assert outcome.attempts == 4
    assert outcome.command_id == request.command_id
    assert outcome.correlation_id == "corr-1"
    assert outcome.causation_id == request.message_id


async def test_a_sync_whose_validation_keeps_no_user_is_a_failure():
    lego = {**SAMPLE_USERS[0], "location": {"postcode": 1}, "nat": "LEGO"}
    publisher = FakePublisher()

    outcome = await SyncService(FakeRandomuser([lego] * 3), publisher).run(
        command(results=3)
    )

    # The page's batch went out as it arrived (empty); the failure tells the
    # projector to discard it.
    *batches, last = publisher.published
    assert last == outcome
    assert [len(b.users) for b in batches if isinstance(b, UsersFetched)] == [0]
    assert isinstance(outcome, SyncFailed)
    assert outcome.reason == "validation kept none of the 3 users (missing_country: 3)"
    assert outcome.kind == "no_valid_users"
    assert outcome.attempts == 2


async def test_dropped_users_are_counted_in_sync_completed():
    raws = [
        *raw_users(5),
        {**SAMPLE_USERS[0], "gender": "x"},
        "junk",
        {**SAMPLE_USERS[0], "email": 1},
    ]
    publisher = FakePublisher()

    outcome = await SyncService(FakeRandomuser(raws), publisher).run(command(results=8))

    assert isinstance(outcome, SyncCompleted)
    assert outcome.user_count == 5
    assert outcome.dropped_count == 3
    assert outcome.dropped_reasons == {
        "invalid_gender": 1,
        "invalid_user": 1,
        "invalid_email": 1,
    }


async def test_a_publisher_failure_propagates_so_the_command_is_retried():
    publisher = FakePublisher(error=ConnectionError("broker gone"))

    with pytest.raises(ConnectionError):
        await SyncService(FakeRandomuser(), publisher).run(command(results=1))


async def test_events_are_not_commands_and_are_dead_lettered():
    service = SyncService(FakeRandomuser(), FakePublisher())
    event = SyncFailed(sync_id="s", reason="x", attempts=1)

    with pytest.raises(PoisonMessage, match=r"sync\.failed"):
        await service.handle(event)


async def test_handle_runs_a_sync_for_a_command():
    publisher = FakePublisher()

    await SyncService(FakeRandomuser(), publisher).handle(command(results=1))

    assert isinstance(publisher.published[-1], SyncCompleted)


def test_20000_users_make_10_batches_each_well_under_1_mb():
    users = validate_users(raw_users(20_000)).users

    batches = make_batches("sync-1", users, correlation_id="c", causation_id="m")

    assert len(batches) == 10
    assert [batch.batch_index for batch in batches] == list(range(10))
    assert {batch.batch_count for batch in batches} == {10}
    assert [user for batch in batches for user in batch.users] == users
    sizes = [len(encode(batch)) for batch in batches]
    assert max(sizes) < 1_000_000
    assert max(sizes) < 500_000


def test_no_users_still_make_one_empty_batch_shape():
    [batch] = make_batches("sync-1", [], correlation_id="c", causation_id=None)

    assert (batch.batch_index, batch.batch_count, batch.users) == (0, 1, ())


async def test_pages_are_published_as_they_arrive_with_the_batch_count_planned():
    publisher = FakePublisher()
    upstream = FakeRandomuser(per_page=2_500)

    outcome = await SyncService(upstream, publisher).run(command(results=6_000))

    batches = [m for m in publisher.published if isinstance(m, UsersFetched)]
    # Pages of 2,500, 2,500, 1,000 users: 2 + 2 + 1 batches.
    assert [(b.batch_index, b.batch_count, len(b.users)) for b in batches] == [
        (0, 5, 2_000),
        (1, 5, 500),
        (2, 5, 2_000),
        (3, 5, 500),
        (4, 5, 1_000),
    ]
    assert isinstance(outcome, SyncCompleted)
    assert (outcome.batch_count, outcome.user_count) == (5, 6_000)


async def test_a_sync_that_fails_after_some_pages_ends_with_sync_failed():
    publisher = FakePublisher()
    failure = FetchFailed("http_error", "Randomuser answered with an HTTP error", 4)
    upstream = FakeRandomuser(failure=failure, fail_after_pages=2, per_page=1_000)

    outcome = await SyncService(upstream, publisher).run(command(results=5_000))

    *batches, last = publisher.published
    assert last == outcome
    assert isinstance(outcome, SyncFailed)
    assert outcome.kind == "http_error"
    assert [b.batch_index for b in batches if isinstance(b, UsersFetched)] == [0, 1]
    assert outcome.attempts == 2 + 1 + 4


async def test_a_sync_over_its_deadline_fails_with_a_reason():
    class Stalling(FakeRandomuser):
        async def pages(
            self, request: FetchRequest
        ) -> AsyncGenerator[FetchedPage, None]:
            yield FetchedPage(number=1, users=raw_users(10), attempts=1)
            await asyncio.Event().wait()
            yield FetchedPage(number=2, users=[], attempts=1)  # pragma: no cover

    publisher = FakePublisher()
    service = SyncService(Stalling(per_page=10), publisher, deadline_seconds=0.05)

    outcome = await service.run(command(results=20))

    assert isinstance(outcome, SyncFailed)
    assert outcome.reason.startswith("the sync overran its deadline of 0.05s")
    assert outcome.kind == "deadline"
    assert "after 10 of 20 users" in outcome.reason


async def test_a_command_over_sync_max_results_fails_without_fetching():
    upstream = FakeRandomuser()
    publisher = FakePublisher()

    outcome = await SyncService(upstream, publisher, max_results=100).run(
        command(results=101)
    )

    assert publisher.published == [outcome]
    assert isinstance(outcome, SyncFailed)
    assert "SYNC_MAX_RESULTS is 100" in outcome.reason
    assert outcome.kind == "too_many_results"
    assert upstream.requests == []
