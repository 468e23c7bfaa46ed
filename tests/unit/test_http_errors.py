"""Both HTTP services answer errors through the one middleware of common/http.py."""

from __future__ import annotations

import pytest

from command_service.app import create_app as create_command_app
from command_service.settings import CommandSettings
from query_service.app import create_app as create_query_app
from tests.support.fakes import FakePublisher
from tests.support.memory_read_model import InMemoryReadModel
from tests.unit.test_query_app import settings as query_settings


@pytest.fixture
async def clients(aiohttp_client):
    command = await aiohttp_client(
        create_command_app(CommandSettings(_env_file=None), publisher=FakePublisher())
    )
    query = await aiohttp_client(
        create_query_app(query_settings(), read_model=InMemoryReadModel())
    )
    return {"commands": command, "queries": query}


@pytest.mark.parametrize("service", ["commands", "queries"])
async def test_an_unknown_path_is_the_same_problem_on_both_services(
    clients, service: str
) -> None:
    response = await clients[service].get(f"/{service}/nothing-here")

    assert response.status == 404
    assert response.content_type == "application/problem+json"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Correlation-ID"]
    assert response.headers["X-Request-ID"]
    assert await response.json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": f"there is no resource at /{service}/nothing-here",
    }


@pytest.mark.parametrize(
    ("service", "path", "allowed"),
    [("commands", "/commands/sync", "POST"), ("queries", "/queries/countries", "GET")],
)
async def test_a_wrong_method_names_the_allowed_ones_on_both_services(
    clients, service: str, path: str, allowed: str
) -> None:
    response = await clients[service].delete(path)

    assert response.status == 405
    assert allowed in response.headers["Allow"]
    problem = await response.json()
    assert problem["detail"].startswith(f"DELETE is not allowed on {path}; allowed: ")
    assert allowed in problem["detail"]
