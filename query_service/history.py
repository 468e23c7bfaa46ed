"""Snapshot history: the kept snapshots, an old one whole, and what changed.

The projector keeps the newest SNAPSHOTS_KEPT promoted snapshots. A kept
snapshot never changes, so its answers are cacheable for good; one that was
promoted and then deleted answers 410 for as long as its sync record lives
(SYNC_RETENTION_DAYS), an id never promoted 404.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from query_service import bodies, views
from query_service.diff import diff, total
from query_service.routes import (
    JSON,
    NO_STORE,
    PROXY_EXPIRES,
    READ_MODEL,
    SNAPSHOTS,
    Problem,
    accepts_gzip,
    if_none_match,
    json_response,
    parse_query,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

    from query_service.records import CountryUsers, Snapshot

IMMUTABLE: Final = "public, max-age=31536000, immutable"
GATEWAY_SECONDS: Final = "60"
"""How long nginx's micro-cache keeps a kept snapshot's answer: a deleted one
answers 410 through nginx at most this late."""


class HistoryQuery(BaseModel):
    """Query string of the snapshot list."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    page: int = Field(default=1, ge=1, le=1_000_000, description="1-based page.")
    size: int = Field(default=20, ge=1, le=100, description="Snapshots per page.")


class DiffQuery(BaseModel):
    """Query string of a diff."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    base: str = Field(
        alias="from",
        min_length=1,
        max_length=128,
        description="The snapshot to compare with (usually an older one).",
    )
    country: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="Only this country.",
    )


def setup_history_routes(app: web.Application) -> None:
    """Register the history routes (GET also answers HEAD)."""
    app.router.add_get("/queries/snapshots", list_snapshots)
    app.router.add_get("/queries/snapshots/{id}/countries", snapshot_countries)
    app.router.add_get("/queries/snapshots/{id}/diff", snapshot_diff)


async def list_snapshots(request: web.Request) -> web.Response:
    """The kept snapshots, newest first, one page."""
    query = parse_query(HistoryQuery, request.query, status=422)
    skip = (query.page - 1) * query.size
    await request.app[SNAPSHOTS].current()  # follows a moved read model when due
    metas, total = await request.app[READ_MODEL].snapshots(skip=skip, limit=query.size)
    body: bodies.SnapshotListBody = {
        "snapshots": [
            # The list ends at the pointer's snapshot: the newest is current.
            {**views.snapshot_body(meta), "current": skip + index == 0}
            for index, meta in enumerate(metas)
        ],
        "page": query.page,
        "size": query.size,
        "total": total,
        "pages": -(-total // query.size),
    }
    return json_response(body, cache_control=NO_STORE)


async def snapshot_countries(request: web.Request) -> web.Response:
    """A kept snapshot's /queries/countries body, as it was served."""
    snapshot = await _kept(request, request.match_info["id"])
    headers = _immutable(snapshot.meta.id)
    headers["Vary"] = "Accept-Encoding"
    if if_none_match(request, snapshot.meta.id):
        return web.Response(status=304, headers=headers)
    body = snapshot.countries_json
    if accepts_gzip(request.headers.get("Accept-Encoding", "")):
        headers["Content-Encoding"] = "gzip"
        body = snapshot.countries_gzip
    headers["Content-Type"] = JSON
    return web.Response(body=body, headers=headers)


async def snapshot_diff(request: web.Request) -> web.Response:
    """What changed from `from` to this snapshot, per country."""
    query = parse_query(DiffQuery, request.query, status=422)
    target = await _kept(request, request.match_info["id"])
    base = await _kept(request, query.base)
    tag = f"{base.meta.id}..{target.meta.id}"
    headers = _immutable(tag)
    if if_none_match(request, tag):
        return web.Response(status=304, headers=headers)
    names = {c.name for c in base.countries} | {c.name for c in target.countries}
    if query.country is not None:
        if query.country not in names:
            raise Problem(
                404,
                "Unknown country",
                f"there is no country {query.country!r} in either snapshot",
            )
        names = {query.country}
    before = await _countries(request, base, names)
    after = await _countries(request, target, names)
    countries = diff(before, after)
    body: bodies.DiffBody = {
        "from": views.snapshot_body(base.meta),
        "to": views.snapshot_body(target.meta),
        "counts": total(c["counts"] for c in countries),
        "countries": countries,
    }
    headers["Content-Type"] = JSON
    return web.Response(body=orjson.dumps(body), headers=headers)


async def _kept(request: web.Request, snapshot_id: str) -> Snapshot:
    """A kept, promoted snapshot; 410 when it was deleted, 404 when it never was."""
    await request.app[SNAPSHOTS].current()  # follows a moved read model when due
    read_model = request.app[READ_MODEL]
    snapshot = await read_model.snapshot(snapshot_id)
    pointer = await read_model.pointer()
    if (
        snapshot is not None
        and pointer is not None
        and snapshot.order_key <= pointer.order_key
    ):
        return snapshot
    record = await read_model.sync(snapshot_id)
    if record is not None and record.promoted_at is not None and snapshot is None:
        raise Problem(
            410,
            "Snapshot deleted",
            f"snapshot {snapshot_id!r} was promoted but is no longer kept"
            " (the projector keeps the newest SNAPSHOTS_KEPT)",
        )
    raise Problem(
        404, "Unknown snapshot", f"there is no promoted snapshot {snapshot_id!r}"
    )


async def _countries(
    request: web.Request, snapshot: Snapshot, names: Iterable[str]
) -> list[CountryUsers]:
    read_model = request.app[READ_MODEL]
    countries = []
    for name in sorted(names):
        country = await read_model.country(snapshot.meta.id, name)
        if country is not None:
            countries.append(country)
        elif name in {c.name for c in snapshot.countries}:
            raise Problem(
                503,
                "Snapshot deleted while read",
                f"snapshot {snapshot.meta.id} was deleted while it was read; retry",
                headers={"Retry-After": "1"},
            )
    return countries


def _immutable(tag: str) -> dict[str, str]:
    """Validators of an answer that never changes, with the weak tag `tag`."""
    return {
        "ETag": f'W/"{tag}"',
        "Cache-Control": IMMUTABLE,
        PROXY_EXPIRES: GATEWAY_SECONDS,
    }
