"""The OpenAPI documents: valid OpenAPI 3.1, served, and true to real responses."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from pydantic import TypeAdapter

from command_service import openapi as command_openapi
from command_service.app import create_app as create_command_app
from command_service.settings import CommandSettings
from contracts.commands import DEFAULT_SYNC_MAX_RESULTS
from contracts.events import SyncFailed
from query_service import bodies
from query_service import openapi as query_openapi
from query_service.app import create_app as create_query_app
from query_service.projection import ProjectionConfig, projection_handler
from tests.support.fakes import FakePublisher
from tests.support.memory_read_model import InMemoryReadModel
from tests.unit.test_query_app import T0, people, project_sync, settings

TOKEN = "s3cret-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
COMMANDS = command_openapi.document(max_results=DEFAULT_SYNC_MAX_RESULTS)
QUERIES = query_openapi.document()


async def check(
    document: dict[str, Any], path: str, status: int, response: Any
) -> None:
    """Assert that an aiohttp test `response` matches what the document says:
    its status, its media type, its body and every documented header it has."""
    assert response.status == status
    operation = document["paths"][path]["get" if "queries" in path else "post"]
    documented = operation["responses"][str(status)]
    for name, header in documented["headers"].items():
        if name in response.headers:
            validator(document, header["schema"]).validate(response.headers[name])
    if "content" not in documented:
        return
    [(media_type, content)] = documented["content"].items()
    assert response.content_type == media_type
    body = orjson.loads(await response.read())
    validator(document, content["schema"]).validate(body)


def validator(document: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    """A validator of `schema`, resolving its references within `document`."""
    return Draft202012Validator(
        {**schema, "components": document["components"]},
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


@pytest.mark.parametrize(
    "document",
    [
        COMMANDS,
        QUERIES,
    ],
)
def test_each_document_is_valid_openapi_3_1(document):
    validate(document)
    assert document["openapi"] == "3.1.0"


@pytest.fixture
async def query_client(aiohttp_client):
    model = InMemoryReadModel()
    await project_sync(model, "s1", people(60), T0)
    await projection_handler(model, ProjectionConfig())(
        SyncFailed(sync_id="s2", reason="upstream 500", attempts=3)
    )
    return await aiohttp_client(create_query_app(settings(), read_model=model))


@pytest.fixture
async def command_client(aiohttp_client):
    app = create_command_app(
        CommandSettings(_env_file=None, command_token=TOKEN),
        publisher=FakePublisher(),
    )
    return await aiohttp_client(app)


async def test_the_query_document_is_served_as_json(query_client):
    response = await query_client.get("/queries/openapi.json")

    assert response.status == 200
    assert await response.json() == orjson.loads(orjson.dumps(QUERIES))


async def test_the_command_document_is_served_without_a_token(command_client):
    response = await command_client.get("/commands/openapi.json")

    assert response.status == 200
    assert (await response.json())["info"]["title"].endswith("command API")


@pytest.mark.parametrize(
    ("url", "path", "status"),
    [
        ("/queries/countries", "/queries/countries", 200),
        ("/queries/countries/names", "/queries/countries/names", 200),
        (
            "/queries/countries/Norway/users?size=7",
            "/queries/countries/{name}/users",
            200,
        ),
        ("/queries/countries/Atlantis/users", "/queries/countries/{name}/users", 404),
        (
            "/queries/countries/Norway/users?page=0",
            "/queries/countries/{name}/users",
            400,
        ),
        ("/queries/sync-status", "/queries/sync-status", 200),
    ],
)
async def test_query_responses_match_their_documented_schema(
    query_client, url, path, status
):
    response = await query_client.get(url)

    await check(QUERIES, path, status, response)


async def test_an_empty_read_model_answers_as_documented(aiohttp_client):
    client = await aiohttp_client(
        create_query_app(settings(), read_model=InMemoryReadModel())
    )
    for path in ("/queries/countries", "/queries/countries/names"):
        response = await client.get(path)
        await check(QUERIES, path, 200, response)


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"json": {"results": 3, "nationalities": ["us"]}, "headers": AUTH}, 202),
        ({"headers": AUTH}, 202),
        ({"json": {"results": 0}, "headers": AUTH}, 422),
        (
            {"data": b"[1]", "headers": {**AUTH, "Content-Type": "application/json"}},
            400,
        ),
        ({"data": b"x=1", "headers": {**AUTH, "Content-Type": "text/plain"}}, 415),
        ({"json": {}}, 401),
        ({"data": b"{" * 20_000, "headers": AUTH}, 413),
    ],
)
async def test_command_responses_match_their_documented_schema(
    command_client, kwargs, status
):
    response = await command_client.post("/commands/sync", **kwargs)

    await check(
        COMMANDS,
        "/commands/sync",
        status,
        response,
    )


async def test_a_not_modified_answer_has_the_documented_headers(query_client):
    first = await query_client.get("/queries/countries/names")
    response = await query_client.get(
        "/queries/countries/names", headers={"If-None-Match": first.headers["ETag"]}
    )

    await check(QUERIES, "/queries/countries/names", 304, response)
    assert "ETag" in response.headers


@pytest.mark.parametrize(("body", "status"), [({"results": 5}, 200), ({}, 409)])
async def test_idempotent_repeats_answer_as_documented(command_client, body, status):
    headers = {**AUTH, "Idempotency-Key": "k1"}
    await command_client.post("/commands/sync", json={"results": 5}, headers=headers)
    response = await command_client.post("/commands/sync", json=body, headers=headers)

    await check(
        COMMANDS,
        "/commands/sync",
        status,
        response,
    )


async def test_an_unconfirmed_command_answers_as_documented(aiohttp_client):
    app = create_command_app(
        CommandSettings(_env_file=None, command_token=TOKEN),
        publisher=FakePublisher(error=TimeoutError()),
    )
    client = await aiohttp_client(app)

    response = await client.post("/commands/sync", json={}, headers=AUTH)

    await check(
        COMMANDS,
        "/commands/sync",
        503,
        response,
    )


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"results": 1},
        {"results": 0},
        {"results": DEFAULT_SYNC_MAX_RESULTS},
        {"results": DEFAULT_SYNC_MAX_RESULTS + 1},
        {"results": "5"},
        {"nationalities": ["us", "Gb", "FR"]},
        {"nationalities": ["XX"]},
        {"nationalities": []},
        {"nationalities": ["US"] * 22},
        {"seed": "abc"},
        {"seed": ""},
        {"seed": "a b"},
        {"seed": "x" * 64},
        {"seed": "x" * 65},
        {"seed": "x" * 16 + "0e"},
        {"seed": "x" * 16 + "14"},
        {"seed": "x" * 16 + "15"},
        {"seed": "x" * 16 + "zz"},
        {"other": 1},
    ],
)
async def test_the_documented_request_schema_accepts_what_the_handler_accepts(
    command_client, body
):
    operation = COMMANDS["paths"]["/commands/sync"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]

    response = await command_client.post("/commands/sync", json=body, headers=AUTH)

    assert response.status in {202, 422}
    assert validator(COMMANDS, schema).is_valid(body) == (response.status == 202)


def test_documented_bodies_are_the_schemas_of_the_types_the_handlers_use():
    schemas = QUERIES["components"]["schemas"]

    for body in (bodies.CountriesBody, bodies.NamesBody, bodies.SyncStatusBody):
        generated = TypeAdapter(body).json_schema(
            mode="serialization", ref_template="#/components/schemas/{model}"
        )
        definitions = generated.pop("$defs")
        assert schemas[body.__name__] == generated
        for name, schema in definitions.items():
            assert schemas[name] == schema


# Served by every service but documented apart: Prometheus and the probes.
UNDOCUMENTED = {("GET", "/metrics"), ("GET", "/healthz"), ("GET", "/readyz")}


def routes_of(app: Any) -> set[tuple[str, str]]:
    """Each (method, path) the app's router answers; aiohttp adds a HEAD to
    every GET, which the documents say once in their description."""
    return {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    }


def operations_of(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }


def test_every_route_of_the_query_api_is_documented_and_nothing_else():
    app = create_query_app(settings(), read_model=InMemoryReadModel())

    assert routes_of(app) == operations_of(QUERIES) | UNDOCUMENTED


def test_every_route_of_the_command_api_is_documented_and_nothing_else():
    app = create_command_app(
        CommandSettings(_env_file=None, command_token=TOKEN), publisher=FakePublisher()
    )

    assert routes_of(app) == operations_of(COMMANDS) | UNDOCUMENTED
