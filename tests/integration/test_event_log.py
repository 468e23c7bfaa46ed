"""The event log on a real broker: every command and event published is kept
in the stream, in order, readable again from the start any number of times,
while the projector's work queue still gets its own copy."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import aio_pika
import orjson
import pytest

from common.amqp import AmqpPublisher, connect
from common.declare import (
    EventLogRetention,
    declare_projector_queue,
    declare_sync_requests_queue,
)
from common.event_log import read_event_log
from connector_cli.main import main
from contracts.commands import SyncRequested
from contracts.events import SyncCompleted, SyncFailed, UsersFetched
from contracts.users import User
from tests.support.broker import delete_topology, drain

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from aio_pika.abc import AbstractRobustConnection

    from contracts.topology import Topology

RETENTION = EventLogRetention("1D", 50_000_000)
T0 = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def messages() -> list[Any]:
    user = User(name="Ann Berg", gender="female", email="ann@x.no", country="Norway")
    return [
        SyncRequested(command_id="c1", requested_at=T0, results=1),
        UsersFetched(sync_id="s1", batch_index=0, batch_count=1, users=(user,)),
        SyncCompleted(sync_id="s1", batch_count=1, user_count=1, fetched_at=T0),
        SyncFailed(sync_id="s2", reason="HTTP 500", attempts=3, failed_at=T0),
    ]


async def _publish(
    connection: AbstractRobustConnection, topology: Topology
) -> list[Any]:
    """Declare what the services declare, then publish `messages()` as they do."""
    channel = await connection.channel()
    await declare_sync_requests_queue(channel, topology, delivery_limit=3)
    await declare_projector_queue(
        channel, topology, delivery_limit=3, event_log=RETENTION
    )
    publisher = await AmqpPublisher.open(connection, topology)
    sent = messages()
    for message in sent:
        await publisher.publish(message)
    return sent


@pytest.fixture
async def connection(
    amqp_url: str, topology: Topology
) -> AsyncIterator[AbstractRobustConnection]:
    """A connection to the broker; the test's topology is deleted afterwards."""
    link = await connect(amqp_url, name="test-event-log", within=10)
    try:
        yield link
    finally:
        await link.close()
        await delete_topology(amqp_url, topology)


async def test_every_message_is_kept_in_order_and_read_again(
    connection: AbstractRobustConnection, topology: Topology
) -> None:
    channel = await connection.channel()
    sent = await _publish(connection, topology)

    first = [m async for m in read_event_log(connection, topology)]
    again = [m async for m in read_event_log(connection, topology)]

    expected = [m.message_id for m in sent]
    assert [m.message.message_id for m in first if m.message] == expected
    assert [m.message for m in again] == [m.message for m in first]
    assert [m.offset for m in first] == sorted(m.offset for m in first)
    assert all(m.error is None for m in first)
    # Live projection is untouched: its queue has its three events.
    projected = await drain(channel, topology.projector_queue, count=3)
    assert [m.message_id for m in projected] == expected[1:]


async def test_declarations_must_agree_on_the_retention(
    connection: AbstractRobustConnection, topology: Topology
) -> None:
    channel = await connection.channel()
    await declare_projector_queue(
        channel, topology, delivery_limit=3, event_log=RETENTION
    )
    other = await connection.channel()
    with pytest.raises(aio_pika.exceptions.ChannelPreconditionFailed):
        await declare_projector_queue(
            other,
            topology,
            delivery_limit=3,
            event_log=EventLogRetention("2D", 50_000_000),
        )


@pytest.fixture
def cli_env(amqp_url, topology, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no .env of the working tree
    monkeypatch.setenv("AMQP_URL", amqp_url)
    monkeypatch.setenv("AMQP_NAMESPACE", topology.prefix)
    yield
    asyncio.run(delete_topology(amqp_url, topology))


async def _log_messages(amqp_url: str, topology: Topology) -> None:
    connection = await connect(amqp_url, name="test-event-log", within=10)
    try:
        await _publish(connection, topology)
    finally:
        await connection.close()


@pytest.mark.usefixtures("cli_env")
def test_the_cli_shows_the_log_whole_or_for_one_sync(amqp_url, topology, capsys):
    asyncio.run(_log_messages(amqp_url, topology))

    assert main(["events"]) == 0
    shown = capsys.readouterr().out
    assert main(["events", "--sync", "s1", "--json"]) == 0
    one_sync = orjson.loads(capsys.readouterr().out)

    lines = shown.splitlines()
    assert lines[0] == "4 logged messages"
    rows = [re.split(r"\s{2,}", line) for line in lines[1:]]
    assert rows[0] == ["OFFSET", "OCCURRED AT", "TYPE", "SYNC", "WHAT"]
    assert [row[2:] for row in rows[1:]] == [
        ["sync.requested", "c1", "requested 1 users (api)"],
        ["users.fetched", "s1", "batch 1/1: 1 users"],
        ["sync.completed", "s1", "completed: 1 users in 1 batches"],
        ["sync.failed", "s2", "failed after 3 attempts: HTTP 500"],
    ]
    assert [e["message"]["message_type"] for e in one_sync] == [
        "users.fetched",
        "sync.completed",
    ]


@pytest.mark.usefixtures("cli_env")
def test_without_an_event_log_the_cli_says_so(capsys):
    assert main(["events"]) == 1
    assert "there is no event log" in capsys.readouterr().err
