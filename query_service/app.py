"""The query replica's aiohttp application: resources, errors, readiness."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
from typing import TYPE_CHECKING, Final

from aiohttp import web
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential

from common.health import READINESS, Readiness, add_health_routes
from common.http import CORRELATION_HEADER, REQUEST_ID_HEADER, VALID_ID
from common.logs import correlation_id_var, message_id_var
from common.metrics import add_metrics_route, http_metrics_middleware
from common.retrying import log_retry
from query_service.read_model import MongoReadModel, ReadModelUnavailable
from query_service.routes import (
    READ_MODEL,
    SETTINGS,
    SNAPSHOTS,
    Problem,
    problem_response,
    setup_routes,
)
from query_service.snapshot_cache import SnapshotCache

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from aiohttp.typedefs import Handler

    from query_service.read_model import ReadModelReader
    from query_service.settings import QuerySettings

logger = logging.getLogger(__name__)

_REQUEST_ID_PREFIX: Final = os.urandom(8).hex()
_request_numbers: Final = itertools.count(1)
WARM_UP_MAX_DELAY: Final = 5.0


def create_app(
    settings: QuerySettings, *, read_model: ReadModelReader | None = None
) -> web.Application:
    """Build a query replica; `read_model` replaces MongoDB (tests)."""
    app = web.Application(middlewares=[http_metrics_middleware(), problems])
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


@web.middleware
async def problems(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Tag the request with a correlation id and a request id; render every
    error as problem+json."""
    correlation_id = request.headers.get(CORRELATION_HEADER, "")
    if not VALID_ID.match(correlation_id):
        # Same shape as contracts.base.new_id, a third of the cost: this
        # runs on every request of the hot path.
        correlation_id = os.urandom(16).hex()
    # nginx sends its own $request_id (and sets it on its response). Else a
    # per-process random prefix and a counter: unique like new_id, without a
    # system call per request.
    request_id = request.headers.get(REQUEST_ID_HEADER, "")
    if not VALID_ID.match(request_id):
        request_id = f"{_REQUEST_ID_PREFIX}{next(_request_numbers):x}"
    # The contextvar directly rather than common.logs.log_context: a
    # generator-based context manager per request costs measurable throughput.
    token = correlation_id_var.set(correlation_id)
    request_token = message_id_var.set(request_id)
    try:
        response = await _handle(request, handler)
    finally:
        message_id_var.reset(request_token)
        correlation_id_var.reset(token)
    response.headers[CORRELATION_HEADER] = correlation_id
    response.headers[REQUEST_ID_HEADER] = request_id
    return response


async def _handle(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except Problem as exc:
        return problem_response(exc.status, exc.title, exc.detail, headers=exc.headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _http_problem(request, exc)
    except ReadModelUnavailable as exc:
        logger.warning("read model unavailable: %s", exc)
        return problem_response(
            503,
            "Read model unavailable",
            "the database holding the data cannot be reached; retry shortly",
            headers={"Retry-After": "2"},
        )
    except Exception:
        logger.exception("unexpected error in %s %s", request.method, request.path)
        return problem_response(
            500, "Internal Server Error", "an unexpected error occurred; it was logged"
        )


def _http_problem(request: web.Request, exc: web.HTTPException) -> web.Response:
    headers: dict[str, str] = {}
    if isinstance(exc, web.HTTPNotFound):
        detail = f"there is no resource at {request.path}"
    elif isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = ", ".join(sorted(exc.allowed_methods))
        headers["Allow"] = allowed
        detail = f"{exc.method} is not allowed on {request.path}; allowed: {allowed}"
    else:
        detail = exc.text or exc.reason
    return problem_response(exc.status, exc.reason, detail, headers=headers)
