"""The stack's port identity check: a port answered by another process fails loudly."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

import pytest

from devstack.readiness import StackError, answers_as

if TYPE_CHECKING:
    from collections.abc import Iterator


def serving(status: int, body: object) -> Iterator[str]:
    raw = json.dumps(body).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/readyz"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def query_replica() -> Iterator[str]:
    yield from serving(200, {"service": "query_service", "instance": "q-1"})


@pytest.fixture
def starting() -> Iterator[str]:
    yield from serving(503, {"service": "command_service", "instance": "c-1"})


def test_the_process_the_stack_started_is_recognised(query_replica: str) -> None:
    assert answers_as(query_replica, "query_service", "q-1") is True


def test_a_port_answered_by_another_service_fails_loudly(query_replica: str) -> None:
    with pytest.raises(StackError, match="another process holds that port"):
        answers_as(query_replica, "command_service", "c-1")


def test_another_instance_of_the_same_service_fails_loudly(query_replica: str) -> None:
    with pytest.raises(StackError, match="q-1"):
        answers_as(query_replica, "query_service", "q-2")


def test_the_right_process_not_yet_ready_is_waited_for(starting: str) -> None:
    assert answers_as(starting, "command_service", "c-1") is False


def test_nothing_listening_is_waited_for() -> None:
    assert answers_as("http://127.0.0.1:9/readyz", "query_service", "q-1") is False
