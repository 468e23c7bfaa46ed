"""Builds the simulator's aiohttp application (its composition root)."""

from __future__ import annotations

from aiohttp import web

from randomuser_sim import admin, api
from randomuser_sim.config import SimConfig
from randomuser_sim.state import SIM, SimState


def create_app(config: SimConfig | None = None) -> web.Application:
    """The randomuser.me stand-in: `/api[/1.4|/1.3]` plus the `/_sim/` admin API."""
    app = web.Application()
    state = SimState(config or SimConfig())
    app[SIM] = state

    async def release_hangs(_: web.Application) -> None:
        state.stopping.set()

    app.on_shutdown.append(release_hangs)
    setup_routes(app)
    return app


def setup_routes(app: web.Application) -> None:
    """Every route: the admin API first, then everything else is the service."""
    app.router.add_post("/_sim/faults", admin.post_fault)
    app.router.add_get("/_sim/faults", admin.get_faults, allow_head=False)
    app.router.add_delete("/_sim/faults", admin.delete_faults)
    app.router.add_get("/_sim/stats", admin.get_stats, allow_head=False)
    app.router.add_delete("/_sim/rate-limit", admin.delete_rate_limit)
    app.router.add_get("/_sim/served", admin.get_served, allow_head=False)
    app.router.add_delete("/_sim/served", admin.delete_served)
    app.router.add_get("/_sim/healthz", admin.get_health, allow_head=False)
    app.router.add_route("*", "/_sim/{path:.*}", admin.unknown)
    app.router.add_route("*", "/{path:.*}", api.handle)
