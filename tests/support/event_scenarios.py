"""Syncs that end in known ways, run by the real sync worker code against the
simulator, and the messages they publish.

`python -m tests.support.event_scenarios DIR` writes each scenario's messages
to DIR/<scenario>.jsonl, one encoded message per line. Run at the commit that
last published a schema version, it records fixtures of that version
(tests/fixtures/events/v1/ was made this way; its README says when and how);
tests run the same scenarios with today's code and compare.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import aiohttp
from aiohttp import web

from contracts.codec import encode
from contracts.commands import SyncRequested
from randomuser_sim.app import create_app
from sync_worker.randomuser import HttpRandomuserClient
from sync_worker.settings import SyncWorkerSettings
from sync_worker.sync import SyncService

if TYPE_CHECKING:
    from contracts.codec import AnyMessage


@dataclass(frozen=True)
class Scenario:
    """One sync: the simulator's fault (if any), the command, the worker's limits."""

    results: int
    fault: dict[str, Any] | None = None
    service: dict[str, Any] = field(default_factory=dict)


SCENARIOS: Final[dict[str, Scenario]] = {
    "completed": Scenario(results=8),
    "rate_limited": Scenario(results=8, fault={"mode": "rate_limit", "count": None}),
    "cloudflare_502": Scenario(
        results=8, fault={"mode": "http_502_cloudflare", "count": None}
    ),
    "truncated": Scenario(results=8, fault={"mode": "truncated", "count": None}),
    "error_object": Scenario(results=8, fault={"mode": "error_json", "count": None}),
    "placeholder": Scenario(results=8, fault={"mode": "placeholder", "count": None}),
    "no_valid_users": Scenario(
        results=3, fault={"mode": "malformed_users", "count": None}
    ),
    "too_many_results": Scenario(results=10, service={"max_results": 5}),
    "deadline": Scenario(
        results=8,
        fault={"mode": "slow", "count": None, "delay": 1},
        service={"deadline_seconds": 0.2},
    ),
}


class Capture:
    """A publisher that keeps what it was given."""

    def __init__(self) -> None:
        self.messages: list[AnyMessage] = []

    async def publish(self, message: AnyMessage) -> None:
        self.messages.append(message)


async def run_scenario(name: str, scenario: Scenario) -> list[AnyMessage]:
    """Run one scenario on a simulator of its own; the messages published."""
    runner = web.AppRunner(create_app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            if scenario.fault is not None:
                async with session.post(f"{base}/_sim/faults", json=scenario.fault):
                    pass
            settings = SyncWorkerSettings.model_validate(
                {
                    "_env_file": None,
                    "randomuser_url": f"{base}/api/",
                    "randomuser_version": "1.4",
                    "fetch_max_attempts": 2,
                    "fetch_backoff_seconds": 0,
                    "http_timeout_seconds": 5,
                }
            )
            capture = Capture()
            service = SyncService(
                HttpRandomuserClient.from_settings(session, settings),
                capture,
                **scenario.service,
            )
            await service.run(
                SyncRequested(results=scenario.results, seed=f"fixture-{name}")
            )
            return capture.messages
    finally:
        await runner.cleanup()


async def run_all() -> dict[str, list[AnyMessage]]:
    """Every scenario, by name."""
    return {name: await run_scenario(name, s) for name, s in SCENARIOS.items()}


def main(directory: str) -> None:
    """Write each scenario's messages under `directory`."""
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    for name, messages in asyncio.run(run_all()).items():
        lines = b"".join(encode(message) + b"\n" for message in messages)
        (target / f"{name}.jsonl").write_bytes(lines)


if __name__ == "__main__":
    main(sys.argv[1])
