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
from query_service.read_model import MongoReadModel, ReadModelUnavailable
from query_service.routes import (
    READ_MODEL,
    SETTINGS,
    SNAPSHOTS,
    Problem,
    setup_routes,
)
from query_service.snapshot_cache import SnapshotCache

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from query_service.read_model import ReadModelReader
    from query_service.settings import QuerySettings

logger = logging.getLogger(__name__)

WARM_UP_MAX_DELAY: Final = 5.0


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
    app.cleanup_ctx.append(_read_model_context(settings, read_model))
    app.cleanup_ctx.append(_snapshot_cache_context)
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
    retrying = AsyncRetrying(
        retry=retry_if_exception_type(ReadModelUnavailable),
        wait=wait_exponential(multiplier=0.1, max=WARM_UP_MAX_DELAY),
        before_sleep=log_retry(logger, "read model not reachable yet"),
    )
    await retrying(cache.refresh)
    readiness.set("read_model", ok=True)


async def _not_ready(app: web.Application) -> None:
    app[READINESS].stopping()


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
