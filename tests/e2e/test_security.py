"""Security through nginx: the command token, public reads, rate and size limits,
headers on every response, no version leak, and a management UI closed to `guest`.
"""

from __future__ import annotations

import asyncio
import base64
import re
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

import aiohttp
import pytest
from multidict import CIMultiDict

from contracts.topology import Topology
from devstack.config import ROOT
from devstack.rabbitmq import delete_user, ensure_admin
from devstack.readiness import port_open
from devstack.stack import Stack
from tests.e2e.conftest import TOKEN, StackClient, stack_config
from tests.support.broker import delete_topology

if TYPE_CHECKING:
    from collections.abc import Iterator

TOO_LARGE: Final = b'{"seed": "' + b"a" * 20_000 + b'"}'
DASHBOARD_CSP: Final = "default-src 'none'"


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def _request(
    url: str, method: str = "GET", **kwargs: Any
) -> tuple[int, dict[str, str], bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url, allow_redirects=False, **kwargs) as response,
    ):
        headers = {key.lower(): value for key, value in response.headers.items()}
        return response.status, headers, await response.read()


async def test_a_command_needs_the_whole_bearer_token(stack: StackClient) -> None:
    url = f"{stack.base_url}/commands/sync"
    refused = [
        {},
        {"Authorization": f"Bearer {TOKEN[:-1]}"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Bearer {TOKEN[:-1]}?"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
        {"Authorization": "Bearer "},
    ]
    for headers in refused:
        status, answer, body = await _request(
            url, "POST", headers=headers, json={"results": 5}
        )
        assert status == 401, headers
        assert answer["content-type"] == "application/problem+json"
        assert answer["www-authenticate"].startswith("Bearer")
        assert b"bearer token" in body
        assert TOKEN.encode() not in body

    status, _, _ = await _request(
        url,
        "POST",
        headers={"Authorization": f"Bearer {TOKEN}"},
        json={"results": 5, "seed": "token-ok"},
    )
    assert status == 202


async def test_an_unauthenticated_command_learns_nothing_about_its_body(
    stack: StackClient,
) -> None:
    # The token is checked before the body is read: no parse errors for strangers.
    status, _, body = await _request(
        f"{stack.base_url}/commands/sync",
        "POST",
        data=b"{not json",
        headers={"Content-Type": "application/json"},
    )

    assert status == 401
    assert b"JSON" not in body


async def test_reads_are_public(stack: StackClient) -> None:
    for path in (
        "/",
        "/queries/countries",
        "/queries/countries/names",
        "/queries/sync-status",
    ):
        status, _, _ = await _request(f"{stack.base_url}{path}")
        assert status == 200, path


def _responses(stack: StackClient) -> list[tuple[str, str, dict[str, Any], int]]:
    auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    return [
        ("GET", "/", {}, 200),
        ("GET", "/app.js", {}, 200),
        ("GET", "/no-such-file", {}, 404),
        ("GET", "/queries/countries", {}, 200),
        ("GET", "/queries/sync-status", {}, 200),
        ("GET", "/queries/countries/Atlantis/users", {}, 404),
        ("GET", "/queries/countries/Atlantis/users?size=0", {}, 400),
        ("GET", "/queries/no-such-route", {}, 404),
        ("POST", "/queries/countries", {}, 405),
        ("POST", "/commands/sync", {}, 401),
        ("GET", "/commands/sync", {}, 405),
        ("POST", "/commands/no-such-route", {"headers": auth}, 404),
        ("POST", "/commands/sync", {"headers": auth, "data": b"{"}, 400),
        ("POST", "/commands/sync", {"headers": auth, "data": TOO_LARGE}, 413),
        ("GET", "/rabbitmq/", {}, 200),
        ("GET", "/rabbitmq/api/overview", {}, 401),
        (
            "GET",
            "/rabbitmq/api/overview",
            {"headers": {"Authorization": _basic("guest", "guest")}},
            403,
        ),
    ]


async def test_every_response_has_the_security_headers_and_names_no_version(
    stack: StackClient,
) -> None:
    missing = []
    for method, path, kwargs, expected in _responses(stack):
        if path.startswith("/rabbitmq/") and not _management_reachable(stack):
            continue
        status, headers, _ = await _request(f"{stack.base_url}{path}", method, **kwargs)
        assert status == expected, (method, path, status)
        assert headers["server"] == "nginx", path
        assert "x-powered-by" not in headers, path
        assert not any(
            re.search(r"(nginx|python|aiohttp|cowboy)/\d", value, re.IGNORECASE)
            for value in headers.values()
        ), (path, headers)
        wanted = {
            "x-content-type-options": "nosniff",
            "x-frame-options": "DENY",
            "referrer-policy": "no-referrer",
        }
        for name, value in wanted.items():
            if headers.get(name) != value:
                missing.append(f"{method} {path} ({status}): {name}")
        csp = headers.get("content-security-policy", "")
        if "frame-ancestors 'none'" not in csp:
            missing.append(f"{method} {path} ({status}): content-security-policy")
        if not path.startswith("/rabbitmq/") and DASHBOARD_CSP not in csp:
            missing.append(f"{method} {path} ({status}): the dashboard's CSP")
    assert not missing, "\n".join(missing)


async def test_a_body_over_the_limit_is_refused_by_nginx_and_by_the_service(
    stack: StackClient,
) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    for origin in (stack.base_url, stack.stack.command_url):
        status, headers, body = await _request(
            f"{origin}/commands/sync", "POST", headers=auth, data=TOO_LARGE
        )
        assert status == 413, origin
        assert headers["content-type"] == "application/problem+json"
        assert b"too large" in body.lower()


def _management_url(stack: StackClient) -> str:
    return f"http://{stack.stack.config.rabbitmq_management}"


def _management_reachable(stack: StackClient) -> bool:
    parts = urlsplit(_management_url(stack))
    return port_open(parts.hostname or "127.0.0.1", parts.port or 15672)


@pytest.fixture
def rabbitmq_admin(stack: StackClient) -> Iterator[tuple[str, str]]:
    """A management administrator created as `make run` does; deleted after."""
    if not _management_reachable(stack):
        pytest.skip("no RabbitMQ management API next to the stack's broker")
    amqp_url = stack.stack.config.amqp_url
    username = f"e2e-admin-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory(prefix="e2e-rabbitmq-admin-") as tmp:
        secret = Path(tmp) / "rabbitmq-admin"
        credentials = ensure_admin(_management_url(stack), amqp_url, secret, username)
        try:
            assert secret.stat().st_mode & 0o777 == 0o600
            # Idempotent, and the same password on the next run.
            assert ensure_admin(_management_url(stack), amqp_url, secret, username) == (
                credentials
            )
            yield credentials.username, credentials.password
        finally:
            delete_user(_management_url(stack), amqp_url, username)


async def test_the_management_ui_refuses_guest_and_admits_the_generated_admin(
    stack: StackClient, rabbitmq_admin: tuple[str, str]
) -> None:
    user, password = rabbitmq_admin
    overview = f"{stack.base_url}/rabbitmq/api/overview"
    projector_queue = (
        f"{stack.base_url}/rabbitmq/api/queues/%2F/"
        f"{stack.stack.config.amqp_namespace}.query_service.projector"
    )
    refused = [
        _basic("guest", "guest"),
        _basic("guest", "anything"),
        "basic  " + _basic("guest", "guest").split()[1],
        "Bearer abc",
        f"Basic {base64.b64encode(b'guest:guest').decode()[:-1]} =",
    ]
    for authorization in refused:
        status, headers, body = await _request(
            overview, headers={"Authorization": authorization}
        )
        assert status == 403, authorization
        assert headers["content-type"] == "application/problem+json"
        assert b"guest" in body

    wrong, _, _ = await _request(
        overview, headers={"Authorization": _basic(user, "wrong")}
    )
    assert wrong == 401
    twice, _, _ = await _request(
        overview,
        headers=CIMultiDict(
            [
                ("Authorization", _basic("guest", "guest")),
                ("Authorization", _basic(user, password)),
            ]
        ),
    )
    # nginx refuses a second Authorization header outright.
    assert twice == 400
    for url in (overview, projector_queue):
        status, headers, _ = await _request(
            url, headers={"Authorization": _basic(user, password)}
        )
        assert status == 200, url
        assert headers["content-type"].startswith("application/json")


def _tracked_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    return [ROOT / name for name in listed.decode().split("\0") if name]


SECRET_PATTERNS: Final = [
    re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(rb"AKIA[0-9A-Z]{16}"),
    re.compile(rb"gh[pousr]_[A-Za-z0-9]{36}"),
    re.compile(rb"xox[abpr]-[A-Za-z0-9-]{10,}"),
]


def test_no_secret_lives_in_the_repository() -> None:
    files = _tracked_files()
    names = {path.relative_to(ROOT).as_posix() for path in files}
    assert ".env" not in names
    assert not any(name.startswith(".run/") for name in names)
    leaks = [
        path.relative_to(ROOT).as_posix()
        for path in files
        if path.is_file()
        and any(pattern.search(path.read_bytes()) for pattern in SECRET_PATTERNS)
    ]
    assert not leaks


@pytest.fixture(scope="module")
def rate_limited_stack(amqp_url: str, mongo_url: str) -> Iterator[StackClient]:
    """A stack of its own whose nginx allows 1 command a minute, burst 2."""
    with tempfile.TemporaryDirectory(prefix="e2e-rate-limit-") as tmp:
        config = stack_config(amqp_url, mongo_url, Path(tmp))
        config.command_rate = "1r/m"
        config.command_burst = 2
        stack = Stack(config)
        try:
            stack.start()
            yield StackClient(stack)
        finally:
            stack.stop()
            asyncio.run(delete_topology(amqp_url, Topology(config.amqp_namespace)))


async def test_nginx_rate_limits_commands_and_not_reads(
    rate_limited_stack: StackClient,
) -> None:
    url = f"{rate_limited_stack.base_url}/commands/sync"
    statuses = []
    for _ in range(6):
        status, headers, body = await _request(url, "POST")
        statuses.append(status)
        if status == 429:
            assert headers["content-type"] == "application/problem+json"
            assert headers["x-frame-options"] == "DENY"
            assert b"too many commands" in body

    # One allowed now and two in the burst; the token is never even checked
    # for the rest.
    assert statuses == [401, 401, 401, 429, 429, 429]
    for _ in range(30):
        status, _, _ = await _request(
            f"{rate_limited_stack.base_url}/queries/sync-status"
        )
        assert status == 200
