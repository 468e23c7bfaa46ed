"""AmqpPublisher sends a message again while the broker refuses it (Basic.Nack)."""

from __future__ import annotations

from typing import Any

import aiormq.exceptions
import pytest
from pamqp.commands import Basic

from common.amqp import AmqpPublisher, refused_by_broker
from contracts.events import SyncFailed

FAILED = SyncFailed(sync_id="s-1", reason="boom", attempts=1)


class Exchange:
    """Refuses the first `nacks` publishes, then takes them."""

    def __init__(self, nacks: int, *, error: Exception | None = None) -> None:
        self.nacks = nacks
        self.error = error
        self.sent: list[Any] = []

    async def publish(self, message: Any, **_: Any) -> None:
        self.sent.append(message)
        if self.error is not None:
            raise self.error
        if len(self.sent) <= self.nacks:
            raise aiormq.exceptions.DeliveryError(None, Basic.Nack(delivery_tag=1))


def publisher(exchange: Exchange, **limits: float) -> AmqpPublisher:
    made = AmqpPublisher(exchange, exchange)  # type: ignore[arg-type]
    for name, value in limits.items():
        setattr(made, name, value)
    return made


async def test_a_refused_message_is_sent_again_until_the_broker_takes_it() -> None:
    exchange = Exchange(nacks=2)

    await publisher(exchange).publish(FAILED)

    assert len(exchange.sent) == 3
    assert {m.message_id for m in exchange.sent} == {FAILED.message_id}


async def test_a_message_refused_for_too_long_fails_the_publish() -> None:
    exchange = Exchange(nacks=1_000)

    with pytest.raises(aiormq.exceptions.DeliveryError) as failure:
        await publisher(exchange, nack_retry_seconds=0.3).publish(FAILED)

    assert refused_by_broker(failure.value)
    assert 2 <= len(exchange.sent) < 10


@pytest.mark.parametrize(
    "error",
    [
        aiormq.exceptions.DeliveryError(None, Basic.Return(reply_code=312)),
        ConnectionResetError("reset"),
    ],
)
async def test_an_unroutable_or_lost_publish_is_not_sent_again(
    error: Exception,
) -> None:
    # Returned (no queue bound) or lost with its connection: not a refusal
    # that a retry here can fix, or maybe delivered already.
    exchange = Exchange(nacks=0, error=error)

    with pytest.raises(type(error)):
        await publisher(exchange).publish(FAILED)

    assert len(exchange.sent) == 1


async def test_a_channel_refused_for_too_long_is_replaced_by_a_new_one() -> None:
    # RabbitMQ 3.10 kept refusing a channel restored after a node loss while a
    # new channel was taken: the publisher opens one after a spell of refusals.
    stuck, fresh = Exchange(nacks=1_000), Exchange(nacks=0)
    reopened: list[Exchange] = []

    async def reopen() -> tuple[Any, Any]:
        reopened.append(fresh)
        return fresh, fresh

    made = AmqpPublisher(stuck, stuck, reopen=reopen)  # type: ignore[arg-type]
    made.reopen_after_refusals = 0.2

    await made.publish(FAILED)

    assert reopened == [fresh]
    assert len(stuck.sent) >= 2
    assert [m.message_id for m in fresh.sent] == [FAILED.message_id]


async def test_a_channel_that_cannot_be_replaced_keeps_being_retried() -> None:
    stuck = Exchange(nacks=1_000)

    async def reopen() -> tuple[Any, Any]:
        raise ConnectionResetError("the connection is down too")

    made = AmqpPublisher(stuck, stuck, reopen=reopen)  # type: ignore[arg-type]
    made.reopen_after_refusals = 0.05
    made.nack_retry_seconds = 0.5

    with pytest.raises(aiormq.exceptions.DeliveryError) as failure:
        await made.publish(FAILED)
    assert refused_by_broker(failure.value)
