"""The Randomuser HTTP client against small local servers: pages, retries, failures."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from sync_worker.attempts import SUMMARIES, retry_after_seconds
from sync_worker.fetching import FetchFailed, FetchRequest, page_sizes
from sync_worker.pacing import RetryPolicy, UpstreamBudget
from sync_worker.randomuser import INCLUDED_FIELDS, USER_AGENT, HttpRandomuserClient
from sync_worker.settings import SyncWorkerSettings
from tests.support.samples import sample_bytes

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

SAMPLE_USERS: list[dict[str, Any]] = orjson.loads(
    sample_bytes("v1.4_seed-b92435b8050047da_results-111.json")
)["results"]
CLOUDFLARE_502 = (
    "<!DOCTYPE html><html><head><title>randomuser.me | 502: Bad gateway</title>"
    "</head><body>Cloudflare Ray ID: <strong>56a51f591829d276</strong></body></html>"
)
RATE_LIMIT = {"error": "Whoa, ease up there cowboy. You've requested 20000 users."}


def envelope(request: web.Request, *, count: int | None = None) -> web.Response:
    """A well-formed page for the request's results, seed and page."""
    wanted = int(request.query.get("results", "1"))
    users = [SAMPLE_USERS[i % len(SAMPLE_USERS)] for i in range(count or wanted)]
    info = {
        "seed": request.query.get("seed", "abc"),
        "results": wanted,
        "page": int(request.query.get("page", "1")),
        "version": "1.4",
    }
    return web.Response(
        body=orjson.dumps({"results": users, "info": info}),
        content_type="application/json",
    )


async def ok(request: web.Request) -> web.StreamResponse:
    return envelope(request)


async def cloudflare_502(_: web.Request) -> web.StreamResponse:
    return web.Response(status=502, text=CLOUDFLARE_502, content_type="text/html")


async def rate_limited(_: web.Request) -> web.StreamResponse:
    return web.json_response(RATE_LIMIT, status=429)


async def not_found(_: web.Request) -> web.StreamResponse:
    return web.Response(status=404, text="Not Found")


async def blocked(_: web.Request) -> web.StreamResponse:
    return web.Response(
        status=403,
        text="<html><title>Attention Required! | Cloudflare</title></html>",
        content_type="text/html",
    )


async def placeholder(_: web.Request) -> web.StreamResponse:
    return web.Response(
        text='{"results":[],"info":{"seed":"d3adb33f","results":1,"page":1,"version":"1.4"}}',
        content_type="application/json",
    )


async def error_object(_: web.Request) -> web.StreamResponse:
    return web.json_response({"error": "Uh oh, something has gone wrong."})


async def truncated_json(request: web.Request) -> web.StreamResponse:
    body = envelope(request).body
    assert isinstance(body, bytes)
    return web.Response(body=body[: len(body) // 2], content_type="application/json")


async def cut_connection(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.content_length = 60_000
    await response.prepare(request)
    await response.write(b'{"results":[{"gender":"male"')
    assert request.transport is not None
    request.transport.close()
    return response


async def too_few(request: web.Request) -> web.StreamResponse:
    return envelope(request, count=1)


class Upstream:
    """A scripted upstream: each request gets the next reply; the last one repeats."""

    def __init__(self) -> None:
        self.replies: list[Any] = [ok]
        self.requests: list[web.Request] = []
        self.hang = asyncio.Event()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request)
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if reply == "hang":
            await self.hang.wait()
            return web.Response(status=504)
        response: web.StreamResponse = await reply(request)
        return response


class Sleeps:
    """Records backoff pauses instead of waiting them out."""

    def __init__(self) -> None:
        self.pauses: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.pauses.append(seconds)


async def serving(
    aiohttp_server: Any,
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    path: str = "/api/",
) -> str:
    """Serve `handler` at `path` on a local test server; its URL."""
    app = web.Application()
    app.router.add_get(path, handler)
    server = await aiohttp_server(app)
    return str(server.make_url(path))


@pytest.fixture
def upstream() -> Upstream:
    return Upstream()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def http_client(
    session: aiohttp.ClientSession, url: str, sleeps: Sleeps, *, timeout: float = 5.0
) -> HttpRandomuserClient:
    """The client the tests fetch with: 4 attempts, recorded pauses. The
    timeout leaves a loaded machine time to build and parse 5,000-user pages
    (at 0.25 s, such pages timed out under a full CI run and their retries
    ran into the budget's 5-minute wait)."""
    return HttpRandomuserClient(
        session,
        url,
        timeout=timeout,
        retry=RetryPolicy(max_attempts=4, backoff=1.0, rate_limit_backoff=30.0),
        budget=UpstreamBudget(20_000, 300),
        sleep=sleeps,
    )


@pytest.fixture
async def client(
    aiohttp_server: Any, upstream: Upstream, sleeps: Sleeps
) -> AsyncIterator[HttpRandomuserClient]:
    url = await serving(aiohttp_server, upstream.handle, "/api/1.4/")
    async with aiohttp.ClientSession() as session:
        yield http_client(session, url, sleeps)
    upstream.hang.set()


async def fetch_failure(client: HttpRandomuserClient, results: int = 10) -> FetchFailed:
    with pytest.raises(FetchFailed) as caught:
        await client.fetch(FetchRequest(results=results, seed="abc"))
    return caught.value


async def test_one_page_is_fetched_with_seed_fields_nationalities_and_user_agent(
    client, upstream
):
    fetched = await client.fetch(
        FetchRequest(results=25, seed="s33d", nationalities=("US", "GB"))
    )

    [request] = upstream.requests
    assert dict(request.query) == {
        "results": "25",
        "seed": "s33d",
        "page": "1",
        "inc": INCLUDED_FIELDS,
        "nat": "US,GB",
    }
    assert request.headers["User-Agent"] == USER_AGENT
    assert len(fetched.users) == 25
    assert (fetched.seed, fetched.attempts, fetched.pages) == ("s33d", 1, 1)


async def test_more_than_5000_users_come_as_pages_of_one_seed(client, upstream):
    fetched = await client.fetch(FetchRequest(results=12_000, seed="s"))

    asked = [
        (r.query["page"], r.query["results"], r.query["seed"])
        for r in upstream.requests
    ]
    assert asked == [("1", "5000", "s"), ("2", "5000", "s"), ("3", "2000", "s")]
    assert len(fetched.users) == 12_000
    assert fetched.pages == 3


async def test_a_cloudflare_502_is_retried_after_a_backoff(client, upstream, sleeps):
    upstream.replies = [cloudflare_502, cloudflare_502, ok]

    fetched = await client.fetch(FetchRequest(results=3, seed="s"))

    assert fetched.attempts == 3
    assert len(sleeps.pauses) == 2
    assert 0.5 <= sleeps.pauses[0] <= 1.5
    assert 1.0 <= sleeps.pauses[1] <= 3.0


async def test_repeated_5xx_give_up_after_the_attempts_with_the_status(
    client, upstream, sleeps
):
    upstream.replies = [cloudflare_502]

    failure = await fetch_failure(client)

    assert failure.attempts == 4
    assert len(upstream.requests) == 4
    assert len(sleeps.pauses) == 3
    assert "HTTP error" in failure.reason
    assert "HTTP 502" in failure.reason
    assert "56a51f591829d276" in failure.reason


async def test_a_429_backs_off_longer_and_gives_up_saying_rate_limited(
    client, upstream, sleeps
):
    upstream.replies = [rate_limited]

    failure = await fetch_failure(client)

    assert failure.reason.startswith("rate-limited by Randomuser")
    assert "ease up there cowboy" in failure.reason
    assert failure.attempts == 4
    assert min(sleeps.pauses) >= 15.0


async def test_a_429_then_success_is_a_success(client, upstream):
    upstream.replies = [rate_limited, ok]

    fetched = await client.fetch(FetchRequest(results=3, seed="s"))

    assert fetched.attempts == 2


async def test_a_404_is_not_retried(client, upstream, sleeps):
    upstream.replies = [not_found]

    failure = await fetch_failure(client)

    assert failure.attempts == 1
    assert sleeps.pauses == []
    assert "not found" in failure.reason


async def test_other_client_errors_are_not_retried(client, upstream):
    async def bad_request(_: web.Request) -> web.StreamResponse:
        return web.json_response({"error": "bad"}, status=400)

    upstream.replies = [bad_request]

    failure = await fetch_failure(client)

    assert failure.attempts == 1
    assert "HTTP 400: bad" in failure.reason


async def test_a_cdn_block_is_not_retried(client, upstream):
    upstream.replies = [blocked]

    failure = await fetch_failure(client)

    assert failure.attempts == 1
    assert "blocked" in failure.reason
    assert "Attention Required" in failure.reason


async def test_a_hanging_upstream_times_out_and_says_so(
    aiohttp_server, upstream, sleeps
):
    upstream.replies = ["hang"]
    url = await serving(aiohttp_server, upstream.handle, "/api/1.4/")
    try:
        async with aiohttp.ClientSession() as session:
            failure = await fetch_failure(
                http_client(session, url, sleeps, timeout=0.25)
            )
    finally:
        upstream.hang.set()

    assert failure.attempts == 4
    assert "did not answer in time" in failure.reason
    assert "0.25s" in failure.reason


@pytest.mark.parametrize(
    ("reply", "words"),
    [
        (placeholder, "outage placeholder"),
        (error_object, "something has gone wrong"),
        (truncated_json, "truncated"),
        (cut_connection, "truncated"),
        (too_few, "asked for 10 users, got 1"),
    ],
)
async def test_bodies_that_are_not_a_full_page_fail_with_a_clear_reason(
    client, upstream, reply, words
):
    upstream.replies = [reply]

    failure = await fetch_failure(client)

    assert failure.attempts == 4
    assert words in failure.reason


async def test_the_reason_lists_every_attempt_in_order(client, upstream):
    upstream.replies = [cloudflare_502, placeholder, rate_limited, error_object]

    failure = await fetch_failure(client)

    assert "(http_error, placeholder, rate_limited, error_object)" in failure.reason


async def test_attempts_add_up_over_pages(client, upstream):
    upstream.replies = [ok, cloudflare_502, ok]

    fetched = await client.fetch(FetchRequest(results=6_000, seed="s"))

    assert fetched.attempts == 3


async def test_a_failing_second_page_names_the_page(client, upstream):
    upstream.replies = [ok, not_found]

    failure = await fetch_failure(client, results=6_000)

    assert "page 2 of 2" in failure.reason
    assert failure.attempts == 2


def test_results_split_into_requests_of_at_most_5000():
    assert page_sizes(1) == [1]
    assert page_sizes(5_000) == [5_000]
    assert page_sizes(5_001) == [5_000, 1]
    assert page_sizes(20_000) == [5_000] * 4
    assert page_sizes(7, per_request=3) == [3, 3, 1]


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    policy = RetryPolicy(backoff=1.0, rate_limit_backoff=30.0, max_delay=100.0)

    for attempt, step in ((1, 1.0), (2, 2.0), (3, 4.0)):
        assert 0.5 * step <= policy.delay(attempt, rate_limited=False) <= 1.5 * step
    assert 15.0 <= policy.delay(1, rate_limited=True) <= 45.0
    assert policy.delay(10, rate_limited=True) == 100.0


async def test_the_budget_waits_until_old_requests_leave_the_window():
    now = [1000.0]

    async def advance(seconds: float) -> None:
        now[0] += seconds

    budget = UpstreamBudget(10_000, 300, clock=lambda: now[0], sleep=advance)

    assert await budget.reserve(5_000) == 0
    now[0] += 100
    assert await budget.reserve(5_000) == 0
    waited = await budget.reserve(5_000)

    assert waited == pytest.approx(200)
    assert now[0] == pytest.approx(1300)
    assert budget.used() == 10_000


async def test_the_budget_refuses_a_request_larger_than_itself():
    with pytest.raises(ValueError, match="exceed"):
        await UpstreamBudget(1_000, 300).reserve(1_001)


async def test_a_small_budget_makes_smaller_requests(aiohttp_server, upstream, sleeps):
    now = [0.0]

    async def advance(seconds: float) -> None:
        now[0] += seconds
        await sleeps(seconds)

    url = await serving(aiohttp_server, upstream.handle)
    async with aiohttp.ClientSession() as session:
        client = HttpRandomuserClient(
            session,
            url,
            timeout=1,
            retry=RetryPolicy(),
            budget=UpstreamBudget(2_000, 300, clock=lambda: now[0], sleep=advance),
            sleep=sleeps,
        )
        fetched = await client.fetch(FetchRequest(results=2_500, seed="s"))

    assert [r.query["results"] for r in upstream.requests] == ["2000", "500"]
    assert len(fetched.users) == 2_500
    assert sleeps.pauses == [300]


async def test_the_settings_build_a_client_of_the_pinned_version_and_policy():
    settings = SyncWorkerSettings(
        _env_file=None,
        randomuser_url="http://sim:8400/api/",
        fetch_max_attempts=3,
        fetch_backoff_seconds=0.5,
        upstream_users_per_window=4_000,
    )
    async with aiohttp.ClientSession() as session:
        client = HttpRandomuserClient.from_settings(session, settings)

    assert client.url == "http://sim:8400/api/1.4/"
    assert client.retry == RetryPolicy(
        max_attempts=3, backoff=0.5, rate_limit_backoff=15.0, max_delay=300.0
    )
    assert client.budget.users_per_window == 4_000


async def busy_with_retry_after(_: web.Request) -> web.StreamResponse:
    return web.Response(
        status=503, text="busy", headers={"Retry-After": "7"}, content_type="text/plain"
    )


async def test_a_retry_after_is_waited_out_but_never_past_the_cap(
    client, upstream, sleeps
):
    # A proxy or a self-hosted Randomuser may say when to come back (upstream
    # itself sends no Retry-After): not sooner than it says, at most the cap.
    upstream.replies = [busy_with_retry_after, ok]

    fetched = await client.fetch(FetchRequest(results=3, seed="s"))

    assert fetched.attempts == 2
    assert sleeps.pauses[0] >= 7.0


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("7", 7.0),
        (" 120 ", 120.0),
        ("Sat, 05 Dec 2026 12:00:30 GMT", 30.0),
        ("Sat, 05 Dec 2026 11:59:00 GMT", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
        ("-3", None),
    ],
)
def test_retry_after_is_read_as_seconds_or_a_date(
    header: str | None, seconds: float | None
) -> None:
    now = 1_796_472_000.0  # 2026-12-05 12:00:00 UTC
    assert retry_after_seconds(header, now=now) == seconds


async def wrong_page(request: web.Request) -> web.StreamResponse:
    response = envelope(request)
    data = orjson.loads(response.body)  # type: ignore[arg-type]
    data["info"]["page"] = 2
    return web.Response(body=orjson.dumps(data), content_type="application/json")


async def other_seed(request: web.Request) -> web.StreamResponse:
    response = envelope(request)
    data = orjson.loads(response.body)  # type: ignore[arg-type]
    data["info"]["seed"] = "not-abc"
    return web.Response(body=orjson.dumps(data), content_type="application/json")


async def html_page(_: web.Request) -> web.StreamResponse:
    # A 200 whose body starts like JSON: only its Content-Type says HTML.
    return web.Response(text="{ maintenance }", content_type="text/html")


@pytest.mark.parametrize(
    ("reply", "kind", "last"),
    [
        (too_few, "wrong_count", "asked for 10 users, got 1"),
        (wrong_page, "bad_shape", "asked for page 1, got page 2"),
        (other_seed, "bad_shape", "the response is for another seed"),
        (cut_connection, "truncated", "body cut short: "),
        (cloudflare_502, "http_error", "HTTP 502: "),
        (html_page, "html", ""),
    ],
)
async def test_each_failure_has_its_kind_and_its_last_detail(
    client, upstream, reply, kind, last
):
    upstream.replies = [reply]

    failure = await fetch_failure(client)

    assert failure.kind == kind
    assert f"; last: {last}" in failure.reason
    assert failure.reason.startswith(SUMMARIES[kind] + ": gave up on the request")


async def test_an_unreachable_upstream_is_a_connection_failure(sleeps):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with aiohttp.ClientSession() as session:
        client = HttpRandomuserClient(
            session,
            f"http://127.0.0.1:{port}/api/",
            timeout=1,
            retry=RetryPolicy(max_attempts=2, backoff=1.0, rate_limit_backoff=1.0),
            budget=UpstreamBudget(20_000, 300),
            sleep=sleeps,
        )
        failure = await fetch_failure(client)

    assert failure.kind == "connection"
    assert "; last: ClientConnectorError: " in failure.reason
    assert failure.attempts == 2


async def test_a_failing_later_page_keeps_its_kind(client, upstream):
    upstream.replies = [ok, too_few]

    failure = await fetch_failure(client, results=6_000)

    assert failure.kind == "wrong_count"
    assert failure.attempts == 1 + 4


async def test_each_page_and_each_retry_is_logged(client, upstream, caplog):
    upstream.replies = [ok, cloudflare_502, ok]
    caplog.set_level(logging.INFO, logger="sync_worker.randomuser")

    await client.fetch(FetchRequest(results=6_000, seed="s"))

    messages = [record.getMessage() for record in caplog.records]
    assert any(
        re.fullmatch(r"fetched page 1/2: 5000 users in \d+\.\d{3}s", m)
        for m in messages
    )
    assert any(
        re.fullmatch(r"fetched page 2/2: 1000 users in \d+\.\d{3}s", m)
        for m in messages
    )
    assert any(
        m.startswith("page 2/2 failed (attempt 1): http_error") for m in messages
    )


async def test_no_more_pages_are_in_flight_than_the_concurrency(aiohttp_server, sleeps):
    in_flight = peak = 0
    release = asyncio.Event()

    async def counted(request: web.Request) -> web.StreamResponse:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        if peak >= 2:
            release.set()
        await release.wait()
        in_flight -= 1
        return envelope(request)

    url = await serving(aiohttp_server, counted)
    async with aiohttp.ClientSession() as session:
        client = HttpRandomuserClient(
            session,
            url,
            timeout=5,
            retry=RetryPolicy(max_attempts=1, backoff=1.0, rate_limit_backoff=1.0),
            budget=UpstreamBudget(1_000_000, 300),
            sleep=sleeps,
            concurrency=2,
        )
        numbers = [
            page.number
            async for page in client.pages(FetchRequest(results=20_000, seed="s"))
        ]

    assert numbers == [1, 2, 3, 4]
    assert peak == 2
