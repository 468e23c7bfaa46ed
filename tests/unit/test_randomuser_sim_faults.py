"""Injected faults: the admin API and what every fault mode answers."""

from __future__ import annotations

import asyncio
import json
import time
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest

from randomuser_sim.app import create_app
from randomuser_sim.corrupt import HOSTILE_NAMES
from randomuser_sim.state import SIM
from tests.support.eventually import eventually

if TYPE_CHECKING:
    from aiohttp import web
    from aiohttp.test_utils import TestClient
    from pytest_aiohttp import AiohttpClient

    SimClient = TestClient[web.Request, web.Application]

GENERIC_ERROR = (
    "Uh oh, something has gone wrong. Please tweet us @randomapi about the issue. "
    "Thank you."
)


@pytest.fixture
async def client(aiohttp_client: AiohttpClient) -> SimClient:
    return await aiohttp_client(create_app())


async def inject(client: SimClient, mode: str, **extra: Any) -> None:
    response = await client.post("/_sim/faults", json={"mode": mode, **extra})
    assert response.status == 201


async def test_a_posted_fault_is_listed_until_used(client):
    await inject(client, "http_500", count=2)

    listed = await (await client.get("/_sim/faults")).json()
    assert listed == {"faults": [{"mode": "http_500", "count": 2, "delay": 5.0}]}

    await client.get("/api/")
    listed = await (await client.get("/_sim/faults")).json()
    assert listed["faults"][0]["count"] == 1


async def test_a_fault_affects_exactly_count_requests(client):
    await inject(client, "not_found", count=2)

    statuses = [(await client.get("/api/")).status for _ in range(3)]

    assert statuses == [404, 404, 200]


async def test_faults_queue_up_in_the_order_posted(client):
    await inject(client, "http_500")
    await inject(client, "error_json")

    statuses = [(await client.get("/api/")).status for _ in range(3)]
    assert statuses[2] == 200
    assert (await client.get("/_sim/faults")).status == 200


async def test_a_fault_without_count_lasts_until_cleared(client):
    await inject(client, "http_503_cloudflare", count=None)

    for _ in range(5):
        assert (await client.get("/api/")).status == 503
    cleared = await client.delete("/_sim/faults")

    assert await cleared.json() == {"faults": []}
    assert (await client.get("/api/")).status == 200


async def test_an_unknown_mode_bad_count_or_non_json_body_is_rejected(client):
    for body in (
        {"mode": "explode"},
        {"mode": "hang", "count": 0},
        {"mode": "slow", "delay": -1},
    ):
        response = await client.post("/_sim/faults", json=body)
        assert response.status == 422
    assert (await client.post("/_sim/faults", data=b"{not json")).status == 400
    assert (await (await client.get("/_sim/faults")).json()) == {"faults": []}


async def test_http_500_is_express_internal_server_error(client):
    await inject(client, "http_500")

    response = await client.get("/api/")

    assert response.status == 500
    assert await response.text() == "Internal Server Error"
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"


@pytest.mark.parametrize("status", [502, 503, 504, 520])
async def test_cloudflare_errors_are_html_pages_with_a_ray_id_and_no_cors(
    client, status
):
    await inject(client, f"http_{status}_cloudflare")

    response = await client.get("/api/")

    assert response.status == status
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.headers["Server"] == "cloudflare"
    ray = response.headers["CF-RAY"]
    assert "Access-Control-Allow-Origin" not in response.headers
    page = await response.text()
    assert f"Error code {status}" in page
    assert f"Cloudflare Ray ID: <strong>{ray.split('-')[0]}</strong>" in page


async def test_the_cloudflare_block_page_says_you_have_been_blocked(client):
    await inject(client, "http_403_cloudflare_block")

    response = await client.get("/api/", headers={"X-Forwarded-For": "203.0.113.9"})

    assert response.status == 403
    page = await response.text()
    assert "Sorry, you have been blocked" in page
    assert "You are unable to access</span> randomuser.me" in page
    assert "Your IP: 203.0.113.9" in page
    assert response.headers["Server"] == "cloudflare"
    assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.parametrize(
    ("mode", "status"), [("rate_limit", 429), ("rate_limit_503", 503)]
)
async def test_rate_limit_faults_report_the_clients_current_count(client, mode, status):
    await client.get("/api/?results=30")
    await inject(client, mode)

    response = await client.get("/api/")

    assert response.status == status
    body = await response.json()
    assert body["error"].startswith(
        "Whoa, ease up there cowboy. You've requested 30 users"
    )


async def test_error_json_is_the_documented_error_object(client):
    await inject(client, "error_json")

    response = await client.get("/api/")

    assert response.status == 500
    assert await response.json() == {"error": GENERIC_ERROR}


async def test_truncated_cuts_a_valid_body_in_the_middle(client):
    await inject(client, "truncated")

    cut = await (await client.get("/api/?seed=cut&results=20")).read()
    whole = await (await client.get("/api/?seed=cut&results=20")).read()

    assert 0 < len(cut) < len(whole)
    assert whole.startswith(cut)
    with pytest.raises(json.JSONDecodeError):
        json.loads(cut)


async def test_empty_body_is_zero_bytes_of_json(client):
    await inject(client, "empty_body")

    response = await client.get("/api/")

    assert response.status == 200
    assert await response.read() == b""
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"


async def test_empty_results_claims_the_requested_count(client):
    await inject(client, "empty_results")

    document = await (await client.get("/api/?results=25&seed=none")).json()

    assert document == {
        "results": [],
        "info": {"seed": "none", "results": 25, "page": 1, "version": "1.4"},
    }


async def test_placeholder_is_the_fixed_2026_body(client):
    await inject(client, "placeholder")

    response = await client.get("/api/?results=500&nat=fr")

    assert response.status == 200
    assert await response.read() == (
        b'{"results":[],"info":{"seed":"d3adb33f","results":1,"page":1,"version":"1.4"}}'
    )


async def test_not_found_is_the_plain_text_404(client):
    await inject(client, "not_found")

    response = await client.get("/api/")

    assert response.status == 404
    assert await response.text() == "Not Found"


async def test_slow_answers_correctly_after_the_delay(client):
    await inject(client, "slow", delay=0.3)

    started = time.monotonic()
    slow = await (await client.get("/api/?seed=slow")).read()
    elapsed = time.monotonic() - started

    assert elapsed >= 0.3
    assert slow == await (await client.get("/api/?seed=slow")).read()


async def test_hostile_replaces_the_first_names_and_keeps_a_persian_one(client):
    await inject(client, "hostile")

    hostile = (await (await client.get("/api/?seed=evil&results=12")).json())["results"]
    normal = (await (await client.get("/api/?seed=evil&results=12")).json())["results"]

    names = [(user["name"]["first"], user["name"]["last"]) for user in hostile]
    assert names[: len(HOSTILE_NAMES)] == list(HOSTILE_NAMES)
    flat = " ".join(first + " " + last for first, last in names)
    for needle in (
        "<img src=x onerror=alert(1)>",
        "<script>alert(1)</script>",
        "DROP TABLE",
        "\u202e",
        "آرمین",
    ):
        assert needle in flat
    assert any(len(first) == 300 for first, _ in names)
    assert hostile[len(HOSTILE_NAMES) :] == normal[len(HOSTILE_NAMES) :]


async def test_malformed_users_breaks_some_users_and_leaves_the_rest_valid(client):
    await inject(client, "malformed_users")

    broken = (await (await client.get("/api/?seed=bad&results=10")).json())["results"]
    normal = (await (await client.get("/api/?seed=bad&results=10")).json())["results"]

    assert "email" not in broken[0]
    assert broken[1]["gender"] == "other"
    assert broken[2]["gender"] == 7
    assert broken[3]["name"] is None
    assert "country" not in broken[4]["location"]
    assert type(broken[5]["location"]["postcode"]) is not type(
        normal[5]["location"]["postcode"]
    )
    assert broken[6:] == normal[6:]


async def test_a_hang_never_answers_and_does_not_block_other_requests(client):
    state = client.app[SIM]
    await inject(client, "hang")
    hung = asyncio.create_task(
        client.get("/api/", timeout=aiohttp.ClientTimeout(total=0.5))
    )
    await eventually(hanging_count(client, 1), timeout=5, what="the hang started")

    normal = await client.get("/api/?seed=meanwhile")

    assert normal.status == 200
    assert not hung.done()
    with pytest.raises(TimeoutError):
        await hung
    await eventually(hanging_count(client, 0), timeout=5, what="the hang ended")
    assert state.hanging == 0


async def test_inputs_production_throws_on_hang_like_a_fault(client):
    with pytest.raises(TimeoutError):
        await client.get("/api/?nat=,", timeout=aiohttp.ClientTimeout(total=0.3))

    await eventually(hanging_count(client, 0), timeout=5, what="the hang ended")


async def test_shutdown_drops_hung_connections_without_an_answer(client):
    await inject(client, "hang")
    hung = asyncio.create_task(client.get("/api/"))
    await eventually(hanging_count(client, 1), timeout=5, what="the hang started")

    await client.app.shutdown()

    with pytest.raises(aiohttp.ServerDisconnectedError):
        await hung
    await eventually(hanging_count(client, 0), timeout=5, what="the hang ended")


def hanging_count(client: SimClient, expected: int) -> Any:
    async def check() -> bool:
        return client.app[SIM].hanging == expected

    return check


async def test_faults_do_not_apply_to_the_admin_api(client):
    await inject(client, "http_500", count=None)

    assert (await client.get("/_sim/stats")).status == 200
    assert (await client.get("/_sim/faults")).status == 200
    assert (await client.post("/_sim/stats")).status == 404
    assert (await client.get("/_sim/nothing")).status == 404
    stats = await (await client.get("/_sim/stats")).json()
    assert stats["requests"] == 0
