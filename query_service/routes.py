"""The query API: its handlers, the application state they use, and every route.

The AppKey constants live here rather than in app.py because the handlers
need them and app.py imports this module (the reverse would be circular).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import time
from typing import TYPE_CHECKING, Final, TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from common.http import request_ids
from common.openapi import openapi_handler
from query_service import openapi, views
from query_service.live import LiveHub, TooManyClients
from query_service.read_model import ReadModelReader
from query_service.settings import QuerySettings
from query_service.snapshot_cache import SnapshotCache

if TYPE_CHECKING:
    from collections.abc import Mapping

    from query_service.served_snapshot import ServedSnapshot

SETTINGS: Final = web.AppKey("settings", QuerySettings)
READ_MODEL: Final = web.AppKey[ReadModelReader]("read_model")
SNAPSHOTS: Final = web.AppKey("snapshots", SnapshotCache)
LIVE: Final = web.AppKey("live", LiveHub)

JSON: Final = "application/json"
PROBLEM_JSON: Final = "application/problem+json"
NO_STORE: Final = "no-store"
PROXY_EXPIRES: Final = "X-Accel-Expires"
EVENT_STREAM: Final = "text/event-stream; charset=utf-8"
EVENT_ID: Final = re.compile(r"^[0-9]{13}\.[0-9]\.[A-Za-z0-9_.:\-]{1,128}$")

M = TypeVar("M", bound=BaseModel)


class Problem(Exception):
    """An error the client can act on; the middleware renders it as problem+json."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.headers = dict(headers or {})


class PageQuery(BaseModel):
    """Query string of a paged list."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    page: int = Field(default=1, ge=1, le=1_000_000, description="1-based page.")
    size: int = Field(default=50, ge=1, le=500, description="Users per page.")


def setup_routes(app: web.Application) -> None:
    """Register every route of the query API (GET also answers HEAD)."""
    app.router.add_get("/queries/countries", countries)
    app.router.add_get("/queries/countries/names", country_names)
    app.router.add_get("/queries/countries/{name}/users", country_users)
    app.router.add_get("/queries/sync-status", sync_status)
    app.router.add_get("/queries/events", events)
    app.router.add_get("/queries/openapi.json", openapi_handler(openapi.document()))


async def countries(request: web.Request) -> web.Response:
    """Every country with its users: the precomputed bytes, gzip when accepted."""
    served = await request.app[SNAPSHOTS].current()
    if served is None:
        return json_response(views.EMPTY_COUNTRIES, cache_control="no-cache")
    gzipped = accepts_gzip(request.headers.get("Accept-Encoding", ""))
    # Each encoding has its own tag, as nginx gives each file its own.
    tag = served.countries_tags[gzipped]
    headers = _validators(request.app, f'"{tag}"')
    headers["Vary"] = "Accept-Encoding"
    if _matches(request, served, tag):
        return web.Response(status=304, headers=headers)
    body = await served.countries_body(gzipped=gzipped)
    if body is None:
        raise _replaced(served.meta.id)
    if gzipped:
        headers["Content-Encoding"] = "gzip"
    headers["Content-Type"] = JSON
    return web.Response(body=body, headers=headers)


async def country_names(request: web.Request) -> web.Response:
    """Every country's name and counts, without users (precomputed bytes)."""
    served = await request.app[SNAPSHOTS].current()
    if served is None:
        return json_response(views.EMPTY_NAMES, cache_control="no-cache")
    headers = _validators(request.app, f'"{served.names_tag}"')
    if _matches(request, served, served.names_tag):
        return web.Response(status=304, headers=headers)
    headers["Content-Type"] = JSON
    return web.Response(body=served.head.names_json, headers=headers)


async def country_users(request: web.Request) -> web.Response:
    """One page of one country's users; the name in the path is URL-decoded."""
    query = parse_query(PageQuery, request.query)
    name = request.match_info["name"]
    served = await request.app[SNAPSHOTS].current()
    if served is None or name not in served.names:
        raise Problem(
            404, "Unknown country", f"there is no country {name!r} in the current data"
        )
    headers = _validators(request.app, served.etag)
    if _matches(request, served):
        return web.Response(status=304, headers=headers)
    start = (query.page - 1) * query.size
    users = await served.users(name, start, start + query.size)
    if users is None:
        raise _replaced(served.meta.id)
    body = views.page_body(
        served.meta,
        name,
        served.totals[name],
        users,
        page=query.page,
        size=query.size,
    )
    headers["Content-Type"] = JSON
    return web.Response(body=orjson.dumps(body), headers=headers)


def _replaced(snapshot_id: str) -> Problem:
    """The answer when the snapshot in memory was deleted before a part of it
    that was not in memory could be read: the pointer has moved on."""
    return Problem(
        503,
        "Snapshot replaced",
        f"snapshot {snapshot_id} was replaced while it was read; retry",
        headers={"Retry-After": "1"},
    )


async def sync_status(request: web.Request) -> web.Response:
    """The current snapshot, recent sync attempts and dead letters; never cached."""
    settings = request.app[SETTINGS]
    await request.app[SNAPSHOTS].current()  # follows a moved read model when due
    status = await request.app[READ_MODEL].sync_status(recent=settings.status_history)
    return json_response(views.sync_status_body(status), cache_control=NO_STORE)


async def events(request: web.Request) -> web.StreamResponse:
    """Server-Sent Events: `snapshot` and `sync` events as they happen, after
    those a client missed since `Last-Event-ID` (or, without it, the latest
    of each kind); a comment line when idle, so proxies keep the stream."""
    settings = request.app[SETTINGS]
    last_id = request.headers.get("Last-Event-ID") or None
    if last_id is not None and not EVENT_ID.match(last_id):
        raise Problem(
            400,
            "Invalid Last-Event-ID",
            "Last-Event-ID must be the id of an event this stream sent",
        )
    hub = request.app[LIVE]
    try:
        client = hub.connect()
    except TooManyClients:
        raise Problem(
            503,
            "Too many streams",
            f"this replica already streams to {settings.live_max_clients} clients;"
            " retry shortly, or poll /queries/sync-status",
            headers={"Retry-After": "5"},
        ) from None
    # No await between connect and since: nothing is published in between,
    # so the backlog and the live queue neither overlap nor leave a gap.
    backlog = hub.since(last_id)
    try:
        response = web.StreamResponse(
            headers={
                "Content-Type": EVENT_STREAM,
                "Cache-Control": NO_STORE,
                "X-Accel-Buffering": "no",
                **request_ids(),
            }
        )
        await response.prepare(request)
        await response.write(
            f"retry: {settings.live_retry_ms}\n\n".encode()
            + b"".join(event.encode() for event in backlog)
        )
        while True:
            try:
                event = await asyncio.wait_for(
                    client.queue.get(), settings.live_heartbeat_seconds
                )
            except TimeoutError:
                await response.write(b": heartbeat\n\n")
                continue
            if event is None:
                break
            await response.write(event.encode())
        with contextlib.suppress(ConnectionError):
            await response.write_eof()
    except ConnectionError:
        pass  # the client went away
    finally:
        hub.disconnect(client)
    return response


@functools.lru_cache(maxsize=256)
def accepts_gzip(accept_encoding: str) -> bool:
    """True when an Accept-Encoding value allows gzip (RFC 9110 §12.5.3).

    Memoised: clients send a handful of distinct values, and this runs on
    every request of the hot path.
    """
    star = False
    for item in accept_encoding.lower().split(","):
        coding, _, params = item.partition(";")
        coding = coding.strip()
        weight = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if coding in {"gzip", "x-gzip"}:
            return weight > 0
        if coding == "*":
            star = weight > 0
    return star


def _validators(app: web.Application, etag: str) -> dict[str, str]:
    # max-age=0 by default: caches revalidate every time and get a cheap 304
    # until the snapshot changes; CACHE_MAX_AGE_SECONDS trades freshness
    # for fewer revalidations.
    max_age = app[SETTINGS].cache_max_age_seconds
    return {
        "ETag": etag,
        "Cache-Control": f"public, max-age={max_age}, must-revalidate",
        # For nginx's micro-cache only (nginx never forwards it): keep this
        # until the end of the current second. A relative 1 s validity lasts
        # 1 to 2 s there (nginx counts whole seconds), so a reader that does
        # not revalidate would see a replaced snapshot for up to 2 s.
        PROXY_EXPIRES: f"@{int(time.time())}",
    }


def _matches(request: web.Request, served: ServedSnapshot, *file_tags: str) -> bool:
    """True when If-None-Match names the snapshot: its own weak tag, or one of
    the tags of the files nginx serves it from (`file_tags`)."""
    return if_none_match(request, served.meta.id, *file_tags)


def if_none_match(request: web.Request, *values: str) -> bool:
    """True when If-None-Match is `*` or names one of the tag `values`
    (opaque tags, without quotes or W/)."""
    tags = request.if_none_match
    # If-None-Match always compares weakly (RFC 9110 §13.1.2).
    return tags is not None and any(tag.value in {"*", *values} for tag in tags)


def parse_query(model: type[M], query: Mapping[str, str], *, status: int = 400) -> M:
    """The query string as `model`; a Problem naming the first bad parameter."""
    try:
        return model.model_validate(dict(query))
    except ValidationError as exc:
        error = exc.errors()[0]
        parameter = ".".join(str(part) for part in error["loc"])
        raise Problem(
            status,
            "Invalid query parameter",
            f"query parameter {parameter!r}: {error['msg']}",
        ) from exc


def json_response(
    body: object, *, cache_control: str, status: int = 200
) -> web.Response:
    return web.Response(
        body=orjson.dumps(body),
        status=status,
        headers={"Cache-Control": cache_control},
        content_type=JSON,
    )
