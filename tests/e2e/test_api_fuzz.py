"""Both APIs fuzzed with schemathesis against running services: no 5xx, all as documented.

Schemathesis runs as its CLI, one process per API: its pytest integration
does not work with pytest 9 (it writes `node._nodeid`, which pytest 9 no
longer has). Every check is on: no 5xx, status codes, content types,
headers and bodies as the document says, negative data refused, the token
enforced, 405 with `Allow` for undocumented methods. Bounded and
deterministic: 50 examples per operation and phase, deterministic
generation (no random seed, no example database), no stateful phase.

The query API is fuzzed through nginx, as readers reach it, and on a replica
directly. The command API is fuzzed on a second command-service process of
the stack, in an AMQP namespace of its own with no sync worker behind it:
every command the fuzzer gets accepted (about a hundred, of up to 20,000
users each) stays in that namespace's queue, deleted afterwards, instead of
keeping the stack's worker busy for every later test. nginx's own answers
on /commands/ (413, 429) are checked against the same document separately.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Final

import pytest
import requests
import schemathesis

from contracts.topology import Topology
from devstack.readiness import free_port
from tests.e2e.conftest import TOKEN
from tests.support.broker import delete_topology
from tests.support.eventually import wait_until

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.e2e.conftest import StackClient

MAX_EXAMPLES: Final = 50
REPORTS: Final = Path(__file__).resolve().parents[1] / "artifacts" / "schemathesis"
SCHEMATHESIS: Final = Path(sys.executable).parent / "schemathesis"


def fuzz(schema_url: str, report: str, *options: str) -> None:
    """Run schemathesis against `schema_url`; fail with its report on any finding."""
    command = [
        str(SCHEMATHESIS), "run", schema_url,
        "--checks", "all",
        "--phases", "examples,coverage,fuzzing",
        "--max-examples", str(MAX_EXAMPLES),
        "--generation-deterministic",
        "--request-timeout", "10",
        "--max-failures", "20",
        "--report", "junit",
        "--report-junit-path", str(REPORTS / f"{report}.xml"),
        "--no-color",
        *options,
    ]  # fmt: skip
    REPORTS.mkdir(parents=True, exist_ok=True)
    # Its working directory takes the cache it writes (.schemathesis/).
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=180, check=False, cwd=REPORTS
    )
    assert result.returncode == 0, f"{result.stdout[-20_000:]}\n{result.stderr}"


@pytest.fixture(scope="module")
def query_data(stack: StackClient) -> None:
    """A snapshot to read, so that the fuzzer's pages find countries."""
    asyncio.run(stack.sync(results=300, seed="fuzzqueries"))


@pytest.fixture(scope="module")
def fuzz_command_service(stack: StackClient, amqp_url: str) -> Iterator[str]:
    """A second command service of the stack, publishing into a throwaway namespace."""
    namespace = f"fuzz_{uuid.uuid4().hex[:8]}"
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    process = stack.stack.start_python(
        "command-service-fuzz",
        "command_service",
        f"{origin}/readyz",
        HTTP_PORT=str(port),
        AMQP_NAMESPACE=namespace,
    )
    try:
        yield origin
    finally:
        process.popen.terminate()
        process.popen.wait(timeout=15)
        asyncio.run(delete_topology(stack.stack.config.amqp_url, Topology(namespace)))


@pytest.mark.usefixtures("query_data")
@pytest.mark.parametrize("through", ["nginx", "replica"])
def test_the_query_api_answers_every_generated_request_as_documented(
    stack: StackClient, through: str
) -> None:
    origin = stack.base_url if through == "nginx" else stack.replica_urls[0]

    # An event stream never ends: a fuzzer's request to it can only time out.
    # Its refusals (400, 503) and events are checked in test_live_events.py.
    fuzz(
        f"{origin}/queries/openapi.json",
        f"queries-{through}",
        "--exclude-operation-id",
        "streamEvents",
    )


def test_the_command_api_answers_every_generated_request_as_documented(
    fuzz_command_service: str,
) -> None:
    fuzz(
        f"{fuzz_command_service}/commands/openapi.json",
        "commands",
        "--header",
        f"Authorization: Bearer {TOKEN}",
    )


def test_nginx_refusals_on_commands_are_documented_problems(
    stack: StackClient,
) -> None:
    url = f"{stack.base_url}/commands/sync"
    operation = schemathesis.openapi.from_url(
        f"{stack.base_url}/commands/openapi.json"
    )["/commands/sync"]["POST"]
    with requests.Session() as session:
        too_large = session.post(
            url,
            data=b"{" * 20_000,
            headers={"Content-Type": "application/json", **stack.auth},
            timeout=5,
        )
        assert too_large.status_code == 413
        operation.validate_response(too_large)

        # Without the token: refused (401) by the service, so nothing is
        # queued, yet each request counts against nginx's limit.
        statuses = []
        for _ in range(200):
            response = session.post(url, timeout=5)
            statuses.append(response.status_code)
            if response.status_code == 429:
                break
        assert set(statuses) == {401, 429}, statuses
        assert response.headers["Content-Type"].startswith("application/problem+json")
        operation.validate_response(response)

        # Leave the limit as it was for the tests that follow.
        wait_until(
            lambda: session.post(url, timeout=5).status_code == 401,
            timeout=10,
            interval=0.2,
            what="the rate limit to recover",
        )
