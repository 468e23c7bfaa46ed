"""Operability against the running stack: the CLI, metrics, and one correlation id in every log."""

from __future__ import annotations

import asyncio
import sys
import uuid
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson
from prometheus_client.parser import text_string_to_metric_families

from devstack.config import ROOT
from tests.e2e.conftest import TOKEN
from tests.support.eventually import eventually
from tests.support.request_ids import assert_every_response_has_its_own_ids

if TYPE_CHECKING:
    from pathlib import Path

    from tests.e2e.conftest import StackClient


async def cli(stack: StackClient, cwd: Path, *argv: str) -> str:
    """Run `python -m connector_cli` against the stack; its output (exit 0 asserted)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "connector_cli",
        *argv,
        cwd=cwd,
        env={
            "CONNECTOR_URL": stack.base_url,
            "COMMAND_TOKEN": TOKEN,
            "PYTHONPATH": str(ROOT),
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, err.decode()
    return out.decode()


async def test_the_cli_requests_a_sync_and_shows_its_status(
    stack: StackClient, tmp_path: Path
) -> None:
    accepted = orjson.loads(
        await cli(
            stack,
            tmp_path,
            "sync",
            "--results",
            "40",
            "--nationalities",
            "us,gb",
            "--seed",
            "clisync",
            "--json",
        )
    )
    assert (accepted["status"], accepted["results"]) == ("accepted", 40)
    assert accepted["nationalities"] == ["US", "GB"]

    attempt = await stack.attempt_of(accepted["command_id"])

    assert attempt["state"] == "promoted"
    status = orjson.loads(await cli(stack, tmp_path, "status", "--json"))
    assert status["last_success"]["sync_id"] == attempt["sync_id"]
    text = await cli(stack, tmp_path, "status")
    assert f"Last success      {attempt['sync_id']} at " in text
    assert "(40 users, 0 dropped)" in text
    assert accepted["command_id"] in text


async def test_one_correlation_id_follows_a_sync_into_every_log(
    stack: StackClient,
) -> None:
    correlation_id = f"e2e-trace-{uuid.uuid4().hex}"
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{stack.base_url}/commands/sync",
            json={"results": 30, "seed": "tracing"},
            headers={**stack.auth, "X-Correlation-ID": correlation_id},
        ) as response,
    ):
        assert response.status == 202
        assert response.headers["X-Correlation-ID"] == correlation_id
        request_id = response.headers["X-Request-ID"]
        command_id = (await response.json())["command_id"]
    assert (await stack.attempt_of(command_id))["state"] == "promoted"

    def lines(name: str) -> list[dict[str, Any]]:
        path = stack.stack.process(name).log_path
        found = []
        for raw in path.read_bytes().splitlines():
            if correlation_id.encode() in raw:
                entry = orjson.loads(raw)  # every service logs JSON lines
                assert entry["correlation_id"] == correlation_id
                assert entry["message_id"]
                found.append(entry)
        return found

    async def logged() -> dict[str, list[dict[str, Any]]]:
        found = {
            name: lines(name)
            for name in ("command-service", "sync-worker", "projector")
        }
        assert all(found.values()), {name: len(f) for name, f in found.items()}
        assert any("promoted snapshot" in e["message"] for e in found["projector"])
        # The handler logs the event it projected after the promotion it caused.
        assert any(
            "projected sync.completed" in e["message"] for e in found["projector"]
        )
        return found

    found = await eventually(logged, timeout=10, what="the correlation id in logs")
    assert {e["service"] for e in found["command-service"]} == {"command_service"}
    assert request_id in {e["message_id"] for e in found["command-service"]}
    assert {e["service"] for e in found["sync-worker"]} == {"sync_worker"}
    assert any("sync" in e["message"] for e in found["sync-worker"])
    assert {e["service"] for e in found["projector"]} == {"projector"}
    messages = " ".join(e["message"] for e in found["projector"])
    assert "projected users.fetched" in messages
    assert "projected sync.completed" in messages


async def test_replicas_answer_with_request_and_correlation_ids(
    stack: StackClient,
) -> None:
    async with aiohttp.ClientSession() as session:
        for origin in (*stack.replica_urls, stack.base_url):
            async with session.get(
                f"{origin}/queries/sync-status",
                headers={"X-Correlation-ID": "e2e-replica-ids"},
            ) as response:
                assert response.headers["X-Correlation-ID"] == "e2e-replica-ids"
                assert response.headers["X-Request-ID"]


async def test_every_response_through_nginx_carries_its_own_ids(
    stack: StackClient,
) -> None:
    await assert_every_response_has_its_own_ids(stack.base_url)


async def scrape(url: str) -> dict[str, float]:
    """Every sample of a /metrics page, keyed `name{label="value",...}`."""
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200, url
        assert response.content_type == "text/plain"
        text = await response.text()
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}"] = sample.value
    return samples


def total(samples: dict[str, float], name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels`."""
    wanted = [f'{k}="{v}"' for k, v in labels.items()]
    return sum(
        value
        for key, value in samples.items()
        if key.startswith(name + "{") and all(w in key for w in wanted)
    )


async def test_every_service_exposes_its_metrics(stack: StackClient) -> None:
    await stack.sync(results=25, seed="metrics")
    config = stack.stack.config

    command = await scrape(f"{stack.stack.command_url}/metrics")
    assert (
        total(
            command,
            "randomuser_http_requests_total",
            route="/commands/sync",
            status="202",
        )
        >= 1
    )
    for replica in stack.replica_urls:
        query = await scrape(f"{replica}/metrics")
        assert total(query, "randomuser_http_requests_total", status="200") >= 1
        assert total(query, "randomuser_http_request_duration_seconds_count") >= 1

    worker = await scrape(f"http://127.0.0.1:{config.worker_health_port}/metrics")
    assert total(worker, "randomuser_syncs_total", outcome="completed") >= 1
    assert total(worker, "randomuser_sync_duration_seconds_count") >= 1
    assert total(worker, "randomuser_users_fetched_total") >= 25
    assert total(worker, "randomuser_messages_consumed_total", outcome="acked") >= 1
    assert "randomuser_consumer_in_flight" in " ".join(worker)

    projector = await scrape(f"http://127.0.0.1:{config.projector_health_port}/metrics")
    assert (
        total(projector, "randomuser_events_projected_total", type="users.fetched") >= 1
    )
    assert total(projector, "randomuser_users_projected_total") >= 25
    assert (
        total(projector, "randomuser_snapshot_promotions_total", outcome="promoted")
        >= 1
    )
    assert total(projector, "randomuser_projection_lag_seconds_count") >= 1
