"""Fixtures shared by every test folder: real services and per-test isolation."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from contracts.topology import Topology
from tests.support import services
from tests.support.cluster import running_cluster

if TYPE_CHECKING:
    from collections.abc import Iterator

    from devstack.rabbit_cluster import RabbitCluster

_SOURCES: dict[str, str] = {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests by folder: tests/integration → integration, tests/e2e → e2e."""
    for item in items:
        parts = Path(str(item.fspath)).parts
        if "integration" in parts:
            item.add_marker(pytest.mark.integration)
        elif "e2e" in parts:
            item.add_marker(pytest.mark.e2e)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say which RabbitMQ and MongoDB the session used."""
    for name, source in sorted(_SOURCES.items()):
        terminalreporter.write_line(f"{name}: {source}")


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    """URL of a real RabbitMQ for the whole session."""
    with services.rabbitmq() as found:
        _SOURCES["RabbitMQ"] = found.source
        yield found.url


@pytest.fixture(scope="session")
def mongo_url() -> Iterator[str]:
    """URL of a real MongoDB (or MongoDB-protocol server) for the whole session."""
    with services.mongodb() as found:
        _SOURCES["MongoDB"] = found.source
        yield found.url


@pytest.fixture(scope="session")
def rabbit_cluster() -> Iterator[RabbitCluster]:
    """A three-node RabbitMQ cluster of its own, started once for the session."""
    with running_cluster(3) as cluster:
        _SOURCES["RabbitMQ cluster"] = ", ".join(n.name for n in cluster.nodes)
        yield cluster


def _slug(request: pytest.FixtureRequest) -> str:
    name = re.sub(r"[^A-Za-z0-9]+", "_", request.node.name)[:40].strip("_")
    return f"t_{name}_{uuid.uuid4().hex[:8]}"


@pytest.fixture
def namespace(request: pytest.FixtureRequest) -> str:
    """A unique AMQP name prefix for this test."""
    return _slug(request)


@pytest.fixture
def topology(namespace: str) -> Topology:
    """Broker names under this test's namespace."""
    return Topology(prefix=namespace)


@pytest.fixture
def mongo_database(request: pytest.FixtureRequest) -> str:
    """A unique MongoDB database name for this test (≤ 63 characters)."""
    return _slug(request)[:60]
