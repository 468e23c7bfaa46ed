"""Bad input through nginx: every endpoint answers a 4xx problem+json naming the problem."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import aiohttp
import orjson
import pytest

from tests.e2e.conftest import TOKEN

if TYPE_CHECKING:
    from tests.e2e.conftest import StackClient

JSON_AUTH: Final = {
    "Authorization": f"Bearer {TOKEN}",
    "Content-Type": "application/json",
}

# (method, path, request options, status, words the problem's detail names)
BAD_INPUT: Final[list[tuple[str, str, dict[str, Any], int, tuple[str, ...]]]] = [
    ("POST", "/commands/sync", {"data": b"{"}, 400, ("JSON",)),
    ("POST", "/commands/sync", {"data": b"[5]"}, 400, ("JSON object",)),
    ("POST", "/commands/sync", {"data": b'"sync"'}, 400, ("JSON object",)),
    ("POST", "/commands/sync", {"json": {"results": 0}}, 422, ("results",)),
    ("POST", "/commands/sync", {"json": {"results": 20_001}}, 422, ("results",)),
    ("POST", "/commands/sync", {"json": {"results": "5"}}, 422, ("results",)),
    ("POST", "/commands/sync", {"json": {"results": True}}, 422, ("results",)),
    (
        "POST",
        "/commands/sync",
        {"json": {"nationalities": ["XX"]}},
        422,
        ("nationalities",),
    ),
    (
        "POST",
        "/commands/sync",
        {"json": {"nationalities": []}},
        422,
        ("nationalities",),
    ),
    (
        "POST",
        "/commands/sync",
        {"json": {"nationalities": "US"}},
        422,
        ("nationalities",),
    ),
    ("POST", "/commands/sync", {"json": {"seed": "a b"}}, 422, ("seed",)),
    ("POST", "/commands/sync", {"json": {"seed": "x" * 65}}, 422, ("seed",)),
    ("POST", "/commands/sync", {"json": {"seed": "a" * 16 + "zz"}}, 422, ("seed",)),
    ("POST", "/commands/sync", {"json": {"surprise": 1}}, 422, ("surprise",)),
    (
        "POST",
        "/commands/sync",
        {"data": b"results=5", "headers": {"Content-Type": "text/plain"}},
        415,
        ("application/json",),
    ),
    ("GET", "/queries/countries/France/users?page=0", {}, 400, ("page",)),
    ("GET", "/queries/countries/France/users?page=abc", {}, 400, ("page",)),
    ("GET", "/queries/countries/France/users?size=501", {}, 400, ("size",)),
    ("GET", "/queries/countries/France/users?size=-1", {}, 400, ("size",)),
    ("GET", "/queries/countries/Atlantis/users", {}, 404, ("Atlantis",)),
    ("GET", "/queries/countries/%3Cscript%3E/users", {}, 404, ("<script>",)),
    ("GET", "/queries/no-such-route", {}, 404, ("/queries/no-such-route",)),
    ("GET", "/queries/countries/France", {}, 404, ("/queries/countries/France",)),
    ("POST", "/commands/no-such-route", {}, 404, ("/commands/no-such-route",)),
    ("GET", "/commands/sync", {}, 405, ("GET",)),
    ("PUT", "/commands/sync", {}, 405, ("PUT",)),
    ("POST", "/queries/countries", {}, 405, ("not allowed",)),
    ("DELETE", "/queries/sync-status", {}, 405, ("DELETE",)),
]


@pytest.mark.parametrize(
    ("method", "path", "options", "status", "names"),
    BAD_INPUT,
    ids=[f"{m} {p} {o}"[:90] for m, p, o, _, _ in BAD_INPUT],
)
async def test_bad_input_gets_a_problem_naming_it(
    stack: StackClient,
    method: str,
    path: str,
    options: dict[str, Any],
    status: int,
    names: tuple[str, ...],
) -> None:
    options = dict(options)
    headers = {**JSON_AUTH, **options.pop("headers", {})}
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            method, f"{stack.base_url}{path}", headers=headers, **options
        ) as response,
    ):
        body = await response.read()
        answer_status = response.status
        content_type = response.content_type
        allow = response.headers.get("Allow")

    assert answer_status == status, body
    assert content_type == "application/problem+json"
    problem = orjson.loads(body)
    assert problem["status"] == status
    assert problem["title"]
    for name in names:
        assert name in problem["detail"], problem
    if status == 405:
        assert allow, "a 405 says which methods are allowed"


async def test_an_unknown_page_outside_the_apis_is_404(stack: StackClient) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{stack.base_url}/no/such/page") as response,
    ):
        assert response.status == 404
