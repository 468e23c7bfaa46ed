"""The command API's OpenAPI 3.1 document, served at GET /commands/openapi.json."""

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
from contracts.commands import MAX_SYNC_RESULTS, NATIONALITIES

TAG: Final = "commands"


def _case_insensitive(codes: tuple[str, ...]) -> str:
    alternatives = (
        "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in code)
        for code in codes
    )
    return f"^(?:{'|'.join(alternatives)})$"


# An 18-character seed is only valid when its last two characters are a hex
# nationality index 00-14 (upstream hangs on any other), which is what the
# middle alternative says.
SEED_PATTERN: Final = (
    r"^(?:[A-Za-z0-9_\-]{1,17}|[A-Za-z0-9_\-]{16}(?:0[0-9A-Fa-f]|1[0-4])"
    r"|[A-Za-z0-9_\-]{19,64})$"
)

SYNC_COMMAND: Final[Document] = {
    "type": "object",
    "additionalProperties": False,
    "description": "What to fetch. Every member is optional; `{}` or no body at all "
    "asks for the service's default.",
    "properties": {
        "results": {
            "type": ["integer", "null"],
            "minimum": 1,
            "maximum": MAX_SYNC_RESULTS,
            "description": "How many users to fetch (DEFAULT_SYNC_RESULTS when absent).",
        },
        "nationalities": nullable(
            {
                "type": "array",
                "minItems": 1,
                "maxItems": len(NATIONALITIES),
                "items": {
                    "type": "string",
                    "pattern": _case_insensitive(NATIONALITIES),
                    "description": "A Randomuser nationality, any case: "
                    + ", ".join(NATIONALITIES),
                },
                "description": "Only users of these nationalities.",
            }
        ),
        "seed": nullable(
            {
                "type": "string",
                "pattern": SEED_PATTERN,
                "description": "Upstream seed, 1-64 of `A-Z a-z 0-9 _ -`: the same "
                "seed fetches the same users. An 18-character seed must end in a hex "
                "nationality index 00-14.",
            }
        ),
    },
    "examples": [{"results": 500, "nationalities": ["US", "GB"]}],
}

SYNC_ACCEPTED: Final[Document] = obj(
    {
        "command_id": {"type": "string", "description": "Id of the sync command."},
        "correlation_id": {
            "type": "string",
            "description": "Correlation id of the command; it appears in every log "
            "line and message of this sync.",
        },
        "status": {"const": "accepted"},
        "results": {"type": "integer", "minimum": 1, "maximum": MAX_SYNC_RESULTS},
        "nationalities": nullable(
            {"type": "array", "items": {"type": "string", "enum": list(NATIONALITIES)}}
        ),
        "seed": nullable({"type": "string"}),
        "requested_at": {"type": "string", "format": "date-time"},
    },
    description="The command was queued durably (the broker confirmed it).",
)


def document() -> Document:
    """The OpenAPI 3.1 document of the command API."""
    return api_document(
        title="Randomuser connector: command API",
        description="Triggers syncs. A sync runs asynchronously: follow it "
        "at `GET /queries/sync-status`. Through nginx, `/commands/` is "
        "rate-limited per client address (429 beyond the limit).",
        tag=TAG,
        tag_description="Write side",
        paths={
            "/commands/sync": {
                "post": {
                    "operationId": "requestSync",
                    "summary": "Request a sync from Randomuser",
                    "description": "Answers 202 once the broker has confirmed the "
                    "`sync.requested` command; the sync worker then fetches, and "
                    "the projector promotes the new snapshot when it is complete.",
                    "tags": [TAG],
                    "security": [{"bearer": []}],
                    "parameters": [
                        CORRELATION_PARAMETER,
                        {
                            "name": "Idempotency-Key",
                            "in": "header",
                            "required": False,
                            "description": "Repeats of a request with this key "
                            "(e.g. a scheduler's retries) publish nothing more and "
                            "answer 200 with the first command, for "
                            "IDEMPOTENCY_WINDOW_SECONDS.",
                            "schema": {
                                "type": "string",
                                "pattern": "^[A-Za-z0-9._:-]{1,128}$",
                            },
                        },
                    ],
                    "requestBody": {
                        "required": False,
                        "content": {"application/json": {"schema": ref("SyncCommand")}},
                    },
                    "responses": {
                        "200": json_response(
                            "A repeat: the command first accepted with this "
                            "Idempotency-Key (header Idempotent-Replayed: true).",
                            ref("SyncAccepted"),
                            Location={
                                "description": "Where to follow the sync.",
                                "schema": {"const": "/queries/sync-status"},
                            },
                        ),
                        "202": json_response(
                            "Accepted: the command is queued.",
                            ref("SyncAccepted"),
                            Location={
                                "description": "Where to follow the sync.",
                                "schema": {"const": "/queries/sync-status"},
                            },
                        ),
                        "400": problem("The body is not a JSON object."),
                        "401": problem(
                            "Missing or wrong bearer token.",
                            **{
                                "WWW-Authenticate": {
                                    "schema": {"type": "string"},
                                    "description": '`Bearer realm="commands"`',
                                }
                            },
                        ),
                        "413": problem("The body is larger than MAX_BODY_BYTES."),
                        "415": problem("A body that is not application/json."),
                        "409": problem(
                            "The Idempotency-Key was used for another body."
                        ),
                        "422": problem("The body breaks a rule of SyncCommand."),
                        "429": problem(
                            "Too many commands from this address (nginx).",
                            **{"Retry-After": RETRY_AFTER},
                        ),
                        "503": problem(
                            "The broker did not confirm the command. The problem names"
                            " it (`command_id`): it may still run, so look for its"
                            " outcome in /queries/sync-status before retrying.",
                            **{"Retry-After": RETRY_AFTER},
                        ),
                    },
                }
            },
            "/commands/openapi.json": openapi_operation("getCommandApi", TAG),
        },
        components={
            "schemas": {
                "SyncCommand": SYNC_COMMAND,
                "SyncAccepted": SYNC_ACCEPTED,
                "Problem": PROBLEM_SCHEMA,
            },
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "COMMAND_TOKEN of the command service (when set).",
                }
            },
        },
    )
