"""Request handlers of the command API, and the one place routes are listed."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING, Final

import aio_pika
import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential

from command_service import openapi
from command_service.auth import require_bearer
from command_service.idempotency import (
    HEADER as IDEMPOTENCY_KEY,
)
from command_service.idempotency import (
    KEY_PATTERN,
    KeyReusedError,
    fingerprint,
)
from command_service.keys import IDEMPOTENCY, PUBLISHER, SETTINGS
from common.http import CORRELATION_ID, problem
from common.openapi import openapi_handler
from common.retrying import log_retry
from contracts.commands import (
    MAX_SYNC_RESULTS,
    NATIONALITIES,
    Nationality,
    SyncRequested,
    normalise_nationalities,
)

SPECIAL_SEED_LENGTH: Final = 18

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails

    from common.amqp import Publisher

logger = logging.getLogger(__name__)


class SyncCommandBody(BaseModel):
    """What a caller may ask of one sync."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    results: int | None = Field(
        default=None,
        ge=1,
        le=MAX_SYNC_RESULTS,
        strict=True,
        description="How many users to fetch; the service's default when absent.",
    )
    nationalities: tuple[Nationality, ...] | None = Field(
        default=None,
        min_length=1,
        max_length=21,
        description="Only users of these nationalities (upstream's `nat`); all when absent.",
    )
    seed: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_\-]+$",
        description="Upstream's seed: the same seed gives the same users; a new one"
        " each sync when absent.",
    )

    @field_validator("seed")
    @classmethod
    def _no_hanging_seed(cls, value: str | None) -> str | None:
        # Upstream reads an 18-character seed's last two characters as a
        # nationality index (hex 00-14) and never answers for any other.
        if value is not None and len(value) == SPECIAL_SEED_LENGTH:
            suffix = value[-2:]
            valid = all(c in "0123456789abcdefABCDEF" for c in suffix)
            if not valid or int(suffix, 16) >= len(NATIONALITIES):
                raise ValueError(
                    "an 18-character seed must end in a hex nationality index 00-14"
                )
        return value

    @field_validator("nationalities", mode="before")
    @classmethod
    def _upper_case(cls, value: object) -> object:
        # A JSON array only: a string is refused as not an array.
        return normalise_nationalities(value) if isinstance(value, list) else value


class UnconfirmedCommandError(Exception):
    """The broker did not confirm a command: it may or may not be queued."""

    def __init__(self, command_id: str) -> None:
        super().__init__(command_id)
        self.command_id = command_id


def _unconfirmed(exc: UnconfirmedCommandError) -> web.Response:
    """503 naming the command, so a caller can look for its outcome before retrying."""
    response = problem(
        503,
        f"the message broker did not confirm command {exc.command_id}; it may"
        " still run: look for its outcome in /queries/sync-status before retrying",
        extensions={"command_id": exc.command_id},
    )
    response.headers["Retry-After"] = "5"
    return response


def _describe(errors: list[ErrorDetails]) -> str:
    parts = []
    for error in errors:
        where = ".".join(str(part) for part in error["loc"]) or "body"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


async def _parse_body(request: web.Request) -> SyncCommandBody:
    raw = await request.read()
    if not raw.strip():
        return SyncCommandBody()
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(
            text=f"body must be application/json, not {request.content_type}"
        )
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise web.HTTPBadRequest(text=f"body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text="body must be a JSON object")
    try:
        return SyncCommandBody.model_validate(data)
    except ValidationError as exc:
        raise web.HTTPUnprocessableEntity(text=_describe(exc.errors())) from None


async def post_sync(request: web.Request) -> web.Response:
    """Accept a sync trigger: 202 once the broker has confirmed the command.

    With an `Idempotency-Key` header, a repeat of the same request within the
    window publishes nothing and answers 200 with the first command; the same
    key with another body conflicts with that command: 409.
    """
    settings = request.app[SETTINGS]
    require_bearer(request, settings.command_token)
    key = request.headers.get(IDEMPOTENCY_KEY)
    if key is None:
        try:
            return _accepted(await _publish(request), replayed=False)
        except UnconfirmedCommandError as exc:
            return _unconfirmed(exc)
    if not re.fullmatch(KEY_PATTERN, key):
        raise web.HTTPBadRequest(
            text=f"{IDEMPOTENCY_KEY} must be 1-128 letters, digits or ._:-"
        )
    raw = await request.read()
    try:
        answer, replayed = await request.app[IDEMPOTENCY].answer(
            key, fingerprint(raw), lambda: _publish(request)
        )
    except UnconfirmedCommandError as exc:
        return _unconfirmed(exc)
    except KeyReusedError:
        raise web.HTTPConflict(
            text=f"this {IDEMPOTENCY_KEY} was used for a different request body"
        ) from None
    if replayed:
        logger.info("sync command repeated with idempotency key %s", key)
    return _accepted(answer, replayed=replayed)


def _accepted(answer: bytes, *, replayed: bool) -> web.Response:
    headers = {"Location": "/queries/sync-status"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return web.Response(
        body=answer,
        status=200 if replayed else 202,
        content_type="application/json",
        headers=headers,
    )


async def _publish(request: web.Request) -> bytes:
    """Publish the command `request` asks for; its JSON answer once confirmed."""
    settings = request.app[SETTINGS]
    body = await _parse_body(request)
    if body.results is not None and body.results > settings.sync_max_results:
        raise web.HTTPUnprocessableEntity(
            text=f"results: at most {settings.sync_max_results} (SYNC_MAX_RESULTS)"
        )
    command = SyncRequested(
        correlation_id=request[CORRELATION_ID],
        results=body.results or settings.default_sync_results,
        nationalities=body.nationalities,
        seed=body.seed,
        trigger="api",
    )
    try:
        async with asyncio.timeout(settings.publish_timeout_seconds):
            await _publish_until_sent(request.app[PUBLISHER], command)
    except (
        TimeoutError,
        ConnectionError,
        aio_pika.exceptions.AMQPError,
        aio_pika.exceptions.ChannelInvalidStateError,
    ) as exc:
        logger.warning("could not publish command %s: %r", command.command_id, exc)
        raise UnconfirmedCommandError(command.command_id) from None
    logger.info(
        "sync command %s accepted (%d users)", command.command_id, command.results
    )
    return orjson.dumps(
        {
            "command_id": command.command_id,
            "correlation_id": command.correlation_id,
            "status": "accepted",
            "results": command.results,
            "nationalities": command.nationalities,
            "seed": command.seed,
            "requested_at": command.requested_at.isoformat(),
        }
    )


async def _publish_until_sent(publisher: Publisher, command: SyncRequested) -> None:
    """Publish `command`, again while its channel is closed (the caller's
    deadline bounds it).

    A closed channel refuses the message before it is sent, so publishing it
    again cannot double it: while the connection moves to another broker node
    (under a second) a POST waits and gets its 202, instead of a 503.
    """
    retrying = AsyncRetrying(
        retry=retry_if_exception_type(aio_pika.exceptions.ChannelInvalidStateError),
        wait=wait_exponential(multiplier=0.05, max=1.0),
        before_sleep=log_retry(logger, f"command {command.command_id} not sent"),
        reraise=True,
    )
    await retrying(publisher.publish, command)


def setup_routes(app: web.Application) -> None:
    """Every route of the command API."""
    app.router.add_post("/commands/sync", post_sync)
    document = openapi.document(max_results=app[SETTINGS].sync_max_results)
    app.router.add_get("/commands/openapi.json", openapi_handler(document))
