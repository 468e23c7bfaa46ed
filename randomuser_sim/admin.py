"""The `/_sim/` admin API: queue faults, read statistics, reset rate counters."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web
from pydantic import ValidationError

from randomuser_sim.faults import FaultRequest
from randomuser_sim.state import SIM


async def post_fault(request: web.Request) -> web.Response:
    """Queue `{"mode", "count", "delay"}`; 201 with every pending fault.

    400 for a body that is not JSON, 422 for an unknown mode or a bad count or delay.
    """
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        return web.json_response({"error": "body is not JSON"}, status=400)
    try:
        fault = FaultRequest.model_validate(body)
    except ValidationError as exc:
        details = exc.errors(
            include_url=False, include_context=False, include_input=False
        )
        return web.json_response(
            {"error": "invalid fault", "details": details}, status=422
        )
    request.app[SIM].faults.add(fault)
    return _faults(request, status=201)


async def get_faults(request: web.Request) -> web.Response:
    """Pending faults, next first."""
    return _faults(request)


async def delete_faults(request: web.Request) -> web.Response:
    """Drop every pending fault."""
    request.app[SIM].faults.clear()
    return _faults(request)


async def get_stats(request: web.Request) -> web.Response:
    """`{"requests": n, "users_served": n}` since start."""
    stats = request.app[SIM].stats
    body: dict[str, Any] = {
        "requests": stats.requests,
        "users_served": stats.users_served,
    }
    return web.json_response(body)


async def get_served(request: web.Request) -> web.Response:
    """`{"requests": [...]}`: every API request (the latest 1,000), oldest first,
    with its query parameters, status, fault, and the users its body held
    (name, gender, email, country, nat, login uuid). The oracle of the tests.
    """
    served = [entry.describe() for entry in request.app[SIM].served]
    return web.json_response({"requests": served})


async def delete_served(request: web.Request) -> web.Response:
    """Forget the served record."""
    request.app[SIM].served.clear()
    return web.Response(status=204)


async def get_health(request: web.Request) -> web.Response:
    """Liveness, naming the service and this process's instance id."""
    state = request.app[SIM]
    return web.json_response(
        {"status": "ok", "service": "randomuser_sim", "instance": state.instance}
    )


async def delete_rate_limit(request: web.Request) -> web.Response:
    """Reset every client's rate-limit counter."""
    request.app[SIM].limiter.reset()
    return web.Response(status=204)


async def unknown(request: web.Request) -> web.Response:
    """Any other `/_sim/` route: a JSON 404 that neither counts nor takes a fault."""
    return web.json_response(
        {"error": f"no admin route {request.method} {request.path}"}, status=404
    )


def _faults(request: web.Request, status: int = 200) -> web.Response:
    return web.json_response(
        {"faults": request.app[SIM].faults.describe()}, status=status
    )
