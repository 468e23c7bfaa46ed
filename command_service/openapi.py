"""The command API's route table and OpenAPI 3.1 document (GET /commands/openapi.json)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Final, Literal

from pydantic import AwareDatetime, ConfigDict, Field
from typing_extensions import TypedDict

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
from contracts.commands import MAX_SYNC_RESULTS, NATIONALITIES, Nationality

if TYPE_CHECKING:
    from pydantic import BaseModel

TAG: Final = "commands"

# An 18-character seed is only valid when its last two characters are a hex
# nationality index 00-14 (upstream hangs on any other), which is what the
# middle alternative says.
SEED_PATTERN: Final = (
    r"^(?:[A-Za-z0-9_\-]{1,17}|[A-Za-z0-9_\-]{16}(?:0[0-9A-Fa-f]|1[0-4])"
    r"|[A-Za-z0-9_\-]{19,64})$"
)
ANY_CASE_NATIONALITY: Final = "^(?:{})$".format(
    "|".join(
        f"[{code[0]}{code[0].lower()}][{code[1]}{code[1].lower()}]"
        for code in NATIONALITIES
    )
)


class SyncAccepted(TypedDict):
    """The command was queued durably (the broker confirmed it)."""

    command_id: Annotated[str, Field(description="Id of the sync command.")]
    correlation_id: Annotated[
        str,
        Field(
            description="Correlation id of the command; it appears in every log "
            "line and message of this sync."
        ),
    ]
    status: Literal["accepted"]
    results: Annotated[int, Field(ge=1, le=MAX_SYNC_RESULTS)]
    nationalities: tuple[Nationality, ...] | None
    seed: str | None
    requested_at: AwareDatetime


def _request_model(max_results: int) -> type[BaseModel]:
    # routes.py imports this module to serve the document, so the body model
    # is imported once both modules are loaded.
    from command_service.routes import SyncCommandBody

    def describe_validators(schema: dict[str, Any]) -> None:
        # What pydantic cannot see in SyncCommandBody: the service's own
        # SYNC_MAX_RESULTS, nationalities in any case, and an 18-character
        # seed only with a valid nationality index.
        properties = schema["properties"]
        properties["results"]["anyOf"][0]["maximum"] = max_results
        properties["nationalities"]["anyOf"][0]["items"] = {
            "type": "string",
            "pattern": ANY_CASE_NATIONALITY,
            "description": "A Randomuser nationality, any case: "
            + ", ".join(NATIONALITIES),
        }
        properties["seed"]["anyOf"][0] |= {
            "pattern": SEED_PATTERN,
            "description": "An 18-character seed must end in a hex nationality "
            "index 00-14.",
        }
        schema["examples"] = [{"results": 500, "nationalities": ["US", "GB"]}]

    class SyncCommand(SyncCommandBody):
        """What to fetch. Every member is optional: no body or `{}` fetches the default."""

        model_config = ConfigDict(json_schema_extra=describe_validators)

    return SyncCommand


def document(*, max_results: int) -> Document:
    """The OpenAPI 3.1 document of a command API that accepts at most
    `max_results` users per sync (its SYNC_MAX_RESULTS)."""
    follow = Header("Where to follow the sync.", Literal["/queries/sync-status"])
    return api_document(
        title="Randomuser connector: command API",
        description="Triggers syncs. A sync runs asynchronously: follow it "
        "at `GET /queries/sync-status`. Through nginx, `/commands/` is "
        "rate-limited per client address (429 beyond the limit).",
        tag=TAG,
        tag_description="Write side",
        operations=[
            Operation(
                "post",
                "/commands/sync",
                "requestSync",
                "Request a sync from Randomuser",
                description="Answers 202 once the broker has confirmed the "
                "`sync.requested` command; the sync worker then fetches, and "
                "the projector promotes the new snapshot when it is complete.",
                security="bearer",
                parameters=[
                    Parameter(
                        "Idempotency-Key",
                        "header",
                        "Repeats of a request with this key (e.g. a scheduler's "
                        "retries) publish nothing more and answer 200 with the "
                        "first command, for IDEMPOTENCY_WINDOW_SECONDS.",
                        Annotated[str, Field(pattern="^[A-Za-z0-9._:-]{1,128}$")],
                    )
                ],
                request=_request_model(max_results),
                responses={
                    200: Response(
                        "A repeat: the command first accepted with this "
                        "Idempotency-Key (header Idempotent-Replayed: true).",
                        SyncAccepted,
                        headers={"Location": follow},
                    ),
                    202: Response(
                        "Accepted: the command is queued.",
                        SyncAccepted,
                        headers={"Location": follow},
                    ),
                    400: problem("The body is not a JSON object."),
                    401: problem(
                        "Missing or wrong bearer token.",
                        **{"WWW-Authenticate": Header('`Bearer realm="commands"`')},
                    ),
                    409: problem("The Idempotency-Key was used for another body."),
                    413: problem("The body is larger than MAX_BODY_BYTES."),
                    415: problem("A body that is not application/json."),
                    422: problem("The body breaks a rule of SyncCommand."),
                    429: problem(
                        "Too many commands from this address (nginx).",
                        **{"Retry-After": RETRY_AFTER},
                    ),
                    503: problem(
                        "The broker did not confirm the command. The problem names"
                        " it (`command_id`): it may still run, so look for its"
                        " outcome in /queries/sync-status before retrying.",
                        **{"Retry-After": RETRY_AFTER},
                    ),
                },
            ),
            document_operation("/commands/openapi.json", "getCommandApi"),
        ],
        security_schemes={
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "COMMAND_TOKEN of the command service (when set).",
            }
        },
    )
