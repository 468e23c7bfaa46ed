"""The simulator over HTTP: paths, headers, envelope, formats, rate limit, stats."""

from __future__ import annotations

import gzip
import json
from typing import TYPE_CHECKING, Any

import pytest

from randomuser_sim.__main__ import main
from randomuser_sim.app import create_app
from randomuser_sim.config import SimConfig
from randomuser_sim.rate_limit import RateLimiter
from tests.support.samples import SAMPLES

if TYPE_CHECKING:
    from aiohttp import web
    from aiohttp.test_utils import TestClient
    from pytest_aiohttp import AiohttpClient

    SimClient = TestClient[web.Request, web.Application]

FIXTURES = SAMPLES
RATE_LIMIT_BODY = (
    '{"error":"Whoa, ease up there cowboy. You\'ve requested 20000 users in the last '
    "minute. Help us keep this service free and spare some bandwidth for other users "
    'please :)"}'
)


@pytest.fixture
async def client(aiohttp_client: AiohttpClient) -> SimClient:
    return await aiohttp_client(create_app())


def shape(value: Any) -> Any:
    """Key order and JSON types, recursively."""
    if isinstance(value, dict):
        return [(key, shape(inner)) for key, inner in value.items()]
    if isinstance(value, list):
        return "array"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return "number"
    return "string"


def real_sample(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return document


async def test_the_envelope_is_compact_json_with_production_key_order(client):
    response = await client.get("/api/?results=3&seed=envelope")

    assert response.status == 200
    body = await response.read()
    assert body.startswith(b'{"results":[{"gender":"')
    assert body.endswith(
        b'"info":{"seed":"envelope","results":3,"page":1,"version":"1.4"}}'
    )
    document = json.loads(body)
    real = real_sample("v1.4_seed-b92435b8050047da_results-111.json")
    assert list(document) == list(real) == ["results", "info"]
    assert shape(document["info"]) == shape(real["info"])
    assert len(document["results"]) == document["info"]["results"] == 3


async def test_each_user_matches_a_real_user_of_its_nationality_field_by_field(client):
    real_users = real_sample("v1.4_seed-b92435b8050047da_results-111.json")["results"]
    real_by_nat = {user["nat"]: user for user in real_users}
    response = await client.get("/api/1.4/?results=500&seed=fields")
    users = (await response.json())["results"]

    assert {user["nat"] for user in users} == set(real_by_nat)
    for user in users:
        assert shape(user) == shape(real_by_nat[user["nat"]])


async def test_the_single_user_sample_and_its_envelope_have_the_simulated_shape(client):
    real = real_sample("v1.4_seed-6786def1f7fa0850_results-1.json")
    response = await client.get("/api?nat=br&seed=one")

    assert shape(await response.json()) == shape(real)


async def test_version_13_reports_its_version_and_matches_a_real_13_response(client):
    real = real_sample("v1.3_seed-dca4d7167be9cb98_results-1_compact.json")
    response = await client.get("/api/1.3/?nat=gb&seed=old")

    document = await response.json()
    assert document["info"]["version"] == "1.3"
    assert shape(document) == shape(real)


async def test_non_ascii_text_is_emitted_literally(client):
    response = await client.get("/api/?nat=ir&results=5&seed=persian")

    body = await response.read()
    assert b"\\u" not in body
    first = (await response.json())["results"][0]["name"]["first"]
    assert first.encode() in body


async def test_responses_carry_the_origin_headers(client):
    response = await client.get("/api/")

    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["X-Powered-By"] == "Express"
    assert response.headers["Vary"] == "Accept-Encoding"
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.headers["ETag"].startswith('W/"')


@pytest.mark.parametrize(
    "path", ["/api", "/api/", "/API/", "/api/1.4", "/Api/1.4/", "/api/1.3", "/api/1.3/"]
)
async def test_the_api_answers_on_every_spelling_of_its_paths(client, path):
    response = await client.get(path)

    assert response.status == 200
    expected = "1.3" if "1.3" in path else "1.4"
    assert (await response.json())["info"]["version"] == expected


@pytest.mark.parametrize(
    "path", ["/api/1.5/", "/api/latest", "/api/1.4/users", "/api/1.2/", "/api//", "/"]
)
async def test_other_paths_are_not_found_as_plain_text(client, path):
    response = await client.get(path)

    assert response.status == 404
    assert await response.text() == "Not Found"
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
async def test_methods_other_than_get_and_head_are_not_found(client, method):
    response = await client.request(method, "/api/")

    assert response.status == 404
    assert await response.text() == "Not Found"


async def test_head_sends_the_headers_without_a_body(client):
    response = await client.head("/api/?seed=head")

    assert response.status == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert await response.read() == b""


async def test_a_preflight_is_answered_with_cors_headers(client):
    response = await client.options(
        "/api/", headers={"Access-Control-Request-Headers": "x-custom"}
    )

    assert response.status == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert (
        response.headers["Access-Control-Allow-Methods"]
        == "GET,HEAD,PUT,PATCH,POST,DELETE"
    )
    assert response.headers["Access-Control-Allow-Headers"] == "x-custom"


async def test_the_same_seed_returns_the_same_body(client):
    first = await (await client.get("/api/?seed=stable&results=20")).read()
    second = await (await client.get("/api/?seed=stable&results=20")).read()

    assert first == second


async def test_a_matching_if_none_match_gets_304(client):
    first = await client.get("/api/?seed=etag")
    etag = first.headers["ETag"]

    again = await client.get("/api/?seed=etag", headers={"If-None-Match": etag})

    assert again.status == 304


async def test_without_seed_each_response_reports_a_fresh_hex_seed(client):
    seeds = {
        (await (await client.get("/api/")).json())["info"]["seed"] for _ in range(3)
    }

    assert len(seeds) == 3
    assert all(
        len(seed) == 16 and set(seed) <= set("abcdef1234567890") for seed in seeds
    )


@pytest.mark.parametrize(
    ("raw", "count"), [("0", 1), ("5001", 1), ("abc", 1), ("7.0", 7)]
)
async def test_invalid_results_become_one_over_http(client, raw, count):
    document = await (await client.get(f"/api/?results={raw}")).json()

    assert len(document["results"]) == document["info"]["results"] == count


async def test_plus_in_a_nat_list_makes_it_invalid_and_all_nationalities_are_used(
    client,
):
    document = await (await client.get("/api/?nat=us,+gb&results=300&seed=x")).json()

    assert len({user["nat"] for user in document["results"]}) > 2


async def test_noinfo_drops_the_info_object(client):
    document = await (await client.get("/api/?noinfo&seed=x")).json()

    assert list(document) == ["results"]


async def test_a_callback_wraps_the_json_as_jsonp(client):
    response = await client.get("/api/?callback=handle&seed=x")

    body = await response.text()
    assert body.startswith('handle({"results":[')
    assert body.endswith("});")
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"


async def test_pretty_format_indents_by_two_spaces(client):
    response = await client.get("/api/?format=PRETTY&seed=x")

    body = await response.text()
    assert body.startswith('{\n  "results": [\n    {')
    assert not body.endswith("\n")
    compact = await (await client.get("/api/?seed=x")).json()
    assert json.loads(body) == compact


async def test_csv_has_dotted_headers_and_no_final_newline(client):
    response = await client.get("/api/?format=csv&results=3&seed=csv")

    text = await response.text()
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    lines = text.split("\n")
    assert lines[0].startswith(
        "gender,name.title,name.first,name.last,location.street.number"
    )
    assert "id.value" in lines[0].split(",")
    assert len(lines) == 4
    assert not text.endswith("\n")


async def test_xml_repeats_results_per_user_under_a_user_root(client):
    response = await client.get("/api/?fmt=xml&results=2&seed=xml")

    text = await response.text()
    assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert text.startswith(
        '<?xml version="1.0" encoding="UTF-8"?>\n<user>\n\t<results>\n'
    )
    assert text.count("\n\t<results>\n") == 2
    assert text.endswith("\t</info>\n</user>")


async def test_yaml_nests_by_four_spaces_and_inlines_deep_objects(client):
    response = await client.get("/api/?format=yaml&seed=yaml")

    text = await response.text()
    assert response.headers["Content-Type"] == "text/x-yaml; charset=utf-8"
    assert text.startswith("results:\n    -\n        gender: ")
    assert "            street: {number: " in text
    assert text.endswith("    version: '1.4'\n")


async def test_dl_sends_the_body_as_an_attachment(client):
    response = await client.get("/api/?dl&format=csv&seed=x")

    assert response.headers["Content-Type"] == "application/octet-stream"
    assert (
        response.headers["Content-Disposition"] == 'attachment; filename="download.csv"'
    )


async def test_excluding_every_field_gives_empty_users(client):
    document = await (await client.get("/api/?inc=,&results=3")).json()

    assert document["results"] == [{}, {}, {}]


async def test_extension_mode_answers_one_reduced_user(client):
    document = await (await client.get("/api/?extension=true&seed=ext")).json()

    [entry] = document["results"]
    assert list(entry["user"]) == ["picture", "name"]
    assert entry["user"]["picture"].startswith("http://randomuser.me/portraits/")


async def test_the_limit_refuses_with_429_once_20000_users_were_requested(client):
    for _ in range(4):
        assert (await client.get("/api/?results=5000")).status == 200

    refused = await client.get("/api/?results=1")

    assert refused.status == 429
    assert await refused.text() == RATE_LIMIT_BODY
    assert refused.headers["Content-Type"] == "application/json; charset=utf-8"
    assert refused.headers["Access-Control-Allow-Origin"] == "*"


async def test_the_check_comes_before_adding_so_19999_may_fetch_5000_more(
    aiohttp_client,
):
    client = await aiohttp_client(create_app(SimConfig(rate_limit_users=10)))

    assert (await client.get("/api/?results=9")).status == 200
    assert (await client.get("/api/?results=5000")).status == 200
    refused = await client.get("/api/")
    assert refused.status == 429
    assert "requested 5009 users" in await refused.text()


async def test_clients_are_counted_by_forwarding_headers_in_production_order(
    aiohttp_client,
):
    client = await aiohttp_client(create_app(SimConfig(rate_limit_users=5)))
    first = {"CF-Connecting-IP": "1.1.1.1", "X-Real-IP": "2.2.2.2"}

    assert (await client.get("/api/?results=5", headers=first)).status == 200
    assert (
        await client.get("/api/", headers={"CF-Connecting-IP": "1.1.1.1"})
    ).status == 429
    assert (await client.get("/api/", headers={"X-Real-IP": "1.1.1.1"})).status == 429
    assert (
        await client.get("/api/", headers={"X-Forwarded-For": "1.1.1.1"})
    ).status == 429
    assert (await client.get("/api/", headers={"X-Real-IP": "2.2.2.2"})).status == 200
    assert (await client.get("/api/")).status == 200


async def test_resetting_the_rate_limit_lets_a_refused_client_in_again(aiohttp_client):
    client = await aiohttp_client(create_app(SimConfig(rate_limit_users=1)))
    await client.get("/api/")
    assert (await client.get("/api/")).status == 429

    assert (await client.delete("/_sim/rate-limit")).status == 204

    assert (await client.get("/api/")).status == 200


async def test_a_zero_limit_disables_rate_limiting(aiohttp_client):
    client = await aiohttp_client(create_app(SimConfig(rate_limit_users=0)))

    for _ in range(5):
        assert (await client.get("/api/?results=5000")).status == 200


def test_counters_reset_when_the_window_ends():
    now = [0.0]
    limiter = RateLimiter(10, 300, clock=lambda: now[0])
    limiter.add("ip", 10)
    assert limiter.refusal("ip") == 10

    now[0] = 299.9
    assert limiter.refusal("ip") == 10
    now[0] = 300.0
    assert limiter.refusal("ip") is None
    limiter.add("ip", 10)
    now[0] = 1000.0  # several windows later: still a fixed schedule
    assert limiter.count("ip") == 0


async def test_stats_count_requests_and_users_served(client):
    await client.get("/api/?results=7")
    await client.get("/api/1.9/")

    stats = await (await client.get("/_sim/stats")).json()

    assert stats == {"requests": 2, "users_served": 7}


async def test_gzip_is_applied_when_configured_and_accepted(aiohttp_client):
    client = await aiohttp_client(create_app(SimConfig(gzip=True)))

    response = await client.get(
        "/api/?results=5&seed=z",
        headers={"Accept-Encoding": "gzip"},
        auto_decompress=False,
    )

    assert response.headers["Content-Encoding"] == "gzip"
    document = json.loads(gzip.decompress(await response.read()))
    assert len(document["results"]) == 5


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["--rate-limit-users", "-1"], "--rate-limit-users"),
        (["--rate-window-seconds", "0"], "--rate-window-seconds"),
        (["--latency-ms", "-5"], "--latency-ms"),
    ],
)
def test_a_bad_command_line_value_exits_2_naming_the_option(capsys, argv, option):
    with pytest.raises(SystemExit) as exited:
        main(argv)

    assert exited.value.code == 2
    assert option in capsys.readouterr().err


async def test_the_served_record_lists_each_request_with_the_users_its_body_held(
    client,
):
    answer = await client.get("/api/?results=3&seed=record&page=2")
    body = await answer.json()
    await client.post("/_sim/faults", json={"mode": "http_500", "count": 1})
    await client.get("/api/?results=2&seed=record")

    served = (await (await client.get("/_sim/served")).json())["requests"]

    assert [(r["params"], r["status"], r["fault"]) for r in served] == [
        ({"results": "3", "seed": "record", "page": "2"}, 200, None),
        ({"results": "2", "seed": "record"}, 500, "http_500"),
    ]
    assert served[0]["complete"] is True
    assert served[0]["users"] == [
        {
            "name": user["name"],
            "gender": user["gender"],
            "email": user["email"],
            "country": user["location"]["country"],
            "nat": user["nat"],
            "uuid": user["login"]["uuid"],
        }
        for user in body["results"]
    ]
    assert served[1]["users"] == []


async def test_a_truncated_answer_is_recorded_as_incomplete_and_delete_forgets(
    client,
):
    await client.post("/_sim/faults", json={"mode": "truncated", "count": 1})
    await client.get("/api/?results=2&seed=cut")

    [entry] = (await (await client.get("/_sim/served")).json())["requests"]
    deleted = await client.delete("/_sim/served")
    after = (await (await client.get("/_sim/served")).json())["requests"]

    assert (entry["fault"], entry["complete"], len(entry["users"])) == (
        "truncated",
        False,
        2,
    )
    assert deleted.status == 204
    assert after == []


async def test_health_names_the_simulator_and_the_instance_it_was_given(
    aiohttp_client: AiohttpClient,
):
    client = await aiohttp_client(create_app(SimConfig(instance_id="sim-1")))

    body = await (await client.get("/_sim/healthz")).json()

    assert body == {"status": "ok", "service": "randomuser_sim", "instance": "sim-1"}
