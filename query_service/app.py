"""The query replica's aiohttp application: resources, errors, readiness."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Final

from aiohttp import web
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential

from common.health import READINESS, Readiness, add_health_routes
from common.http import problem, request_context_middleware
from common.metrics import add_metrics_route, http_metrics_middleware
from common.retrying import log_retry
from contracts.topology import Topology
from query_service.history import setup_history_routes
from query_service.live import LiveFeed, LiveHub
from query_service.notices import NoticeListener
from query_service.read_model import MongoReadModel, ReadModelUnavailable
from query_service.routes import (
    LIVE,
    READ_MODEL,
    SETTINGS,
    SNAPSHOTS,
    Problem,
    setup_routes,
)
from query_service.snapshot_cache import SnapshotCache

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from query_service.read_model import ReadModelReader
    from query_service.settings import QuerySettings

logger = logging.getLogger(__name__)

WARM_UP_MAX_DELAY: Final = 5.0
LIVE_FEED: Final = web.AppKey("live_feed", LiveFeed)
"""What feeds the event stream (tests hand it notices directly)."""


def create_app(
    settings: QuerySettings, *, read_model: ReadModelReader | None = None
) -> web.Application:
    """Build a query replica; `read_model` replaces MongoDB (tests)."""
    app = web.Application(
        middlewares=[
            http_metrics_middleware(),
            request_context_middleware(
                {Problem: _problem, ReadModelUnavailable: _read_model_unavailable}
            ),
        ]
    )
    app[SETTINGS] = settings
    readiness = Readiness(
        "read_model", service="query_service", instance=settings.instance_id
    )
    add_health_routes(app, readiness)
    add_metrics_route(app)
    setup_routes(app)
    setup_history_routes(app)
    app.cleanup_ctx.append(_read_model_context(settings, read_model))
    app.cleanup_ctx.append(_snapshot_cache_context)
    app.cleanup_ctx.append(_live_context)
    app.on_shutdown.append(_not_ready)
    return app


def _read_model_context(
    settings: QuerySettings, override: ReadModelReader | None
) -> Callable[[web.Application], contextlib.AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def read_model(app: web.Application) -> AsyncIterator[None]:
        if override is not None:
            app[READ_MODEL] = override
            yield
            return
        async with MongoReadModel.open(
            str(settings.mongo_url),
            settings.mongo_database,
            server_timeout=settings.mongo_timeout_seconds,
            app_name="query_service",
        ) as mongo:
            app[READ_MODEL] = mongo
            yield

    return read_model


@contextlib.asynccontextmanager
async def _snapshot_cache_context(app: web.Application) -> AsyncIterator[None]:
    cache = SnapshotCache(
        app[READ_MODEL], poll_seconds=app[SETTINGS].snapshot_poll_seconds
    )
    app[SNAPSHOTS] = cache
    warm_up = asyncio.create_task(_warm_up(cache, app[READINESS]))
    try:
        yield
    finally:
        warm_up.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await warm_up
        await cache.close()


async def _warm_up(cache: SnapshotCache, readiness: Readiness) -> None:
    """Load the snapshot before the first request; ready once it is in memory.

    Readiness then stays true through a database outage: the replica keeps
    serving the snapshot it holds, which is what an always-available read
    side wants from its load balancer.
    """
    await _once_reachable(cache.refresh)
    readiness.set("read_model", ok=True)


async def _once_reachable(read: Callable[[], Awaitable[None]]) -> None:
    """Run `read`, retrying (with backoff, for as long as it takes) while the
    read model cannot be reached."""
    retrying = AsyncRetrying(
        retry=retry_if_exception_type(ReadModelUnavailable),
        wait=wait_exponential(multiplier=0.1, max=WARM_UP_MAX_DELAY),
        before_sleep=log_retry(logger, "read model not reachable yet"),
    )
    await retrying(read)


@contextlib.asynccontextmanager
async def _live_context(app: web.Application) -> AsyncIterator[None]:
    """The event stream: a hub fed by the projector's notices (when a broker
    is configured) and by the snapshot cache's own switches."""
    settings = app[SETTINGS]
    hub = LiveHub(
        max_clients=settings.live_max_clients, client_queue=settings.live_client_queue
    )
    app[LIVE] = hub
    feed = LiveFeed(hub, app[READ_MODEL], app[SNAPSHOTS])
    app[LIVE_FEED] = feed
    tasks: set[asyncio.Task[None]] = set()

    def spawn(work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    app[SNAPSHOTS].on_swap = lambda sync_id: spawn(_quietly(feed.on_sync(sync_id)))
    # The hub's history, once the read model answers.
    spawn(_once_reachable(feed.catch_up))
    stop = asyncio.Event()
    if settings.live_notices:
        listener = NoticeListener(
            str(settings.amqp_url),
            Topology(settings.amqp_namespace),
            name=f"query_service.{settings.instance_id}",
            on_notice=feed.on_notice,
            on_link=lambda: _quietly(feed.catch_up()),
        )
        spawn(listener.run(stop))
    try:
        yield
    finally:
        stop.set()
        hub.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _quietly(work: Awaitable[None]) -> None:
    """Run `work`; a database outage only costs this update (logged)."""
    try:
        await work
    except ReadModelUnavailable as exc:
        logger.warning("live events not updated: %s", exc)


async def _not_ready(app: web.Application) -> None:
    app[READINESS].stopping()
    # Streams end now, so the graceful shutdown does not wait for them.
    if LIVE in app:
        app[LIVE].close()


def _problem(exc: Problem) -> web.Response:
    return problem(exc.status, exc.detail, title=exc.title, headers=exc.headers)


def _read_model_unavailable(exc: ReadModelUnavailable) -> web.Response:
    logger.warning("read model unavailable: %s", exc)
    return problem(
        503,
        "the database holding the data cannot be reached; retry shortly",
        title="Read model unavailable",
        headers={"Retry-After": "2"},
    )
