"""The running system for end-to-end tests: every service as a process behind nginx."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest

from devstack.config import StackConfig
from devstack.processes import system_tool
from devstack.readiness import free_port
from devstack.stack import Stack
from tests.support.broker import delete_topology
from tests.support.eventually import eventually

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

TOKEN = "e2e-command-token-0123456789"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def stack_config(amqp_url: str, mongo_url: str, run_dir: Path) -> StackConfig:
    """A stack on free ports, in its own namespace and database, offline."""
    name = f"e2e_{uuid.uuid4().hex[:8]}"
    return StackConfig(
        run_dir=run_dir,
        http_port=free_port(),
        command_port=free_port(),
        query_ports=(free_port(), free_port()),
        projector_health_port=free_port(),
        worker_health_port=free_port(),
        sim_port=free_port(),
        amqp_url=amqp_url,
        mongo_url=mongo_url,
        mongo_database=name,
        offline=True,
        amqp_namespace=name,
        command_token=TOKEN,
        sync_interval_seconds=0,
        log_format="json",
        command_rate="50r/s",
        command_burst=50,
        extra_env={
            "HTTP_TIMEOUT_SECONDS": "2",
            "FETCH_MAX_ATTEMPTS": "2",
            "FETCH_BACKOFF_SECONDS": "0.05",
            "SHUTDOWN_TIMEOUT_SECONDS": "5",
            "SNAPSHOT_POLL_SECONDS": "0.1",
        },
    )


class StackClient:
    """Drives a running stack the way a user would: through nginx."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.base_url = stack.base_url
        self.sim_url = stack.sim_url
        self.replica_urls = tuple(
            stack.query_url(index) for index in range(len(stack.config.query_ports))
        )
        self.auth = {"Authorization": f"Bearer {TOKEN}"}

    async def get_json(self, path: str, *, origin: str | None = None) -> Any:
        """GET a path (through nginx unless `origin` says otherwise); the JSON body."""
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{origin or self.base_url}{path}") as response,
        ):
            return await response.json(content_type=None)

    async def trigger(self, **body: Any) -> str:
        """POST /commands/sync through nginx; return the command id."""
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"{self.base_url}/commands/sync", json=body, headers=self.auth
            ) as response,
        ):
            assert response.status == 202, await response.text()
            command_id: str = (await response.json())["command_id"]
            return command_id

    async def attempt_of(self, command_id: str, timeout: float = 30) -> dict[str, Any]:
        """Wait until sync-status lists a finished attempt of `command_id`."""

        async def finished() -> dict[str, Any] | None:
            status = await self.get_json("/queries/sync-status")
            for attempt in status.get("recent", []):
                if attempt.get("command_id") == command_id and attempt.get("state") in {
                    "promoted",
                    "failed",
                    "superseded",
                }:
                    return dict(attempt)
            return None

        return await eventually(finished, timeout=timeout, what=f"sync of {command_id}")

    async def sync(self, timeout: float = 30, **body: Any) -> dict[str, Any]:
        """Trigger a sync, wait until nginx serves its snapshot; return that body."""
        command_id = await self.trigger(**body)
        attempt = await self.attempt_of(command_id, timeout)
        assert attempt["state"] == "promoted", attempt

        async def served() -> dict[str, Any] | None:
            # Every replica first (each follows the pointer on its own), then nginx.
            for origin in (*self.replica_urls, self.base_url):
                countries = await self.get_json("/queries/countries", origin=origin)
                snapshot = countries.get("snapshot") or {}
                if snapshot.get("id") != attempt["sync_id"]:
                    return None
            return dict(countries)

        return await eventually(served, timeout=timeout, what="new snapshot served")

    async def sync_expect_failure(
        self, timeout: float = 30, **body: Any
    ) -> dict[str, Any]:
        """Trigger a sync that must fail; return its attempt from sync-status."""
        attempt = await self.attempt_of(await self.trigger(**body), timeout)
        assert attempt["state"] == "failed", attempt
        return attempt

    async def fault(self, mode: str, count: int | None = 1, **extra: Any) -> None:
        """Make the simulator answer the next `count` requests with `mode`."""
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"{self.sim_url}/_sim/faults",
                json={"mode": mode, "count": count, **extra},
            ) as response,
        ):
            assert response.status < 300, await response.text()

    async def clear_faults(self) -> None:
        """Let the simulator answer normally again."""
        async with (
            aiohttp.ClientSession() as session,
            session.delete(f"{self.sim_url}/_sim/faults") as response,
        ):
            assert response.status < 300


def _nginx_available() -> bool:
    return system_tool("nginx") is not None


@pytest.fixture(scope="session")
def stack(amqp_url: str, mongo_url: str) -> Iterator[StackClient]:
    """The whole system, started once for the e2e session, through nginx."""
    if not _nginx_available():
        pytest.fail("nginx is not installed: run `make test` (it installs it)")
    with tempfile.TemporaryDirectory(prefix="e2e-stack-") as tmp:
        config = stack_config(amqp_url, mongo_url, Path(tmp))
        running = Stack(config)
        try:
            running.start()
        except Exception:
            _keep_logs(Path(tmp))
            raise
        try:
            yield StackClient(running)
        finally:
            running.stop()
            _keep_logs(Path(tmp))
            _drop_topology(amqp_url, config.amqp_namespace)


@pytest.fixture
async def clean_faults(stack: StackClient) -> AsyncIterator[None]:
    """Clear simulator faults before and after a test."""
    await stack.clear_faults()
    yield
    await stack.clear_faults()


def _keep_logs(run_dir: Path) -> None:
    logs = run_dir / "logs"
    if logs.exists():
        target = ARTIFACTS / "stack-logs"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(logs, target)


def _drop_topology(amqp_url: str, namespace: str) -> None:
    import asyncio

    from contracts.topology import Topology

    asyncio.run(delete_topology(amqp_url, Topology(namespace)))
