"""Schedule slots: interval-aligned, one command per slot, none for the slot led into."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from contracts.commands import SyncRequested
from sync_worker.schedule import Scheduler, scheduled_command, slot_of, slot_start
from tests.support.eventually import eventually
from tests.support.fakes import FakePublisher


class FakeLock:
    """Stands in for the lock connection: open until `lose()`."""

    def __init__(self) -> None:
        self._closed: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    def closed(self) -> asyncio.Future[bool]:
        return self._closed

    def lose(self) -> None:
        self._closed.set_result(True)


def scheduler(publisher: FakePublisher, *, interval: int, clock: Any) -> Scheduler:
    return Scheduler(
        amqp_url="amqp://unused/",
        lock_queue="unused",
        publisher=publisher,
        interval=interval,
        results=123,
        nationalities=("NO",),
        connection_name="test",
        clock=clock,
    )


def test_slots_are_aligned_to_multiples_of_the_interval():
    assert slot_of(0, 3600) == 0
    assert slot_of(3599.999, 3600) == 0
    assert slot_of(3600, 3600) == 1
    assert slot_of(1_700_000_123.5, 60) == 28_333_335
    assert slot_start(28_333_335, 60) == 1_700_000_100


def test_every_worker_computes_the_same_slot_within_an_interval():
    slots = {slot_of(7200 + offset, 3600) for offset in (0, 1, 1800, 3599.9)}

    assert slots == {2}


def test_a_scheduled_command_names_its_slot_and_carries_the_settings():
    command = scheduled_command(10, 3600, results=500, nationalities=("US",))

    assert command.command_id == "schedule-36000"
    assert command.trigger == "schedule"
    assert command.results == 500
    assert command.nationalities == ("US",)


async def test_a_new_leader_fires_at_the_next_slot_start_not_for_the_current_slot():
    interval = 3600
    # Pretend the wall clock is 0.2 s before an hour boundary.
    boundary = (slot_of(time.time(), interval) + 5) * interval
    offset = boundary - 0.2 - time.time()
    publisher = FakePublisher()
    stop = asyncio.Event()
    lock = FakeLock()
    leader = asyncio.create_task(
        scheduler(
            publisher, interval=interval, clock=lambda: time.time() + offset
        ).lead(
            lock,  # type: ignore[arg-type]
            stop,
        )
    )

    await eventually(lambda: _published(publisher), timeout=5, what="a scheduled sync")
    stop.set()
    await leader

    [command] = publisher.published
    assert isinstance(command, SyncRequested)
    assert command.command_id == f"schedule-{boundary}"
    assert (command.results, command.nationalities) == (123, ("NO",))


async def test_a_leader_that_loses_the_lock_stops_publishing():
    publisher = FakePublisher()
    lock = FakeLock()
    leader = asyncio.create_task(
        scheduler(publisher, interval=3600, clock=time.time).lead(
            lock,  # type: ignore[arg-type]
            asyncio.Event(),
        )
    )

    lock.lose()

    await asyncio.wait_for(leader, timeout=5)
    assert publisher.published == []


async def test_a_publish_failure_skips_the_slot_and_keeps_leading():
    publisher = FailingPublisher()
    stop = asyncio.Event()
    interval = 3600
    boundary = (slot_of(time.time(), interval) + 5) * interval
    offset = boundary - 0.1 - time.time()
    leader = asyncio.create_task(
        scheduler(
            publisher, interval=interval, clock=lambda: time.time() + offset
        ).lead(
            FakeLock(),  # type: ignore[arg-type]
            stop,
        )
    )

    await eventually(publisher.tried, timeout=5, what="a publish attempt")

    assert not leader.done()
    stop.set()
    await leader


class FailingPublisher(FakePublisher):
    """Counts publish attempts, each of which fails as if the broker were away."""

    def __init__(self) -> None:
        super().__init__(error=ConnectionError("broker away"))
        self.attempts = 0

    async def publish(self, message: Any) -> None:
        self.attempts += 1
        await super().publish(message)

    async def tried(self) -> bool:
        return self.attempts > 0


async def _published(publisher: FakePublisher) -> int:
    return len(publisher.published)
