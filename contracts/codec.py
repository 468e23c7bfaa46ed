"""Encode messages to bytes and decode them back, upcasting older versions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Final

import orjson
from pydantic import Field, TypeAdapter, ValidationError

from contracts.commands import SyncRequested
from contracts.events import SyncCompleted, SyncFailed, UsersFetched
from contracts.upcasting import sync_failed_v1_to_v2

AnyMessage = Annotated[
    SyncRequested | UsersFetched | SyncCompleted | SyncFailed,
    Field(discriminator="message_type"),
]
_ADAPTER: Final[TypeAdapter[AnyMessage]] = TypeAdapter(AnyMessage)

CURRENT_VERSIONS: Final[dict[str, int]] = {
    "sync.requested": 1,
    "users.fetched": 1,
    "sync.completed": 1,
    "sync.failed": 2,
}

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
UPCASTERS: Final[dict[tuple[str, int], Upcaster]] = {
    ("sync.failed", 1): sync_failed_v1_to_v2,
}
"""(message_type, from_version) -> the step to from_version + 1; a change
that older messages do not satisfy adds its step here (contracts/upcasting.py)."""


class DecodeError(ValueError):
    """The bytes are not a message this version of the code can accept."""


def encode(message: AnyMessage) -> bytes:
    """Serialise a message to compact UTF-8 JSON."""
    return orjson.dumps(message.model_dump(mode="json"))


def decode(body: bytes) -> AnyMessage:
    """Parse bytes into a message, upcasting older schema versions first.

    Raises:
        DecodeError: the body is not JSON, names an unknown type or version,
            or fails validation. Callers dead-letter such messages.
    """
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise DecodeError("body is not a JSON object")
    message_type = data.get("message_type")
    if message_type not in CURRENT_VERSIONS:
        raise DecodeError(f"unknown message_type {message_type!r}")
    version = data.get("schema_version")
    target = CURRENT_VERSIONS[message_type]
    if not isinstance(version, int) or isinstance(version, bool) or version > target:
        raise DecodeError(f"unsupported schema_version {version!r} for {message_type}")
    while version < target:
        step = UPCASTERS.get((message_type, version))
        if step is None:
            raise DecodeError(f"no upcaster for {message_type} v{version}")
        data = step(data)
        version += 1
        data["schema_version"] = version
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise DecodeError(f"invalid {message_type}: {exc}") from exc
