"""The query replica over HTTP, on the in-memory read model."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from contracts.events import SyncCompleted, SyncFailed, UsersFetched
from contracts.users import User
from query_service.app import create_app
from query_service.projection import ProjectionConfig, projection_handler
from query_service.records import CHUNK_USERS
from query_service.routes import accepts_gzip
from query_service.settings import QuerySettings
from tests.support.eventually import eventually
from tests.support.memory_read_model import InMemoryReadModel

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
COUNTRIES = ("Norway", "United Kingdom", "France")


def people(count: int) -> list[User]:
    return [
        User(
            name=f"Person {i:03d}",
            gender="female" if i % 2 else "male",
            email=f"p{i}@example.com",
            country=COUNTRIES[i % len(COUNTRIES)],
        )
        for i in range(count)
    ]


async def project_sync(
    model: InMemoryReadModel, sync_id: str, users: list[User], fetched_at: datetime
) -> None:
    handle = projection_handler(model, ProjectionConfig())
    await handle(
        UsersFetched(sync_id=sync_id, batch_index=0, batch_count=1, users=tuple(users))
    )
    await handle(
        SyncCompleted(
            sync_id=sync_id, batch_count=1, user_count=len(users), fetched_at=fetched_at
        )
    )


def file_tag(snapshot_id: str, body: bytes) -> str:
    """nginx's ETag of a file holding `body`, `"<mtime>-<size>"` in hex, when
    the file is dated as the projector dates a snapshot's files: the first 31
    bits of the SHA-256 of the snapshot id."""
    digest = hashlib.sha256(snapshot_id.encode()).digest()
    mtime = int.from_bytes(digest[:4], "big") >> 1
    return f'"{mtime:x}-{len(body):x}"'


def settings(**overrides: object) -> QuerySettings:
    values = {"snapshot_poll_seconds": 60.0, "live_notices": False, **overrides}
    return QuerySettings.model_validate({"_env_file": None, **values})


@pytest.fixture
async def model() -> InMemoryReadModel:
    model = InMemoryReadModel()
    await project_sync(model, "s1", people(120), T0)
    return model


@pytest.fixture
async def client(aiohttp_client, model):
    return await aiohttp_client(
        create_app(settings(), read_model=model), auto_decompress=False
    )


async def test_countries_are_the_precomputed_json_with_validators(client, model):
    response = await client.get("/queries/countries", headers={"Accept-Encoding": ""})

    snapshot = await model.snapshot("s1")
    assert snapshot is not None
    assert response.status == 200
    assert await response.read() == snapshot.countries_json
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["ETag"] == file_tag("s1", snapshot.countries_json)
    assert response.headers["Cache-Control"] == "public, max-age=0, must-revalidate"
    assert response.headers["Vary"] == "Accept-Encoding"
    assert "Content-Encoding" not in response.headers


async def test_countries_are_served_gzipped_to_clients_that_accept_it(client, model):
    response = await client.get(
        "/queries/countries", headers={"Accept-Encoding": "br;q=1, gzip;q=0.8"}
    )

    snapshot = await model.snapshot("s1")
    assert snapshot is not None
    assert response.headers["Content-Encoding"] == "gzip"
    assert await response.read() == snapshot.countries_gzip
    assert response.headers["ETag"] == file_tag("s1", snapshot.countries_gzip)


@pytest.mark.parametrize(
    "if_none_match", ['W/"s1"', '"s1"', "*", '"other", W/"s1"', "identity file"]
)
async def test_a_matching_if_none_match_gets_304_without_a_body(
    client, model, if_none_match
):
    snapshot = await model.snapshot("s1")
    assert snapshot is not None
    identity = file_tag("s1", snapshot.countries_json)
    if if_none_match == "identity file":
        if_none_match = f'"other", W/{identity}'
    response = await client.get(
        "/queries/countries",
        headers={"If-None-Match": if_none_match, "Accept-Encoding": "identity"},
    )

    assert response.status == 304
    assert await response.read() == b""
    assert response.headers["ETag"] == identity
    assert response.headers["Vary"] == "Accept-Encoding"


async def test_a_stale_if_none_match_gets_the_full_body(client, model):
    snapshot = await model.snapshot("s1")
    assert snapshot is not None
    # The gzip body's tag does not validate the identity body, as at nginx.
    for stale in ('W/"s0"', file_tag("s1", snapshot.countries_gzip)):
        response = await client.get(
            "/queries/countries",
            headers={"If-None-Match": stale, "Accept-Encoding": "identity"},
        )

        assert response.status == 200, stale


async def test_before_any_snapshot_countries_is_an_empty_list(aiohttp_client):
    client = await aiohttp_client(
        create_app(settings(), read_model=InMemoryReadModel())
    )

    response = await client.get("/queries/countries")

    assert response.status == 200
    assert await response.json() == {"countries": [], "snapshot": None}
    assert "ETag" not in response.headers
    names = await client.get("/queries/countries/names")
    assert await names.json() == {"countries": [], "snapshot": None}


async def test_country_names_come_with_counts_and_an_etag(client, model):
    response = await client.get("/queries/countries/names")

    body = await response.json()
    assert [c["name"] for c in body["countries"]] == sorted(COUNTRIES)
    assert body["countries"][0] == {
        "name": "France",
        "user_count": 40,
        "genders": {"male": 20, "female": 20},
    }
    snapshot = await model.snapshot("s1")
    assert snapshot is not None
    tag = file_tag("s1", snapshot.names_json)
    assert response.headers["ETag"] == tag
    for if_none_match in ('W/"s1"', tag):
        again = await client.get(
            "/queries/countries/names", headers={"If-None-Match": if_none_match}
        )
        assert again.status == 304
        assert again.headers["ETag"] == tag


async def test_a_country_with_a_space_is_paged(client):
    response = await client.get(
        "/queries/countries/United%20Kingdom/users", params={"page": "2", "size": "15"}
    )

    assert response.status == 200
    body = await response.json()
    assert (body["country"], body["page"], body["size"]) == ("United Kingdom", 2, 15)
    assert (body["total"], body["pages"]) == (40, 3)
    assert len(body["users"]) == 15
    assert body["snapshot"]["id"] == "s1"
    assert response.headers["ETag"] == 'W/"s1"'


async def test_a_country_page_defaults_to_the_first_fifty(client):
    response = await client.get("/queries/countries/Norway/users")

    body = await response.json()
    assert (body["page"], body["size"], len(body["users"])) == (1, 50, 40)


async def test_an_unknown_country_is_a_404_problem_naming_it(client):
    response = await client.get("/queries/countries/Atlantis/users")

    assert response.status == 404
    assert response.headers["Content-Type"] == "application/problem+json"
    problem = orjson.loads(await response.read())
    assert problem["status"] == 404
    assert "Atlantis" in problem["detail"]


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ({"page": "0"}, "page"),
        ({"size": "501"}, "size"),
        ({"size": "0"}, "size"),
        ({"size": "ten"}, "size"),
        ({"page": "1.5"}, "page"),
    ],
)
async def test_a_bad_page_or_size_is_a_400_problem_naming_the_parameter(
    client, query, parameter
):
    response = await client.get("/queries/countries/Norway/users", params=query)

    assert response.status == 400
    assert response.headers["Content-Type"] == "application/problem+json"
    problem = orjson.loads(await response.read())
    assert f"'{parameter}'" in problem["detail"]
    assert problem["title"] == "Invalid query parameter"


async def test_a_wrong_method_is_a_405_problem_with_allow(client):
    response = await client.post("/queries/countries")

    assert response.status == 405
    assert response.headers["Content-Type"] == "application/problem+json"
    assert "GET" in response.headers["Allow"]
    problem = orjson.loads(await response.read())
    assert "POST" in problem["detail"]


async def test_an_unknown_path_is_a_404_problem(client):
    response = await client.get("/queries/nothing-here")

    assert response.status == 404
    assert response.headers["Content-Type"] == "application/problem+json"
    problem = orjson.loads(await response.read())
    assert "/queries/nothing-here" in problem["detail"]


async def test_sync_status_shows_attempts_and_is_never_cached(client, model):
    handle = projection_handler(model, ProjectionConfig())
    await handle(SyncFailed(sync_id="s2", reason="upstream 500", attempts=3))

    response = await client.get("/queries/sync-status")

    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = await response.json()
    assert body["current_snapshot"]["id"] == "s1"
    assert body["last_success"]["sync_id"] == "s1"
    assert body["last_failure"]["reason"] == "upstream 500"
    assert body["dead_lettered"] == 0
    assert {r["sync_id"] for r in body["recent"]} == {"s1", "s2"}


async def test_the_hot_path_does_not_touch_the_read_model(client, model):
    await client.get("/queries/countries")
    before = model.calls.copy()

    for _ in range(20):
        await client.get("/queries/countries")
        await client.get("/queries/countries/names")
        await client.get("/queries/countries/Norway/users")

    # The page's one chunk, read once.
    assert model.calls - before == {"country_chunk": 1}


async def test_a_new_snapshot_is_served_after_the_poll_interval(aiohttp_client, model):
    client = await aiohttp_client(
        create_app(settings(snapshot_poll_seconds=0.05), read_model=model)
    )
    first = await client.get("/queries/countries")
    assert (await first.json())["snapshot"]["id"] == "s1"

    await project_sync(model, "s2", people(10), T0 + timedelta(minutes=1))

    async def serves_s2() -> bool:
        response = await client.get("/queries/countries")
        return bool((await response.json())["snapshot"]["id"] == "s2")

    await eventually(serves_s2, what="the replica serves s2")


async def test_without_the_database_a_fresh_replica_answers_503(aiohttp_client):
    model = InMemoryReadModel()
    model.available = False
    client = await aiohttp_client(create_app(settings(), read_model=model))

    response = await client.get("/queries/countries")

    assert response.status == 503
    assert response.headers["Content-Type"] == "application/problem+json"
    assert "Retry-After" in response.headers
    readiness = await client.get("/readyz")
    assert readiness.status == 503


async def test_a_loaded_replica_keeps_serving_its_snapshot_through_an_outage(
    aiohttp_client, model
):
    client = await aiohttp_client(
        create_app(settings(snapshot_poll_seconds=0), read_model=model)
    )
    assert (await client.get("/queries/countries")).status == 200
    await client.get("/queries/countries/Norway/users")

    model.available = False

    for _ in range(3):
        response = await client.get("/queries/countries")
        assert response.status == 200
        assert (await response.json())["snapshot"]["id"] == "s1"
    assert (await client.get("/queries/countries/Norway/users")).status == 200
    assert (await client.get("/queries/countries/France/users")).status == 503
    assert (await client.get("/queries/sync-status")).status == 503


async def test_the_replica_is_ready_once_the_snapshot_is_loaded(client):
    async def ready() -> bool:
        return bool((await client.get("/readyz")).status == 200)

    await eventually(ready, what="readiness")
    health = await client.get("/healthz")
    assert health.status == 200
    assert (await health.json())["service"] == "query_service"


async def test_a_correlation_id_is_echoed_or_created(client):
    given = await client.get(
        "/queries/countries/names", headers={"X-Correlation-ID": "abc-123"}
    )
    hostile = await client.get(
        "/queries/countries/names", headers={"X-Correlation-ID": "<script>"}
    )

    assert given.headers["X-Correlation-ID"] == "abc-123"
    assert len(hostile.headers["X-Correlation-ID"]) == 32


async def test_a_request_id_from_the_proxy_is_kept_and_a_bad_one_replaced(client):
    # nginx sends its $request_id (32 hex digits) as X-Request-ID.
    given = await client.get(
        "/queries/countries/names",
        headers={"X-Request-ID": "0123456789abcdef0123456789abcdef"},
    )
    hostile = await client.get(
        "/queries/countries/names", headers={"X-Request-ID": "a b\tc"}
    )
    missing = await client.get("/queries/countries/names")

    assert given.headers["X-Request-ID"] == "0123456789abcdef0123456789abcdef"
    made = {hostile.headers["X-Request-ID"], missing.headers["X-Request-ID"]}
    assert len(made) == 2
    assert all(re.fullmatch(r"[0-9a-f]{17,}", request_id) for request_id in made)


async def test_head_answers_headers_without_a_body(client, model):
    response = await client.head(
        "/queries/countries", headers={"Accept-Encoding": "identity"}
    )

    snapshot = await model.snapshot("s1")
    assert snapshot is not None
    assert response.status == 200
    assert response.headers["ETag"] == file_tag("s1", snapshot.countries_json)
    assert await response.read() == b""


@pytest.mark.parametrize(
    ("header", "accepted"),
    [
        ("gzip", True),
        ("gzip, deflate, br", True),
        ("GZIP;q=0.5", True),
        ("x-gzip", True),
        ("*", True),
        ("gzip;q=0", False),
        ("gzip;q=0, *", False),
        ("*;q=0", False),
        ("br", False),
        ("", False),
        ("identity", False),
        ("gzip;q=nonsense", False),
    ],
)
def test_accept_encoding_is_negotiated_per_rfc_9110(header, accepted):
    assert accepts_gzip(header) is accepted


async def test_a_page_of_a_large_country_reads_only_the_chunks_it_shows(
    aiohttp_client, model
):
    users = [
        User(name=f"User {i:06d}", gender="male", email=f"u{i}@x.org", country="Chile")
        for i in range(4 * CHUNK_USERS)
    ]
    await project_sync(model, "big", users, T0 + timedelta(hours=1))
    client = await aiohttp_client(create_app(settings(), read_model=model))
    before = model.calls.copy()

    response = await client.get(
        "/queries/countries/Chile/users", params={"page": "3", "size": "500"}
    )

    body = await response.json()
    assert body["total"] == 4 * CHUNK_USERS
    assert [u["name"] for u in body["users"]] == [
        f"User {i:06d}" for i in range(1000, 1500)
    ]
    # Users 1,000-1,499 lie in chunks 2 and 3 (0-based) of CHUNK_USERS each.
    assert (model.calls - before)["country_chunk"] == 2
    assert (model.calls - before)["country"] == 0
