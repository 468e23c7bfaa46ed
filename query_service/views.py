"""Pure functions shaping read-model records into response bodies."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Final

from pydantic import Field, NonNegativeInt, PositiveInt
from typing_extensions import TypedDict

from query_service.records import SyncState, UserRow

if TYPE_CHECKING:
    from query_service.records import (
        CountrySummary,
        CountryUsers,
        DeadLetter,
        SnapshotMeta,
        SyncRecord,
        SyncStatus,
    )

# The response bodies: their TypedDicts are also the schemas of the query
# API's OpenAPI document (query_service.openapi).

MAX_PAGE_SIZE: Final = 500


class SnapshotBody(TypedDict):
    """Which snapshot (promoted sync) a response comes from."""

    id: Annotated[str, Field(description="The sync that made it.")]
    synced_at: datetime
    user_count: NonNegativeInt
    country_count: NonNegativeInt


class CountryBody(TypedDict):
    """One country with its users, in /queries/countries."""

    name: str
    users: Sequence[UserRow]


class CountriesBody(TypedDict):
    """Every country with its users; empty before the first sync."""

    countries: Annotated[
        list[CountryBody],
        Field(description="Sorted by name; users by name, then e-mail."),
    ]
    snapshot: SnapshotBody | None


class GendersBody(TypedDict):
    """Users of a country by gender."""

    male: NonNegativeInt
    female: NonNegativeInt


class CountryNameBody(TypedDict):
    """One country without its users, in /queries/countries/names."""

    name: str
    user_count: NonNegativeInt
    genders: GendersBody


class NamesBody(TypedDict):
    """Country names with user counts."""

    countries: list[CountryNameBody]
    snapshot: SnapshotBody | None


class CountryPageBody(TypedDict):
    """One page of a country's users; a page past the end is empty."""

    country: str
    page: PositiveInt
    size: Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE)]
    total: NonNegativeInt
    pages: NonNegativeInt
    users: Annotated[Sequence[UserRow], Field(max_length=MAX_PAGE_SIZE)]
    snapshot: SnapshotBody


class SyncBody(TypedDict):
    """One sync attempt as the projector saw it."""

    sync_id: str
    state: SyncState
    first_seen_at: datetime
    batches_staged: NonNegativeInt
    batch_count: NonNegativeInt | None
    user_count: NonNegativeInt | None
    dropped_count: NonNegativeInt | None
    dropped_reasons: Annotated[
        dict[str, NonNegativeInt],
        Field(description="Users validation refused, by reason."),
    ]
    command_id: str | None
    seed: str | None
    started_at: datetime | None
    fetched_at: datetime | None
    promoted_at: datetime | None
    failed_at: datetime | None
    failure_kind: Annotated[
        str | None,
        Field(
            description="What kind of failure (sync.failed `kind`: rate_limited,"
            " timeout, html, deadline, ..., unknown); null unless it failed."
        ),
    ]
    reason: str | None
    attempts: NonNegativeInt | None
    superseded_at: datetime | None
    superseded_reason: str | None


class DeadLetterBody(TypedDict):
    """The latest message the projector dead-lettered."""

    message_id: str | None
    message_type: str | None
    reason: str
    at: datetime


class SyncStatusBody(TypedDict):
    """The current snapshot, recent sync attempts and dead letters."""

    current_snapshot: SnapshotBody | None
    last_success: SyncBody | None
    last_attempt: SyncBody | None
    last_failure: SyncBody | None
    recent: Annotated[list[SyncBody], Field(description="Newest first.")]
    dead_lettered: Annotated[
        NonNegativeInt, Field(description="Messages the projector dead-lettered.")
    ]
    last_dead_letter: DeadLetterBody | None


class KeptSnapshotBody(SnapshotBody):
    """One kept snapshot, in /queries/snapshots."""

    current: Annotated[bool, Field(description="The snapshot readers get now.")]


class SnapshotListBody(TypedDict):
    """One page of the kept snapshots, newest first."""

    snapshots: list[KeptSnapshotBody]
    page: PositiveInt
    size: PositiveInt
    total: NonNegativeInt
    pages: NonNegativeInt


class DiffCountsBody(TypedDict):
    """How many users were added, removed and changed."""

    added: NonNegativeInt
    removed: NonNegativeInt
    changed: NonNegativeInt


class ChangedUserBody(TypedDict):
    """A user of the same e-mail in both snapshots, with other fields."""

    before: UserRow
    after: UserRow


class CountryDiffBody(TypedDict):
    """What changed in one country (listed only when something did)."""

    name: str
    counts: DiffCountsBody
    added: list[UserRow]
    removed: list[UserRow]
    changed: list[ChangedUserBody]


# "from" is a keyword: the functional form.
DiffBody = TypedDict(
    "DiffBody",
    {
        "from": SnapshotBody,
        "to": SnapshotBody,
        "counts": DiffCountsBody,
        "countries": Annotated[
            list[CountryDiffBody], Field(description="Sorted by name.")
        ],
    },
)
DiffBody.__doc__ = """What changed from one snapshot to another, per country.

Users are matched by e-mail within a country: a user who moved to another
country is removed from one and added to the other.
"""


EMPTY_COUNTRIES: Final[CountriesBody] = {"countries": [], "snapshot": None}
EMPTY_NAMES: Final[NamesBody] = {"countries": [], "snapshot": None}


def snapshot_body(meta: SnapshotMeta) -> SnapshotBody:
    """The `snapshot` member of every snapshot-backed response."""
    return {
        "id": meta.id,
        "synced_at": meta.synced_at,
        "user_count": meta.user_count,
        "country_count": meta.country_count,
    }


def countries_body(
    meta: SnapshotMeta, countries: Sequence[CountryUsers]
) -> CountriesBody:
    """Every country with all its users, in the order given."""
    return {
        "countries": [{"name": c.name, "users": c.users} for c in countries],
        "snapshot": snapshot_body(meta),
    }


def names_body(meta: SnapshotMeta, countries: Sequence[CountrySummary]) -> NamesBody:
    """Every country's name and counts, in the order given."""
    return {
        "countries": [
            {
                "name": c.name,
                "user_count": c.user_count,
                "genders": {"male": c.male, "female": c.female},
            }
            for c in countries
        ],
        "snapshot": snapshot_body(meta),
    }


def country_page_body(
    meta: SnapshotMeta, country: CountryUsers, *, page: int, size: int
) -> CountryPageBody:
    """One page of a country's users; a page past the end is empty."""
    start = (page - 1) * size
    return page_body(
        meta,
        country.name,
        len(country.users),
        country.users[start : start + size],
        page=page,
        size=size,
    )


def page_body(
    meta: SnapshotMeta,
    name: str,
    total: int,
    users: Sequence[UserRow],
    *,
    page: int,
    size: int,
) -> CountryPageBody:
    """One page of a country of `total` users, given the page's `users`."""
    return {
        "country": name,
        "page": page,
        "size": size,
        "total": total,
        "pages": -(-total // size),
        "users": tuple(users),
        "snapshot": snapshot_body(meta),
    }


def sync_body(record: SyncRecord) -> SyncBody:
    """One sync attempt, flattened for a dashboard."""
    completion = record.completion
    failure = record.failure
    started_at: datetime | None = None
    command_id: str | None = None
    if completion is not None:
        started_at, command_id = completion.started_at, completion.command_id
    if failure is not None:
        started_at = started_at or failure.started_at
        command_id = command_id or failure.command_id
    return {
        "sync_id": record.sync_id,
        "state": record.state,
        "first_seen_at": record.first_seen_at,
        "batches_staged": len(record.staged_batches),
        # Before sync.completed, the count its batches announced: with
        # `batches_staged`, the progress of a running sync.
        "batch_count": (
            completion.batch_count if completion else record.announced_batches
        ),
        "user_count": completion.user_count if completion else None,
        "dropped_count": completion.dropped_count if completion else None,
        "dropped_reasons": dict(completion.dropped_reasons) if completion else {},
        "command_id": command_id,
        "seed": completion.seed if completion else None,
        "started_at": started_at,
        "fetched_at": completion.fetched_at if completion else None,
        "promoted_at": record.promoted_at,
        "failed_at": failure.failed_at if failure else None,
        "failure_kind": failure.kind if failure else None,
        "reason": failure.reason if failure else None,
        "attempts": failure.attempts if failure else None,
        "superseded_at": record.superseded_at,
        "superseded_reason": record.superseded_reason,
    }


def dead_letter_body(letter: DeadLetter) -> DeadLetterBody:
    """The latest dead-lettered message."""
    return {
        "message_id": letter.message_id,
        "message_type": letter.message_type,
        "reason": letter.reason,
        "at": letter.at,
    }


def sync_status_body(status: SyncStatus) -> SyncStatusBody:
    """The current snapshot, recent attempts (newest first) and dead letters."""
    recent = [sync_body(record) for record in status.recent]
    return {
        "current_snapshot": snapshot_body(status.current) if status.current else None,
        "last_success": sync_body(status.last_success) if status.last_success else None,
        "last_attempt": recent[0] if recent else None,
        "last_failure": sync_body(status.last_failure) if status.last_failure else None,
        "recent": recent,
        "dead_lettered": status.dead_lettered,
        "last_dead_letter": dead_letter_body(status.last_dead_letter)
        if status.last_dead_letter
        else None,
    }
