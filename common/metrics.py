"""Prometheus metrics every process shares: HTTP requests, consumers, /metrics.

Collectors are process-wide, like loggers: one `/metrics` per process, so they
live in prometheus-client's default registry and are defined once, in the
module of the process part they describe (`sync_worker.metrics`,
`query_service.metrics` for the others). Labels take values from closed sets
(route templates, never raw paths), so a scan of random URLs adds no series.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Final

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

if TYPE_CHECKING:
    from aiohttp.typedefs import Handler, Middleware
    from aiohttp.web_urldispatcher import AbstractResource

HTTP_REQUESTS: Final = Counter(
    "randomuser_http_requests",
    "HTTP requests answered, by route template, method and status.",
    ["route", "method", "status"],
)
HTTP_DURATION: Final = Histogram(
    "randomuser_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template and method.",
    ["route", "method"],
    buckets=(
        0.0005,
        0.001,
        0.0025,
        0.005,
        0.01,
        0.025,
        0.05,
        0.1,
        0.25,
        0.5,
        1,
        2.5,
        5,
    ),
)
MESSAGES_CONSUMED: Final = Counter(
    "randomuser_messages_consumed",
    "Messages taken from a work queue, by queue and outcome "
    "(acked, requeued, dead_lettered).",
    ["queue", "outcome"],
)
DEAD_LETTERED: Final = Counter(
    "randomuser_messages_dead_lettered",
    "Messages this process rejected into the dead-letter queue, by queue and cause "
    "(undecodable, poison).",
    ["queue", "cause"],
)
CONSUMER_IN_FLIGHT: Final = Gauge(
    "randomuser_consumer_in_flight",
    "Messages being handled right now, by queue.",
    ["queue"],
)
REDELIVERIES: Final = Counter(
    "randomuser_consumer_redeliveries",
    "Messages that arrived flagged as redelivered, by queue.",
    ["queue"],
)
TRANSIENT_RETRIES: Final = Counter(
    "randomuser_consumer_transient_retries",
    "In-process retries of a message after a transient failure, by queue.",
    ["queue"],
)

AMQP_CONNECTION_EVENTS: Final = Counter(
    "randomuser_amqp_connection_events",
    "RabbitMQ connection losses and restorations (event: lost, restored);"
    " a restoration may be to another node of the cluster.",
    ["event"],
)
AMQP_NODE: Final = Gauge(
    "randomuser_amqp_node_info",
    "1 for the RabbitMQ node (host:port) this process is connected to.",
    ["node"],
)

UNMATCHED_ROUTE: Final = "unmatched"
_METHODS: Final = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
)
_CLIENT_CLOSED: Final = 499  # nginx's code for a client that went away


def http_metrics_middleware() -> Middleware:
    """A middleware counting and timing requests by route template and status.

    Put it first in the list, so it also sees what the error middleware
    renders. The labelled children are cached: on the hot path a request
    costs two clock reads, one dict look-up, an increment and an observation.
    """
    counters: dict[tuple[AbstractResource | None, str, int], Counter] = {}
    timers: dict[tuple[AbstractResource | None, str], Histogram] = {}

    def record(
        resource: AbstractResource | None, method: str, status: int, took: float
    ) -> None:
        if method not in _METHODS:
            method = "other"
        counter = counters.get((resource, method, status))
        if counter is None:
            route = resource.canonical if resource is not None else UNMATCHED_ROUTE
            counter = HTTP_REQUESTS.labels(route, method, str(status))
            counters[resource, method, status] = counter
        counter.inc()
        timer = timers.get((resource, method))
        if timer is None:
            route = resource.canonical if resource is not None else UNMATCHED_ROUTE
            timer = HTTP_DURATION.labels(route, method)
            timers[resource, method] = timer
        timer.observe(took)

    @web.middleware
    async def metrics(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        except asyncio.CancelledError:
            status = _CLIENT_CLOSED
            raise
        finally:
            record(
                request.match_info.route.resource,
                request.method,
                status,
                time.perf_counter() - started,
            )

    return metrics


async def metrics_endpoint(_: web.Request) -> web.Response:
    """GET /metrics: every collector of this process, in Prometheus text format."""
    return web.Response(
        body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST}
    )


def add_metrics_route(app: web.Application) -> None:
    """Register GET /metrics on `app` (scraped per process, never through nginx)."""
    app.router.add_get("/metrics", metrics_endpoint)
