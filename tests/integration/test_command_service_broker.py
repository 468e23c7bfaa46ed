"""The command service against a real RabbitMQ: 202 means the command is queued."""

from __future__ import annotations

import aio_pika
import pytest

from command_service.app import create_app
from command_service.settings import CommandSettings
from contracts.commands import SyncRequested
from tests.support.broker import delete_topology, drain


@pytest.fixture
async def cleanup(amqp_url, topology):
    yield
    await delete_topology(amqp_url, topology)


async def test_an_accepted_command_is_waiting_in_the_sync_queue(
    aiohttp_client, amqp_url, topology, cleanup
) -> None:
    settings = CommandSettings(
        _env_file=None, amqp_url=amqp_url, amqp_namespace=topology.prefix
    )
    client = await aiohttp_client(create_app(settings))

    response = await client.post(
        "/commands/sync", json={"results": 7}, headers={"X-Correlation-ID": "c-1"}
    )

    assert response.status == 202
    body = await response.json()
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        [command] = await drain(channel, topology.sync_requests_queue)
    assert isinstance(command, SyncRequested)
    assert command.command_id == body["command_id"]
    assert command.results == 7
    assert command.correlation_id == "c-1"


async def test_readiness_reports_the_broker_connection(
    aiohttp_client, amqp_url, topology, cleanup
) -> None:
    settings = CommandSettings(
        _env_file=None, amqp_url=amqp_url, amqp_namespace=topology.prefix
    )
    client = await aiohttp_client(create_app(settings))

    response = await client.get("/readyz")

    assert response.status == 200
    assert (await response.json())["checks"] == {"amqp": True}
