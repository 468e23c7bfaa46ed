"""HTTP plumbing shared by the aiohttp services: problem+json errors and request ids."""

from __future__ import annotations

import itertools
import logging
import os
import re
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Final

import orjson
from aiohttp import web

from common.logs import correlation_id_var, message_id_var

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from aiohttp.typedefs import Handler, Middleware

    ErrorRenderers = Mapping[type[Exception], Callable[[Any], web.Response]]
    """Exceptions of a service's own, each with the response that answers it."""

logger = logging.getLogger(__name__)

CORRELATION_HEADER: Final = "X-Correlation-ID"
REQUEST_ID_HEADER: Final = "X-Request-ID"
VALID_ID: Final = re.compile(r"^[A-Za-z0-9_.:\-]{1,128}$")
"""What an incoming X-Correlation-ID or X-Request-ID must look like to be kept."""
CORRELATION_ID: Final = web.RequestKey("correlation_id", str)
"""Request key under which the middleware stores the request's correlation id."""


def problem(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    extensions: Mapping[str, object] | None = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """An RFC 9457 problem+json response, never cached; `extensions` adds
    members of its own."""
    title = title or _reason(status)
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return web.Response(
        body=orjson.dumps({**body, **(extensions or {})}),
        status=status,
        headers={"Cache-Control": "no-store", **(headers or {})},
        content_type="application/problem+json",
    )


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


_REQUEST_ID_PREFIX: Final = os.urandom(8).hex()
_request_numbers: Final = itertools.count(1)


def request_context_middleware(errors: ErrorRenderers | None = None) -> Middleware:
    """The one middleware of both HTTP services: ids, log context, problem+json.

    Every request gets a correlation id (from `X-Correlation-ID`, or new) and
    a request id (nginx's `X-Request-ID`, or new); both are logged with every
    line the request causes and sent back. Every error becomes problem+json:
    aiohttp's HTTP errors, the service's own exceptions through `errors`, and
    anything else as a logged 500.
    """
    renderers = dict(errors or {})

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        correlation_id = request.headers.get(CORRELATION_HEADER, "")
        if not VALID_ID.match(correlation_id):
            # Same shape as contracts.base.new_id, a third of the cost: this
            # runs on every request of the read path.
            correlation_id = os.urandom(16).hex()
        # nginx names each request ($request_id) and sets the same id on its
        # response, so the proxy's and the service's logs share it. Else a
        # per-process random prefix and a counter: unique without a system
        # call per request.
        request_id = request.headers.get(REQUEST_ID_HEADER, "")
        if not VALID_ID.match(request_id):
            request_id = f"{_REQUEST_ID_PREFIX}{next(_request_numbers):x}"
        request[CORRELATION_ID] = correlation_id
        # The contextvars directly rather than common.logs.log_context: a
        # generator-based context manager per request costs throughput.
        token = correlation_id_var.set(correlation_id)
        request_token = message_id_var.set(request_id)
        try:
            response = await _answer(request, handler, renderers)
        finally:
            message_id_var.reset(request_token)
            correlation_id_var.reset(token)
        response.headers[CORRELATION_HEADER] = correlation_id
        response.headers[REQUEST_ID_HEADER] = request_id
        return response

    return middleware


def request_ids() -> dict[str, str]:
    """The current request's id headers, for a streamed response that must
    send its headers before the middleware sees it."""
    return {
        CORRELATION_HEADER: correlation_id_var.get() or "",
        REQUEST_ID_HEADER: message_id_var.get() or "",
    }


async def _answer(
    request: web.Request,
    handler: Handler,
    renderers: dict[type[Exception], Callable[[Any], web.Response]],
) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _http_problem(request, exc)
    except Exception as exc:
        for kind, render in renderers.items():
            if isinstance(exc, kind):
                return render(exc)
        logger.exception("unexpected error in %s %s", request.method, request.path)
        return problem(500, "an unexpected error occurred; it was logged")


def _http_problem(request: web.Request, exc: web.HTTPException) -> web.Response:
    given = exc.text if exc.text != f"{exc.status}: {exc.reason}" else None
    kept = ("Allow", "WWW-Authenticate", "Retry-After")
    headers = {name: exc.headers[name] for name in kept if name in exc.headers}
    return problem(
        exc.status,
        given or _default_detail(request, exc),
        title=exc.reason,
        headers=headers,
    )


def _default_detail(request: web.Request, exc: web.HTTPException) -> str:
    if isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = ", ".join(sorted(exc.allowed_methods))
        return f"{exc.method} is not allowed on {request.path}; allowed: {allowed}"
    if exc.status == 404:
        return f"there is no resource at {request.path}"
    if exc.status == 413:
        return "request body too large"
    return exc.reason
