"""The OpenAPI documents: valid OpenAPI 3.1, served, and true to real responses."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from command_service import openapi as command_openapi
from command_service.app import create_app as create_command_app
from command_service.settings import CommandSettings
from contracts.events import SyncFailed
from query_service import openapi as query_openapi
from query_service.app import create_app as create_query_app
from query_service.memory import InMemoryReadModel
from query_service.projection import ProjectionConfig, projection_handler
from tests.support.fakes import FakePublisher
from tests.unit.test_query_app import T0, people, project_sync, settings

TOKEN = "s3cret-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def check(
    document: dict[str, Any], path: str, status: int, response: Any
) -> None:
    """Assert that an aiohttp test `response` matches what the document says."""
    assert response.status == status
    operation = document["paths"][path]["get" if "queries" in path else "post"]
    documented = operation["responses"][str(status)]
    if "content" not in documented:
        return
    [(media_type, content)] = documented["content"].items()
    assert response.content_type == media_type
    schema = {**content["schema"], "components": document["components"]}
    Draft202012Validator(
        schema, format_checker=Draft202012Validator.FORMAT_CHECKER
    ).validate(orjson.loads(await response.read()))


@pytest.mark.parametrize(
    "document", [command_openapi.document(), query_openapi.document()]
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
    assert await response.json() == orjson.loads(orjson.dumps(query_openapi.document()))


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

    await check(query_openapi.document(), path, status, response)


async def test_an_empty_read_model_answers_as_documented(aiohttp_client):
    client = await aiohttp_client(
        create_query_app(settings(), read_model=InMemoryReadModel())
    )
    for path in ("/queries/countries", "/queries/countries/names"):
        response = await client.get(path)
        await check(query_openapi.document(), path, 200, response)


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

    await check(command_openapi.document(), "/commands/sync", status, response)
