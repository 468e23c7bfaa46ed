"""The simulated `/api` endpoint: routing, rate limit, faults, generation, headers."""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import re
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import TYPE_CHECKING, Final

from aiohttp import web

from randomuser_sim import pages
from randomuser_sim.corrupt import hostile, malformed
from randomuser_sim.faults import CLOUDFLARE_STATUS, Fault
from randomuser_sim.generator import User, generate
from randomuser_sim.params import Unanswerable, parse_params
from randomuser_sim.render import JSON_TYPE, info_block, render
from randomuser_sim.state import SIM, Served, SimState, served_user
from randomuser_sim.versions import VERSIONS

_RECORDED: Final = web.RequestKey("randomuser_sim.recorded", bool)
"""Set on a request once the served record has an entry for it."""

if TYPE_CHECKING:
    from randomuser_sim.faults import FaultMode
    from randomuser_sim.render import Rendered

_API_ROOT: Final = re.compile(r"/api(?:/|$)", re.IGNORECASE)
_API_PATH: Final = re.compile(r"/api(?:/(?P<version>[^/]+))?/?", re.IGNORECASE)
_LATEST: Final = "1.4"
_HANG_POLL_SECONDS: Final = 0.5
_GZIP_MIN_BYTES: Final = 1024


def client_ip(request: web.Request) -> str:
    """The address production counts against: CF-Connecting-IP, X-Real-IP,
    X-Forwarded-For (verbatim), else the peer.
    """
    for header in ("CF-Connecting-IP", "X-Real-IP", "X-Forwarded-For"):
        if value := request.headers.get(header):
            return value
    return request.remote or "unknown"


def preflight(request: web.Request) -> web.Response:
    """CORS pre-flight: 204 allowing every origin and the requested headers."""
    headers = {
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Allow-Methods": "GET,HEAD,PUT,PATCH,POST,DELETE",
        "Vary": "Access-Control-Request-Headers",
        "X-Powered-By": "Express",
    }
    if requested := request.headers.get("Access-Control-Request-Headers"):
        headers["Access-Control-Allow-Headers"] = requested
    return web.Response(status=204, headers=headers)


async def handle(request: web.Request) -> web.StreamResponse:
    """Every request outside `/_sim/`: what randomuser.me would answer."""
    if request.method == "OPTIONS":
        return preflight(request)
    state = request.app[SIM]
    state.stats.requests += 1
    fault = state.faults.take()
    if state.config.latency_ms:
        await asyncio.sleep(state.config.latency_ms / 1000)
    if fault is not None:
        if fault.mode == "hang":
            hung = await hang(request, state)
            _record(request, state, hung.status, fault.mode, complete=False)
            return hung
        if (canned := _canned(fault.mode, request, state)) is not None:
            _record(request, state, canned.status, fault.mode, complete=True)
            return canned
    served = await _serve(request, state, fault)
    if not request.get(_RECORDED, False):
        # Refused before any user was generated: 404, rate limit, or a hang.
        _record(request, state, served.status, None, complete=True)
    return served


def _record(
    request: web.Request,
    state: SimState,
    status: int,
    fault: str | None,
    *,
    complete: bool,
    users: list[User] | None = None,
) -> None:
    request[_RECORDED] = True
    state.served.append(
        Served(
            method=request.method,
            path=request.path,
            params=dict(request.query),
            status=status,
            fault=fault,
            complete=complete,
            users=[served_user(user) for user in users or []],
        )
    )


def _canned(
    mode: FaultMode, request: web.Request, state: SimState
) -> web.Response | None:
    """The fixed answer a fault gives, or None when the origin still generates."""
    match mode:
        case "http_500":
            return pages.internal_error()
        case (
            "http_502_cloudflare"
            | "http_503_cloudflare"
            | "http_504_cloudflare"
            | "http_520_cloudflare"
        ):
            return pages.cloudflare_error(CLOUDFLARE_STATUS[mode], state.ray_id())
        case "http_403_cloudflare_block":
            return pages.cloudflare_block(state.ray_id(), client_ip(request))
        case "rate_limit":
            return pages.rate_limited(state.limiter.count(client_ip(request)))
        case "rate_limit_503":
            return pages.rate_limited(state.limiter.count(client_ip(request)), 503)
        case "error_json":
            return pages.error_json()
        case "empty_body":
            return pages.origin(200, b"", JSON_TYPE)
        case "placeholder":
            return pages.origin(200, pages.PLACEHOLDER, JSON_TYPE)
        case "not_found":
            return pages.not_found()
        case (
            "hang"
            | "truncated"
            | "empty_results"
            | "slow"
            | "hostile"
            | "malformed_users"
        ):
            return None


async def _serve(
    request: web.Request, state: SimState, fault: Fault | None
) -> web.StreamResponse:
    if not _API_ROOT.match(request.path) or request.method not in ("GET", "HEAD"):
        return pages.not_found()
    client = client_ip(request)
    if (count := state.limiter.refusal(client)) is not None:
        return pages.rate_limited(count)
    match = _API_PATH.fullmatch(request.path)
    version = VERSIONS.get(match.group("version") or _LATEST) if match else None
    if version is None:
        return pages.not_found()

    mode = None if fault is None else fault.mode
    try:
        params = parse_params(request.query.items(), version, state.new_seed)
        state.limiter.add(client, params.results)
        users = [] if mode == "empty_results" else generate(params, version, _now())
    except Unanswerable:
        return await hang(request, state)
    if mode == "hostile":
        users = hostile(users)
    elif mode == "malformed_users":
        users = malformed(users)
    rendered = render(params, users, info_block(params, version.name, params.results))
    body = rendered.body
    if mode == "truncated":
        body = body[: len(body) // 2]
    if fault is not None and mode == "slow":
        await asyncio.sleep(fault.delay)
    state.stats.users_served += len(users)
    response = await _respond(request, state, rendered, body, download=params.download)
    _record(
        request,
        state,
        response.status,
        mode,
        complete=mode != "truncated",
        users=users,
    )
    return response


async def _respond(
    request: web.Request,
    state: SimState,
    rendered: Rendered,
    body: bytes,
    *,
    download: bool,
) -> web.Response:
    headers = {**pages.ORIGIN_HEADERS, "Content-Type": rendered.content_type}
    if download:
        headers["Content-Type"] = "application/octet-stream"
        headers["Content-Disposition"] = (
            f'attachment; filename="download.{rendered.extension}"'
        )
        headers["Accept-Ranges"] = "bytes"
        headers["Last-Modified"] = format_datetime(_now(), usegmt=True)
    etag = _weak_etag(body)
    headers["ETag"] = etag
    if _fresh(request, etag):
        return web.Response(status=304, headers=headers)
    if (
        state.config.gzip
        and len(body) >= _GZIP_MIN_BYTES
        and "gzip" in request.headers.get("Accept-Encoding", "")
    ):
        # zlib releases the GIL: compressing in a thread keeps the loop serving.
        body = await asyncio.to_thread(gzip.compress, body, 1, mtime=0)
        headers["Content-Encoding"] = "gzip"
    return web.Response(status=200, body=body, headers=headers)


def _weak_etag(body: bytes) -> str:
    # Express's `etag` package: length in hex and a truncated base64 SHA-1.
    digest = base64.b64encode(hashlib.sha1(body, usedforsecurity=False).digest())
    return f'W/"{len(body):x}-{digest[:27].decode()}"'


def _fresh(request: web.Request, etag: str) -> bool:
    wanted = request.headers.get("If-None-Match")
    if not wanted or "no-cache" in request.headers.get("Cache-Control", ""):
        return False
    return wanted.strip() == "*" or etag in (tag.strip() for tag in wanted.split(","))


def _now() -> datetime:
    return datetime.now(UTC)


async def hang(request: web.Request, state: SimState) -> web.Response:
    """Never answer: hold the request until the client leaves or the server stops.

    Production does this for the inputs its generator throws on (5.4). The handler is
    cancelled when the client disconnects (aiohttp's `handler_cancellation`, which the
    test client and `__main__` use); otherwise the loop below notices within
    `_HANG_POLL_SECONDS`. Either way nothing stays behind.
    """
    state.hanging += 1
    try:
        while not _client_gone(request) and not state.stopping.is_set():
            try:
                await asyncio.wait_for(state.stopping.wait(), _HANG_POLL_SECONDS)
            except TimeoutError:
                continue
        if request.transport is not None:
            request.transport.close()
        # Unwritable now: aiohttp drops it as a premature disconnection.
        return web.Response(status=504)
    finally:
        state.hanging -= 1


def _client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()
