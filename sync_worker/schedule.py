"""Periodic syncs, once per interval however many workers run.

Leader election: the worker whose connection holds the exclusive queue
`scheduler_lock_queue` is the leader; RabbitMQ refuses the same exclusive
queue to every other connection (RESOURCE_LOCKED) and deletes it when the
holder's connection closes, so the others retry every few seconds.

Slots: time is cut into slots of `interval` seconds since the epoch (so an
hourly schedule fires on the hour). A leader publishes one `SyncRequested` at
the start of each slot it holds the lock through, and never for the slot in
which it became leader: that slot's start has passed, and the previous leader
fired it. A failover therefore never adds a second sync to a slot (at worst,
a leader lost just before a slot starts makes that one slot go without).
Slots are computed from each machine's wall clock, so workers' clocks are
assumed to be synchronised (NTP) to well under the lock retry period.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from typing import TYPE_CHECKING, Final

from aio_pika.exceptions import AMQPError
from aiormq.exceptions import ChannelLockedResource

from common.amqp_cluster import connect_once
from contracts.commands import SyncRequested

if TYPE_CHECKING:
    from collections.abc import Callable

    from aio_pika.abc import AbstractConnection

    from common.amqp import Publisher
    from contracts.commands import Nationality

logger = logging.getLogger(__name__)

LOCK_TIMEOUT_SECONDS: Final = 10.0
"""Bound of each broker call of the scheduler lock (connect, declare, close)."""


def slot_of(now: float, interval: int) -> int:
    """The index of the slot `now` (epoch seconds) falls in."""
    return math.floor(now / interval)


def slot_start(slot: int, interval: int) -> int:
    """Epoch second at which `slot` begins."""
    return slot * interval


def scheduled_command(
    slot: int,
    interval: int,
    *,
    results: int,
    nationalities: tuple[Nationality, ...] | None,
) -> SyncRequested:
    """The command a leader publishes for `slot`; its command_id names the slot."""
    return SyncRequested(
        command_id=f"schedule-{slot_start(slot, interval)}",
        results=results,
        nationalities=nationalities,
        trigger="schedule",
    )


class Scheduler:
    """Competes for the scheduler lock and, while holding it, publishes per slot."""

    def __init__(
        self,
        *,
        amqp_url: str,
        lock_queue: str,
        publisher: Publisher,
        interval: int,
        results: int,
        nationalities: tuple[Nationality, ...] | None,
        connection_name: str,
        retry_seconds: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._amqp_url = amqp_url
        self._lock_queue = lock_queue
        self._publisher = publisher
        self._interval = interval
        self._results = results
        self._nationalities = nationalities
        self._connection_name = connection_name
        self._retry_seconds = retry_seconds
        self._clock = clock

    async def run(self, stop: asyncio.Event) -> None:
        """Lead whenever the lock can be had, until `stop` is set."""
        while not stop.is_set():
            lock = await self._acquire()
            if lock is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self._retry_seconds)
                continue
            try:
                await self.lead(lock, stop)
            finally:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(LOCK_TIMEOUT_SECONDS):
                        await lock.close()

    async def _acquire(self) -> AbstractConnection | None:
        # A plain (not robust) connection of its own: the lock lives exactly
        # as long as this connection. A robust one would re-declare the queue
        # by itself after a reconnect, racing the worker that took over.
        try:
            connection = await connect_once(
                self._amqp_url,
                name=self._connection_name,
                connect_timeout=LOCK_TIMEOUT_SECONDS,
            )
        except (OSError, TimeoutError, AMQPError) as exc:
            logger.warning("scheduler cannot reach RabbitMQ: %s", exc)
            return None
        try:
            # Every network await is bounded: a half-open connection must
            # not keep this worker from competing again.
            async with asyncio.timeout(LOCK_TIMEOUT_SECONDS):
                channel = await connection.channel()
                await channel.declare_queue(self._lock_queue, exclusive=True)
        except ChannelLockedResource:
            await connection.close()
            return None
        except (OSError, TimeoutError, AMQPError) as exc:
            await connection.close()
            logger.warning("scheduler lock not taken: %s", exc)
            return None
        except BaseException:
            await connection.close()
            raise
        logger.info("this worker now runs the schedule (every %ds)", self._interval)
        return connection

    async def lead(self, lock: AbstractConnection, stop: asyncio.Event) -> None:
        """Publish one command per slot start until `stop` is set or `lock` closes."""
        # The current slot is not ours: its start passed before we led.
        last = slot_of(self._clock(), self._interval)
        lost = asyncio.ensure_future(lock.closed())
        stopping = asyncio.ensure_future(stop.wait())
        try:
            while True:
                due = slot_start(last + 1, self._interval)
                await asyncio.wait(
                    {lost, stopping},
                    timeout=max(0.0, due - self._clock()),
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if stopping.done():
                    return
                if lost.done():
                    logger.warning("scheduler lock lost; competing for it again")
                    return
                slot = slot_of(self._clock(), self._interval)
                if slot <= last:
                    continue  # woke a little early
                await self._publish(slot)
                last = slot
        finally:
            lost.cancel()
            stopping.cancel()

    async def _publish(self, slot: int) -> None:
        command = scheduled_command(
            slot,
            self._interval,
            results=self._results,
            nationalities=self._nationalities,
        )
        try:
            await self._publisher.publish(command)
        except (OSError, TimeoutError, AMQPError) as exc:
            # The broker is away; so is the lock, most likely. The slot is
            # missed rather than fired late by a worker that may not lead.
            logger.error(
                "scheduled sync for %s not published: %s", command.command_id, exc
            )
            return
        logger.info("scheduled sync requested: %s", command.command_id)
