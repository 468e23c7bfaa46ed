"""Events: facts about syncs, published by the sync worker."""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import AwareDatetime, Field, model_validator

from contracts.base import Identifier, Message, utc_now
from contracts.users import User

MAX_BATCH_USERS: Final = 2_000
"""A batch of 2,000 users encodes to roughly 300 kB, well under the 1 MB budget."""

MAX_COUNT: Final = 1_000_000_000
"""Bound of every count and index: far above any sync, and storable as a BSON
int (a larger number would decode, then fail every projection attempt)."""

Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]

UpstreamAnswerKind = Literal[
    "rate_limited",
    "not_found",
    "blocked",
    "http_error",
    "empty_body",
    "html",
    "not_json",
    "truncated",
    "error_object",
    "bad_shape",
    "placeholder",
    "empty_results",
]
"""How an upstream answer was not a page of users (RANDOMUSER-API.md 9.1;
sync_worker/upstream.py tells them apart)."""

FailureKind = Literal[
    UpstreamAnswerKind,
    # How a request failed otherwise.
    "wrong_count",
    "timeout",
    "connection",
    "too_large",
    # How the sync itself failed.
    "too_many_results",
    "deadline",
    "no_valid_users",
    "unknown",
]
"""What kind of failure ended a sync: a closed set a dashboard or an alert
can branch on, where `reason` is text for people."""


class UsersFetched(Message):
    """One batch of validated users of one sync."""

    message_type: Literal["users.fetched"] = "users.fetched"
    schema_version: Literal[1] = 1
    sync_id: Identifier = Field(description="The sync attempt these users belong to.")
    batch_index: int = Field(
        ge=0, le=MAX_COUNT, description="0-based position of this batch."
    )
    batch_count: int = Field(
        ge=1, le=MAX_COUNT, description="How many batches the sync has."
    )
    users: tuple[User, ...] = Field(
        max_length=MAX_BATCH_USERS, description="Users in upstream order."
    )

    @model_validator(mode="after")
    def _index_within_count(self) -> UsersFetched:
        if self.batch_index >= self.batch_count:
            msg = f"batch_index {self.batch_index} >= batch_count {self.batch_count}"
            raise ValueError(msg)
        return self


class SyncCompleted(Message):
    """Every batch of a sync has been published; the sync may become visible."""

    message_type: Literal["sync.completed"] = "sync.completed"
    schema_version: Literal[1] = 1
    sync_id: Identifier = Field(description="The sync attempt that completed.")
    command_id: Identifier | None = Field(
        default=None, description="The command that asked for it, if any."
    )
    batch_count: int = Field(
        ge=1, le=MAX_COUNT, description="Batches published for this sync."
    )
    user_count: int = Field(
        ge=0, le=MAX_COUNT, description="Users published across all batches."
    )
    dropped_count: int = Field(
        default=0,
        ge=0,
        le=MAX_COUNT,
        description="Upstream users refused by validation.",
    )
    dropped_reasons: dict[Annotated[str, Field(max_length=200)], Count] = Field(
        max_length=100,
        default_factory=dict,
        description="Refused users counted by reason.",
    )
    seed: str | None = Field(default=None, description="Upstream seed used.")
    started_at: AwareDatetime | None = Field(
        default=None, description="When the worker began fetching."
    )
    fetched_at: AwareDatetime = Field(
        default_factory=utc_now, description="When the last upstream page arrived."
    )


class SyncFailed(Message):
    """A sync attempt gave up; the current snapshot stays as it is.

    Version 2 added `kind`; version 1 events are upcast (contracts/upcasting.py).
    """

    message_type: Literal["sync.failed"] = "sync.failed"
    schema_version: Literal[2] = 2
    sync_id: Identifier = Field(description="The sync attempt that failed.")
    command_id: Identifier | None = Field(
        default=None, description="The command that asked for it, if any."
    )
    kind: FailureKind = Field(
        default="unknown", description="What kind of failure it was (since v2)."
    )
    reason: str = Field(min_length=1, max_length=2000, description="Why it failed.")
    attempts: int = Field(
        ge=1, le=MAX_COUNT, description="Upstream requests tried before giving up."
    )
    started_at: AwareDatetime | None = Field(
        default=None, description="When the worker began fetching."
    )
    failed_at: AwareDatetime = Field(
        default_factory=utc_now, description="When the worker gave up."
    )
