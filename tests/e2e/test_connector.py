"""The whole pipeline through nginx: command → worker → broker → projector → reads."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import aiohttp
import pytest

if TYPE_CHECKING:
    from tests.e2e.conftest import StackClient

UPSTREAM_FAILURES: dict[str, tuple[str, int | None]] = {
    # simulator fault: (the kind of failure every attempt must name, HTTP status)
    "http_500": ("http_error", 500),
    "http_502_cloudflare": ("http_error", 502),
    "http_503_cloudflare": ("http_error", 503),
    "http_504_cloudflare": ("http_error", 504),
    "http_520_cloudflare": ("http_error", 520),
    "http_403_cloudflare_block": ("blocked", 403),
    "rate_limit": ("rate_limited", 429),
    "rate_limit_503": ("rate_limited", 503),
    "error_json": ("error_object", 500),
    "truncated": ("truncated", None),
    "empty_body": ("empty_body", None),
    "empty_results": ("empty_results", None),
    "placeholder": ("placeholder", None),
    "hang": ("timeout", None),
    "not_found": ("not_found", 404),
}


async def test_a_sync_through_nginx_serves_users_grouped_by_country(
    stack: StackClient,
) -> None:
    body = await stack.sync(results=300, seed="e2egrouped")

    countries = body["countries"]
    names = [country["name"] for country in countries]
    assert names == sorted(names)
    assert len(names) == len(set(names)) > 5
    total = sum(len(country["users"]) for country in countries)
    assert total == body["snapshot"]["user_count"] > 250
    for country in countries:
        assert set(country) == {"name", "users"}
        for user in country["users"]:
            assert set(user) == {"name", "gender", "email"}
            assert user["gender"] in {"male", "female"}


async def test_the_same_seed_gives_the_same_users(stack: StackClient) -> None:
    first = await stack.sync(results=50, seed="samesame")
    second = await stack.sync(results=50, seed="samesame")

    assert first["countries"] == second["countries"]
    assert first["snapshot"]["id"] != second["snapshot"]["id"]


async def test_nationalities_filter_the_countries(stack: StackClient) -> None:
    body = await stack.sync(results=40, nationalities=["FR", "DE"], seed="frde")

    assert [country["name"] for country in body["countries"]] == ["France", "Germany"]


@pytest.mark.usefixtures("clean_faults")
@pytest.mark.parametrize("mode", UPSTREAM_FAILURES)
async def test_an_upstream_failure_keeps_the_last_data_and_says_why(
    stack: StackClient, mode: str
) -> None:
    before = await stack.sync(results=60, seed=f"{mode}-before-the-fault")
    await stack.fault(mode, count=None)

    attempt = await stack.sync_expect_failure(results=60)

    kind, http_status = UPSTREAM_FAILURES[mode]
    # The reason ends with the kind of every attempt, then the last detail.
    history = re.search(r"\(([a-z_, ]+)\); last: (.*)$", attempt["reason"])
    assert history is not None, attempt["reason"]
    assert set(history[1].split(", ")) == {kind}, attempt["reason"]
    if http_status is not None:
        assert history[2].startswith(f"HTTP {http_status}"), attempt["reason"]
    after = await stack.get_json("/queries/countries")
    assert after == before
    status = await stack.get_json("/queries/sync-status")
    assert status["last_failure"]["sync_id"] == attempt["sync_id"]
    assert status["last_failure"]["reason"] == attempt["reason"]
    assert status["last_success"]["sync_id"] == before["snapshot"]["id"]


async def test_reads_revalidate_with_etag_through_nginx(stack: StackClient) -> None:
    await stack.sync(results=30, seed="etag")
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{stack.base_url}/queries/countries") as response:
            assert response.status == 200
            etag = response.headers["ETag"]
        async with session.get(
            f"{stack.base_url}/queries/countries", headers={"If-None-Match": etag}
        ) as response:
            assert response.status == 304


async def test_one_country_is_paged_and_an_unknown_one_is_404(
    stack: StackClient,
) -> None:
    body = await stack.sync(results=200, nationalities=["US"], seed="paged")
    [united_states] = body["countries"]

    page = await stack.get_json(
        "/queries/countries/United%20States/users?page=2&size=50"
    )
    missing = await stack.get_json("/queries/countries/Atlantis/users")
    bad = await stack.get_json("/queries/countries/United%20States/users?size=0")

    assert page["total"] == len(united_states["users"])
    assert page["users"] == united_states["users"][50:100]
    assert missing["status"] == 404
    assert "Atlantis" in missing["detail"]
    assert bad["status"] == 400
    assert "size" in bad["detail"]


async def test_commands_need_the_token_through_nginx(stack: StackClient) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{stack.base_url}/commands/sync") as response,
    ):
        assert response.status == 401
        assert response.content_type == "application/problem+json"


async def test_nginx_sets_security_headers_and_hides_its_version(
    stack: StackClient,
) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{stack.base_url}/") as response,
    ):
        assert response.status == 200
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Server"] == "nginx"
