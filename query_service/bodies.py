"""The query API's response bodies: TypedDicts that type the handlers' answers
and are the schemas of its OpenAPI document (query_service.openapi)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Final

from pydantic import Field, NonNegativeInt, PositiveInt
from typing_extensions import TypedDict

from query_service.records import SyncState, UserRow

MAX_PAGE_SIZE: Final = 500
"""The most users one page of a country may hold."""


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
