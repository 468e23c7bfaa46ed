"""Values the read model stores and returns: snapshots, countries, sync records."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

from typing_extensions import TypedDict

from contracts.users import Gender

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

SyncState = Literal["staging", "completed", "promoted", "failed", "superseded"]
"""`staging`: batches arriving; `completed`: sync.completed seen, batches may be
missing; `promoted`: its snapshot became current; `failed`: sync.failed seen;
`superseded`: complete but older than the current snapshot, or abandoned."""

ACTIVE_STATES: Final[tuple[SyncState, ...]] = ("staging", "completed")
"""States in which a sync still accepts batches and its completion."""

MAX_DOCUMENT_BYTES: Final = 1_000_000
"""The most any document of the read model holds (MongoDB refuses 16 MB)."""

MAX_ROW_BYTES: Final = 4 * (256 + 320 + 6) + 64
"""A stored user at the contract's maxima (contracts.users: name 256, e-mail 320
characters), four UTF-8 bytes each, plus BSON keys and framing."""

CHUNK_USERS: Final = (MAX_DOCUMENT_BYTES - 4_096) // MAX_ROW_BYTES
"""Users per stored chunk: even at the maxima a chunk stays under 1 MB."""


def chunked(users: Sequence[UserRow]) -> list[Sequence[UserRow]]:
    """`users` in consecutive chunks of at most CHUNK_USERS; one empty chunk for none."""
    return [
        users[start : start + CHUNK_USERS]
        for start in range(0, max(1, len(users)), CHUNK_USERS)
    ]


class UserRow(TypedDict):
    """One user as every response shows it."""

    name: str
    gender: Gender
    email: str


UUID_BYTES: Final = 16
NO_UUID: Final = bytes(UUID_BYTES)
"""Where a user has no login uuid (or one that is not a UUID)."""


def uuid_bytes(value: str | None) -> bytes:
    """A user's login uuid as 16 bytes, NO_UUID when there is none.

    Stored beside the users, never in them: responses show name, gender and
    e-mail only. 16 bytes a user keep a chunk of CHUNK_USERS under 1 MB (the
    BSON of a row at the maxima leaves 36 bytes of MAX_ROW_BYTES unused).
    """
    if value:
        try:
            return uuid.UUID(value).bytes
        except ValueError:
            pass
    return NO_UUID


def uuid_slice(uuids: bytes, start: int, count: int) -> bytes:
    """The uuids of users `start` to `start + count`, or b"" when `uuids` is
    b"" (not known)."""
    return uuids[start * UUID_BYTES : (start + count) * UUID_BYTES]


@dataclass(frozen=True, slots=True)
class StagedCountry:
    """The users of one country in one staged batch, in upstream order."""

    batch_index: int
    country: str
    users: tuple[UserRow, ...]
    uuids: bytes = b""
    """16 bytes per user (uuid_bytes), or b"" when not known."""


@dataclass(frozen=True, slots=True)
class CountryUsers:
    """One country of a snapshot, users sorted by name (case-folded) then e-mail."""

    name: str
    users: tuple[UserRow, ...]
    uuids: bytes = b""
    """16 bytes per user (uuid_bytes), or b"" when not known."""


@dataclass(frozen=True, slots=True)
class CountrySummary:
    """A country's name and counts, without its users."""

    name: str
    user_count: int
    male: int
    female: int


@dataclass(frozen=True, slots=True)
class SnapshotMeta:
    """What identifies a snapshot; its id is the id of the sync it came from."""

    id: str
    synced_at: datetime
    user_count: int
    country_count: int


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A promoted sync's precomputed response bodies.

    `countries_json` and `countries_gzip` are the exact bytes of
    `GET /queries/countries` (gzip is compressed once, at promotion), and
    `names_json` those of `GET /queries/countries/names`.
    """

    meta: SnapshotMeta
    order_key: str
    countries: tuple[CountrySummary, ...]
    countries_json: bytes
    countries_gzip: bytes
    names_json: bytes


@dataclass(frozen=True, slots=True)
class SnapshotHead:
    """A promoted snapshot without its /queries/countries bodies: what a
    replica needs to switch to it and answer validators. The bodies (a few
    MB) are read when a request first needs them; nginx serves most of them
    from the snapshot files."""

    meta: SnapshotMeta
    countries: tuple[CountrySummary, ...]
    names_json: bytes
    countries_json_size: int | None
    countries_gzip_size: int | None
    """The bodies' lengths in bytes (None for a snapshot written before they
    were recorded: its bodies are read at once)."""


@dataclass(frozen=True, slots=True)
class Pointer:
    """The current snapshot; readers follow only this."""

    snapshot_id: str
    order_key: str


@dataclass(frozen=True, slots=True)
class Completion:
    """The facts of a sync.completed event."""

    batch_count: int
    user_count: int
    dropped_count: int
    dropped_reasons: tuple[tuple[str, int], ...]
    fetched_at: datetime
    started_at: datetime | None = None
    command_id: str | None = None
    seed: str | None = None


@dataclass(frozen=True, slots=True)
class Failure:
    """The facts of a sync.failed event."""

    reason: str
    attempts: int
    failed_at: datetime
    started_at: datetime | None = None
    command_id: str | None = None
    kind: str = "unknown"


@dataclass(frozen=True, slots=True)
class SyncRecord:
    """Everything the read model knows about one sync attempt."""

    sync_id: str
    state: SyncState
    first_seen_at: datetime
    staged_batches: frozenset[int] = frozenset()
    announced_batches: int | None = None
    """The batch count the sync's batches carry: its progress before completion."""
    completion: Completion | None = None
    failure: Failure | None = None
    promoted_at: datetime | None = None
    superseded_at: datetime | None = None
    superseded_reason: str | None = None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message the projector could never handle and dead-lettered."""

    message_id: str | None
    message_type: str | None
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True)
class SyncStatus:
    """What /queries/sync-status shows."""

    current: SnapshotMeta | None
    recent: tuple[SyncRecord, ...]
    last_success: SyncRecord | None
    last_failure: SyncRecord | None
    dead_lettered: int
    last_dead_letter: DeadLetter | None
