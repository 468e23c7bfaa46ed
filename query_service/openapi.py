"""The query API's route table and OpenAPI 3.1 document (GET /queries/openapi.json)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from common.openapi import (
    RETRY_AFTER,
    Document,
    Header,
    Operation,
    Parameter,
    Response,
    api_document,
    document_operation,
    problem,
)
from query_service import bodies

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from pydantic import BaseModel

TAG: Final = "queries"

IF_NONE_MATCH: Final = Parameter(
    "If-None-Match",
    "header",
    "An ETag from an earlier answer: 304 while the snapshot is the same.",
)
CACHE_HEADERS: Final = {
    "ETag": Header(
        'The snapshot\'s tag (absent before the first sync): `W/"<snapshot id>"`, '
        "except on /queries/countries and /queries/countries/names, which carry "
        'the tag nginx gives the snapshot\'s file (`"<stamp>-<length>"` in hex, '
        "one per encoding)."
    ),
    "Cache-Control": Header(
        "`public, max-age=<CACHE_MAX_AGE_SECONDS>, must-revalidate`."
    ),
}
NOT_MODIFIED: Final = Response(
    "Not modified: the snapshot still has this ETag.", headers=CACHE_HEADERS
)
SNAPSHOT_ID: Final = Parameter(
    "id", "path", "A snapshot's id (the sync that made it).", example="a1b2c3"
)
IMMUTABLE_HEADERS: Final = {
    "ETag": Header('`W/"<snapshot id>"` (a diff: both ids).'),
    "Cache-Control": Header("`public, max-age=31536000, immutable`."),
}
GONE: Final = problem(
    "The snapshot was promoted but is no longer kept (SNAPSHOTS_KEPT)."
)
UNAVAILABLE: Final = problem(
    "The read model cannot be reached (or the snapshot changed while read); retry.",
    **{"Retry-After": RETRY_AFTER},
)


def _snapshot_read(
    path: str,
    operation_id: str,
    summary: str,
    ok: Response,
    *,
    parameters: Sequence[Parameter] = (),
    query: type[BaseModel] | None = None,
    errors: Mapping[int, Response] | None = None,
) -> Operation:
    """A read of the current snapshot: it has an ETag and honours If-None-Match."""
    return Operation(
        "get",
        path,
        operation_id,
        summary,
        {200: ok, 304: NOT_MODIFIED, **(errors or {}), 503: UNAVAILABLE},
        parameters=[*parameters, IF_NONE_MATCH],
        query=query,
    )


def document() -> Document:
    """The OpenAPI 3.1 document of the query API."""
    # routes.py imports this module to serve the document, so the query model
    # is imported once both modules are loaded.
    from query_service.history import DiffQuery, HistoryQuery
    from query_service.routes import PageQuery

    return api_document(
        title="Randomuser connector: query API",
        description="Reads of the current snapshot (the last successful sync), "
        "of the kept snapshots and of the sync history. GET also answers HEAD. Responses of the "
        "snapshot carry an ETag and honour If-None-Match with 304.",
        tag=TAG,
        tag_description="Read side",
        operations=[
            _snapshot_read(
                "/queries/countries",
                "listCountries",
                "Every country with its users",
                Response(
                    "The current snapshot (gzip when accepted).",
                    bodies.CountriesBody,
                    headers=CACHE_HEADERS,
                ),
            ),
            _snapshot_read(
                "/queries/countries/names",
                "listCountryNames",
                "Country names with user counts",
                Response(
                    "Names and counts of the current snapshot.",
                    bodies.NamesBody,
                    headers=CACHE_HEADERS,
                ),
            ),
            _snapshot_read(
                "/queries/countries/{name}/users",
                "listCountryUsers",
                "One page of a country's users",
                Response("The page.", bodies.CountryPageBody, headers=CACHE_HEADERS),
                parameters=[
                    Parameter(
                        "name",
                        "path",
                        "The country's name, as listed (URL-encoded).",
                        example="Germany",
                    )
                ],
                query=PageQuery,
                errors={
                    400: problem("`page` or `size` is out of range or not a number."),
                    404: problem("No such country in the current snapshot."),
                },
            ),
            Operation(
                "get",
                "/queries/snapshots",
                "listSnapshots",
                "The kept snapshots, newest first",
                {
                    200: Response(
                        "One page of the snapshots kept (SNAPSHOTS_KEPT); never"
                        " cached (`Cache-Control: no-store`).",
                        bodies.SnapshotListBody,
                    ),
                    422: problem("`page` or `size` is out of range or not a number."),
                    503: UNAVAILABLE,
                },
                query=HistoryQuery,
            ),
            Operation(
                "get",
                "/queries/snapshots/{id}/countries",
                "getSnapshotCountries",
                "A kept snapshot's countries, as /queries/countries served them",
                {
                    200: Response(
                        "The snapshot (gzip when accepted); immutable, so cacheable"
                        " for good.",
                        bodies.CountriesBody,
                        headers=IMMUTABLE_HEADERS,
                    ),
                    304: NOT_MODIFIED,
                    404: problem("No snapshot of this id was promoted."),
                    410: GONE,
                    503: UNAVAILABLE,
                },
                parameters=[SNAPSHOT_ID, IF_NONE_MATCH],
            ),
            Operation(
                "get",
                "/queries/snapshots/{id}/diff",
                "diffSnapshots",
                "What changed from another snapshot to this one, per country",
                {
                    200: Response(
                        "Users added, removed and changed (matched by e-mail"
                        " within a country), with counts; immutable.",
                        bodies.DiffBody,
                        headers=IMMUTABLE_HEADERS,
                    ),
                    304: NOT_MODIFIED,
                    404: problem(
                        "No snapshot of this id (or of `from`) was promoted, or"
                        " `country` is in neither."
                    ),
                    410: GONE,
                    422: problem("`from` is missing or `country` is too long."),
                    503: UNAVAILABLE,
                },
                parameters=[SNAPSHOT_ID, IF_NONE_MATCH],
                query=DiffQuery,
            ),
            Operation(
                "get",
                "/queries/sync-status",
                "getSyncStatus",
                "The current snapshot, recent sync attempts and dead letters",
                {
                    200: Response(
                        "Never cached (`Cache-Control: no-store`).",
                        bodies.SyncStatusBody,
                    ),
                    503: UNAVAILABLE,
                },
            ),
            Operation(
                "get",
                "/queries/events",
                "streamEvents",
                "Server-Sent Events: snapshots promoted, syncs started, failed, completed",
                {
                    200: Response(
                        "An endless text/event-stream: `retry:` first, then events"
                        " `snapshot` (data: id, synced_at, user_count,"
                        " country_count) and `sync` (data: sync_id, command_id,"
                        " state started|failed|completed, at, and reason or users),"
                        " each with an `id:`; a comment line when idle. Without"
                        " Last-Event-ID it starts with the latest event of each"
                        " kind.",
                        str,
                        "text/event-stream",
                    ),
                    400: problem("Last-Event-ID is not the id of an event."),
                    503: problem(
                        "The replica streams to its limit of clients; retry later.",
                        **{"Retry-After": RETRY_AFTER},
                    ),
                },
                parameters=[
                    Parameter(
                        "Last-Event-ID",
                        "header",
                        "The id of the last event received: the stream resumes"
                        " after it (browsers send it when they reconnect).",
                    )
                ],
            ),
            document_operation("/queries/openapi.json", "getQueryApi"),
        ],
    )
