"""Liveness and readiness: named checks, and the /healthz and /readyz routes."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from aiohttp import web

from common.metrics import add_metrics_route

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


class Readiness:
    """Named boolean checks; the process is ready when all of them pass."""

    def __init__(self, *names: str, service: str, instance: str) -> None:
        self._checks = dict.fromkeys(names, False)
        self._stopping = False
        self.identity: dict[str, str] = {"service": service, "instance": instance}
        """Who answers: the service's name and this process's instance id."""

    def set(self, name: str, *, ok: bool) -> None:
        """Record the state of one check."""
        self._checks[name] = ok

    def stopping(self) -> None:
        """Report not ready from now on (the process is shutting down)."""
        self._stopping = True

    @property
    def ready(self) -> bool:
        """True when no check fails and the process is not stopping."""
        return not self._stopping and all(self._checks.values())

    def report(self) -> dict[str, object]:
        """The state of every check, for the /readyz body."""
        return {
            **self.identity,
            "ready": self.ready,
            "stopping": self._stopping,
            "checks": dict(self._checks),
        }


READINESS = web.AppKey("readiness", Readiness)


async def healthz(request: web.Request) -> web.Response:
    """Liveness: the event loop answers, naming the service and its instance.

    The name and instance let whoever started the process check that a port is
    answered by the process it started, not by another one that took the port.
    """
    return web.json_response({"status": "ok", **request.app[READINESS].identity})


async def readyz(request: web.Request) -> web.Response:
    """Readiness: 200 when every dependency is reachable, else 503."""
    readiness = request.app[READINESS]
    return web.json_response(readiness.report(), status=200 if readiness.ready else 503)


def add_health_routes(app: web.Application, readiness: Readiness) -> None:
    """Register /healthz and /readyz on `app`, backed by `readiness`."""
    app[READINESS] = readiness
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)


@asynccontextmanager
async def serve_health(
    readiness: Readiness, host: str, port: int
) -> AsyncIterator[None]:
    """Serve /healthz, /readyz and /metrics for a worker process while the block runs."""
    app = web.Application()
    add_health_routes(app, readiness)
    add_metrics_route(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    try:
        yield
    finally:
        await runner.cleanup()
