"""The projector process: consumes sync events and writes the read model."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import TYPE_CHECKING, Final

from tenacity import (
    AsyncRetrying,
    RetryError,
    retry_if_exception_type,
    stop_before_delay,
    wait_exponential,
)

from common.amqp import connect
from common.consuming import Handler, run_consumer
from common.declare import (
    EventLogRetention,
    declare_dead_letter_tap,
    declare_projector_queue,
)
from common.health import Readiness, serve_health
from common.lifecycle import run_worker, stop_event_on_signals
from common.retrying import log_retry
from contracts.topology import Topology
from query_service import snapshot_files
from query_service.dead_letters import run_dead_letter_tap
from query_service.notices import (
    PROMOTED,
    ReadModelChanged,
    announce,
    announcing,
    declare_notices,
)
from query_service.projection import (
    ProjectionConfig,
    dead_letter_recorder,
    projection_handler,
)
from query_service.read_model import MongoReadModel, ReadModelUnavailable
from query_service.settings import ProjectorSettings

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path

    from aio_pika.abc import AbstractExchange

    from contracts.codec import AnyMessage
    from query_service.read_model import ReadModel
    from query_service.records import Snapshot

logger = logging.getLogger(__name__)

MONGO_CHECK_SECONDS: Final = 5.0


async def run(
    settings: ProjectorSettings,
    *,
    read_model: ReadModel | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Project events until `stop` is set (by default: SIGTERM or SIGINT).

    Raises:
        TimeoutError: RabbitMQ or MongoDB was not reachable within
            STARTUP_TIMEOUT_SECONDS.
    """
    stop = stop if stop is not None else stop_event_on_signals()
    readiness = Readiness(
        "amqp", "mongo", service="projector", instance=settings.instance_id
    )
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(
            serve_health(readiness, settings.health_host, settings.health_port)
        )
        model: ReadModel
        if read_model is not None:
            model = read_model
        else:
            model = await stack.enter_async_context(
                MongoReadModel.open(
                    str(settings.mongo_url),
                    settings.mongo_database,
                    server_timeout=settings.mongo_timeout_seconds,
                    app_name="projector",
                )
            )
        await _prepare(model, within=settings.startup_timeout_seconds)
        readiness.set("mongo", ok=True)
        connection = await connect(
            str(settings.amqp_url),
            name="query_service.projector",
            within=settings.startup_timeout_seconds,
            readiness=readiness,
        )
        stack.push_async_callback(connection.close)
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=settings.amqp_prefetch_count)
        topology = Topology(settings.amqp_namespace)
        queue = await declare_projector_queue(
            channel,
            topology,
            delivery_limit=settings.amqp_delivery_limit,
            event_log=EventLogRetention(
                settings.event_log_max_age, settings.event_log_max_bytes
            ),
        )
        tap = await declare_dead_letter_tap(
            channel, topology, delivery_limit=settings.amqp_delivery_limit
        )
        publish_files = republish = None
        if settings.snapshot_files_dir is not None:
            publish_files = _file_publisher(settings.snapshot_files_dir)
            republish = functools.partial(
                _publish_current, model, settings.snapshot_files_dir, publish_files
            )
            await republish()
        # Notices go out on a channel of their own, without confirms: they
        # are hints to the replicas, and must not slow the projection down.
        notices = await declare_notices(await connection.channel(), topology)
        config = ProjectionConfig(
            snapshots_kept=settings.snapshots_kept,
            stale_after=timedelta(seconds=settings.stale_sync_seconds),
            sync_retention=timedelta(days=settings.sync_retention_days),
            gzip_level=settings.gzip_level,
            on_promoted=_on_promoted(publish_files, notices),
        )
        logger.info("projecting from %s", queue.name)
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(
                run_consumer(
                    queue,
                    following_alias(
                        announcing(projection_handler(model, config), notices),
                        model,
                        on_moved=republish,
                    ),
                    stop,
                    shutdown_timeout=settings.shutdown_timeout_seconds,
                )
            )
            # Every dead letter, this queue's and the sync worker's, is
            # counted from the tap (not by `on_poison`, which would count
            # this queue's rejects twice and never see the delivery limit).
            tasks.create_task(
                run_dead_letter_tap(
                    tap,
                    dead_letter_recorder(model),
                    stop,
                    shutdown_timeout=settings.shutdown_timeout_seconds,
                )
            )
            tasks.create_task(_watch_mongo(model, readiness, stop))
        readiness.stopping()
        logger.info("projector stopped")


async def _prepare(read_model: ReadModel, *, within: float) -> None:
    """Create the indexes, retrying while MongoDB is not reachable yet."""
    retrying = AsyncRetrying(
        retry=retry_if_exception_type(ReadModelUnavailable),
        wait=wait_exponential(multiplier=0.2, max=5.0),
        stop=stop_before_delay(within),
        before_sleep=log_retry(logger, "MongoDB not reachable yet"),
    )

    async def prepare() -> None:
        # A rebuild may have moved the read model: prepare the one in use.
        database = await read_model.follow_alias(wait_for_switch=True)
        await read_model.prepare()
        logger.info("projecting into database %s", database)

    try:
        await retrying(prepare)
    except RetryError as exc:
        raise TimeoutError(f"MongoDB not reachable within {within}s") from (
            exc.last_attempt.exception()
        )


async def _watch_mongo(
    read_model: ReadModel, readiness: Readiness, stop: asyncio.Event
) -> None:
    """Keep the "mongo" readiness check current until `stop` is set."""
    healthy = True
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=MONGO_CHECK_SECONDS)
            return
        try:
            await read_model.ping()
        except ReadModelUnavailable as exc:
            if healthy:
                logger.warning("MongoDB unreachable: %s", exc)
            healthy = False
        else:
            if not healthy:
                logger.info("MongoDB reachable again")
            healthy = True
        readiness.set("mongo", ok=healthy)


def following_alias(
    handler: Handler,
    read_model: ReadModel,
    *,
    on_moved: Callable[[], Awaitable[None]] | None = None,
) -> Handler:
    """`handler`, run in the database the alias names when the message
    arrives: a switch under way is waited out, so no event lands in a read
    model being retired (`mongo_alias.py`). `on_moved` runs after a move."""
    current: str | None = None

    async def handle(message: AnyMessage) -> None:
        nonlocal current
        database = await read_model.follow_alias(wait_for_switch=True)
        if current not in (None, database):
            logger.info("the read model moved to database %s", database)
            if on_moved is not None:
                await on_moved()
        current = database
        await handler(message)

    return handle


def _on_promoted(
    publish_files: Callable[[Snapshot], Awaitable[None]] | None,
    notices: AbstractExchange,
) -> Callable[[Snapshot], Awaitable[None]]:
    """Once the pointer moved: the files for nginx, then a notice at once, so
    that the replicas switch before the projector tidies up (deleting the
    staged batches of 20,000 users takes tens of milliseconds)."""

    async def promoted(snapshot: Snapshot) -> None:
        if publish_files is not None:
            await publish_files(snapshot)
        await announce(
            notices, ReadModelChanged(sync_id=snapshot.meta.id, cause=PROMOTED)
        )

    return promoted


def _file_publisher(root: Path) -> Callable[[Snapshot], Awaitable[None]]:
    async def publish(snapshot: Snapshot) -> None:
        try:
            await asyncio.to_thread(snapshot_files.publish, root, snapshot)
        except OSError as exc:
            # The projection goes on: nginx asks the replicas meanwhile.
            logger.warning(
                "could not publish snapshot %s as files: %s", snapshot.meta.id, exc
            )

    return publish


async def _publish_current(
    read_model: ReadModel,
    root: Path,
    publish: Callable[[Snapshot], Awaitable[None]],
) -> None:
    """Make the files match the pointer (a crash may have come between the
    two), or withdraw them when there is no snapshot."""
    pointer = await read_model.pointer()
    snapshot = (
        None if pointer is None else await read_model.snapshot(pointer.snapshot_id)
    )
    if snapshot is None:
        await asyncio.to_thread(snapshot_files.withdraw, root)
        return
    await publish(snapshot)


def main() -> None:
    """Entry point of `python -m query_service.projector`."""
    run_worker("projector", ProjectorSettings, run)


if __name__ == "__main__":
    main()
