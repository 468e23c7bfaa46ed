"""HTTP plumbing shared by the aiohttp services: problem+json errors and request ids."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Final

import orjson
from aiohttp import web

from common.logs import log_context
from contracts.base import new_id

if TYPE_CHECKING:
    from collections.abc import Mapping

    from aiohttp.typedefs import Handler

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
) -> web.Response:
    """An RFC 9457 problem+json response; `extensions` adds members of its own."""
    title = title or _reason(status)
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return web.Response(
        body=orjson.dumps({**body, **(extensions or {})}),
        status=status,
        content_type="application/problem+json",
    )


def _reason(status: int) -> str:
    try:
        from http import HTTPStatus

        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


@web.middleware
async def request_context_middleware(
    request: web.Request, handler: Handler
) -> web.StreamResponse:
    """Give every request a correlation id (from `X-Correlation-ID` or new)
    and a request id (from `X-Request-ID`, set by nginx, or new), log with
    them, and turn every error into problem+json.
    """
    correlation_id = _id_or_new(request.headers.get(CORRELATION_HEADER, ""))
    # nginx names each request ($request_id) and sets the same id on its
    # response, so the proxy's and the service's logs share it.
    request_id = _id_or_new(request.headers.get(REQUEST_ID_HEADER, ""))
    request[CORRELATION_ID] = correlation_id
    with log_context(correlation_id=correlation_id, message_id=request_id):
        response = await _problem_on_error(request, handler)
    response.headers[CORRELATION_HEADER] = correlation_id
    response.headers[REQUEST_ID_HEADER] = request_id
    return response


def _id_or_new(incoming: str) -> str:
    return incoming if VALID_ID.match(incoming) else new_id()


async def _problem_on_error(
    request: web.Request, handler: Handler
) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        detail = (
            exc.text if exc.text and exc.text != f"{exc.status}: {exc.reason}" else None
        )
        response = problem(exc.status, detail or _default_detail(request, exc))
        for name in ("Allow", "WWW-Authenticate", "Retry-After"):
            if name in exc.headers:
                response.headers[name] = exc.headers[name]
        return response
    except Exception:
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return problem(500, "internal error; see the service log for this request id")


def _default_detail(request: web.Request, exc: web.HTTPException) -> str:
    if exc.status == 404:
        return f"no route for {request.path}"
    if exc.status == 405:
        return f"method {request.method} not allowed on {request.path}"
    if exc.status == 413:
        return "request body too large"
    return exc.reason
