"""Poison messages in a running stack: dead-lettered, counted, logged; consumers go on.

Each poison message is published into the running stack's broker, onto one
of the two work queues, exactly as a faulty producer would. It must land in
that queue's dead-letter queue (at once when it cannot be decoded; after
the delivery limit when its handler keeps failing), be counted by
/queries/sync-status (the projector's dead-letter tap sees every work
queue's dead letters), be logged with its message id, and the consumer must
go on: a normal sync right after it succeeds.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import TYPE_CHECKING, Any, Final

import aio_pika
import orjson
import pytest

from common.amqp import AmqpPublisher
from common.settings import BaseServiceSettings
from contracts.codec import encode
from contracts.commands import SyncRequested
from contracts.events import SyncFailed, UsersFetched
from contracts.topology import Topology
from contracts.users import User
from tests.support.eventually import eventually

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from tests.e2e.conftest import StackClient

DELIVERY_LIMIT: Final = BaseServiceSettings.model_fields["amqp_delivery_limit"].default

SYNC_QUEUE: Final = "sync requests"
PROJECTOR_QUEUE: Final = "projector events"


def _json(data: dict[str, Any]) -> bytes:
    return orjson.dumps(data)


def _command(**changes: Any) -> bytes:
    return _json({**SyncRequested(results=5).model_dump(mode="json"), **changes})


def _event(**changes: Any) -> bytes:
    failed = SyncFailed(sync_id="poison-sync", reason="upstream down", attempts=1)
    return _json({**failed.model_dump(mode="json"), **changes})


def _batch(**changes: Any) -> bytes:
    batch = UsersFetched(
        sync_id="poison-sync",
        batch_index=0,
        batch_count=1,
        users=(User(name="Ada L", gender="female", email="a@x.io", country="UK"),),
    )
    return _json({**batch.model_dump(mode="json"), **changes})


# (queue, what, routing key, body): routing keys are the message types the
# queues are bound to, so each body reaches exactly one work queue.
POISON: Final = [
    (SYNC_QUEUE, "unparseable", "sync.requested", b'{"message_type": "sync.req'),
    (SYNC_QUEUE, "not an object", "sync.requested", b'["sync.requested"]'),
    (SYNC_QUEUE, "unknown version", "sync.requested", _command(schema_version=99)),
    (SYNC_QUEUE, "schema-invalid", "sync.requested", _command(results=0)),
    (SYNC_QUEUE, "an event, not a command", "sync.requested", _event()),
    (PROJECTOR_QUEUE, "unparseable", "sync.failed", b"\xff\xfe not json"),
    (PROJECTOR_QUEUE, "unknown version", "sync.failed", _event(schema_version=3)),
    (PROJECTOR_QUEUE, "schema-invalid", "sync.failed", _event(attempts=0)),
    (
        PROJECTOR_QUEUE,
        "a count too large to store",
        "users.fetched",
        _batch(batch_index=2**63 - 1, batch_count=2**63),
    ),
    (PROJECTOR_QUEUE, "a command, not an event", "sync.failed", _command()),
]


class Broker:
    """The running stack's broker, seen from a test."""

    def __init__(self, stack: StackClient, channel: aio_pika.abc.AbstractChannel):
        self.topology = Topology(stack.stack.config.amqp_namespace)
        self.channel = channel

    def queue_of(self, which: str) -> str:
        """The work queue's name."""
        if which == SYNC_QUEUE:
            return self.topology.sync_requests_queue
        return self.topology.projector_queue

    async def publish(self, which: str, key: str, body: bytes, message_id: str) -> None:
        """Publish raw bytes as a producer would (confirmed, must be routed)."""
        exchange_name = (
            self.topology.commands_exchange
            if which == SYNC_QUEUE
            else self.topology.events_exchange
        )
        exchange = await self.channel.get_exchange(exchange_name)
        await exchange.publish(
            aio_pika.Message(
                body,
                message_id=message_id,
                type=key,
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=key,
            mandatory=True,
        )

    async def dead_letters(self, which: str) -> int:
        """How many messages wait in the work queue's dead-letter queue."""
        name = self.topology.dead_letter_queue(self.queue_of(which))
        queue = await self.channel.declare_queue(name, passive=True)
        return queue.declaration_result.message_count or 0


@pytest.fixture
async def broker(stack: StackClient) -> AsyncIterator[Broker]:
    """A confirming channel on the stack's broker."""
    connection = await aio_pika.connect(stack.stack.config.amqp_url)
    async with connection:
        channel = await connection.channel(
            publisher_confirms=True, on_return_raises=True
        )
        yield Broker(stack, channel)


def _log_lines(path: Path, message_id: str) -> list[dict[str, Any]]:
    lines = []
    for raw in path.read_bytes().splitlines():
        with contextlib.suppress(orjson.JSONDecodeError):
            entry = orjson.loads(raw)
            if isinstance(entry, dict) and entry.get("message_id") == message_id:
                lines.append(entry)
    return lines


def _process_of(which: str) -> str:
    return "sync-worker" if which == SYNC_QUEUE else "projector"


async def _status(stack: StackClient) -> dict[str, Any]:
    status: dict[str, Any] = await stack.get_json("/queries/sync-status")
    return status


async def _wait_recorded(
    stack: StackClient, message_id: str, before: int, timeout: float = 15
) -> dict[str, Any]:
    async def recorded() -> dict[str, Any] | None:
        status = await _status(stack)
        letter = status["last_dead_letter"]
        if letter is None or letter["message_id"] != message_id:
            return None
        assert status["dead_lettered"] == before + 1, status
        return dict(letter)

    return await eventually(
        recorded, timeout=timeout, what=f"dead letter {message_id} in sync-status"
    )


@pytest.mark.parametrize(
    ("which", "what", "key", "body"),
    POISON,
    ids=[f"{which}: {what}" for which, what, _, _ in POISON],
)
async def test_a_poison_message_is_dead_lettered_at_once_counted_and_logged(
    stack: StackClient,
    broker: Broker,
    which: str,
    what: str,
    key: str,
    body: bytes,
) -> None:
    message_id = f"poison-{uuid.uuid4().hex[:12]}"
    before = (await _status(stack))["dead_lettered"]
    parked = await broker.dead_letters(which)

    await broker.publish(which, key, body, message_id)

    letter = await _wait_recorded(stack, message_id, before)
    assert letter["reason"] == (
        f"{broker.queue_of(which)}: rejected by its consumer (its log says why)"
    )
    assert letter["message_type"] == key
    assert await broker.dead_letters(which) == parked + 1
    log = stack.stack.process(_process_of(which)).log_path
    [rejected] = [
        line
        for line in _log_lines(log, message_id)
        if line["message"].startswith(f"dead-lettering message {message_id}")
    ]
    assert rejected["level"] == "ERROR"
    # Exactly one delivery: an undecodable message is never retried.
    assert not [
        line
        for line in _log_lines(log, message_id)
        if line["message"].startswith("handler failed")
    ]
    await stack.sync(results=20, seed=f"after-poison-{uuid.uuid4().hex[:8]}")


async def test_a_command_whose_handler_keeps_failing_is_dead_lettered_at_the_delivery_limit(
    stack: StackClient, broker: Broker
) -> None:
    # The worker's first event of any sync becomes unroutable (neither the
    # projector's queue nor the event log takes it), so publishing it raises
    # (a returned mandatory message): every attempt of the command fails
    # with an error that is neither poison nor transient.
    topology = broker.topology
    bound = [
        await broker.channel.declare_queue(name, passive=True)
        for name in (topology.projector_queue, topology.event_log_queue)
    ]
    command = SyncRequested(results=5, seed="delivery-limit")
    before = (await _status(stack))["dead_lettered"]
    parked = await broker.dead_letters(SYNC_QUEUE)
    for queue in bound:
        await queue.unbind(topology.events_exchange, routing_key="users.fetched")
    try:
        connection = await aio_pika.connect_robust(stack.stack.config.amqp_url)
        async with connection:
            publisher = await AmqpPublisher.open(connection, topology)
            await publisher.publish(command)
        letter = await _wait_recorded(stack, command.message_id, before, timeout=30)
    finally:
        for queue in bound:
            await queue.bind(topology.events_exchange, routing_key="users.fetched")

    assert letter["reason"] == (
        f"{topology.sync_requests_queue}: delivery limit reached"
        " (its handler kept failing)"
    )
    assert letter["message_type"] == "sync.requested"
    assert await broker.dead_letters(SYNC_QUEUE) == parked + 1
    worker_log = stack.stack.process("sync-worker").log_path
    attempts = [
        line
        for line in _log_lines(worker_log, command.message_id)
        if line["message"].startswith("handler failed")
    ]
    assert len(attempts) == DELIVERY_LIMIT + 1
    projector_log = stack.stack.process("projector").log_path
    assert any(
        line["message"].startswith(f"dead letter {command.message_id}")
        for line in _log_lines(projector_log, command.message_id)
    )
    await stack.sync(results=20, seed="after-the-delivery-limit")


async def test_a_golden_command_published_by_hand_still_syncs(
    stack: StackClient, broker: Broker
) -> None:
    # The control: the same path as the poison messages, with a valid body.
    command = SyncRequested(results=15, seed="by-hand")

    await broker.publish(
        SYNC_QUEUE, "sync.requested", encode(command), command.message_id
    )

    attempt = await stack.attempt_of(command.command_id)
    assert attempt["state"] == "promoted"
