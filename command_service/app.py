"""Builds the command service's aiohttp application (its composition root)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from command_service.idempotency import IdempotencyKeys
from command_service.keys import IDEMPOTENCY, PUBLISHER, SETTINGS
from command_service.routes import setup_routes
from common.amqp import AmqpPublisher, Publisher, connect
from common.declare import declare_sync_requests_queue
from common.health import Readiness, add_health_routes
from common.http import request_context_middleware
from common.metrics import add_metrics_route, http_metrics_middleware
from contracts.topology import Topology

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from command_service.settings import CommandSettings


def create_app(
    settings: CommandSettings, *, publisher: Publisher | None = None
) -> web.Application:
    """The command API. With `publisher` given, no broker connection is opened."""
    app = web.Application(
        middlewares=[http_metrics_middleware(), request_context_middleware()],
        client_max_size=settings.max_body_bytes,
    )
    app[SETTINGS] = settings
    app[IDEMPOTENCY] = IdempotencyKeys(
        window=settings.idempotency_window_seconds,
        capacity=settings.idempotency_keys_kept,
    )
    readiness = Readiness(
        "amqp", service="command_service", instance=settings.instance_id
    )
    add_health_routes(app, readiness)
    add_metrics_route(app)
    if publisher is not None:
        app[PUBLISHER] = publisher
        readiness.set("amqp", ok=True)
    else:
        app.cleanup_ctx.append(_broker(settings, readiness))

    async def not_ready(_: web.Application) -> None:
        readiness.stopping()

    app.on_shutdown.append(not_ready)
    setup_routes(app)
    return app


def _broker(
    settings: CommandSettings, readiness: Readiness
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def broker(app: web.Application) -> AsyncIterator[None]:
        connection = await connect(
            str(settings.amqp_url),
            name="command_service",
            within=settings.startup_timeout_seconds,
            readiness=readiness,
        )
        async with connection:
            topology = Topology(settings.amqp_namespace)
            async with connection.channel() as channel:
                await declare_sync_requests_queue(
                    channel, topology, delivery_limit=settings.amqp_delivery_limit
                )
            app[PUBLISHER] = await AmqpPublisher.open(connection, topology)
            yield

    return broker
