"""The message envelope every command and event carries."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


def new_id() -> str:
    """Return a fresh random identifier (UUID4, 32 lower-case hex characters)."""
    return uuid.uuid4().hex


def utc_now() -> datetime:
    """Return the current time, timezone-aware in UTC."""
    return datetime.now(UTC)


Identifier = Annotated[
    str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:\-]+$")
]


class Message(BaseModel):
    """Envelope fields shared by every message.

    `message_id` is the idempotency key: consumers treat a second delivery of
    the same id as a no-op. Unknown fields are ignored so that a newer producer
    can add optional fields without breaking older consumers.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    message_id: Identifier = Field(
        default_factory=new_id, description="Unique id; the idempotency key."
    )
    occurred_at: AwareDatetime = Field(
        default_factory=utc_now, description="When the producer created the message."
    )
    correlation_id: Identifier = Field(
        default_factory=new_id,
        description="Follows one request from HTTP through every message into the logs.",
    )
    causation_id: Identifier | None = Field(
        default=None, description="The message_id of the message that caused this one."
    )
