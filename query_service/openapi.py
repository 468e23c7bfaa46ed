"""The query API's OpenAPI 3.1 document, served at GET /queries/openapi.json."""

from __future__ import annotations

from typing import Final

from common.openapi import (
    CORRELATION_PARAMETER,
    PROBLEM_SCHEMA,
    RETRY_AFTER,
    Document,
    api_document,
    json_response,
    nullable,
    obj,
    openapi_operation,
    problem,
    ref,
)

TAG: Final = "queries"

_DATE_TIME: Final[Document] = {"type": "string", "format": "date-time"}
_COUNT: Final[Document] = {"type": "integer", "minimum": 0}

SCHEMAS: Final[dict[str, Document]] = {
    "Snapshot": obj(
        {
            "id": {"type": "string", "description": "The sync that made it."},
            "synced_at": _DATE_TIME,
            "user_count": _COUNT,
            "country_count": _COUNT,
        },
        description="Which snapshot (promoted sync) a response comes from.",
    ),
    "User": obj(
        {
            "name": {"type": "string"},
            "gender": {"type": "string", "enum": ["male", "female"]},
            "email": {"type": "string"},
        }
    ),
    "Country": obj(
        {
            "name": {"type": "string"},
            "users": {"type": "array", "items": ref("User")},
        }
    ),
    "Countries": obj(
        {
            "countries": {
                "type": "array",
                "items": ref("Country"),
                "description": "Sorted by name; users by name, then e-mail.",
            },
            "snapshot": nullable(ref("Snapshot")),
        },
        description="Every country with its users; empty before the first sync.",
    ),
    "CountryName": obj(
        {
            "name": {"type": "string"},
            "user_count": _COUNT,
            "genders": obj({"male": _COUNT, "female": _COUNT}),
        }
    ),
    "CountryNames": obj(
        {
            "countries": {"type": "array", "items": ref("CountryName")},
            "snapshot": nullable(ref("Snapshot")),
        }
    ),
    "CountryPage": obj(
        {
            "country": {"type": "string"},
            "page": {"type": "integer", "minimum": 1},
            "size": {"type": "integer", "minimum": 1, "maximum": 500},
            "total": _COUNT,
            "pages": _COUNT,
            "users": {"type": "array", "items": ref("User"), "maxItems": 500},
            "snapshot": ref("Snapshot"),
        },
        description="One page of a country's users; a page past the end is empty.",
    ),
    "SyncAttempt": obj(
        {
            "sync_id": {"type": "string"},
            "state": {
                "type": "string",
                "enum": ["staging", "completed", "promoted", "failed", "superseded"],
            },
            "first_seen_at": _DATE_TIME,
            "batches_staged": _COUNT,
            "batch_count": nullable(_COUNT),
            "user_count": nullable(_COUNT),
            "dropped_count": nullable(_COUNT),
            "dropped_reasons": {
                "type": "object",
                "additionalProperties": _COUNT,
                "description": "Users validation refused, by reason.",
            },
            "command_id": nullable({"type": "string"}),
            "seed": nullable({"type": "string"}),
            "started_at": nullable(_DATE_TIME),
            "fetched_at": nullable(_DATE_TIME),
            "promoted_at": nullable(_DATE_TIME),
            "failed_at": nullable(_DATE_TIME),
            "reason": nullable({"type": "string"}),
            "attempts": nullable(_COUNT),
            "superseded_at": nullable(_DATE_TIME),
            "superseded_reason": nullable({"type": "string"}),
        },
        description="One sync attempt as the projector saw it.",
    ),
    "DeadLetter": obj(
        {
            "message_id": nullable({"type": "string"}),
            "message_type": nullable({"type": "string"}),
            "reason": {"type": "string"},
            "at": _DATE_TIME,
        }
    ),
    "SyncStatus": obj(
        {
            "current_snapshot": nullable(ref("Snapshot")),
            "last_success": nullable(ref("SyncAttempt")),
            "last_attempt": nullable(ref("SyncAttempt")),
            "last_failure": nullable(ref("SyncAttempt")),
            "recent": {
                "type": "array",
                "items": ref("SyncAttempt"),
                "description": "Newest first.",
            },
            "dead_lettered": {
                **_COUNT,
                "description": "Messages the projector dead-lettered.",
            },
            "last_dead_letter": nullable(ref("DeadLetter")),
        }
    ),
    "Problem": PROBLEM_SCHEMA,
}

_IF_NONE_MATCH: Final[Document] = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "description": "An ETag from an earlier answer: 304 while the snapshot is the same.",
    "schema": {"type": "string"},
}
_CACHE_HEADERS: Final[Document] = {
    "ETag": {
        "description": "Weak tag of the snapshot (absent before the first sync).",
        "schema": {"type": "string"},
    },
    "Cache-Control": {
        "description": "`public, max-age=<CACHE_MAX_AGE_SECONDS>, must-revalidate`.",
        "schema": {"type": "string"},
    },
}
_NOT_MODIFIED: Final[Document] = {
    "description": "Not modified: the snapshot still has this ETag.",
    "headers": {"ETag": _CACHE_HEADERS["ETag"]},
}
_UNAVAILABLE: Final[Document] = problem(
    "The read model cannot be reached (or the snapshot changed while read); retry.",
    **{"Retry-After": RETRY_AFTER},
)


def _get(
    operation_id: str,
    summary: str,
    ok: Document,
    *,
    parameters: list[Document] | None = None,
    cached: bool = True,
    errors: dict[str, Document] | None = None,
) -> Document:
    responses: dict[str, Document] = {"200": ok}
    if cached:
        responses["304"] = _NOT_MODIFIED
    responses.update(errors or {})
    responses["503"] = _UNAVAILABLE
    head = [_IF_NONE_MATCH] if cached else []
    return {
        "get": {
            "operationId": operation_id,
            "summary": summary,
            "tags": [TAG],
            "parameters": [*(parameters or []), *head, CORRELATION_PARAMETER],
            "responses": responses,
        }
    }


def document() -> Document:
    """The OpenAPI 3.1 document of the query API."""
    return api_document(
        title="Randomuser connector: query API",
        description="Reads of the current snapshot (the last successful sync) "
        "and of the sync history. GET also answers HEAD. Responses of the "
        "snapshot carry a weak ETag and honour If-None-Match with 304.",
        tag=TAG,
        tag_description="Read side",
        paths={
            "/queries/countries": _get(
                "listCountries",
                "Every country with its users",
                json_response(
                    "The current snapshot (gzip when accepted).",
                    ref("Countries"),
                    **_CACHE_HEADERS,
                ),
            ),
            "/queries/countries/names": _get(
                "listCountryNames",
                "Country names with user counts",
                json_response(
                    "Names and counts of the current snapshot.",
                    ref("CountryNames"),
                    **_CACHE_HEADERS,
                ),
            ),
            "/queries/countries/{name}/users": _get(
                "listCountryUsers",
                "One page of a country's users",
                json_response("The page.", ref("CountryPage"), **_CACHE_HEADERS),
                parameters=[
                    {
                        "name": "name",
                        "in": "path",
                        "required": True,
                        "description": "The country's name, as listed (URL-encoded).",
                        "schema": {"type": "string"},
                        "example": "Germany",
                    },
                    {
                        "name": "page",
                        "in": "query",
                        "required": False,
                        "schema": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": 1_000_000,
                            "default": 1,
                        },
                    },
                    {
                        "name": "size",
                        "in": "query",
                        "required": False,
                        "schema": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": 500,
                            "default": 50,
                        },
                    },
                ],
                errors={
                    "400": problem("`page` or `size` is out of range or not a number."),
                    "404": problem("No such country in the current snapshot."),
                },
            ),
            "/queries/sync-status": _get(
                "getSyncStatus",
                "The current snapshot, recent sync attempts and dead letters",
                json_response(
                    "Never cached (`Cache-Control: no-store`).", ref("SyncStatus")
                ),
                cached=False,
            ),
            "/queries/openapi.json": openapi_operation("getQueryApi", TAG),
        },
        components={"schemas": SCHEMAS},
    )
