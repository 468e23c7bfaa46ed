"""The dead-letter tap describes where and why the broker dead-lettered a message."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from common.delivery import TransientError
from query_service.dead_letters import describe_death, run_dead_letter_tap
from tests.unit.test_consuming_policy import FakeMessage, FakeQueue, settled


def _death(queue: str, reason: str) -> dict[str, object]:
    return {
        "count": 1,
        "reason": reason,
        "queue": queue,
        "time": datetime(2026, 1, 2, tzinfo=UTC),
        "exchange": "randomuser.events",
        "routing-keys": ["sync.failed"],
    }


@pytest.mark.parametrize(
    ("reason", "described"),
    [
        ("rejected", "rejected by its consumer (its log says why)"),
        ("delivery_limit", "delivery limit reached (its handler kept failing)"),
        ("expired", "expired in the queue"),
        ("something_new", "something_new"),
    ],
)
def test_a_death_names_its_queue_and_its_reason(reason: str, described: str) -> None:
    headers = {"x-death": [_death("query_service.projector", reason)]}

    assert describe_death(headers) == f"query_service.projector: {described}"


def test_the_latest_death_comes_first() -> None:
    headers = {
        "x-death": [
            _death("sync_worker.sync_requests", "delivery_limit"),
            _death("query_service.projector", "rejected"),
        ]
    }

    assert describe_death(headers).startswith("sync_worker.sync_requests: delivery")


@pytest.mark.parametrize(
    "headers", [None, {}, {"x-death": []}, {"x-death": "rejected"}, {"x-death": [1]}]
)
def test_a_message_without_a_readable_death_is_still_described(
    headers: object,
) -> None:
    assert describe_death(headers) == "dead-lettered (no x-death header)"


async def test_the_tap_records_a_body_that_never_decoded_and_retries_a_transient_failure():
    # The tap takes each delivery as it came: the body of a dead letter may be
    # exactly what could not be decoded. It shares the consumer policy of every
    # queue: a TransientError is retried, then the delivery is acked.
    message = FakeMessage(
        b"\x00 not json", headers={"x-death": [_death("q", "rejected")]}
    )
    queue = FakeQueue(message)
    recorded: list[str] = []

    async def record(_: object, reason: str) -> None:
        recorded.append(reason)
        if len(recorded) == 1:
            raise TransientError("mongo down")

    stop = asyncio.Event()
    tap = asyncio.create_task(
        run_dead_letter_tap(queue, record, stop, max_backoff=0.1)  # type: ignore[arg-type]
    )
    await settled(message)
    stop.set()
    async with asyncio.timeout(5):
        await tap
    assert recorded == ["q: rejected by its consumer (its log says why)"] * 2
    assert message.settled == [("ack", None)]
