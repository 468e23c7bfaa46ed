"""Composition root of the sync worker: build the graph, run the tasks, stop cleanly."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING

import aiohttp

from common.amqp import AmqpPublisher, connect
from common.consuming import run_consumer
from common.declare import (
    EventLogRetention,
    declare_projector_queue,
    declare_sync_requests_queue,
)
from common.health import Readiness, serve_health
from common.lifecycle import stop_event_on_signals
from contracts.topology import Topology
from sync_worker.randomuser import USER_AGENT, HttpRandomuserClient
from sync_worker.schedule import Scheduler
from sync_worker.sync import SyncService

if TYPE_CHECKING:
    from common.amqp import Publisher
    from sync_worker.fetching import RandomuserClient
    from sync_worker.settings import SyncWorkerSettings

logger = logging.getLogger(__name__)


async def run(
    settings: SyncWorkerSettings,
    *,
    randomuser: RandomuserClient | None = None,
    publisher: Publisher | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Run the worker until `stop` is set (by default: SIGTERM or SIGINT).

    Consumes `SyncRequested` commands one at a time and, when
    `SYNC_INTERVAL_SECONDS` is set, competes to run the schedule. `randomuser`
    and `publisher` replace the real client and publisher (tests).

    Raises:
        TimeoutError: RabbitMQ was not reachable within the startup timeout.
        ExceptionGroup: a long-lived task crashed; the process must exit non-zero.
    """
    stop = stop if stop is not None else stop_event_on_signals()
    topology = Topology(settings.amqp_namespace)
    readiness = Readiness("amqp", service="sync_worker", instance=settings.instance_id)
    name = f"sync_worker {socket.gethostname()}:{os.getpid()}"
    async with AsyncExitStack() as stack:
        connection = await connect(
            str(settings.amqp_url),
            name=name,
            within=settings.startup_timeout_seconds,
            readiness=readiness,
        )
        stack.push_async_callback(connection.close)
        if randomuser is None:
            session = await stack.enter_async_context(
                aiohttp.ClientSession(
                    headers={"User-Agent": USER_AGENT},
                    timeout=aiohttp.ClientTimeout(total=settings.http_timeout_seconds),
                )
            )
            randomuser = HttpRandomuserClient.from_settings(session, settings)
        if publisher is None:
            publisher = await AmqpPublisher.open(connection, topology)
        channel = await connection.channel()
        # One command at a time, and (declared identically by the command
        # service) one active consumer: two syncs never run at once, and
        # waiting commands stay visible in the queue.
        await channel.set_qos(prefetch_count=1)
        queue = await declare_sync_requests_queue(
            channel, topology, delivery_limit=settings.amqp_delivery_limit
        )
        # Events are published as mandatory: the projector's queue must exist
        # even if the projector has never started yet.
        await declare_projector_queue(
            channel,
            topology,
            delivery_limit=settings.amqp_delivery_limit,
            event_log=EventLogRetention(
                settings.event_log_max_age, settings.event_log_max_bytes
            ),
        )
        service = SyncService(
            randomuser,
            publisher,
            deadline_seconds=settings.sync_deadline_seconds,
            max_results=settings.sync_max_results,
        )
        await stack.enter_async_context(
            serve_health(readiness, settings.health_host, settings.health_port)
        )
        logger.info("sync worker ready (queue %s)", queue.name)
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(_not_ready_on_stop(stop, readiness))
            tasks.create_task(
                run_consumer(
                    queue,
                    service.handle,
                    stop,
                    shutdown_timeout=settings.shutdown_timeout_seconds,
                )
            )
            if settings.sync_interval_seconds:
                scheduler = Scheduler(
                    amqp_url=str(settings.amqp_url),
                    lock_queue=topology.scheduler_lock_queue,
                    publisher=publisher,
                    interval=settings.sync_interval_seconds,
                    results=settings.sync_results,
                    nationalities=settings.sync_nationalities,
                    connection_name=f"{name} scheduler lock",
                    retry_seconds=settings.scheduler_lock_retry_seconds,
                )
                tasks.create_task(scheduler.run(stop))
        logger.info("sync worker stopped")


async def _not_ready_on_stop(stop: asyncio.Event, readiness: Readiness) -> None:
    await stop.wait()
    readiness.stopping()
